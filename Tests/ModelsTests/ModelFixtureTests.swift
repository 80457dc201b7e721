import XCTest
import Foundation
import IO
import NN
import TensorCore
import Models
import TestSupport

/// Every model of models.h5 against PyTorch (float64 reference), by state_dict name:
/// train-mode logits, loss, every gradient and the BN running stats after one forward;
/// eval-mode logits; and 3 steps of SGD, SGD-Nesterov, Adam and AdamW (losses and final state).
/// A check passes when its relative error ≤ max(DESIGN.md tolerance, 10 × f32err/<same path>).
final class ModelFixtureTests: XCTestCase {
    /// One BLAS thread: OpenBLAS partitions work differently per thread count, and with it the
    /// float32 rounding; pinning it makes these runs reproducible (see `illConditioned`).
    private var savedThreads = 0
    override func setUp() { savedThreads = BLAS.threads; BLAS.threads = 1 }
    override func tearDown() { BLAS.threads = savedThreads }

    func testCifarCNN() throws { try check("cifar_cnn") }
    func testResNet20() throws { try check("resnet20") }
    func testResNetBottleneckW8() throws { try check("resnet_bottleneck_w8") }
    func testDenseNetBC40K12() throws { try check("densenet_bc_40_k12") }
    func testDenseNetTinyImageNetStem() throws { try check("densenet_tiny_imagenet_stem") }

    /// The architectures of make_fixtures.write_models.
    static func build(_ name: String) throws -> Model {
        switch name {
        case "resnet_bottleneck_w8":
            return try ResNet.build(block: .bottleneck, blocks: [1, 2, 1, 1], widths: [8, 16, 32, 64], stem: .imagenet,
                                    numClasses: 10, inputShape: [3, 64, 64], seed: 1, name: name)
        case "densenet_tiny_imagenet_stem":
            return try DenseNet.build(growth: 8, blocks: [2, 2, 2, 2], initFeatures: 16, stem: .imagenet,
                                      numClasses: 10, inputShape: [3, 64, 64], seed: 1, name: name)
        default:
            return try ModelZoo.build(name: name, numClasses: 10, seed: 1)
        }
    }

    /// Checks that float32 cannot decide: each sits on a discontinuity of the reference (a ReLU
    /// input within float32 noise of 0) that PyTorch's own float32 run happened to land on the
    /// right side of, so its f32err/ is no measure of what float32 can attain there. Which of
    /// them a run trips over depends on the summation order (BLAS threads, kernels); the list
    /// covers 1 and 2 BLAS threads on this machine. Each was shown in float64 (PyTorch,
    /// make_fixtures' models) to come from one such event and nothing else; the strict limit
    /// still applies to every other check, and these keep a bound that a real bug would exceed.
    ///
    /// - densenet_bc_40_k12, the gradients upstream of features.denseblock3.denselayer1.norm2
    ///   (2 BLAS threads):
    ///   on x0 the reference pre-ReLU value of element 29098 of that norm2 output is +2.4e-7 σ;
    ///   any float32 forward (ours: block-3 input error 6e-7, PyTorch's 8e-7) may put it at
    ///   ≤ 0. With that single ReLU mask flipped in the float64 reference, all 119 of our
    ///   gradients match it to 2.7e-6 (against the unflipped one: up to 2.3e-3 on the 83
    ///   gradients the flip reaches, 2.7e-6 on the other 36).
    /// - resnet20, Adam final state (2 BLAS threads): the step-0 gradient of layer2.1.conv1.weight[5754] is
    ///   −5.9e−8 ≈ 6·eps (ours −4.7e−8, PyTorch float32 −7.7e−8: both within normal float32
    ///   error, rms 8e-9 vs 1.5e-8), so Adam's sign-like first step moves that weight 3e-5 away
    ///   from the reference, which flips ReLUs at step 1. A float64 run fed only our float32
    ///   step-0 gradients ends exactly at our final state (bn1.bias 4.604e-2 both); our
    ///   gradients at our own parameters match float64 to 2e-6 at every step.
    /// - resnet20, SGD final state (1 BLAS thread): at step 1 our float32 forward at our own
    ///   parameters crosses a ReLU tie (our gradient vs float64 at the same parameters: 2.7e-6
    ///   at step 0, 5e-4 at step 1); a float64 run fed our step-0 and step-1 gradients ends at
    ///   our final state (1.08e-2 on layer1.2.bn2.bias both).
    /// - resnet_bottleneck_w8, AdamW final state (2 BLAS threads): at step 2 our float32 forward at our own
    ///   parameters crosses a ReLU tie (gradient vs float64 at the same parameters: 5e-6 at
    ///   steps 0 and 1, 1.3e-2 on layer2.1.bn2.bias at step 2); a float64 run fed our three
    ///   gradients reproduces our final state (2.54e-3 on layer2.1.bn2.bias).
    static let illConditioned: [(model: String, prefixes: [String], limit: Double)] = [
        ("densenet_bc_40_k12", ["conv0.", "denseblock1.", "transition1.", "denseblock2.", "transition2.",
                                "denseblock3.denselayer1."].map { "grad/features." + $0 }, 1e-2),
        ("resnet20", ["adam/final/", "sgd/final/"], 1e-1),
        ("resnet_bottleneck_w8", ["adamw/final/"], 1e-2),
    ]

