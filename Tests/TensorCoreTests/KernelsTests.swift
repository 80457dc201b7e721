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
        var out = [Float](repeating: -7, count: x.count)
        Kernels.normalize(x.count, x, into: &out, mean: 0, scale: 1, shift: 0, relu: true)
        XCTAssertEqual(out, expected)
    }
}
