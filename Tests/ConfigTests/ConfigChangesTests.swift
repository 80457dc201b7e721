import XCTest
@testable import Config

/// The keys a resume reports as changed (old → new), and which of them change the run.
final class ConfigChangesTests: XCTestCase {
    static let text = """
        model: {name: resnet20}
        data: {path: d.h5}
        train: {epochs: 10, seed: 3}
        optimizer: {name: sgd, lr: 0.1, momentum: 0.9}
        """

    private func changes(_ overrides: [String]) throws -> [ConfigChange] {
        let old = try RunConfig.parse(text: Self.text, file: "a.cfg")
        let new = try RunConfig.parse(text: Self.text, file: "a.cfg", overrides: overrides)
        return ConfigChange.between(checkpointConfig: old.canonicalText, run: new)
    }

    func testNoChangeGivesNoLine() throws {
        XCTAssertEqual(try changes([]), [])
    }

    func testLearningRateAndEpochsGoThrough() throws {
        let c = try changes(["optimizer.lr=0.01", "train.epochs=20", "log.every_steps=10", "schedule.name=cosine"])
        XCTAssertEqual(c.map(\.description), ["train.epochs 10 → 20", "optimizer.lr 0.1 → 0.01", "schedule.name constant → cosine", "schedule.min_lr (absent) → 0.0",
                                              "log.every_steps 50 → 10"])
        XCTAssertFalse(c.contains { $0.needsForce }, "\(c)")
    }

    func testModelDataBatchOptimizerKindAndSeedNeedForce() throws {
        for (override, key) in [("model.name=resnet32", "model.name"), ("data.path=e.h5", "data.path"),
                                ("data.val_split=0.1", "data.val_split"), ("train.batch_size=64", "train.batch_size"),
                                ("train.seed=4", "train.seed")] {
            let c = try changes([override])
            XCTAssertEqual(c.map(\.key), [key], override)
            XCTAssertTrue(c.allSatisfy(\.needsForce), override)
        }
        // Another optimizer kind also changes the keys that belong to it.
        let adam = try changes(["optimizer.name=adam", "optimizer.momentum=null"])
        XCTAssertTrue(adam.contains { $0.key == "optimizer.name" && $0.needsForce }, "\(adam)")
        XCTAssertTrue(adam.contains { $0.description == "optimizer.momentum 0.9 → (absent)" }, "\(adam)")
    }

    /// A checkpoint written before a key existed reads that key as its default: not a change.
    func testAKeyTheCheckpointPredatesCountsAsItsDefault() throws {
        let new = try RunConfig.parse(text: Self.text, file: "a.cfg")
        var old = new.canonicalText.split(separator: "\n").filter { !$0.contains("tensorboard") && !$0.contains("val_split") }
            .joined(separator: "\n")
        XCTAssertEqual(ConfigChange.between(checkpointConfig: old, run: new), [])
        old = old.replacingOccurrences(of: "lr: 0.1", with: "lr: 0.2")
        XCTAssertEqual(ConfigChange.between(checkpointConfig: old, run: new).map(\.description), ["optimizer.lr 0.2 → 0.1"])
    }

    func testLayerListsCompareAsOneValue() throws {
        let layers = "model: {name: layers, input: [3, 8, 8], layers: [{conv: {out: 4}}, relu, flatten, {linear: {out: 2}}]}\ndata: {path: d}\ntrain: {epochs: 1}\n"
        let old = try RunConfig.parse(text: layers)
        let new = try RunConfig.parse(text: layers.replacingOccurrences(of: "out: 4", with: "out: 6"))
        let c = ConfigChange.between(checkpointConfig: old.canonicalText, run: new)
        XCTAssertEqual(c.map(\.key), ["model.layers"])
        XCTAssertTrue(c[0].old.contains("out: 4") && c[0].new.contains("out: 6"), c[0].description)
        XCTAssertTrue(c[0].needsForce)
    }

    func testNewKeysDefaultsAndCanonicalRoundTrip() throws {
        let c = try RunConfig.parse(text: Self.text + "\ncheckpoint: {best: val_loss}\n", file: "a.cfg",
                                    overrides: ["train.early_stop={metric: val_acc, patience: 2}", "data.val_split=0.2"])
        XCTAssertEqual(c.checkpoint.best, .valLoss)
        XCTAssertEqual(c.train.earlyStop, EarlyStop(metric: .valAcc, patience: 2, minDelta: 0))
        XCTAssertEqual(c.data.valSplit, 0.2)
        XCTAssertTrue(c.log.tensorboard)
        XCTAssertEqual(try RunConfig.parse(text: c.canonicalText), c, "canonical text reads back to the same run")
        let plain = try RunConfig.parse(text: Self.text)
        XCTAssertNil(plain.train.earlyStop); XCTAssertNil(plain.checkpoint.best); XCTAssertNil(plain.data.valSplit)
        XCTAssertEqual(try RunConfig.parse(text: plain.canonicalText), plain)
    }
}
