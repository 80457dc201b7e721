// Optimizers against torch.optim: the expected values are computed by PyTorch at test time
// (python3 -c, JSON over stdin/stdout); the tests skip where torch cannot be imported.
import Foundation
import XCTest
@testable import NN

/// Runs a Python snippet that reads JSON `input` from stdin and prints JSON to stdout.
enum TorchRunner {
    static let available: Bool = (try? run("import torch, json; print(json.dumps(1))", input: 0)) != nil

    static func skipUnlessAvailable() throws {
        if !available { throw XCTSkip("python3 with torch is not importable; PyTorch comparisons skipped") }
    }

    struct Failure: Error, CustomStringConvertible { let description: String }

    static func run(_ script: String, input: Any) throws -> Any {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script]
        let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
        process.standardInput = stdin; process.standardOutput = stdout; process.standardError = stderr
        try process.run()
        let data = try JSONSerialization.data(withJSONObject: input, options: [.fragmentsAllowed])
        stdin.fileHandleForWriting.write(data)
        try stdin.fileHandleForWriting.close()
        let out = stdout.fileHandleForReading.readDataToEndOfFile()
        let err = stderr.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Failure(description: "python3 failed (\(process.terminationStatus)): \(String(decoding: err, as: UTF8.self))")
        }
        return try JSONSerialization.jsonObject(with: out, options: [.fragmentsAllowed])
    }
}

/// ‖a − b‖ / ‖b‖ (absolute ‖a − b‖ when b is zero).
func torchRelativeError(_ a: [Float], _ b: [Double]) -> Double {
    precondition(a.count == b.count, "relativeError: \(a.count) vs \(b.count) elements")
    var num = 0.0, den = 0.0
    for i in a.indices { let d = Double(a[i]) - b[i]; num += d * d; den += b[i] * b[i] }
    return den == 0 ? num.squareRoot() : (num / den).squareRoot()
}

/// Deterministic values in roughly N(0, 1)-like spread without depending on TensorCore.
struct TestValues {
    var state: UInt64
    mutating func next() -> Float {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Float(Int64(bitPattern: state >> 11) % 2_000_001 - 1_000_000) / 500_000
    }
    mutating func array(_ n: Int, scale: Float = 1) -> [Float] { (0..<n).map { _ in next() * scale } }
}

final class OptimizerTests: XCTestCase {
    static let shapes: [[Int]] = [[4, 3, 3, 3], [4], [10, 7], [1]]

    /// PyTorch's side: for each case apply the updates with per-step lrs and grads; return
    /// the parameters and the state_dict slots.
    static let script = """
    import json, sys, torch
    out = []
    for a in json.load(sys.stdin):
        ps = [torch.tensor(v, dtype=torch.float32).reshape(s).requires_grad_() for s, v in zip(a['shapes'], a['params'])]
        opt = getattr(torch.optim, a['cls'])(ps, lr=a['lrs'][0], **a['kwargs'])
        for lr, gs in zip(a['lrs'], a['grads']):
            for g in opt.param_groups: g['lr'] = lr
            for p, g in zip(ps, gs): p.grad = torch.tensor(g, dtype=torch.float32).reshape(p.shape)
            opt.step()
        sd = opt.state_dict()['state']
        state = {}
        for i in range(len(ps)):
            for k, v in sd.get(i, {}).items():
                if k != 'step' and v is not None: state.setdefault(k, []).append(v.reshape(-1).tolist())
        out.append({'params': [p.detach().reshape(-1).tolist() for p in ps], 'state': state})
    print(json.dumps(out))
    """

    struct Case {
        let label: String
        let torchClass: String
        let kwargs: [String: Any]
        let make: () -> Optimizer
    }

