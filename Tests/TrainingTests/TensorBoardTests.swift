import Foundation
import TestSupport
import XCTest

/// The run's event file, read back with TensorBoard's EventAccumulator (the `tensorboard`
/// package from PyPI), holds every scalar of metrics.csv at its step and value, across a crash
/// and resume (two event files; the rows the crashed start wrote after its last checkpoint are
/// written again by the resumed one, and TensorBoard keeps one of each); metrics.jsonl is
/// metrics.csv, object by row.
final class TensorBoardTests: XCTestCase {
    static let read = """
        import sys
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
        acc = EventAccumulator(sys.argv[1], size_guidance={'scalars': 0}); acc.Reload()
        for tag in acc.Tags()['scalars']:
            for s in acc.Scalars(tag): print('%s %d %r' % (tag, s.step, s.value))
        """

    func testEventFilesHoldEveryLoggedScalarAndJSONLinesEqualTheCSV() throws {
        let kit = try CheckpointTestKit(self, label: "tensorboard", size: 8)
        let config = try kit.write("tb.cfg", """
            model: {name: layers, num_classes: 10, input: [3, 8, 8], layers: [{conv: {out: 8, padding: 1}}, relu, flatten, {linear: {out: 10}}]}
            data: {path: data.h5, val_split: 0.125}
            train: {epochs: 2, batch_size: 32, seed: 4, blas_threads: 1}
            optimizer: {name: sgd, lr: 0.05}
            schedule: {name: cosine}
            log: {every_steps: 2}
            """)
        // The first start dies (exit 1, no clean-up) before step 11, after rows up to step 10 and the
        // epoch-end checkpoint at step 7.
        let crashed = try ProcessLauncher.run("trainer", ["train", config, "--set", "checkpoint.dir=run"], limit: 300,
                                              directory: kit.root, environment: ["TRAINER_FAULT": "step=10,kind=exit"])
        XCTAssertEqual(crashed.status, 1, crashed.output)
        XCTAssertTrue(try CheckpointTestKit.metricsRows(kit.path("run/metrics.csv")).contains { $0.step == 10 }, "rows past the checkpoint")
        let resumed = try kit.train(config, dir: "run")
        XCTAssertEqual(resumed.status, 0, resumed.output)
        XCTAssertTrue(resumed.output.contains("resuming from step 7 of 1-rank checkpoint"), resumed.output)
        let files = try FileManager.default.contentsOfDirectory(atPath: kit.path("run")).filter { $0.hasPrefix("events.out.tfevents.") }
        XCTAssertEqual(files.count, 2, "one event file per start: \(files)")

        var scalars: [String: [(step: Int, value: Double)]] = [:]
        for line in try runPython(Self.read, [kit.path("run")]).split(separator: "\n") {
            let f = line.split(separator: " ")
            guard f.count == 3, let step = Int(f[1]), let value = Double(f[2]) else { continue }
            scalars[String(f[0]), default: []].append((step, value))
        }
        let lines = try String(contentsOfFile: kit.path("run/metrics.csv"), encoding: .utf8).split(separator: "\n")
        let header = lines[0].split(separator: ",").map(String.init)
        let rows = lines.dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        func column(_ name: String) -> [(step: Int, value: Double)] {
            let i = header.firstIndex(of: name)!
            return rows.compactMap { r in Double(r[i]).map { (Int(r[1])!, $0) } }
        }
        let pairs = [("train/loss", "train_loss"), ("train/acc", "train_acc"), ("val/loss", "val_loss"), ("val/acc", "val_acc")]
        for (tag, name) in pairs {
            let logged = column(name), seen = scalars[tag] ?? []
            XCTAssertFalse(logged.isEmpty, name)
            XCTAssertEqual(seen.map(\.step), logged.map(\.step), "\(tag): steps")
            for (s, l) in zip(seen, logged) {
                // float32 in the event file, 6 decimals in the csv.
                XCTAssertEqual(s.value, l.value, accuracy: 5e-7 + 1e-7 * abs(l.value), "\(tag) at step \(l.step)")
            }
        }
        let trainSteps = column("train_loss").map(\.step)
        XCTAssertEqual(trainSteps, [2, 4, 6, 7, 8, 10, 12, 14], "log interval rows and epoch ends, each once")
        let lr = Dictionary(rows.filter { !$0[4].isEmpty }.map { (Int($0[1])!, Double($0[3])!) }, uniquingKeysWith: { a, _ in a })
        XCTAssertEqual(scalars["lr"]?.map(\.step), trainSteps)
        for s in scalars["lr"] ?? [] { XCTAssertEqual(s.value, lr[s.step]!, accuracy: 1e-7 * lr[s.step]!, "lr at step \(s.step)") }
        for tag in ["perf/images_per_second", "perf/comm_wait_share"] {
            XCTAssertEqual(scalars[tag]?.map(\.step), trainSteps, tag)
            XCTAssertTrue(scalars[tag]?.allSatisfy { $0.value >= 0 && $0.value.isFinite } == true, tag)
        }
        XCTAssertTrue((scalars["perf/images_per_second"] ?? []).allSatisfy { $0.value > 0 })

        // metrics.jsonl: one object per csv row, the header's keys, the same numbers, null for empty.
        let objects = try String(contentsOfFile: kit.path("run/metrics.jsonl"), encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(objects.count, rows.count)
        for (object, row) in zip(objects, rows) {
            let o = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(object.utf8)) as? [String: Any], String(object))
            XCTAssertEqual(Set(o.keys), Set(header))
            XCTAssertTrue(object.hasPrefix("{\"epoch\": "), "keys in the header's order: \(object)")
            for (key, field) in zip(header, row) {
                if field.isEmpty { XCTAssertTrue(o[key] is NSNull, "\(key) in \(object)"); continue }
                XCTAssertEqual((o[key] as? NSNumber)?.doubleValue, Double(field), "\(key) in \(object) vs \(row)")
            }
        }
    }
}
