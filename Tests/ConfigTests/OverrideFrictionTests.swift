import Foundation
import XCTest
@testable import Config

/// The command-line experiments a first user tries on a shipped config: shortening the run and
/// switching the schedule or optimizer with --set work (leftovers are warnings), while typos
/// and meaningless keys written in the file stay errors.
final class OverrideFrictionTests: XCTestCase {
    let resnet20 = configsDir.appendingPathComponent("resnet20.cfg").path

    func testShorterRunKeepsMilestonesPastTheEnd() throws {
        let c = try RunConfig.load(path: resnet20, overrides: ["train.epochs=1"])
        XCTAssertEqual(c.train.epochs, 1)
        XCTAssertEqual(c.schedule.milestones, [82, 123])
        XCTAssertEqual(c.warnings, [])
    }

    func testSwitchingScheduleFromTheCommandLineWarnsAboutLeftovers() throws {
        let c = try RunConfig.load(path: resnet20, overrides: ["schedule.name=constant"])
        XCTAssertEqual(c.schedule.name, .constant)
        let text = try String(contentsOfFile: resnet20, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        let line = text.firstIndex { $0.contains("milestones:") }! + 1
        XCTAssertEqual(c.warnings.count, 2, "\(c.warnings)")
        XCTAssertEqual(c.warnings.first,
                       "\(resnet20):\(line): schedule.milestones: not used by schedule 'constant' (chosen by --set schedule.name); ignored")
        XCTAssertTrue(c.warnings.allSatisfy { !$0.contains("\n") })
        // The canonical text no longer carries them and reads back as the same run.
        XCTAssertFalse(c.canonicalText.contains("milestones"))
        XCTAssertEqual(try RunConfig.parse(text: c.canonicalText, file: "x.cfg"), c)
    }

    func testOptimizerSwitchWarnsButFileAndOverrideMistakesStayErrors() throws {
        let adam = try RunConfig.load(path: resnet20, overrides: ["optimizer.name=adam"])
        XCTAssertTrue(adam.warnings.contains { $0.contains("optimizer.momentum: not used by optimizer 'adam'") }, "\(adam.warnings)")
        let base = "model: {name: resnet20}\ndata: {path: d.h5}\ntrain: {epochs: 2}\n"
        let cases: [(String, [String], String)] = [
            (base + "schedule: {name: constant, milestones: [1]}\n", [], "x.cfg:4: schedule.milestones: not used by schedule 'constant'"),
            (base, ["schedule.name=constant", "schedule.milestones=[1]"], "--set schedule.milestones: not used by schedule 'constant'"),
            (base, ["schedule.milestonez=[1]"], "--set schedule.milestonez: unknown key (did you mean 'milestones'?)"),
            (base + "schedule: {name: multistep, milestones: [1], gama: 2}\n", ["schedule.name=constant"], "x.cfg:4: schedule.gama: unknown key"),
            (base + "schedule: {warmup_epochs: 2}\n", ["train.epochs=1"], "x.cfg:4: schedule.warmup_epochs: must lie within the run's 1 epoch, got 2.0"),
        ]
        for (text, overrides, expected) in cases {
            XCTAssertThrowsError(try RunConfig.parse(text: text, file: "x.cfg", overrides: overrides)) {
                XCTAssertTrue("\($0)".hasPrefix(expected), "got \($0), wanted \(expected)")
            }
        }
    }

    func testInitFromForms() throws {
        let base = "data: {path: d.h5}\ntrain: {epochs: 1}\n"
        let strict = try RunConfig.parse(text: "model: {name: resnet20, init_from: a.h5}\n" + base)
        XCTAssertEqual(strict.model.initFrom, InitFrom(path: "a.h5", strict: true))
        let tune = try RunConfig.parse(text: "model:\n  name: resnet20\n  num_classes: 4\n  init_from: {path: a.h5, exclude: [\"fc.*\", layer3.2.*]}\n" + base)
        XCTAssertEqual(tune.model.initFrom, InitFrom(path: "a.h5", exclude: ["fc.*", "layer3.2.*"], strict: false))
        XCTAssertEqual(try RunConfig.parse(text: tune.canonicalText), tune)
        XCTAssertEqual(try RunConfig.parse(text: strict.canonicalText), strict)
        let viaSet = try RunConfig.parse(text: "model: {name: resnet20}\n" + base, overrides: ["model.init_from={path: b.h5, exclude: [fc.*]}"])
        XCTAssertEqual(viaSet.model.initFrom, InitFrom(path: "b.h5", exclude: ["fc.*"], strict: false))
        XCTAssertThrowsError(try RunConfig.parse(text: "model: {name: resnet20, init_from: {path: a.h5, exlude: [x]}}\n" + base, file: "x.cfg")) {
            XCTAssertEqual("\($0)", "x.cfg:1: model.init_from.exlude: unknown key (did you mean 'exclude'?)")
        }
        XCTAssertThrowsError(try RunConfig.parse(text: "model: {name: resnet20, init_from: {exclude: [x]}}\n" + base, file: "x.cfg")) {
            XCTAssertEqual("\($0)", "x.cfg:1: model.init_from.path: missing (required)")
        }
    }

    /// `trainer summary` reads only the model section: no data.path, no train.epochs, and --set.
    func testModelOnlyConfig() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("modelonly-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("block.cfg").path
        try "model:\n  name: layers\n  input: [16, 8, 8]\n  layers:\n    - conv: {out: 24, kernel: 1}\n".write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try RunConfig.load(path: path)) { XCTAssertTrue("\($0)".contains("data.path: missing (required)"), "\($0)") }
        let c = try ModelOnlyConfig.load(path: path, overrides: ["model.input=[16,4,4]"])
        XCTAssertEqual(c.model.input, [16, 4, 4])
        XCTAssertNil(c.dataPath)
        XCTAssertThrowsError(try ModelOnlyConfig.load(path: path, overrides: ["modle.input=[1,1,1]"])) {
            XCTAssertTrue("\($0)".hasPrefix("--set modle: unknown section (did you mean 'model'?)"), "\($0)")
        }
        XCTAssertThrowsError(try ModelOnlyConfig.load(path: path, overrides: ["model.inptu=[1,1,1]"])) {
            XCTAssertTrue("\($0)".hasPrefix("--set model.inptu: unknown key (did you mean 'input'?)"), "\($0)")
        }
    }
}
