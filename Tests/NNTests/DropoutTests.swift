import XCTest
import TensorCore
@testable import NN

final class DropoutTests: XCTestCase {
    private func run(_ layer: Dropout, rows indices: [Int], epoch: Int = 0, training: Bool = true) -> [Float] {
        let ctx = ForwardContext(training: training, seed: 77, epoch: epoch, sampleIndices: indices)
        return layer.forward(Tensor(shape: [indices.count, 500], repeating: 1), ctx).array
    }

    func testMaskKeepsProbabilityAndScale() throws {
        let drop = try Dropout(name: "6", inputShape: [500], p: 0.3)
        let y = run(drop, rows: [1, 2, 3, 4])
        XCTAssertTrue(y.allSatisfy { $0 == 0 || abs($0 - 1 / 0.7) < 1e-6 }, "values other than 0 and 1/(1-p)")
        let dropped = Double(y.filter { $0 == 0 }.count) / Double(y.count)
        XCTAssertEqual(dropped, 0.3, accuracy: 0.04)
        let gx = drop.backward(Tensor(shape: [4, 500], repeating: 1), ForwardContext(sampleIndices: [1, 2, 3, 4]))
        XCTAssertEqual(gx.array, y, "backward applies the same mask")
    }

    func testMaskFollowsTheSampleNotItsRowOrRank() throws {
        let drop = try Dropout(name: "6", inputShape: [500], p: 0.5)
        let ab = run(drop, rows: [10, 42]), ba = run(drop, rows: [42, 10]), single = run(drop, rows: [42])
        XCTAssertEqual(Array(ab[500...]), Array(ba[..<500]))
        XCTAssertEqual(Array(ab[500...]), single, "a rank holding only sample 42 draws the same mask")
        XCTAssertNotEqual(Array(ab[..<500]), Array(ab[500...]), "two samples share a mask")
        XCTAssertNotEqual(run(drop, rows: [10], epoch: 1), Array(ab[..<500]), "the mask does not change with the epoch")
        let other = try Dropout(name: "9", inputShape: [500], p: 0.5)
        XCTAssertNotEqual(run(other, rows: [10]), Array(ab[..<500]), "two dropout layers share a mask")
    }

    /// The documented keying: element i of a sample is uniform number i of the Philox stream
    /// (seed; tag, epoch, sample index), dropped when below p.
    func testMaskIsThePhiloxStreamOfTheSample() throws {
        let drop = try Dropout(name: "classifier.0", inputShape: [7, 3], p: 0.4)
        let ctx = ForwardContext(training: true, seed: 0xDEAD_BEEF_0123, epoch: 5, sampleIndices: [123_456, 9])
        let y = drop.forward(Tensor(shape: [2, 7, 3], repeating: 1), ctx).array
        for (row, sample) in ctx.sampleIndices.enumerated() {
            var rng = Philox(seed: ctx.seed, drop.streamTag, 5, UInt32(sample))
            let expected = (0..<21).map { _ in rng.uniform() < 0.4 ? Float(0) : 1 / Float(0.6) }
            XCTAssertEqual(Array(y[(row * 21)..<(row * 21 + 21)]), expected, "row \(row)")
        }
    }

    func testEvalAndZeroProbabilityAreIdentity() throws {
        let x = randomTensor([2, 8], seed: 5)
        let drop = try Dropout(inputShape: [8], p: 0.5)
        XCTAssertEqual(drop.forward(x, ForwardContext(training: false)).array, x.array)
        XCTAssertEqual(try Dropout(inputShape: [8], p: 0).forward(x, ForwardContext(training: true)).array, x.array)
    }

    func testFlattenKeepsDataAndRestoresGradientShape() {
        let flat = Flatten(inputShape: [2, 3, 4])
        let x = randomTensor([5, 2, 3, 4], seed: 6)
        let y = flat.forward(x, ForwardContext())
        XCTAssertEqual(y.shape, [5, 24])
        XCTAssertEqual(y.array, x.array)
        let gx = flat.backward(y, ForwardContext())
        XCTAssertEqual(gx.shape, [5, 2, 3, 4])
        XCTAssertEqual(gx.array, x.array)
    }
}
