import Foundation
import TestSupport
import XCTest

/// What a first user types: --version, summary of a model-only config with --set (a block that
/// is not a classifier), JSON that parses, and a shipped-style config shortened and switched
/// from the command line.
final class FirstUserTests: XCTestCase {
    func testVersion() throws {
        let run = try ProcessLauncher.run("trainer", ["--version"], limit: 60)
        XCTAssertEqual(run.status, 0, run.output)
        XCTAssertNotNil(run.output.range(of: #"^\d+\.\d+\.\d+\n$"#, options: .regularExpression), run.output)
    }

    /// MobileNetV2's inverted residual (expand 6, stride 2): 16×8×8 in, 24×4×4 out, counted
    /// from a config that has only a model section; --set changes its input.
    func testSummaryOfAModelOnlyBlockWithSet() throws {
        let dir = try ProcessLauncher.temporaryDirectory("summary")
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        let config = dir + "/block.cfg"
        try """
            model:
              name: layers
              input: [16, 8, 8]
              layers:
                - conv: {out: 96, kernel: 1, bias: false}
                - batchnorm: {}
                - relu6
                - conv: {out: 96, kernel: 3, stride: 2, padding: 1, groups: 96, bias: false}
                - batchnorm: {}
                - relu6
                - conv: {out: 24, kernel: 1, bias: false}
                - batchnorm: {}
            """.write(toFile: config, atomically: true, encoding: .utf8)
        for side in [8, 16] {
            let run = try ProcessLauncher.run("trainer", ["summary", config, "--json", "--set", "model.input=[16,\(side),\(side)]"], limit: 60)
            XCTAssertEqual(run.status, 0, run.output)
            let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any], run.output)
            let layers = try XCTUnwrap(object["layers"] as? [[String: Any]])
            let out = side / 2
            XCTAssertEqual(object["input"] as? [Int], [16, side, side])
            XCTAssertEqual(layers.last?["output"] as? [Int], [24, out, out])
            // Weights 16·96 + 96·9 + 96·24, BN weight and bias 2·(96 + 96 + 24).
            XCTAssertEqual(object["params"] as? Int, 16 * 96 + 96 * 9 + 96 * 24 + 2 * (96 + 96 + 24))
            XCTAssertEqual(object["state_dict_keys"] as? Int, 3 + 3 * 5)
            XCTAssertEqual(object["forward_macs"] as? Int, side * side * 96 * 16 + out * out * 96 * 9 + out * out * 24 * 96)
        }
        let table = try ProcessLauncher.run("trainer", ["summary", config], limit: 60)
        XCTAssertEqual(table.status, 0, table.output)
        XCTAssertTrue(table.output.contains("24x4x4"), table.output)
        let typo = try ProcessLauncher.run("trainer", ["summary", config, "--set", "model.inptu=[1,2,3]"], limit: 60)
        XCTAssertEqual(typo.status, 1, typo.output)
        XCTAssertEqual(typo.output, "trainer: --set model.inptu: unknown key (did you mean 'input'?)\n")
    }

    /// `--set train.epochs=1` and `--set schedule.name=constant` on a multistep config: the run
    /// trains; the leftover milestones and gamma are one warning line each.
    func testShortenedAndSwitchedRunTrainsWithWarnings() throws {
        let kit = try CheckpointTestKit(self, label: "friction", size: 8, train: 32, test: 16)
        let config = try kit.write("ms.cfg", """
            model:
              name: layers
              input: [3, 8, 8]
              layers: [flatten, {linear: {out: 10}}]
            data: {path: data.h5}
            train: {epochs: 30, batch_size: 16, blas_threads: 1}
            optimizer: {name: sgd, lr: 0.1}
            schedule: {name: multistep, milestones: [10, 20], gamma: 0.1}
            """)
        let short = try kit.train(config, dir: "short", extra: ["--set", "train.epochs=1"])
        XCTAssertEqual(short.status, 0, short.output)
        XCTAssertFalse(short.output.contains("warning"), short.output)
        let switched = try kit.train(config, dir: "switched", extra: ["--set", "train.epochs=1", "--set", "schedule.name=constant"])
        XCTAssertEqual(switched.status, 0, switched.output)
        let warnings = switched.output.split(separator: "\n").filter { $0.hasPrefix("trainer: warning: ") }
        XCTAssertEqual(warnings, [
            "trainer: warning: \(config):8: schedule.milestones: not used by schedule 'constant' (chosen by --set schedule.name); ignored",
            "trainer: warning: \(config):8: schedule.gamma: not used by schedule 'constant' (chosen by --set schedule.name); ignored",
        ], switched.output)
    }

    /// Help text is wrapped by the argument parser (80 columns when not on a terminal), never by
    /// hand: no line but the one-line USAGE runs past 80 columns, and no paragraph of a
    /// discussion breaks where the parser would not (a line far shorter than the next word allows).
    func testHelpTextIsNotRaggedlyWrapped() throws {
        let commands = [[], ["train"], ["summary"], ["eval"], ["predict"], ["fold-bn"], ["data"], ["data", "download"],
                        ["data", "import-cifar10"], ["data", "import-cifar100"], ["data", "import-idx"],
                        ["data", "import-folder"], ["data", "synthetic"], ["data", "ensure"]]
        // The parser keeps a line under 80 columns: it breaks when the next word would reach 80.
        for command in commands {
            let run = try ProcessLauncher.run("trainer", command + ["--help"], limit: 60)
            XCTAssertEqual(run.status, 0, run.output)
            let lines = run.output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            for line in lines where !line.hasPrefix("USAGE:") {
                XCTAssertLessThanOrEqual(line.count, 80, "\(command): \(line)")
            }
            // In prose (not indented, not the last line of its paragraph) a line ends only when
            // the next word would not fit in 80 columns.
            for (line, next) in zip(lines, lines.dropFirst()) where !line.isEmpty && !line.hasPrefix(" ") && !next.isEmpty && !next.hasPrefix(" ")
                && !line.hasSuffix(":") && !next.hasSuffix(":") {
                let word = next.split(separator: " ").first.map(String.init) ?? ""
                XCTAssertGreaterThanOrEqual(line.count + 1 + word.count, 80, "\(command): ragged break after '\(line)'")
            }
        }
    }
}
