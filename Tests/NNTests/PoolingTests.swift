import XCTest
import TensorCore
@testable import NN

/// What ops.h5 does not cover: AvgPool2d without count_include_pad, and gradients by finite differences.
final class PoolingTests: XCTestCase {
    func testAvgPoolExcludingPaddingAveragesOnlyRealPixels() throws {
        let pool = try AvgPool2d(inputShape: [2, 5, 5], kernel: 3, stride: 2, padding: 1, countIncludePad: false)
        let y = pool.forward(Tensor(shape: [3, 2, 5, 5], repeating: 1.5), ForwardContext())
        XCTAssertEqual(y.shape, [3, 2, 3, 3])
        XCTAssertTrue(y.array.allSatisfy { $0 == 1.5 }, "a constant input must stay constant: \(y.array)")
        let including = try AvgPool2d(inputShape: [2, 5, 5], kernel: 3, stride: 2, padding: 1)
        XCTAssertLessThan(including.forward(Tensor(shape: [3, 2, 5, 5], repeating: 1.5), ForwardContext()).data[0], 1.5,
                          "count_include_pad divides a corner window by 9")
    }

    func testAvgPoolModesAgreeWithoutPadding() throws {
        let x = randomTensor([2, 3, 6, 6], seed: 3)
        let a = try AvgPool2d(inputShape: [3, 6, 6], kernel: 3, stride: 1, countIncludePad: false).forward(x, ForwardContext())
        let b = try AvgPool2d(inputShape: [3, 6, 6], kernel: 3, stride: 1, countIncludePad: true).forward(x, ForwardContext())
        XCTAssertEqual(a.array, b.array)
    }

    func testPoolingGradientsMatchFiniteDifferences() throws {
        let ctx = ForwardContext()
        let cases: [(String, Layer, [Int])] = [
            ("avg exclude pad", try AvgPool2d(inputShape: [2, 7, 6], kernel: 3, stride: 2, padding: 1, countIncludePad: false), [2, 2, 7, 6]),
            ("avg include pad", try AvgPool2d(inputShape: [2, 7, 6], kernel: 3, stride: 2, padding: 1), [2, 2, 7, 6]),
            ("adaptive 3x2 from 7x5", try AdaptiveAvgPool2d(inputShape: [2, 7, 5], outputSize: (3, 2)), [2, 2, 7, 5]),
            ("adaptive 4x4 from 3x3 (upsampling bins)", try AdaptiveAvgPool2d(inputShape: [1, 3, 3], outputSize: (4, 4)), [2, 1, 3, 3]),
        ]
        for (label, layer, shape) in cases {
            let errors = finiteDifferenceErrors(layer, x: randomTensor(shape, seed: 5), store: ParameterStore(), ctx: ctx)
            XCTAssertLessThan(errors["gx"]!, 1e-3, label)
        }
    }

    func testMaxPoolPaddingActsAsMinusInfinity() throws {
        // All-negative input: a zero padding would win every border window; −∞ padding never does.
        let pool = try MaxPool2d(inputShape: [1, 4, 4], kernel: 3, stride: 2, padding: 1)
        let x = randomTensor([1, 1, 4, 4], seed: 8, scale: 0.1, shift: -5)
        let y = pool.forward(x, ForwardContext())
        XCTAssertTrue(y.array.allSatisfy { $0 < -4 }, "\(y.array)")
        let gx = pool.backward(Tensor(shape: y.shape, repeating: 1), ForwardContext())
        XCTAssertEqual(Double(gx.array.reduce(0, +)), Double(y.count), "every output routes its gradient to one input")
    }

    /// The unrolled 2x2/2 max-pool picks the same value and position as the generic window loop,
    /// on odd sizes, ties (first maximum wins), infinities and NaN (first NaN wins).
    func testMaxPool2x2FastPathMatchesGenericWindows() throws {
        // 4 wide, 8 + 8 + 2 scalar, 8 wide, 4 wide (cifar_cnn's 8x8 -> 4x4), 8 + 4 + 1 scalar
        for (h, w) in [(7, 9), (5, 37), (4, 16), (8, 8), (6, 26)] { try check2x2(height: h, width: w) }
    }

