import XCTest
import NN
import TensorCore

/// What N ranks = 1 rank needs from a convolution: an image's output and input gradient are the
/// same bits whatever batch it is computed in and however many workers share that batch.
final class ConvBatchIndependenceTests: XCTestCase {
    func testAnImagesResultsDoNotDependOnItsBatchOrTheThreadCount() {
        for algorithm in [ConvAlgorithm.gemm, .winograd, .winogradF4] {
            let full = results(algorithm, images: 8, threads: 2)
            for (images, threads) in [(8, 1), (3, 1), (3, 2), (5, 2)] {
                let part = results(algorithm, images: images, threads: threads)
                let n = part.y.count
                XCTAssertEqual(part.y, Array(full.y.prefix(n)), "\(algorithm) y: \(images) images on \(threads) thread(s)")
                XCTAssertEqual(part.gx, Array(full.gx.prefix(part.gx.count)), "\(algorithm) gx: \(images) images on \(threads) thread(s)")
            }
        }
    }

    /// y and ∂x of the first `images` of one fixed set of 8 images.
    private func results(_ algorithm: ConvAlgorithm, images: Int, threads: Int) -> (y: [Float], gx: [Float]) {
        let store = ParameterStore()
        let conv = try! Conv2d(at: store.scope("conv"), inputShape: [16, 8, 8], outChannels: 16, kernel: 3, padding: 1)
        store.finalize(seed: 7)
        conv.algorithm = algorithm
        let x = Tensor(shape: [images, 16, 8, 8]), all = Conv2dTests.random([8, 16, 8, 8], seed: 1)
        x.data.update(from: all.data, count: x.count)
        let ctx = ForwardContext()
        ctx.pool = WorkerPool(threads: threads)
        let y = conv.forward(x, ctx)
        let gy = Tensor(shape: y.shape), allGy = Conv2dTests.random([8] + conv.outputShape, seed: 2)
        gy.data.update(from: allGy.data, count: gy.count)
        let gx = conv.backward(gy, ctx)
        return (y.array, gx.array)
    }
}