    static var cases: [Case] { [
        Case(label: "sgd", torchClass: "SGD", kwargs: ["momentum": 0.9, "weight_decay": 5e-4]) {
            SGD(momentum: 0.9, weightDecay: 5e-4) },
        Case(label: "sgd nesterov", torchClass: "SGD", kwargs: ["momentum": 0.9, "nesterov": true, "weight_decay": 5e-4]) {
            SGD(momentum: 0.9, nesterov: true, weightDecay: 5e-4) },
        Case(label: "sgd plain", torchClass: "SGD", kwargs: ["weight_decay": 1e-4]) { SGD(weightDecay: 1e-4) },
        Case(label: "sgd dampening", torchClass: "SGD", kwargs: ["momentum": 0.8, "dampening": 0.3]) {
            SGD(momentum: 0.8, dampening: 0.3) },
        Case(label: "adam", torchClass: "Adam", kwargs: [:]) { Adam() },
        Case(label: "adam l2 amsgrad", torchClass: "Adam",
             kwargs: ["betas": [0.3, 0.95], "eps": 1e-6, "weight_decay": 0.01, "amsgrad": true]) {
            Adam(beta1: 0.3, beta2: 0.95, eps: 1e-6, weightDecay: 0.01, amsgrad: true) },
        Case(label: "adamw", torchClass: "AdamW", kwargs: ["weight_decay": 0.05]) { AdamW(weightDecay: 0.05) },
        Case(label: "adamw default amsgrad", torchClass: "AdamW", kwargs: ["amsgrad": true, "betas": [0.8, 0.99]]) {
            AdamW(beta1: 0.8, beta2: 0.99, amsgrad: true) },
    ] }

    /// A finalized store with `shapes`, values from `TestValues`.
    static func makeStore(seed: UInt64) -> ParameterStore {
        let store = ParameterStore()
        for (i, s) in shapes.enumerated() { _ = store.declare("p\(i)", shape: s, initializer: .constant(0)) }
        store.finalize()
        var gen = TestValues(state: seed)
        for p in store.parameters { let v = gen.array(p.count); for i in 0..<p.count { p.value[i] = v[i] } }
        return store
    }

    /// grads[step][param]: gradients of varied scale, a few exactly zero.
    static func makeGrads(steps: Int, seed: UInt64) -> [[[Float]]] {
        var gen = TestValues(state: seed)
        return (0..<steps).map { s in
            shapes.map { shape in
                var g = gen.array(shape.reduce(1, *), scale: s == 1 ? 1e-3 : 0.5)
                g[0] = 0
                return g
            }
        }
    }

    static let lrs: [Double] = [0.05, 0.04, 0.03, 0.002]

    func testAgainstTorch() throws {
        try TorchRunner.skipUnlessAvailable()
        let grads = Self.makeGrads(steps: Self.lrs.count, seed: 11)
        let initial = Self.makeStore(seed: 7)
        let cases = Self.cases
        let input: [[String: Any]] = cases.map { c in [
            "shapes": Self.shapes, "cls": c.torchClass, "kwargs": c.kwargs, "lrs": Self.lrs,
            "params": initial.parameters.map { $0.values.map(Double.init) },
            "grads": grads.map { $0.map { $0.map(Double.init) } },
        ] }
        let results = try XCTUnwrap(TorchRunner.run(Self.script, input: input) as? [[String: Any]])
        XCTAssertEqual(results.count, cases.count)
        for (c, out) in zip(cases, results) {
            let store = Self.makeStore(seed: 7)
            let opt = c.make()
            for (s, lr) in Self.lrs.enumerated() {
                for (p, g) in zip(store.parameters, grads[s]) { for i in 0..<p.count { p.grad[i] = g[i] } }
                opt.step(store: store, lr: Float(lr))
            }
            let params = try XCTUnwrap(out["params"] as? [[Double]])
            let state = try XCTUnwrap(out["state"] as? [String: [[Double]]])
            XCTAssertEqual(Set(opt.stateNames), Set(state.keys), "\(c.label): state slots differ from PyTorch's state_dict")
            XCTAssertEqual(opt.stepCount, Self.lrs.count, c.label)
            for (k, p) in store.parameters.enumerated() {
                let err = torchRelativeError(Array(p.values), params[k])
                XCTAssertLessThanOrEqual(err, 1e-6, "\(c.label): parameter \(p.name) rel err \(err)")
                for (slot, values) in opt.state(for: p) {
                    guard let expected = state[slot]?[k] else { continue }
                    let e = torchRelativeError(Array(values), expected)
                    XCTAssertLessThanOrEqual(e, 1e-6, "\(c.label): state \(p.name).\(slot) rel err \(e)")
                }
            }
        }
    }

