import XCTest
import TensorCore
@testable import NN

/// The product kernels size their register blocks for the CPU's SIMD level (AVX-512's 32
/// registers of 16 floats against AVX2's 16 of 8). A block shape changes which outputs are
/// computed together, never the order of an output's sum, so a layer gives the same bits with
/// every level's shapes: checked here with each level's shapes run on this CPU's instructions.
final class RegisterShapesTests: XCTestCase {
    private struct Layer {
        var label: String
        var n = 2, c: Int, h: Int, w: Int, out: Int, kernel = 3, stride = 1, padding = 1
        var algorithm = ConvAlgorithm.auto
    }

    func testEveryLevelsBlockShapesGiveTheSameBits() {
        let layers = [
            Layer(label: "3x3 16 -> 16 (blocked: rows of 8, pixel blocks of 6 and single pixels, rows of 4)", c: 16, h: 8, w: 8, out: 16),
            Layer(label: "3x3 48 -> 12 (blocked, rows of 12 or 6)", c: 48, h: 4, w: 8, out: 12),
            Layer(label: "3x3 5 -> 10 (blocked, a partial block), 16x16 map", c: 5, h: 16, w: 16, out: 10),
            Layer(label: "3x3 12 -> 7, 6x16 map (32-pixel steps and a last 16)", n: 3, c: 12, h: 6, w: 16, out: 7),
            Layer(label: "3x3 6 -> 5, 7x6 map (weight-gradient sum segments across images)", n: 3, c: 6, h: 7, w: 6, out: 5),
            Layer(label: "3x3 21 -> 40, 8x8 map (weight gradient: 3 output groups, an odd channel)", c: 21, h: 8, w: 8, out: 40),
            Layer(label: "1x1 30 -> 48 (blocked pointwise)", c: 30, h: 8, w: 6, out: 48, kernel: 1, padding: 0),
            Layer(label: "3x3 64 -> 64 by Winograd, 4x4 map", c: 64, h: 4, w: 4, out: 64),
            Layer(label: "3x3 40 -> 36 by Winograd, weight gradient in its domain", c: 40, h: 8, w: 8, out: 36,
                  algorithm: .winograd),
            Layer(label: "3x3 12 -> 20 by Winograd, weight gradient by dot products", c: 12, h: 8, w: 8, out: 20,
                  algorithm: .winograd),
            Layer(label: "3x3 stride 2, 40 -> 44 (im2col weight-gradient products)", c: 40, h: 8, w: 8, out: 44,
                  stride: 2),
        ]
        let levels = [2, 1, 0]
        defer { Kernels.registerShapes = nil }
        for layer in layers {
            var results: [[[Float]]] = []
            for level in levels {
                Kernels.registerShapes = level
                results.append(run(layer))
            }
            for (i, level) in levels.enumerated().dropFirst() {
                for (name, (a, b)) in zip(["y", "gx", "gweight"], zip(results[0], results[i])) {
                    XCTAssertTrue(a.elementsEqual(b, by: { $0.bitPattern == $1.bitPattern }),
                                  "\(layer.label): \(name) with level \(level)'s shapes differs from level 2's")
                }
            }
        }
    }

    /// y, ∂x and ∂weight of one forward and backward of the layer.
    private func run(_ t: Layer) -> [[Float]] {
        let store = ParameterStore()
        let conv = try! Conv2d(at: store.scope("conv"), inputShape: [t.c, t.h, t.w], outChannels: t.out,
                               kernel: t.kernel, stride: t.stride, padding: t.padding)
        store.finalize(seed: 3)
        conv.algorithm = t.algorithm
        let x = Conv2dTests.random([t.n, t.c, t.h, t.w], seed: 1)
        let ctx = ForwardContext()
        let y = conv.forward(x, ctx)
        let gy = Conv2dTests.random(y.shape, seed: 2)
        let gx = conv.backward(gy, ctx)
        return [y.array, gx.array, Array(conv.weight.grads)]
    }
}
