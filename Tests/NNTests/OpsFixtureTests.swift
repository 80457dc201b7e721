import XCTest
import IO
import TensorCore
import TestSupport
@testable import NN

/// Every op case of ops.h5 against PyTorch: one test walks all groups (a new case needs no code)
/// and dispatches on the group's `op` attribute. An op this file does not know fails the test.
final class OpsFixtureTests: XCTestCase {
    func testEveryOpCaseMatchesPyTorch() throws {
        let file = try Fixtures.ops()
        let cases = try file.keys("/")
        XCTAssertFalse(cases.isEmpty, "\(file.path): no op cases")
        var failures: [String] = [], lines: [String] = []
        for name in cases {
            do {
                let c = OpCase(file: file, group: name)
                let op = try file.stringAttribute("op", at: name)
                guard let runner = OpCase.runner(for: op) else {
                    failures.append("\(name): unknown op '\(op)' (teach OpCase.runner(for:) to build it)"); continue
                }
                let results = try runner(c)
                var worst = 0.0
                for (key, value) in results.outputs.sorted(by: { $0.key < $1.key }) {
                    let ref = try c.floats(key)
                    guard ref.count == value.count else {
                        failures.append("\(name)/\(key): \(value.count) values, PyTorch has \(ref.count)"); continue
                    }
                    let err = relativeError(value, ref)
                    let base = key == "y" || key.hasPrefix("running_") ? 1e-5 : 1e-4
                    let tol = tolerance(base: base, f32err: Fixtures.f32err(file, group: name, name: key))
                    worst = max(worst, err)
                    lines.append("\(name)/\(key): \(String(format: "%.2e", err)) (tol \(String(format: "%.0e", tol)))")
                    if !(err <= tol) { failures.append("\(name)/\(key): relative error \(err) > \(tol)") }
                }
                let missing = try c.referenceKeys().subtracting(results.outputs.keys)
                if !missing.isEmpty { failures.append("\(name): not compared: \(missing.sorted())") }
                failures.append(contentsOf: results.failures.map { "\(name): \($0)" })
            } catch {
                failures.append("\(name): \(error)")
            }
        }
        print("ops.h5 relative errors:\n  " + lines.joined(separator: "\n  "))
        XCTAssertTrue(failures.isEmpty, "\(failures.count) op checks failed:\n" + failures.joined(separator: "\n"))
    }
}

struct OpCaseError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// What a case produced: tensors by fixture key (y, gx, g<param>, running_*_after) and other misses.
struct OpResults {
    var outputs: [String: [Float]] = [:]
    var failures: [String] = []
}

/// One group of ops.h5 and the runners that rebuild its op with our layers.
struct OpCase {
    let file: HDF5File
    let group: String

    func floats(_ key: String) throws -> [Float] { try file.readFloats(group + "/" + key) }
    func shape(_ key: String) throws -> [Int] { try file.shape(group + "/" + key) }
    func has(_ key: String) -> Bool { file.contains(group + "/" + key) }
    func tensor(_ key: String) throws -> Tensor { Tensor(shape: try shape(key), values: try floats(key)) }
    func int(_ attr: String, default value: Int? = nil) throws -> Int {
        if let value, !file.hasAttribute(attr, at: group) { return value }
        return Int(try file.intAttribute(attr, at: group))
    }
    func double(_ attr: String, default value: Double? = nil) throws -> Double {
        if let value, !file.hasAttribute(attr, at: group) { return value }
        return try file.doubleAttribute(attr, at: group)
    }
    /// The per-sample input shape (x without its batch dimension).
    func sampleShape() throws -> [Int] { Array(try shape("x").dropFirst()) }

    /// Reference outputs every case must be compared on: y, gx, every g<param>, running stats after.
    func referenceKeys() throws -> Set<String> {
        Set(try file.keys(group).filter { $0 == "y" || $0 == "gx" || ($0.hasPrefix("g") && $0 != "gy") || $0.hasSuffix("_after") })
    }