    /// Copying state and stepCount into a fresh optimizer midway (a resume) changes nothing.
    func testResumeFromCopiedStateIsExact() {
        let grads = Self.makeGrads(steps: 4, seed: 3)
        for c in Self.cases {
            let straight = Self.makeStore(seed: 5), resumed = Self.makeStore(seed: 5)
            let a = c.make()
            var b = c.make()
            for s in 0..<4 {
                if s == 2 {  // checkpoint: values and optimizer state into a fresh optimizer
                    let fresh = c.make()
                    fresh.prepare(for: resumed)
                    for p in resumed.parameters {
                        for (src, dst) in zip(b.state(for: p), fresh.state(for: p)) {
                            XCTAssertEqual(src.slot, dst.slot)
                            _ = dst.values.update(fromContentsOf: src.values)
                        }
                    }
                    fresh.stepCount = b.stepCount
                    b = fresh
                }
                for store in [straight, resumed] {
                    for (p, g) in zip(store.parameters, grads[s]) { for i in 0..<p.count { p.grad[i] = g[i] } }
                }
                a.step(store: straight, lr: 0.01)
                b.step(store: resumed, lr: 0.01)
            }
            XCTAssertEqual(Array(straight.values), Array(resumed.values), "\(c.label): resumed run diverged")
        }
    }

    /// Float hyperparameters act as the decimals they print as, so 0.999 is PyTorch's 0.999.
    func testFloatInitializersMatchDoubleOnes() {
        let grads = Self.makeGrads(steps: 3, seed: 9)
        let pairs: [(Optimizer, Optimizer)] = [
            (SGD(momentum: Float(0.9), nesterov: true, weightDecay: Float(5e-4)), SGD(momentum: 0.9, nesterov: true, weightDecay: 5e-4)),
            (Adam(beta2: Float(0.999), eps: Float(1e-8), weightDecay: Float(0.01)), Adam(weightDecay: 0.01)),
            (AdamW(eps: Float(1e-8), weightDecay: Float(0.05)), AdamW(weightDecay: 0.05)),
        ]
        for (f, d) in pairs {
            let a = Self.makeStore(seed: 2), b = Self.makeStore(seed: 2)
            for s in 0..<3 {
                for store in [a, b] {
                    for (p, g) in zip(store.parameters, grads[s]) { for i in 0..<p.count { p.grad[i] = g[i] } }
                }
                f.step(store: a, lr: 0.01); d.step(store: b, lr: 0.01)
            }
            XCTAssertEqual(Array(a.values), Array(b.values), f.kind)
        }
    }

    func testFlatStateCoversEveryParameter() {
        let store = Self.makeStore(seed: 1)
        let opt = Adam()
        XCTAssertTrue(opt.flatState.isEmpty)
        opt.prepare(for: store)
        XCTAssertEqual(opt.flatState.map(\.slot), ["exp_avg", "exp_avg_sq"])
        XCTAssertEqual(opt.flatState[0].values.count, store.parameterCount)
        let last = store.parameters.last!
        XCTAssertEqual(opt.state(for: last)[1].values.baseAddress, opt.flatState[1].values.baseAddress! + last.offset)
        XCTAssertEqual(SGD().stateNames, [])
    }
}
