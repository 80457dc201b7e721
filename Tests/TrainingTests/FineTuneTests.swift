import Foundation
import IO
import TestSupport
import XCTest

/// `model.init_from` with `exclude`: a 10-class checkpoint starts a 4-class run with a fresh
/// head; without the exclude (either form) the run fails naming the key and both shapes. The
/// finished run also serves `eval --json` with a quote in the checkpoint's path and Launch/plot.
final class FineTuneTests: XCTestCase {
    static let model = "model: {name: resnet, blocks: [1], widths: [4], stem: cifar}"

    func testNewHeadWithExcludeTrainsAndWithoutItFailsNamingTheShapes() throws {
        let kit = try CheckpointTestKit(self, label: "finetune", size: 8, train: 40, test: 20)
        let four = try ProcessLauncher.run("trainer", ["data", "synthetic", kit.path("four.h5"), "--train", "40", "--test", "20",
                                                       "--classes", "4", "--size", "8"], limit: 120)
        XCTAssertEqual(four.status, 0, four.output)
        let config = try kit.write("ft.cfg", """
            \(Self.model)
            data: {path: data.h5}
            train: {epochs: 1, batch_size: 20, blas_threads: 1}
            optimizer: {name: sgd, lr: 0.05}
            """)
        let base = try kit.train(config, dir: "ten")
        XCTAssertEqual(base.status, 0, base.output)
        let ckpt = "ten/ckpt-2.h5"
        XCTAssertTrue(FileManager.default.fileExists(atPath: kit.path(ckpt)), base.output)

        let tuned = try kit.train(config, dir: "tuned", extra: ["--set", "data.path=four.h5",
                                                                "--set", "model.init_from={path: \(ckpt), exclude: [fc.*]}"])
        XCTAssertEqual(tuned.status, 0, tuned.output)
        let stored = try CheckpointFile.read(kit.path(ckpt))
        let keys = stored.model.count + stored.counters.count
        XCTAssertTrue(tuned.output.contains("initialised \(keys - 2) of \(keys) keys of model 'resnet' from \(ckpt)"), tuned.output)
        XCTAssertTrue(tuned.output.contains("init_from: excluded, left initialised: fc.weight, fc.bias"), tuned.output)
        let head = try CheckpointFile.read(kit.path("tuned/ckpt-2.h5")).model.first { $0.name == "fc.weight" }
        XCTAssertEqual(head?.shape, [4, 4])

        for (form, value) in [("strict", ckpt), ("mapping", "{path: \(ckpt)}")] {
            let refused = try kit.train(config, dir: "refused-\(form)", extra: ["--set", "data.path=four.h5",
                                                                                "--set", "model.init_from=\(value)"])
            XCTAssertEqual(refused.status, 1, refused.output)
            let line = refused.output.split(separator: "\n").first { $0.contains("model.init_from") }.map(String.init) ?? ""
            // The head's key with the checkpoint's shape (10 classes) and the model's (4).
            XCTAssertTrue(line.contains("ft.cfg: model.init_from: \(ckpt): /model/fc."), "\(form): \(refused.output)")
            XCTAssertTrue(line.contains(": shape (10") && line.contains("model 'resnet' has (4"), "\(form): \(line)")
        }

        // eval --json is JSON whatever the path holds.
        let odd = "we\"ird \\ name.h5"
        try FileManager.default.copyItem(atPath: kit.path(ckpt), toPath: kit.path(odd))
        let eval = try ProcessLauncher.run("trainer", ["eval", config, "--checkpoint", odd, "--json"], limit: 120, directory: kit.root)
        XCTAssertEqual(eval.status, 0, eval.output)
        let json = String(eval.output[eval.output.firstIndex(of: "{")!...])
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any], json)
        XCTAssertEqual(object["checkpoint"] as? String, odd)
        XCTAssertEqual(object["samples"] as? Int, 20)
        XCTAssertEqual(object["step"] as? Int, 2)

        // Launch/plot draws the run's metrics with Python's standard library alone.
        let plot = try runTool(["python3", "-S", repositoryRoot + "/Launch/plot", kit.path("tuned/metrics.csv"), "-o", kit.path("m.svg")])
        XCTAssertTrue(plot.contains("wrote"), plot)
        let svg = try String(contentsOfFile: kit.path("m.svg"), encoding: .utf8)
        XCTAssertTrue(svg.hasPrefix("<svg") && svg.contains("<polyline"), svg)
    }
}

/// The repository root, from this file's path.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path
