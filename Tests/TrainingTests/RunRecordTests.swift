import Config
import Foundation
import IO
import TestSupport
import XCTest

/// A run directory a researcher can trust: one job at a time (a second one fails in seconds
/// naming the holder; a lock left by kill -9 is taken over), config changes on resume printed
/// old → new and refused when they change the run, a finished run that says so, config.yaml and
/// the summary line.
final class RunRecordTests: XCTestCase {
    func testASecondJobFailsInSecondsNamingTheHolderAndAStaleLockIsTakenOver() throws {
        let kit = try CheckpointTestKit(self, label: "lock", size: 8)
        let config = try kit.tinyConfig(epochs: 100_000, everySteps: 0, everyEpochs: 0, keep: 2)
        let first = try kit.start(config, dir: "run", extra: ["--set", "log.progress=false"])
        let lock = kit.path("run/lock")
        // Wait until the first job holds the lock and trains (a metrics row exists).
        let t0 = Date()
        while first.process.isRunning && Date().timeIntervalSince(t0) < 120
                && !(((try? String(contentsOfFile: lock, encoding: .utf8)) ?? "").contains("pid \(first.pid)\n")
                     && ((try? CheckpointTestKit.metricsRows(kit.path("run/metrics.csv")).count) ?? 0) > 0) { usleep(20_000) }
        XCTAssertTrue(first.process.isRunning, "the first job ended early:\n\(first.output)")

        let second = try kit.train(config, dir: "run", ranks: 2, limit: 120)
        XCTAssertNotEqual(second.status, 0, second.output)
        XCTAssertLessThan(second.seconds, 30, "the second job must fail at once")
        let lines = errorLines(second.output)
        XCTAssertEqual(lines.count, 1, second.output)
        XCTAssertTrue(lines.first?.contains("checkpoint.dir: run: in use by another job (pid \(first.pid) on ") == true, "\(lines)")
        XCTAssertTrue(first.process.isRunning, "the first job must not be disturbed")

        kill(first.pid, SIGKILL)
        XCTAssertTrue(first.wait(limit: 60).signalled)
        XCTAssertTrue(FileManager.default.fileExists(atPath: lock), "kill -9 leaves the lock file behind")
        let third = try kit.train(config, dir: "run", extra: ["--stop-at-step", "1"])
        XCTAssertEqual(third.status, 0, third.output)
        XCTAssertTrue(third.output.contains("taking over the stale lock of pid \(first.pid) on "), third.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: lock), "a job that ends removes its lock file")
    }

    func testResumePrintsConfigChangesAndRefusesThoseThatChangeTheRun() throws {
        let kit = try CheckpointTestKit(self, label: "changes", size: 8)
        let text = """
            model:
              name: layers
              num_classes: 10
              input: [3, 8, 8]
              layers:
                - conv: {out: 4, kernel: 3, padding: 1}
                - relu
                - flatten
                - linear: {out: 10}
            data: {path: data.h5}
            train: {epochs: 1, batch_size: 32, seed: 4, blas_threads: 1}
            optimizer: {name: sgd, lr: 0.1, momentum: 0.9}
            checkpoint: {dir: run}
            log: {every_steps: 4}
            """
        let config = try kit.write("run.cfg", text)
        let first = try kit.train(config, dir: "run")
        XCTAssertEqual(first.status, 0, first.output)
        let summary = first.output.split(separator: "\n").filter { $0.hasPrefix("summary: ") }
        XCTAssertEqual(summary.count, 1, first.output)
        XCTAssertTrue(summary.first?.contains("summary: epoch 1 of 1, step 8; test acc ") == true, "\(summary)")
        XCTAssertTrue(summary.first?.contains("checkpoints in run (newest ckpt-8.h5)") == true, "\(summary)")
        XCTAssertTrue(summary.first?.contains("Launch/plot run/metrics.csv, tensorboard --logdir run") == true, "\(summary)")
        let written = try RunConfig.load(path: kit.path("run/config.yaml"))
        XCTAssertEqual(written, try RunConfig.load(path: config, overrides: ["checkpoint.dir=run"]), "config.yaml is the effective config")

        let events = { try FileManager.default.contentsOfDirectory(atPath: kit.path("run")).filter { $0.hasPrefix("events.out.tfevents.") } }
        XCTAssertEqual(try events().count, 1)
        let again = try kit.train(config, dir: "run")
        XCTAssertEqual(again.status, 0, again.output)
        XCTAssertTrue(again.output.contains("complete at epoch 1; raise train.epochs to continue"), again.output)
        XCTAssertEqual(try CheckpointDirectory(kit.path("run")).list().map(\.step), [8])
        XCTAssertEqual(try events().count, 1, "a rerun with nothing to do adds no event file")

        let lr = try kit.train(config, dir: "run", extra: ["--set", "optimizer.lr=0.01", "--set", "train.epochs=2"])
        XCTAssertEqual(lr.status, 0, lr.output)
        let changed = lr.output.split(separator: "\n").filter { $0.hasPrefix("config changed since the checkpoint: ") }
        XCTAssertEqual(changed, ["config changed since the checkpoint: train.epochs 1 → 2, optimizer.lr 0.1 → 0.01"], lr.output)
        XCTAssertTrue(lr.output.contains("resuming from step 8 of 1-rank checkpoint"), lr.output)
        XCTAssertEqual(try CheckpointFile.read(kit.path("run/ckpt-16.h5")).metadata.step, 16)

        let other = try kit.write("other.cfg", text.replacingOccurrences(of: "out: 4, kernel", with: "out: 6, kernel"))
        let model = try kit.train(other, dir: "run", extra: ["--set", "train.epochs=3", "--set", "optimizer.lr=0.01"])
        XCTAssertEqual(model.status, 1, model.output)
        XCTAssertEqual(errorLines(model.output).count, 1, model.output)
        XCTAssertTrue(errorLines(model.output).first?.contains("ckpt-16.h5: refusing to resume: model.layers changed") == true, model.output)
        XCTAssertTrue(errorLines(model.output).first?.contains("--force-resume") == true, model.output)
        XCTAssertTrue(model.output.contains("config changed since the checkpoint: model.layers [{conv: {out: 4,"), model.output)

        let seed = ["--set", "train.seed=5", "--set", "train.epochs=3", "--set", "optimizer.lr=0.01"]
        let refused = try kit.train(config, dir: "run", extra: seed)
        XCTAssertEqual(refused.status, 1, refused.output)
        XCTAssertTrue(errorLines(refused.output).first?.contains("refusing to resume: train.seed changed") == true, refused.output)
        let forced = try kit.train(config, dir: "run", extra: seed + ["--force-resume"])
        XCTAssertEqual(forced.status, 0, forced.output)
        XCTAssertTrue(forced.output.contains("--force-resume: resuming although train.seed changed"), forced.output)
        XCTAssertTrue(forced.output.contains("resuming from step 16"), forced.output)
        XCTAssertEqual(try RunConfig.load(path: kit.path("run/config.yaml")).train.seed, 5, "config.yaml follows the run")
    }
}

/// Runs python3 with `script` and `arguments`; skips the test when a module it imports is missing.
func runPython(_ script: String, _ arguments: [String], directory: String? = nil) throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["python3", "-c", script] + arguments
    if let directory { p.currentDirectoryURL = URL(fileURLWithPath: directory) }
    let pipe = Pipe()
    p.standardOutput = pipe; p.standardError = pipe
    try p.run()
    let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    p.waitUntilExit()
    if let missing = out.range(of: #"No module named '[a-z0-9_]+'"#, options: .regularExpression) {
        throw XCTSkip("python3: \(out[missing]) (Launch/setup --with-torch installs it)")
    }
    XCTAssertEqual(p.terminationStatus, 0, out)
    return out
}