    /// Worst error per category, reported at the end of each model.
    struct Worst {
        var entries: [String: (error: Double, limit: Double, key: String)] = [:]
        mutating func note(_ category: String, _ error: Double, _ limit: Double, _ key: String) {
            if let e = entries[category], e.error / e.limit >= error / limit { return }
            entries[category] = (error, limit, key)
        }
        var report: String {
            entries.keys.sorted().map { c in
                let e = entries[c]!
                return "\(c) \(String(format: "%.2e", e.error)) (limit \(String(format: "%.0e", e.limit)), \(e.key))"
            }.joined(separator: "; ")
        }
    }

    func check(_ name: String) throws {
        let file = try Fixtures.models()
        let model = try Self.build(name)
        var worst = Worst()

        func compare(_ got: UnsafeBufferPointer<Float>, _ path: String, base: Double, category: String) throws {
            let ref = try file.readFloats("\(name)/\(path)")
            XCTAssertEqual(got.count, ref.count, "\(name)/\(path): element count")
            guard got.count == ref.count else { return }
            let error = ref.withUnsafeBufferPointer { relativeError(got, $0) }
            var limit = tolerance(base: base, f32err: Fixtures.f32err(file, group: name, name: path))
            var category = category
            if let known = Self.illConditioned.first(where: { $0.model == name && $0.prefixes.contains { path.hasPrefix($0) } }) {
                limit = max(limit, known.limit); category += " (documented tie)"
            }
            worst.note(category, error, limit, path)
            XCTAssertLessThanOrEqual(error, limit, "\(name)/\(path): relative error \(error) > \(limit)")
        }

        // Initial state, by name in both directions.
        try loadState(model, file: file, group: "\(name)/init")
        let batches = try (0..<3).map { i -> (Tensor, [Int32]) in
            let shape = try file.shape("\(name)/x\(i)")
            let x = Tensor(shape: shape, values: try file.readFloats("\(name)/x\(i)"))
            XCTAssertEqual(Array(shape.dropFirst()), model.inputShape, "\(name)/x\(i) shape")
            return (x, try file.readInt64s("\(name)/y\(i)").map { Int32($0) })
        }
        let loss = CrossEntropyLoss()

        // Train-mode forward and backward on batch 0.
        let ctx = ForwardContext(training: true)
        let logits = model.forward(batches[0].0, ctx)
        XCTAssertEqual(logits.shape, [batches[0].1.count, 10])
        try compare(UnsafeBufferPointer(logits.buffer), "logits_train", base: 1e-4, category: "logits")
        let l = batches[0].1.withUnsafeBufferPointer { loss.forward(logits, labels: $0) }
        let refLoss = try file.doubleAttribute("loss", at: name)
        let lossError = abs(Double(l) - refLoss) / abs(refLoss)
        let lossLimit = tolerance(base: 1e-4, f32err: Fixtures.f32err(file, group: name, name: "loss"))
        worst.note("loss", lossError, lossLimit, "loss")
        XCTAssertLessThanOrEqual(lossError, lossLimit, "\(name) loss \(l) vs \(refLoss)")
        model.store.zeroGrads()
        var readyOffsets: [Int] = []
        ctx.gradientsReady = { readyOffsets.append($0) }
        model.backward(loss.backward(), ctx)
        ctx.gradientsReady = nil
        XCTAssertEqual(readyOffsets.last, 0, "\(name): the last ready offset covers the whole gradient buffer")
        XCTAssertEqual(readyOffsets, readyOffsets.sorted(by: >), "\(name): ready offsets never increase")
        let gradKeys = Set(try file.keys("\(name)/grad"))
        XCTAssertEqual(gradKeys, Set(model.store.parameters.map(\.name)), "\(name): gradient names")
        for p in model.store.parameters where gradKeys.contains(p.name) {
            try compare(UnsafeBufferPointer(p.grads), "grad/\(p.name)", base: 1e-3, category: "grads")
        }
        for key in try file.keys("\(name)/state_after_forward") {
            let b = try XCTUnwrap(model.store.buffer(named: key), "\(name): buffer \(key)")
            try compare(UnsafeBufferPointer(b.values), "state_after_forward/\(key)", base: 1e-4, category: "running stats")
        }

        // Eval-mode logits, with the running stats that forward left.
        let evalLogits = model.forward(batches[0].0, ForwardContext(training: false))
        try compare(UnsafeBufferPointer(evalLogits.buffer), "logits_eval", base: 1e-4, category: "logits")

        // Three optimizer steps from the initial state.
        for opt in ["sgd", "sgd_nesterov", "adam", "adamw"] {
            try loadState(model, file: file, group: "\(name)/init")
            let group = "\(name)/\(opt)"
            let lr = Float(try file.doubleAttribute("lr", at: group))
            let optimizer: Optimizer
            switch opt {
            case "sgd", "sgd_nesterov":
                optimizer = SGD(momentum: Float(try file.doubleAttribute("momentum", at: group)), nesterov: opt == "sgd_nesterov",
                                weightDecay: Float(try file.doubleAttribute("weight_decay", at: group)),
                                dampening: Float(try file.doubleAttribute("dampening", at: group)))
            case "adam":
                optimizer = Adam(eps: Float(try file.doubleAttribute("eps", at: group)),
                                 weightDecay: Float(try file.doubleAttribute("weight_decay", at: group)))
            default:
                optimizer = AdamW(eps: Float(try file.doubleAttribute("eps", at: group)),
                                  weightDecay: Float(try file.doubleAttribute("weight_decay", at: group)))
            }
            var losses: [Double] = []
            for (x, y) in batches {
                model.store.zeroGrads()
                let ctx = ForwardContext(training: true)
                let out = model.forward(x, ctx)
                losses.append(Double(y.withUnsafeBufferPointer { loss.forward(out, labels: $0) }))
                model.backward(loss.backward(), ctx)
                optimizer.step(store: model.store, lr: lr)
            }
            let refLosses = try file.readDoubles("\(group)/losses")
            let lossErr = zip(losses, refLosses).map { abs($0 - $1) / abs($1) }.max() ?? .infinity
            let limit = tolerance(base: 1e-4, f32err: Fixtures.f32err(file, group: name, name: "\(opt)/losses"))
            worst.note("\(opt) losses", lossErr, limit, "\(opt)/losses")
            XCTAssertLessThanOrEqual(lossErr, limit, "\(group): losses \(losses) vs \(refLosses)")
            let finalKeys = Set(try file.keys("\(group)/final"))
            XCTAssertEqual(finalKeys, Set(model.store.stateKeys), "\(group)/final: state names")
            for (key, entry) in model.stateEntries where finalKeys.contains(key) {
                switch entry {
                case .counter(let c):
                    XCTAssertEqual(c.value, try file.readScalar("\(group)/final/\(key)", as: Int64.self), "\(group)/final/\(key)")
                default:
                    try compare(UnsafeBufferPointer(entry.floats!), "\(opt)/final/\(key)", base: 1e-3, category: "\(opt) final")
                }
            }
        }
        print("[\(name)] worst relative errors: \(worst.report)")
    }

    /// Loads `group` (one dataset per state_dict key) into the model; every key must be in both.
    func loadState(_ model: Model, file: HDF5File, group: String) throws {
        let keys = Set(try file.keys(group))
        let index = model.stateIndex
        let missing = keys.subtracting(index.keys).sorted(), extra = Set(index.keys).subtracting(keys).sorted()
        XCTAssertTrue(missing.isEmpty, "\(group): keys the model lacks: \(missing.prefix(10))")
        XCTAssertTrue(extra.isEmpty, "\(group): model keys absent from the fixture: \(extra.prefix(10))")
        for (key, entry) in index where keys.contains(key) {
            XCTAssertEqual(try file.shape("\(group)/\(key)"), entry.shape, "\(group)/\(key) shape")
            switch entry {
            case .counter(let c): c.value = try file.readScalar("\(group)/\(key)", as: Int64.self)
            default:
                let v = try file.readFloats("\(group)/\(key)")
                let dst = entry.floats!
                XCTAssertEqual(v.count, dst.count, "\(group)/\(key) size")
                if v.count == dst.count { _ = dst.update(fromContentsOf: v) }
            }
        }
    }
}
