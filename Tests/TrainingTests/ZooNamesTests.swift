import XCTest
@testable import Config
import Models
import TensorCore
@testable import Training

/// The config accepts exactly the model names the zoo builds (one list, `ZooModel`).
final class ZooNamesTests: XCTestCase {
    func testEveryZooPresetIsAValidConfigModelAndNothingElseIs() throws {
        XCTAssertEqual(ModelConfig.zooNames, ModelZoo.names)
        XCTAssertTrue(Set(["densenet161", "densenet264"]).isSubset(of: ModelConfig.zooNames))
        for name in ModelConfig.zooNames {
            let config = try ModelOnlyConfig.load(path: try file("model:\n  name: \(name)\n"))
            XCTAssertEqual(config.model.architecture, .zoo(name))
            XCTAssertNoThrow(try ModelZoo.defaultInputShape(name: name), name)
        }
        XCTAssertThrowsError(try ModelOnlyConfig.load(path: try file("model:\n  name: densenet162\n"))) { error in
            XCTAssertTrue("\(error)".contains("unknown model 'densenet162' (did you mean 'densenet161'?)"), "\(error)")
        }
    }

    /// `model.name: densenet161` (once rejected by the config while the zoo built it) builds.
    func testDenseNet161ConfigBuilds() throws {
        let config = try ModelOnlyConfig.load(path: try file("model:\n  name: densenet161\n  num_classes: 10\n"))
        let model = try ModelFactory.build(config.model, imageShape: [3, 64, 64], numClasses: 10, seed: 1)
        XCTAssertEqual(model.name, "densenet161")
        // sum(p.numel()) of Tests/Reference/models.py's densenet(161, num_classes=10) in PyTorch.
        XCTAssertEqual(model.store.parameterCount, 26_494_090)
    }

    private func file(_ text: String) throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("zoo-\(UUID().uuidString).cfg")
        try text.write(to: url, atomically: true, encoding: .utf8)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url.path
    }
}
