import XCTest
import TensorCore
import TestSupport
@testable import NN

/// CrossEntropyLoss beyond the ops.h5 cases: the global-batch divisor and the bookkeeping.
final class LossTests: XCTestCase {
    func testMeanOverGlobalCountScalesLossAndGradient() {
        let logits = randomTensor([4, 7], seed: 11, scale: 3)
        let labels: [Int32] = [0, 6, 3, 3]
        let local = CrossEntropyLoss(labelSmoothing: 0.1), global = CrossEntropyLoss(labelSmoothing: 0.1)
        let l1 = labels.withUnsafeBufferPointer { local.forward(logits, labels: $0) }
        let l2 = labels.withUnsafeBufferPointer { global.forward(logits, labels: $0, meanOver: 8) }
        XCTAssertEqual(l2, l1 / 2, accuracy: 1e-6 * abs(l1))
        XCTAssertEqual(local.lossSum, global.lossSum)
        XCTAssertEqual(Float(local.lossSum / 4), l1, accuracy: 1e-6 * abs(l1))
        let g1 = local.backward().array, g2 = global.backward().array
        XCTAssertLessThan(relativeError(g2.map { $0 * 2 }, g1), 1e-6)
    }

    func testGradientRowsSumToZeroAndMatchFiniteDifferences() {
        let logits = randomTensor([3, 5], seed: 12, scale: 2)
        let labels: [Int32] = [4, 0, 2]
        let loss = CrossEntropyLoss(labelSmoothing: 0.2)
        _ = labels.withUnsafeBufferPointer { loss.forward(logits, labels: $0) }
        let g = loss.backward().array
        for r in 0..<3 { XCTAssertEqual(g[(r * 5)..<(r * 5 + 5)].reduce(0, +), 0, accuracy: 1e-6) }
        let h: Float = 1e-2
        let numeric: [Float] = (0..<logits.count).map { i in
            let keep = logits.data[i]
            logits.data[i] = keep + h
            let up = Double(labels.withUnsafeBufferPointer { loss.forward(logits, labels: $0) })
            logits.data[i] = keep - h
            let down = Double(labels.withUnsafeBufferPointer { loss.forward(logits, labels: $0) })
            logits.data[i] = keep
            return Float((up - down) / Double(2 * h))
        }
        XCTAssertLessThan(relativeError(g, numeric), 1e-3)
    }

    func testHugeLogitsStayFinite() {
        let logits = Tensor(shape: [2, 3], values: [1e4, -1e4, 0, 80, 90, 100])
        let labels: [Int32] = [1, 2]
        let loss = CrossEntropyLoss()
        let value = labels.withUnsafeBufferPointer { loss.forward(logits, labels: $0) }
        XCTAssertTrue(value.isFinite, "\(value)")
        XCTAssertTrue(loss.backward().array.allSatisfy(\.isFinite))
        XCTAssertEqual(loss.correct, 1)
    }
}
