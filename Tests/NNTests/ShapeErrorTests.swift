import XCTest
import TensorCore
@testable import NN

/// Bad input shapes are caught when the layer is built (ShapeError) or, for a batch that does
/// not match the built shape, reported by `inputMismatch` — both naming the layer and the shapes.
final class ShapeErrorTests: XCTestCase {
    private func assertThrows(_ build: @autoclosure () throws -> Layer, mentions parts: [String],
                              file: StaticString = #filePath, line: UInt = #line) {
        do {
            let layer = try build()
            XCTFail("built \(type(of: layer)) without error", file: file, line: line)
        } catch {
            let message = "\(error)"
            XCTAssertTrue(error is ShapeError, "not a ShapeError: \(message)", file: file, line: line)
            for p in parts { XCTAssertTrue(message.contains(p), "'\(message)' does not mention '\(p)'", file: file, line: line) }
            XCTAssertFalse(message.contains("\n"), "message is not one line: \(message)", file: file, line: line)
        }
    }

    func testBuildTimeErrorsNameLayerAndShape() {
        let store = ParameterStore()
        assertThrows(try MaxPool2d(name: "pool1", inputShape: [3, 8], kernel: 2, stride: 2),
                     mentions: ["maxpool2d 'pool1'", "(C, H, W)", "(3, 8)"])
        assertThrows(try AvgPool2d(name: "avg", inputShape: [2, 2, 2], kernel: 3, stride: 1),
                     mentions: ["avgpool2d 'avg'", "kernel 3", "(2, 2, 2)"])
        assertThrows(try MaxPool2d(inputShape: [1, 8, 8], kernel: 2, stride: 2, padding: 2),
                     mentions: ["maxpool2d", "padding 2", "kernel 2"])
        assertThrows(try AdaptiveAvgPool2d(name: "gap", inputShape: [64], outputSize: (1, 1)),
                     mentions: ["adaptive_avgpool2d 'gap'", "(64)"])
        assertThrows(try BatchNorm(at: store.scope("bn1"), inputShape: [2, 3, 4, 5]),
                     mentions: ["batchnorm1d 'bn1'", "(2, 3, 4, 5)"])
        assertThrows(try Linear(at: store.scope("fc"), inputShape: [128, 1, 1], outFeatures: 10),
                     mentions: ["linear 'fc'", "(F)", "(128, 1, 1)", "flatten"])
        assertThrows(try Dropout(name: "drop", inputShape: [10], p: 1.5), mentions: ["dropout 'drop'", "1.5"])
    }

    func testBatchOfWrongShapeIsReportedWithBothShapes() throws {
        let store = ParameterStore()
        let layers: [(Layer, String)] = [
            (try BatchNorm(at: store.scope("layer1.0.bn1"), inputShape: [16, 8, 8]), "batchnorm2d"),
            (try BatchNorm(at: store.scope("bn"), inputShape: [16]), "batchnorm1d"),
            (try MaxPool2d(name: "3", inputShape: [16, 8, 8], kernel: 2, stride: 2), "maxpool2d"),
            (try AvgPool2d(name: "4", inputShape: [16, 8, 8], kernel: 2, stride: 2), "avgpool2d"),
            (try AdaptiveAvgPool2d(name: "avgpool", inputShape: [16, 8, 8], outputSize: (1, 1)), "adaptive_avgpool2d"),
            (try Linear(at: store.scope("fc"), inputShape: [16], outFeatures: 4), "linear"),
            (try Dropout(name: "drop", inputShape: [16], p: 0.5), "dropout"),
            (Flatten(name: "flat", inputShape: [16, 8, 8]), "flatten"),
        ]
        for (layer, kind) in layers {
            XCTAssertNil(layer.inputMismatch([5] + layer.inputShape, kind: kind), "\(kind) rejects its own shape")
            let wrongChannels = [5, 3] + layer.inputShape.dropFirst()
            let message = try XCTUnwrap(layer.inputMismatch(wrongChannels, kind: kind), "\(kind) accepts \(wrongChannels)")
            XCTAssertTrue(message.contains("\(kind) '\(layer.name)'"), message)
            XCTAssertTrue(message.contains("(N, " + layer.inputShape.map(String.init).joined(separator: ", ") + ")"), message)
            XCTAssertTrue(message.contains(Shape.format(wrongChannels)), message)
            XCTAssertNotNil(layer.inputMismatch(Array(layer.inputShape), kind: kind), "\(kind) accepts an input without batch dimension")
        }
    }
}