    /// Parameters stored in the case: every dataset that is neither an input, an output nor a statistic.
    func parameterKeys() throws -> [String] {
        let fixed: Set<String> = ["x", "y", "gy", "gx", "labels", "f32err"]
        return try file.keys(group).filter { !fixed.contains($0) && !$0.hasPrefix("g") && !$0.hasPrefix("running_") }
    }

    typealias Runner = (OpCase) throws -> OpResults

    /// How to rebuild each op of make_fixtures.py with our layers; nil for an op we do not know.
    static func runner(for op: String) -> Runner? {
        switch op {
        case "conv2d": return { c in
            let w = try c.shape("weight")
            return try c.runLayer { store in
                try Conv2d(at: store.root, inputShape: try c.sampleShape(), outChannels: w[0], kernel: try c.int("kernel"),
                           stride: try c.int("stride"), padding: try c.int("padding"), groups: try c.int("groups"),
                           bias: c.has("bias"))
            }
        }
        case "maxpool2d": return { c in
            try c.runLayer { _ in
                try MaxPool2d(inputShape: try c.sampleShape(), kernel: try c.int("kernel"), stride: try c.int("stride"),
                              padding: try c.int("padding"))
            }
        }
        case "avgpool2d": return { c in
            try c.runLayer { _ in
                try AvgPool2d(inputShape: try c.sampleShape(), kernel: try c.int("kernel"), stride: try c.int("stride"),
                              padding: try c.int("padding"), countIncludePad: try c.int("count_include_pad", default: 1) != 0)
            }
        }
        case "adaptive_avgpool2d": return { c in
            try c.runLayer { _ in
                try AdaptiveAvgPool2d(inputShape: try c.sampleShape(), outputSize: (try c.int("out_h"), try c.int("out_w")))
            }
        }
        case "batchnorm": return { c in try c.runBatchNorm() }
        case "linear": return { c in
            let w = try c.shape("weight")
            return try c.runLayer { store in
                try Linear(at: store.root, inputShape: try c.sampleShape(), outFeatures: w[0], bias: c.has("bias"))
            }
        }
        case "relu": return { c in try c.runLayer { _ in Activation(.relu, inputShape: try c.sampleShape()) } }
        case "relu6": return { c in try c.runLayer { _ in Activation(.relu6, inputShape: try c.sampleShape()) } }
        case "sigmoid": return { c in try c.runLayer { _ in Activation(.sigmoid, inputShape: try c.sampleShape()) } }
        case "tanh": return { c in try c.runLayer { _ in Activation(.tanh, inputShape: try c.sampleShape()) } }
        case "concat": return { c in try c.runConcat() }
        case "cross_entropy": return { c in try c.runCrossEntropy() }
        default: return nil
        }
    }

    /// Builds the layer, loads the case's parameters by name, runs forward on x and backward on gy.
    func runLayer(training: Bool = true, threads: Int = 1, _ build: (ParameterStore) throws -> Layer,
                  prepare: (ParameterStore) throws -> Void = { _ in },
                  inspect: (inout OpResults) throws -> Void = { _ in }) throws -> OpResults {
        let store = ParameterStore()
        let layer = try build(store)
        store.finalize(seed: 1)
        var results = OpResults()
        for key in try parameterKeys() {
            if let p = store.parameter(named: key) {
                let values = try floats(key)
                guard values.count == p.count else { throw OpCaseError("parameter '\(key)' has \(values.count) values, layer wants \(p.shape)") }
                _ = p.values.update(fromContentsOf: values)
            } else if store.buffer(named: key) == nil {
                results.failures.append("fixture parameter '\(key)' unknown to the layer (it has \(store.stateKeys))")
            }
        }
        let declared = Set(store.parameters.map(\.name)), stored = Set(try parameterKeys())
        if !declared.isSubset(of: stored) { results.failures.append("layer parameters \(declared.subtracting(stored).sorted()) missing in the fixture") }
        try prepare(store)
        store.zeroGrads()
        let ctx = ForwardContext(training: training)
        if threads > 1 { ctx.pool = WorkerPool(threads: threads) }
        let x = try tensor("x"), gy = try tensor("gy")
        let y = layer.forward(x, ctx)
        guard y.shape == (try shape("y")) else { throw OpCaseError("output \(Shape.format(y.shape)), PyTorch \(Shape.format(try shape("y")))") }
        results.outputs["y"] = y.array
        results.outputs["gx"] = layer.backward(gy, ctx).array
        for p in store.parameters { results.outputs["g" + p.name] = Array(p.grads) }
        try inspect(&results)   // while `store` (which owns every parameter and buffer) is alive
        return results
    }

