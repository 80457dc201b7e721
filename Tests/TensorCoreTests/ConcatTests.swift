import XCTest
@testable import TensorCore

final class ConcatTests: XCTestCase {
    /// Element (n, c, s) of a tensor filled with its own coordinates, so every copy is checkable.
    private func coded(_ shape: [Int], tag: Float) -> Tensor {
        let t = Tensor(shape: shape)
        for i in 0..<t.count { t.data[i] = tag * 1000 + Float(i) }
        return t
    }

    func testChannelsThenSplitRoundTrips() {
        let a = coded([2, 3, 2, 2], tag: 1), b = coded([2, 1, 2, 2], tag: 2), c = coded([2, 2, 2, 2], tag: 3)
        let out = Tensor(shape: [0])
        Concat.channels([a, b, c], into: out)
        XCTAssertEqual(out.shape, [2, 6, 2, 2])
        for n in 0..<2 {
            let row = Array(out.array[(n * 24)..<((n + 1) * 24)])
            XCTAssertEqual(row, Array(a.array[(n * 12)..<((n + 1) * 12)]) + Array(b.array[(n * 4)..<((n + 1) * 4)])
                                + Array(c.array[(n * 8)..<((n + 1) * 8)]))
        }
        let ga = Tensor(shape: a.shape), gb = Tensor(shape: b.shape), gc = Tensor(shape: c.shape)
        Concat.split(out, into: [ga, gb, gc])
        XCTAssertEqual(ga.array, a.array); XCTAssertEqual(gb.array, b.array); XCTAssertEqual(gc.array, c.array)
    }

    func testAddSliceAccumulatesAndFeaturesWork() {
        let g = coded([3, 5], tag: 1)                  // (N, F): features concatenate the same way
        let part = Tensor(shape: [3, 2], repeating: 1)
        Concat.addSlice(of: g, channelOffset: 2, into: part)
        Concat.addSlice(of: g, channelOffset: 2, into: part)
        for n in 0..<3 { for j in 0..<2 { XCTAssertEqual(part.data[n * 2 + j], 1 + 2 * g.data[n * 5 + 2 + j]) } }
    }

    func testScaledCopyAndAxpyIntoChannelRange() {
        let x = coded([2, 3, 1, 2], tag: 0), dst = Tensor(shape: [2, 3, 1, 2])
        Concat.copyChannels(from: x, channelOffset: 1, into: dst, channelOffset: 0, count: 2, scale: 2)
        Concat.addChannels(from: x, channelOffset: 0, into: dst, channelOffset: 1, count: 2, alpha: -1)
        for n in 0..<2 {
            for c in 0..<3 {
                for s in 0..<2 {
                    let src = { (ch: Int) in x.data[(n * 3 + ch) * 2 + s] }
                    let expected = (c < 2 ? 2 * src(c + 1) : 0) - (c >= 1 ? src(c - 1) : 0)
                    XCTAssertEqual(dst.data[(n * 3 + c) * 2 + s], expected)
                }
            }
        }
    }

    func testKernelsBiasAndChannelSums() {
        let x = coded([2, 3, 4], tag: 0), bias: [Float] = [1, -2, 0.5]
        let before = x.array
        bias.withUnsafeBufferPointer { Kernels.addBias($0.baseAddress!, channels: 3, spatial: 4, to: x) }
        for i in 0..<x.count { XCTAssertEqual(x.data[i], before[i] + bias[(i / 4) % 3]) }
        var sums = [Float](repeating: 10, count: 3)
        Kernels.addChannelSums(of: x, channels: 3, spatial: 4, into: &sums)
        for c in 0..<3 {
            let expected = (0..<x.count).filter { ($0 / 4) % 3 == c }.reduce(Float(10)) { $0 + x.data[$1] }
            XCTAssertEqual(sums[c], expected)
        }
    }
}
