import XCTest
import NN
import TensorCore
import TestSupport

/// BatchNorm's fused ReLU against BatchNorm followed by ReLU, its channel-prefix mode (DenseNet)
/// against the plain one, and its sync-BN reductions. The plain BN is checked against PyTorch's
/// fixtures in OpsFixtureTests.
final class BatchNormFusedTests: XCTestCase {
    /// Random (N, C_src, H, W) with a per-channel offset, so means are far from 0.
    func randomSource(_ shape: [Int], seed: UInt64) -> Tensor {
        var rng = Philox(seed: seed)
        let t = Tensor(shape: shape)
        let plane = shape[2] * shape[3]
        for i in 0..<t.count { t.data[i] = rng.normal() * 1.5 + Float((i / plane) % shape[1]) * 0.3 - 1 }
        return t
    }

    func testFusedReLUEqualsBatchNormThenReLU() throws {
        let x = randomSource([4, 3, 5, 5], seed: 5), gy = randomSource([4, 3, 5, 5], seed: 6)
        var outputs: [[Float]] = []
        for fused in [false, true] {
            let store = ParameterStore()
            let bn = try BatchNorm(at: store.scope("n"), inputShape: [3, 5, 5], relu: fused)
            let relu = Activation(.relu, inputShape: [3, 5, 5])
            store.finalize()
            for k in 0..<3 { bn.weight!.value[k] = 1 + 0.2 * Float(k); bn.bias!.value[k] = 0.1 - 0.2 * Float(k) }
            let ctx = ForwardContext(training: true)
            let y = fused ? bn.forward(x, ctx) : relu.forward(bn.forward(x, ctx), ctx)
            let gx = fused ? bn.backward(gy, ctx) : bn.backward(relu.backward(gy, ctx), ctx)
            outputs.append(y.array + gx.array + Array(bn.weight!.grads) + Array(bn.bias!.grads))
        }
        XCTAssertTrue(outputs[1].prefix(x.count).contains(0) && outputs[1].prefix(x.count).contains { $0 > 0 }, "the ReLU clips some values")
        XCTAssertEqual(outputs[1], outputs[0], "the same arithmetic, fused or not")
    }

    func testPrefixOfWiderBufferEqualsContiguousInput() throws {
        let (n, c, cs, h, w) = (3, 5, 9, 4, 6)
        let wide = randomSource([n, cs, h, w], seed: 1)
        let narrow = Tensor(shape: [n, c, h, w])
        for i in 0..<n { (narrow.data + i * c * h * w).update(from: wide.data + i * cs * h * w, count: c * h * w) }
        let gy = randomSource([n, c, h, w], seed: 2)
        var results: [[Float]] = []
        for prefix in [false, true] {
            let store = ParameterStore()
            let bn = try BatchNorm(at: store.scope("n"), inputShape: [c, h, w], relu: true)
            store.finalize()
            for k in 0..<c { bn.weight!.value[k] = 1 + 0.1 * Float(k); bn.bias!.value[k] = 0.2 - 0.1 * Float(k) }
            let ctx = ForwardContext(training: true)
            let y = prefix ? bn.forward(prefixOf: wide, ctx) : bn.forward(narrow, ctx)
            var gx: [Float]
            if prefix {
                let g = Tensor(shape: wide.shape, repeating: 0.25)   // accumulates onto what is there
                bn.backward(gy, into: g, accumulate: true, ctx)
                gx = []
                for i in 0..<n { gx += Array(UnsafeBufferPointer(start: g.data + i * cs * h * w, count: c * h * w)).map { $0 - 0.25 } }
                let untouched = UnsafeBufferPointer(start: g.data + c * h * w, count: (cs - c) * h * w)
                XCTAssertTrue(untouched.allSatisfy { $0 == 0.25 }, "channels past the prefix stay untouched")
            } else {
                gx = bn.backward(gy, ctx).array
            }
            XCTAssertTrue(y.array.allSatisfy { $0 >= 0 }, "ReLU applied")
            results.append(y.array + gx + Array(bn.weight!.grads) + Array(bn.bias!.grads) + Array(bn.runningVar.values))
        }
        XCTAssertLessThanOrEqual(relativeError(results[1], results[0]), 1e-6)
    }

    /// A reducer that doubles every sum acts like two ranks holding the same batch: the
    /// statistics and input gradient are those of one rank (up to the unbiased-variance count).
    final class Doubler: StatisticsReducer {
        var calls = 0
        func sumInPlace(_ values: UnsafeMutableBufferPointer<Float>) { calls += 1; for i in values.indices { values[i] *= 2 } }
    }

    func testSyncStatisticsReduceForwardAndBackward() throws {
        let x = randomSource([4, 3, 5, 5], seed: 3), gy = randomSource([4, 3, 5, 5], seed: 4)
        var outputs: [[Float]] = []
        let doubler = Doubler()
        for reducer in [nil, doubler] as [StatisticsReducer?] {
            let store = ParameterStore()
            let bn = try BatchNorm(at: store.scope("n"), inputShape: [3, 5, 5], relu: true)
            store.finalize()
            let ctx = ForwardContext(training: true, statisticsReducer: reducer)
            let y = bn.forward(x, ctx).array
            let gx = bn.backward(gy, ctx).array
            outputs.append(y + gx + Array(bn.weight!.grads) + Array(bn.runningMean.values))
        }
        XCTAssertEqual(doubler.calls, 2, "one reduction in forward, one in backward")
        XCTAssertLessThanOrEqual(relativeError(outputs[1], outputs[0]), 1e-6)
    }

    /// Channels split over 3 workers give the bits of the serial run (each channel is reduced by
    /// one worker in one order), with and without sync statistics; the same for ReLU and max-pool.
    func testWorkerPoolGivesTheSerialBits() throws {
        let x = randomSource([4, 5, 6, 6], seed: 7), gy = randomSource([4, 5, 6, 6], seed: 8)
        let gp = randomSource([4, 5, 3, 3], seed: 9)
        for reducer in [nil, Doubler()] as [StatisticsReducer?] {
            var outputs: [[Float]] = []
            for threads in [1, 3] {
                let store = ParameterStore()
                let bn = try BatchNorm(at: store.scope("n"), inputShape: [5, 6, 6], relu: true)
                let relu = Activation(.relu, inputShape: [5, 6, 6])
                let pool = try MaxPool2d(inputShape: [5, 6, 6], kernel: 2)
                store.finalize()
                let ctx = ForwardContext(training: true, statisticsReducer: reducer)
                ctx.pool = WorkerPool(threads: threads)
                let y = bn.forward(x, ctx).array, gx = bn.backward(gy, ctx).array
                let r = relu.forward(x, ctx).array, gr = relu.backward(gy, ctx).array
                let p = pool.forward(x, ctx).array, gpx = pool.backward(gp, ctx).array
                outputs.append(y + gx + Array(bn.weight!.grads) + Array(bn.runningVar.values) + r + gr + p + gpx)
            }
            XCTAssertEqual(outputs[1].map(\.bitPattern), outputs[0].map(\.bitPattern), "sync: \(reducer != nil)")
        }
    }
}
