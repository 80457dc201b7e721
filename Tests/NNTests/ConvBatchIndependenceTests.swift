import XCTest
import NN
import TensorCore

/// What N ranks = 1 rank needs from a convolution: an image's output and input gradient are the
/// same bits whatever batch it is computed in and however many workers share that batch.
final class ConvBatchIndependenceTests: XCTestCase {
    func testAnImagesResultsDoNotDependOnItsBatchOrTheThreadCount() {
        // 3×3 16→16 by im2col + GEMM, Winograd F(2) and F(4) and (auto) the blocked kernel; the
        // 1×1 stride-2 16→32 projection (im2col + GEMM).
        let layers: [(LayerKind, ConvAlgorithm)] = [
            (.same3x3, .gemm), (.same3x3, .winograd), (.same3x3, .winogradF4), (.same3x3, .auto), (.projection, .auto),
        ]
        for (layer, algorithm) in layers {
            let label = layer.rawValue
            let full = results(layer, algorithm, images: 8, threads: 2)
            for (images, threads) in [(8, 1), (3, 1), (3, 2), (5, 2)] {
                let part = results(layer, algorithm, images: images, threads: threads)
                let n = part.y.count
                XCTAssertEqual(part.y, Array(full.y.prefix(n)), "\(label) \(algorithm) y: \(images) images on \(threads) thread(s)")
                XCTAssertEqual(part.gx, Array(full.gx.prefix(part.gx.count)), "\(label) \(algorithm) gx: \(images) images on \(threads) thread(s)")
            }
        }
    }

    enum LayerKind: String { case same3x3 = "3x3", projection = "1x1 s2" }

    /// y and ∂x of the first `images` of one fixed set of 8 images (16 channels, 8×8).
    private func results(_ layer: LayerKind, _ algorithm: ConvAlgorithm, images: Int, threads: Int) -> (y: [Float], gx: [Float]) {
        let store = ParameterStore()
        let conv = layer == .same3x3
            ? try! Conv2d(at: store.scope("conv"), inputShape: [16, 8, 8], outChannels: 16, kernel: 3, padding: 1)
            : try! Conv2d(at: store.scope("conv"), inputShape: [16, 8, 8], outChannels: 32, kernel: 1, stride: 2, bias: false)
        store.finalize(seed: 7)
        conv.algorithm = algorithm
        if layer == .same3x3 { XCTAssertEqual(conv.usesBlockedKernel, algorithm == .auto) }
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
