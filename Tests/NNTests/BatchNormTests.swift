import XCTest
import Foundation
import TensorCore
import TestSupport
@testable import NN

/// Sums buffers across `size` threads standing in for ranks: a blocking all-reduce.
final class ThreadAllReduce: @unchecked Sendable {
    let size: Int
    private let condition = NSCondition()
    private var slots: [[Float]]
    private var result: [Float] = []
    private var arrived = 0, generation = 0

    init(size: Int) { self.size = size; slots = Array(repeating: [], count: size) }

    func sum(rank: Int, _ buffer: UnsafeMutableBufferPointer<Float>) {
        condition.lock(); defer { condition.unlock() }
        let round = generation
        slots[rank] = Array(buffer)
        arrived += 1
        if arrived == size {
            result = slots.dropFirst().reduce(slots[0]) { zip($0, $1).map { $0 + $1 } }
            arrived = 0; generation += 1
            condition.broadcast()
        } else {
            while generation == round { condition.wait() }
        }
        _ = buffer.update(fromContentsOf: result)
    }

    /// The StatisticsReducer one rank sees.
    final class Rank: StatisticsReducer {
        let shared: ThreadAllReduce, rank: Int
        init(_ shared: ThreadAllReduce, rank: Int) { self.shared = shared; self.rank = rank }
        func sumInPlace(_ values: UnsafeMutableBufferPointer<Float>) { shared.sum(rank: rank, values) }
    }
}

/// One simulated rank of the sync-BN test: its layer, its half of the batch, what it computed.
final class RankRun: @unchecked Sendable {
    let bn: BatchNorm, store: ParameterStore, x: Tensor, gy: Tensor, reducer: StatisticsReducer
    var y: [Float] = [], gx: [Float] = []
    init(bn: BatchNorm, store: ParameterStore, x: Tensor, gy: Tensor, reducer: StatisticsReducer) {
        self.bn = bn; self.store = store; self.x = x; self.gy = gy; self.reducer = reducer
    }
    func run() {
        let ctx = ForwardContext(training: true, statisticsReducer: reducer)
        y = bn.forward(x, ctx).array
        gx = bn.backward(gy, ctx).array
    }
}

final class BatchNormTests: XCTestCase {
    private func makeBN(_ shape: [Int], affine: Bool = true) throws -> (BatchNorm, ParameterStore) {
        let store = ParameterStore()
        let bn = try BatchNorm(at: store.scope("bn"), inputShape: shape, affine: affine)
        store.finalize(seed: 4)
        if let w = bn.weight, let b = bn.bias {   // non-trivial affine parameters
            for c in 0..<shape[0] { w.value[c] = 0.5 + Float(c); b.value[c] = Float(c) - 1 }
        }
        return (bn, store)
    }

    /// Rows [lo, hi) of a batch tensor, as a new tensor.
    private func rows(_ t: Tensor, _ lo: Int, _ hi: Int) -> Tensor {
        let per = t.itemCount
        return Tensor(shape: [hi - lo] + t.shape.dropFirst(), values: Array(t.array[(lo * per)..<(hi * per)]))
    }

    /// Two ranks with sync BN, each on half the batch, reproduce one BN over the whole batch:
    /// outputs, input gradients, running stats; and their parameter gradients add up to it.
    func testSyncBatchNormOverTwoRanksEqualsFullBatch() throws {
        let shape = [3, 4, 5], x = randomTensor([6] + shape, seed: 21, scale: 2, shift: 3)
        let gy = randomTensor(x.shape, seed: 22)
        let (full, fullStore) = try makeBN(shape)
        let ctx = ForwardContext(training: true)
        let yFull = full.forward(x, ctx).array, gxFull = full.backward(gy, ctx).array

        let reduce = ThreadAllReduce(size: 2)
        var ranks: [RankRun] = []
        for rank in 0..<2 {
            let (bn, store) = try makeBN(shape)
            ranks.append(RankRun(bn: bn, store: store, x: rows(x, rank * 3, rank * 3 + 3), gy: rows(gy, rank * 3, rank * 3 + 3),
                                 reducer: ThreadAllReduce.Rank(reduce, rank: rank)))
        }
        let done = DispatchGroup()
        for run in ranks {
            done.enter()
            Thread { run.run(); done.leave() }.start()
        }
        XCTAssertEqual(done.wait(timeout: .now() + 30), .success, "sync BN ranks deadlocked")
        XCTAssertLessThan(relativeError(ranks[0].y + ranks[1].y, yFull), 1e-5)
        XCTAssertLessThan(relativeError(ranks[0].gx + ranks[1].gx, gxFull), 1e-4)
        for r in ranks {
            XCTAssertLessThan(relativeError(Array(r.bn.runningMean.values), Array(full.runningMean.values)), 1e-6)
            XCTAssertLessThan(relativeError(Array(r.bn.runningVar.values), Array(full.runningVar.values)), 1e-6)
            XCTAssertEqual(r.bn.batchesTracked.value, 1)
        }
        let summed = zip(Array(ranks[0].store.grads), Array(ranks[1].store.grads)).map { $0 + $1 }
        XCTAssertLessThan(relativeError(summed, Array(fullStore.grads)), 1e-5)
    }

    func testGradientsMatchFiniteDifferences() throws {
        for (label, shape, batch, training, affine) in [("1d (C, L) train", [3, 4], 5, true, true),
                                                        ("2d train no affine", [2, 3, 3], 3, true, false),
                                                        ("1d eval", [4], 6, false, true)] {
            let (bn, store) = try makeBN(shape, affine: affine)
            if !training { for c in 0..<shape[0] { bn.runningMean.value[c] = 0.3 * Float(c); bn.runningVar.value[c] = 0.5 + Float(c) } }
            let errors = finiteDifferenceErrors(bn, x: randomTensor([batch] + shape, seed: 31, shift: 1), store: store,
                                                ctx: ForwardContext(training: training), h: 1e-2)
            for (key, err) in errors { XCTAssertLessThan(err, 5e-3, "\(label) \(key)") }
        }
    }

    func testTrainingStepUpdatesRunningStatsAndEvalUsesThem() throws {
        let (bn, store) = try makeBN([2])
        defer { withExtendedLifetime(store) {} }   // the store owns the memory bn's views point into
        let x = Tensor(shape: [4, 2], values: [1, 10, 2, 20, 3, 30, 4, 40])
        _ = bn.forward(x, ForwardContext(training: true))
        // mean (2.5, 25); unbiased var (5/3, 500/3); momentum 0.1 from (0, 1).
        XCTAssertEqual(bn.runningMean.values[0], 0.25, accuracy: 1e-6)
        XCTAssertEqual(bn.runningMean.values[1], 2.5, accuracy: 1e-5)
        XCTAssertEqual(bn.runningVar.values[0], 0.9 + 0.1 * 5 / 3, accuracy: 1e-6)
        XCTAssertEqual(bn.runningVar.values[1], 0.9 + 0.1 * 500 / 3, accuracy: 1e-4)
        let eval = bn.forward(x, ForwardContext(training: false))
        let expected = (bn.runningMean.values[0], bn.runningVar.values[0])
        XCTAssertEqual(eval.data[0], (1 - expected.0) / (expected.1 + 1e-5).squareRoot() * 0.5 - 1, accuracy: 1e-5)
        XCTAssertEqual(bn.batchesTracked.value, 1, "eval must not count a batch")
    }
}
