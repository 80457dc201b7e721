import Foundation
import IO
import TestSupport
import XCTest

/// `Launch/train --max-restarts`: a rank killed with SIGKILL mid-run ends the job; the script
/// relaunches it from the newest checkpoint, the lost steps are redone identically (keyed
/// sampling and augmentation, exact resume), and the final weights equal an uninterrupted run's
/// bit for bit.
final class RestartTests: XCTestCase {
    func testKilledRankIsRestartedFromCheckpointAndEndsBitwiseEqual() throws {
        guard ProcessLauncher.findOnPath("mpirun") != nil else { throw XCTSkip("mpirun not found on PATH") }
        let trainer = try ProcessLauncher.product("trainer")
        let dir = try ProcessLauncher.temporaryDirectory("restart")
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }

        let data = try ProcessLauncher.run("trainer", ["data", "synthetic", dir + "/data.h5", "--train", "256",
                                                       "--test", "32", "--size", "16"], limit: 120)
        XCTAssertEqual(data.status, 0, data.output)
        // 3 epochs of 8 steps; a checkpoint every 4 steps.
        let config = dir + "/run.cfg"
        try """
            model: {name: resnet20, num_classes: 10}
            data: {path: \(dir)/data.h5, augment: {crop_padding: 2, flip: true}}
            train: {epochs: 3, batch_size: 32, seed: 5}
            optimizer: {name: sgd, lr: 0.05, momentum: 0.9, weight_decay: 1.0e-4}
            checkpoint: {every_steps: 4, keep: 2}
            log: {every_steps: 4}

            """.write(toFile: config, atomically: true, encoding: .utf8)
        let launch = ScriptRun.repoPath("Launch/train")
        let env = ["TRAINER_BIN": trainer]   // no set-up or build inside the test
        let finalStep = 24

        let plain = try ScriptRun.run(launch, ["-n", "2", config, "--set", "checkpoint.dir=\(dir)/plain"],
                                      environment: env, limit: 600)
        XCTAssertEqual(plain.status, 0, "uninterrupted run failed:\n\(plain.output)")

        let log = URL(fileURLWithPath: dir + "/killed.log")
        let job = try ScriptRun.start(launch, ["-n", "2", "--max-restarts", "1", config,
                                               "--set", "checkpoint.dir=\(dir)/killed"], environment: env, log: log)
        // Kill rank 1 as soon as the step-8 checkpoint exists: steps after it are lost and redone.
        let start = Date()
        while job.isRunning && !FileManager.default.fileExists(atPath: "\(dir)/killed/ckpt-8.h5")
                && Date().timeIntervalSince(start) < 300 { usleep(20_000) }
        let finishedEarly = FileManager.default.fileExists(atPath: "\(dir)/killed/ckpt-\(finalStep).h5")
        let victim = Self.rank(1, under: job.processIdentifier)
        if let victim { kill(victim, SIGKILL) }
        let run = ScriptRun.wait(job, log: log, limit: 600)
        XCTAssertNotNil(victim, "no rank 1 process found under Launch/train to kill:\n\(run.output)")
        XCTAssertFalse(finishedEarly, "the run finished before rank 1 could be killed")

        XCTAssertEqual(run.status, 0, "restarted run failed:\n\(run.output)")
        XCTAssertTrue(run.output.contains("mpirun exited with status 137: a process was killed by signal 9 (SIGKILL); restart 1 of 1 from the latest checkpoint"),
                      "no restart line saying why:\n\(run.output)")
        XCTAssertTrue(run.output.contains("resumed at epoch"), "the relaunch did not resume from a checkpoint:\n\(run.output)")

        let a = try CheckpointFile.read("\(dir)/plain/ckpt-\(finalStep).h5")
        let b = try CheckpointFile.read("\(dir)/killed/ckpt-\(finalStep).h5")
        XCTAssertEqual(a.counters, b.counters)
        for (x, y) in [(a.model, b.model), (a.optimizer, b.optimizer)] {
            XCTAssertEqual(x.map(\.name), y.map(\.name))
            for (s, t) in zip(x, y) {
                XCTAssertTrue(s.values.map(\.bitPattern) == t.values.map(\.bitPattern),
                              "\(s.name): killed-and-restarted run differs from the uninterrupted run")
            }
        }
    }

    /// The pid of MPI rank `rank` among the descendants of `root` (only processes this test started).
    static func rank(_ rank: Int, under root: Int32) -> Int32? {
        var parent: [Int32: Int32] = [:]
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for e in entries {
            guard let pid = Int32(e), let stat = try? String(contentsOfFile: "/proc/\(e)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            // "pid (comm) state ppid ...": the comm may contain spaces, so split after ')'.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 1, let ppid = Int32(fields[1]) { parent[pid] = ppid }
        }
        func descends(_ pid: Int32) -> Bool {
            var p = pid
            for _ in 0..<64 {
                guard let up = parent[p], up > 1 else { return false }
                if up == root { return true }
                p = up
            }
            return false
        }
        for (pid, _) in parent where descends(pid) {
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { continue }
            let env = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            if env.contains("OMPI_COMM_WORLD_RANK=\(rank)") { return pid }
        }
        return nil
    }
}
