import XCTest
import TensorCore

/// The ReLU kernels give one answer per value whether it falls in a vector lane or in the
/// scalar tail: x where x > 0, else 0 (a NaN input becomes 0, its gradient 0).
final class KernelsTests: XCTestCase {
    /// 11 values: lanes 0-7 go through SIMD8, 8-10 through the tail; a NaN sits in each part.
    let x: [Float] = [1, -2, .nan, 0, 3, -0.5, .infinity, -.infinity, 2, .nan, -1]
    let expected: [Float] = [1, 0, 0, 0, 3, 0, .infinity, 0, 2, 0, 0]

    func testReLUAndResidualJoinTreatEveryLaneAlike() {
        var out = [Float](repeating: -7, count: x.count)
        Kernels.relu(x.count, x, into: &out)
        XCTAssertEqual(out, expected)
        let zeros = [Float](repeating: 0, count: x.count)
        Kernels.addReLU(x.count, x, zeros, into: &out)
        XCTAssertEqual(out, expected)
    }

    func testReLUMaskPassesTheGradientOnlyWhereTheOutputIsPositive() {
        let g = [Float](repeating: 5, count: x.count)
        var out = [Float](repeating: -7, count: x.count)
        Kernels.reluMask(x.count, g, by: x, into: &out)
        XCTAssertEqual(out, x.map { $0 > 0 ? 5 : 0 })
    }

    func testFusedNormalizeReLUTreatsEveryLaneAlike() {
        // 16-lane vectors in CKernels: pad to 19 so a NaN sits in the vector part and in the tail.
        let v = x + [-3, 4, 5, 6, -6, 7, .nan, 8]
        let want = expected + [0, 4, 5, 6, 0, 7, 0, 8]
        var out = [Float](repeating: -7, count: v.count)
        let zero: [Float] = [0], one: [Float] = [1]
        Kernels.normalize(ChannelBlock(images: 1, channels: 1, spatial: v.count), v, xImage: v.count, into: &out,
                          yImage: v.count, mean: zero, scale: one, shift: zero, relu: true)
        XCTAssertEqual(out, want)
    }

    /// A channel's sums are the same bits whether its block holds one channel or all of them
    /// (BatchNorm's blocks are sized by the cache and the thread count).
    func testBatchNormSumsDoNotDependOnTheBlocking() {
        let images = 3, channels = 5, spatial = 37, n = images * channels * spatial
        let x = Buffer((0..<n).map { Float(sin(Double($0) * 0.37)) * 3 + 0.25 })
        let g = Buffer((0..<n).map { Float(cos(Double($0) * 0.91)) })
        let mean = Buffer((0..<channels).map { Float($0) * 0.1 }), scale = Buffer((0..<channels).map { 1 + Float($0) * 0.2 })
        let shift = Buffer((0..<channels).map { Float($0) * -0.05 })
        func sums(width: Int) -> [Double] {
            let out = UnsafeMutablePointer<Double>.allocate(capacity: 4 * channels)
            defer { out.deallocate() }
            out.initialize(repeating: 0, count: 4 * channels)
            for k0 in stride(from: 0, to: channels, by: width) {
                let b = ChannelBlock(images: images, channels: min(width, channels - k0), spatial: spatial)
                let image = channels * spatial, at = k0 * spatial
                Kernels.moments(b, x.p + at, xImage: image, shift: mean.p + k0, s1: out + k0, s2: out + channels + k0)
                Kernels.normalizeGradientSums(b, g.p + at, gImage: image, x.p + at, xImage: image, mean: mean.p + k0,
                                              scale: scale.p + k0, shift: shift.p + k0, relu: true,
                                              sg: out + 2 * channels + k0, sgx: out + 3 * channels + k0)
            }
            return Array(UnsafeBufferPointer(start: out, count: 4 * channels))
        }
        let one = sums(width: 1)
        XCTAssertEqual(sums(width: channels), one)
        XCTAssertEqual(sums(width: 2), one)
        // And against a double-precision reference, so the kernels sum what they say.
        for k in 0..<channels {
            var s1 = 0.0, s2 = 0.0, sg = 0.0
            for i in 0..<images {
                for q in 0..<spatial {
                    let at = (i * channels + k) * spatial + q, d = Double(x.p[at] - mean.p[k])
                    s1 += d; s2 += d * d
                    if (x.p[at] - mean.p[k]) * scale.p[k] + shift.p[k] > 0 { sg += Double(g.p[at]) }
                }
            }
            XCTAssertEqual(one[k], s1, accuracy: 1e-4)
            XCTAssertEqual(one[channels + k], s2, accuracy: 1e-3)
            XCTAssertEqual(one[2 * channels + k], sg, accuracy: 1e-4)
        }
    }
}

/// Floats that outlive the calls they are passed to (an array's pointer does not).
private final class Buffer {
    let p: UnsafeMutablePointer<Float>
    init(_ values: [Float]) { p = .allocate(capacity: values.count); p.initialize(from: values, count: values.count) }
    deinit { p.deallocate() }
}