    /// The 2x2/2 max-pool's one-pass backward gives the bits of zeroing the plane and adding each
    /// gradient at its window's recorded maximum (signed zeros, ties and NaN windows included;
    /// odd sizes leave a last row or column outside every window).
    func testMaxPool2x2BackwardMatchesScatter() throws {
        for (h, w) in [(7, 9), (5, 37), (4, 16), (8, 8), (6, 26)] {
            var rng = Philox(seed: 13)
            let x = Tensor(shape: [2, 3, h, w])
            for i in 0..<x.count { x.data[i] = i % 11 == 0 ? .nan : Float(Int(rng.below(4))) * 0.5 }
            let pool = try MaxPool2d(inputShape: [3, h, w], kernel: 2)
            let ctx = ForwardContext()
            let y = pool.forward(x, ctx)
            let gy = Tensor(shape: y.shape)
            for i in 0..<gy.count { gy.data[i] = i % 3 == 0 ? -0.0 : rng.normal() }
            let gx = pool.backward(gy, ctx)
            let g = pool.geometry, outPlane = g.outHeight * g.outWidth
            var expected = [Float](repeating: 0, count: x.count)
            var values = [Float](repeating: 0, count: outPlane), at = [Int32](repeating: 0, count: outPlane)
            for p in 0..<6 {
                MaxPool2d.forwardPlane(x.data + p * h * w, g, into: &values, &at)
                for o in 0..<outPlane { expected[p * h * w + Int(at[o])] += gy.data[p * outPlane + o] }
            }
            XCTAssertEqual(gx.array.map(\.bitPattern), expected.map(\.bitPattern), "\(h)x\(w)")
        }
    }

    private func check2x2(height h: Int, width w: Int) throws {
        var rng = Philox(seed: 11)
        let specials: [Float] = [.nan, .infinity, -.infinity, 0.5, 0.5]
        var plane = (0..<(h * w)).map { _ in Float(Int(rng.below(4))) * 0.5 }   // many ties
        for i in stride(from: 3, to: plane.count, by: 7) { plane[i] = specials[(i / 7) % specials.count] }
        let g = try PoolGeometry(kind: "maxpool2d", name: "", inputShape: [1, h, w], kernel: 2, stride: 2, padding: 0)
        let count = g.outHeight * g.outWidth
        var fast = [Float](repeating: 0, count: count), generic = fast
        var fastAt = [Int32](repeating: 0, count: count), genericAt = fastAt
        plane.withUnsafeMutableBufferPointer { src in
            MaxPool2d.forward2x2(src.baseAddress!, width: w, into: &fast, &fastAt, outHeight: g.outHeight, outWidth: g.outWidth)
            MaxPool2d.forwardPlane(src.baseAddress!, g, into: &generic, &genericAt)
        }
        XCTAssertEqual(fastAt, genericAt, "\(h)x\(w)")
        XCTAssertEqual(fast.map(\.bitPattern), generic.map(\.bitPattern), "\(h)x\(w)")
        XCTAssertTrue(fast.contains { $0.isNaN }, "the \(h)x\(w) case includes a NaN window")
    }

    /// The vectorised 2x2/2 average pool of even maps gives the generic window loop's bits, forward
    /// and backward: the generic path runs on the same map with one more row and column (odd
    /// sizes take it; the extra pixels fall outside every window), signed zeros included.
    func testAvgPool2x2FastPathMatchesGenericWindows() throws {
        for (h, w) in [(6, 20), (8, 32), (2, 2)] {   // vectors + tail, vectors, one window
            var rng = Philox(seed: 5)
            let odd = Tensor(shape: [2, 3, h + 1, w + 1])
            for i in 0..<odd.count { odd.data[i] = i % 5 == 0 ? -0.0 : rng.normal() }
            let even = Tensor(shape: [2, 3, h, w])
            for p in 0..<6 { for r in 0..<h { for c in 0..<w { even.data[(p * h + r) * w + c] = odd.data[(p * (h + 1) + r) * (w + 1) + c] } } }
            let fast = try AvgPool2d(inputShape: [3, h, w], kernel: 2, stride: 2)
            let generic = try AvgPool2d(inputShape: [3, h + 1, w + 1], kernel: 2, stride: 2)
            let ctx = ForwardContext()
            XCTAssertEqual(fast.forward(even, ctx).array.map(\.bitPattern), generic.forward(odd, ctx).array.map(\.bitPattern), "\(h)x\(w)")
            let gy = Tensor(shape: [2, 3, h / 2, w / 2])
            for i in 0..<gy.count { gy.data[i] = i % 3 == 0 ? -0.0 : rng.normal() }
            let gFast = fast.backward(gy, ctx), gGeneric = generic.backward(gy, ctx)
            for p in 0..<6 {
                for r in 0..<h {
                    for c in 0..<w {
                        XCTAssertEqual(gFast.data[(p * h + r) * w + c].bitPattern,
                                       gGeneric.data[(p * (h + 1) + r) * (w + 1) + c].bitPattern, "\(h)x\(w) gx")
                    }
                }
            }
        }
    }
}
