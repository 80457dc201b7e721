import XCTest
import NN
import TensorCore
import Models

/// A dense block's norm1 layers take the statistics of the channels an earlier layer already
/// normalised from the block's cache: the step must be the same bits as each computing its own.
final class DenseBlockStatisticsTests: XCTestCase {
    func testSharedStatisticsGiveTheSameBitsAsOwnOnes() throws {
        for threads in [1, 2] {
            func step(shared: Bool) throws -> [Float] {
                let store = ParameterStore()
                let block = try DenseBlock(at: store.scope("block"), inputShape: [8, 8, 8], layers: 4, growth: 4)
                store.finalize(seed: 5)
                if !shared { for layer in block.denseLayers { layer.norm1.statisticsCache = nil } }
                let ctx = ForwardContext()
                ctx.training = true
                ctx.pool = WorkerPool(threads: threads)
                var rng = Philox(seed: 9)
                let x = Tensor(shape: [6, 8, 8, 8])
                for i in 0..<x.count { x.data[i] = rng.normal() * 2 + 0.5 }
                let y = block.forward(x, ctx).array
                let gy = Tensor(shape: [6] + block.outputShape)
                for i in 0..<gy.count { gy.data[i] = rng.normal() }
                let gx = block.backward(gy, ctx).array
                let stats = block.denseLayers.flatMap { Array($0.norm1.runningMean.values) + Array($0.norm1.runningVar.values) }
                return y + gx + Array(store.grads) + stats
            }
            let shared = try step(shared: true), own = try step(shared: false)
            XCTAssertEqual(shared.map(\.bitPattern), own.map(\.bitPattern), "\(threads) threads")
        }
    }
}