    /// BatchNorm in training (running stats before → after) or eval (given running stats).
    func runBatchNorm() throws -> OpResults {
        let training = try int("training") != 0
        var layer: BatchNorm!
        return try runLayer(training: training, { store in
            layer = try BatchNorm(at: store.root, inputShape: try sampleShape(), affine: has("weight"),
                                  momentum: Float(try double("momentum", default: 0.1)),
                                  eps: Float(try double("eps")))
            return layer
        }, prepare: { _ in
            let suffix = training ? "_before" : ""
            _ = layer.runningMean.values.update(fromContentsOf: try floats("running_mean" + suffix))
            _ = layer.runningVar.values.update(fromContentsOf: try floats("running_var" + suffix))
        }, inspect: { results in
            if training {
                results.outputs["running_mean_after"] = Array(layer.runningMean.values)
                results.outputs["running_var_after"] = Array(layer.runningVar.values)
                if layer.batchesTracked.value != 1 { results.failures.append("num_batches_tracked \(layer.batchesTracked.value), expected 1") }
            } else if layer.batchesTracked.value != 0 {
                results.failures.append("eval forward moved num_batches_tracked to \(layer.batchesTracked.value)")
            }
        })
    }

    /// torch.cat([x, x[:, :2] * 2], 1) from the Concat kernels, and its backward.
    func runConcat() throws -> OpResults {
        let x = try tensor("x"), gy = try tensor("gy")
        let n = x.dim(0), spatial = Array(x.shape.dropFirst(2))
        let slice = Tensor(shape: [n, 2] + spatial), y = Tensor(shape: [0])
        Concat.copyChannels(from: x, channelOffset: 0, into: slice, channelOffset: 0, count: 2, scale: 2)
        Concat.channels([x, slice], into: y)
        let gx = Tensor(shape: x.shape), gSlice = Tensor(shape: slice.shape)
        Concat.split(gy, into: [gx, gSlice])
        Concat.addChannels(from: gSlice, channelOffset: 0, into: gx, channelOffset: 0, count: 2, alpha: 2)
        return OpResults(outputs: ["y": y.array, "gx": gx.array])
    }

    /// F.cross_entropy(x, labels, label_smoothing) → y (1), gx = gy · ∂loss/∂x.
    func runCrossEntropy() throws -> OpResults {
        let x = try tensor("x"), gy = try floats("gy")
        let labels = try file.readInt64s(group + "/labels").map { Int32($0) }
        let loss = CrossEntropyLoss(labelSmoothing: Float(try double("label_smoothing")))
        let value = labels.withUnsafeBufferPointer { loss.forward(x, labels: $0) }
        let g = loss.backward()
        var results = OpResults(outputs: ["y": [value], "gx": g.array.map { $0 * gy[0] }])
        // `correct` against the argmax of the same logits.
        let k = x.dim(1)
        let expected = (0..<x.dim(0)).filter { r in
            let row = Array(x.array[(r * k)..<((r + 1) * k)])
            return row.firstIndex(of: row.max()!)! == Int(labels[r])
        }.count
        if loss.correct != expected { results.failures.append("correct \(loss.correct), argmax count \(expected)") }
        return results
    }
}
