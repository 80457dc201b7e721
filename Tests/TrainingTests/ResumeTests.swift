import Foundation
import IO
import TestSupport
import XCTest

/// Checkpoint resume, end to end with the release `trainer` (under mpirun where ranks matter):
/// exact resume, resume on another number of ranks, fallback past a corrupt checkpoint,
/// refusal of incompatible runs, stop signals under mpirun, and kill -9 around checkpoint writes.
///
/// Data: the synthetic stand-in at 16×16 (8×8 for the kill loop), 256 training images, global
/// batch 32 → 8 steps per epoch.
final class ResumeTests: XCTestCase {
    // MARK: Exact resume

    /// resnet20 with crop + flip on 2 ranks, per-rank BN: 2 epochs straight, and the same run
    /// stopped after 1.5 epochs (step 12) then resumed, end with bitwise identical weights,
    /// buffers, counters and optimizer state, and identical metrics.csv rows after the resume.
    func testStopMidEpochAndResumeOn2RanksIsBitExact() throws {
        let kit = try CheckpointTestKit(self, label: "exact")
        let config = try kit.resnet20Config(syncBN: false)
        let straight = try kit.train(config, dir: "straight", ranks: 2)
        XCTAssertEqual(straight.status, 0, straight.output)

        let stopped = try kit.train(config, dir: "stopped", ranks: 2, extra: ["--stop-at-step", "12"])
        XCTAssertEqual(stopped.status, 0, stopped.output)
        XCTAssertTrue(stopped.output.contains("stopped at step 12 on request"), stopped.output)
        XCTAssertTrue(FileManager.default.fileExists(atPath: kit.path("stopped/ckpt-12.h5")), "no checkpoint at the stop:\n\(stopped.output)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: kit.path("stopped/ckpt-16.h5")), "the stopped run went on:\n\(stopped.output)")

        let resumed = try kit.train(config, dir: "stopped", ranks: 2)
        XCTAssertEqual(resumed.status, 0, resumed.output)
        XCTAssertTrue(resumed.output.contains("resuming from step 12 of 2-rank checkpoint"), resumed.output)
        XCTAssertTrue(resumed.output.contains("resumed at epoch 1, step 12, 384 samples seen"), resumed.output)

        let a = try CheckpointFile.read(kit.path("straight/ckpt-16.h5"))
        let b = try CheckpointFile.read(kit.path("stopped/ckpt-16.h5"))
        CheckpointTestKit.assertBitwiseEqual(a, b, "resumed run vs straight run")
        XCTAssertEqual(a.metadata.samplesSeen, 512)
        XCTAssertEqual(b.metadata.samplesSeen, 512)
        XCTAssertEqual(a.metadata.extraInts["optimizer_step"], b.metadata.extraInts["optimizer_step"])

        let rowsA = try CheckpointTestKit.metricsRows(kit.path("straight/metrics.csv"))
        let rowsB = try CheckpointTestKit.metricsRows(kit.path("stopped/metrics.csv"))
        let after = rowsA.filter { $0.step > 12 }
        XCTAssertGreaterThanOrEqual(after.count, 3, "expected progress and evaluation rows after step 12:\n\(rowsA)")
        XCTAssertEqual(rowsB.filter { $0.step > 12 }.map(\.line), after.map(\.line), "metrics.csv rows after the resume point differ")
        XCTAssertEqual(rowsB.map(\.line), rowsA.map(\.line), "metrics.csv differs")
    }

    // MARK: Another number of ranks

    /// A 2-rank run stopped at step 12 resumes on 1 rank and on 4 ranks (same global batch) at
    /// the same global step and sample, and ends where the uninterrupted 2-rank run ends (sync
    /// BN, so the math does not depend on the number of ranks; float32 summation order aside).
    func testResumeOnOneAndFourRanksContinuesAtTheSameGlobalSample() throws {
        let kit = try CheckpointTestKit(self, label: "ranks")
        let config = try kit.resnet20Config(syncBN: true)
        let straight = try kit.train(config, dir: "straight", ranks: 2)
        XCTAssertEqual(straight.status, 0, straight.output)
        let stopped = try kit.train(config, dir: "stopped", ranks: 2, extra: ["--stop-at-step", "12"])
        XCTAssertEqual(stopped.status, 0, stopped.output)
        let reference = try CheckpointFile.read(kit.path("straight/ckpt-16.h5"))

        for ranks in [1, 4] {
            try kit.copyFolder("stopped", to: "on\(ranks)")
            let run = try kit.train(config, dir: "on\(ranks)", ranks: ranks == 1 ? nil : ranks)
            XCTAssertEqual(run.status, 0, run.output)
            XCTAssertTrue(run.output.contains("resuming from step 12 of 2-rank checkpoint"), "\(ranks) rank(s):\n\(run.output)")
            XCTAssertTrue(run.output.contains("resumed at epoch 1, step 12, 384 samples seen"), "\(ranks) rank(s):\n\(run.output)")
            XCTAssertTrue(run.output.contains("\(ranks) rank(s) on"), run.output)
            // The next checkpoint is the end of epoch 2: 4 more steps of the same global batch.
            let c = try CheckpointFile.read(kit.path("on\(ranks)/ckpt-16.h5"))
            XCTAssertEqual(c.metadata.step, 16)
            XCTAssertEqual(c.metadata.samplesSeen, 512)
            XCTAssertEqual(c.metadata.worldSize, ranks)
            XCTAssertEqual(c.metadata.extraInts["optimizer_step"], 16)
            XCTAssertFalse(FileManager.default.fileExists(atPath: kit.path("on\(ranks)/ckpt-20.h5")))
            let error = CheckpointTestKit.parameterError(c, reference)
            print("resumed on \(ranks) rank(s): relative parameter error vs the uninterrupted 2-rank run \(error)")
            XCTAssertLessThanOrEqual(error, 1e-5, "\(ranks) rank(s): parameters differ from the uninterrupted 2-rank run by \(error)")
            // The first progress row after the resume covers the same samples.
            let rows = try CheckpointTestKit.metricsRows(kit.path("on\(ranks)/metrics.csv")).filter { $0.step == 14 }
            let expected = try CheckpointTestKit.metricsRows(kit.path("straight/metrics.csv")).filter { $0.step == 14 }
            XCTAssertEqual(rows.count, 1)
            XCTAssertEqual(rows.first?.fields.prefix(4), expected.first?.fields.prefix(4), "epoch, step, samples, lr of the first row after the resume")
            if let x = rows.first.flatMap({ Double($0.fields[4]) }), let y = expected.first.flatMap({ Double($0.fields[4]) }) {
                XCTAssertEqual(x, y, accuracy: 1e-4 * max(1, abs(y)), "train loss of the first row after the resume")
            }
        }
    }

    // MARK: Invalid checkpoints and incompatible runs

    /// A truncated or bit-flipped newest checkpoint is reported in one line and the previous
    /// valid one is used.
    func testCorruptOrTruncatedLatestCheckpointFallsBackToThePreviousOne() throws {
        let kit = try CheckpointTestKit(self, label: "corrupt", size: 8)
        let config = try kit.tinyConfig(epochs: 1, everySteps: 4, keep: 3)
        for damage in ["truncate", "flip"] {
            let dir = "run-\(damage)"
            let first = try kit.train(config, dir: dir)
            XCTAssertEqual(first.status, 0, first.output)
            let latest = kit.path("\(dir)/ckpt-8.h5")
            let bytes = try Data(contentsOf: URL(fileURLWithPath: latest))
            if damage == "truncate" {
                try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: latest))
            } else {
                // Flip a byte inside the last stored tensor (HDF5 puts raw data after the metadata).
                let c = try CheckpointFile.read(latest)
                let needle = c.model.last!.values.withUnsafeBytes { Data($0.prefix(16)) }
                guard let at = bytes.range(of: needle) else { return XCTFail("tensor bytes not found in \(latest)") }
                var damaged = bytes
                damaged[at.lowerBound + 3] ^= 0x40
                try damaged.write(to: URL(fileURLWithPath: latest))
            }
            let again = try kit.train(config, dir: dir, extra: ["--set", "train.epochs=2"])
            XCTAssertEqual(again.status, 0, again.output)
            let warnings = again.output.split(separator: "\n").filter { $0.contains("skipping invalid checkpoint") }
            XCTAssertEqual(warnings.count, 1, "\(damage): expected one warning line:\n\(again.output)")
            XCTAssertTrue(warnings.first?.contains("ckpt-8.h5") == true, "\(damage): the warning must name the file: \(warnings)")
            XCTAssertTrue(again.output.contains("resuming from step 4 of 1-rank checkpoint"), "\(damage):\n\(again.output)")
            XCTAssertEqual(try CheckpointFile.read(kit.path("\(dir)/ckpt-16.h5")).metadata.step, 16)
        }
    }

    /// checkpoint.resume: PATH resumes from that file (wherever checkpoint.dir points), a damaged
    /// PATH is an error of one line, and `never` starts fresh even with checkpoints present.
    func testResumeFromAPathOrNever() throws {
        let kit = try CheckpointTestKit(self, label: "resume-path", size: 8)
        let config = try kit.tinyConfig(epochs: 1, everySteps: 4, keep: 3)
        let first = try kit.train(config, dir: "run")
        XCTAssertEqual(first.status, 0, first.output)

        let fromPath = try kit.train(config, dir: "other", extra: ["--set", "checkpoint.resume=run/ckpt-4.h5", "--set", "train.epochs=2"])
        XCTAssertEqual(fromPath.status, 0, fromPath.output)
        XCTAssertTrue(fromPath.output.contains("resuming from step 4 of 1-rank checkpoint"), fromPath.output)
        XCTAssertEqual(try CheckpointFile.read(kit.path("other/ckpt-16.h5")).metadata.samplesSeen, 16 * 32)

        let never = try kit.train(config, dir: "run", extra: ["--set", "checkpoint.resume=never", "--stop-at-step", "1"])
        XCTAssertEqual(never.status, 0, never.output)
        XCTAssertFalse(never.output.contains("resuming from"), never.output)
        XCTAssertTrue(FileManager.default.fileExists(atPath: kit.path("run/ckpt-1.h5")), never.output)

        let bytes = try Data(contentsOf: URL(fileURLWithPath: kit.path("run/ckpt-8.h5")))
        try bytes.prefix(bytes.count / 3).write(to: URL(fileURLWithPath: kit.path("broken.h5")))
        let broken = try kit.train(config, dir: "third", extra: ["--set", "checkpoint.resume=broken.h5", "--set", "train.epochs=2"])
        XCTAssertEqual(broken.status, 1, broken.output)
        let lines = broken.output.split(separator: "\n").filter { $0.hasPrefix("trainer:") && $0.contains("broken.h5") }
        XCTAssertEqual(lines.count, 1, "one error line naming the file expected:\n\(broken.output)")
        let missing = try kit.train(config, dir: "third", extra: ["--set", "checkpoint.resume=nothing.h5"])
        XCTAssertEqual(missing.status, 1, missing.output)
        XCTAssertTrue(missing.output.contains("nothing.h5: no such checkpoint file"), missing.output)
    }

    /// A checkpoint of another global batch, model or dataset is refused with one line naming
    /// the difference; --force-resume accepts it.
    func testChangedGlobalBatchModelOrDatasetIsRefusedUnlessForced() throws {
        let kit = try CheckpointTestKit(self, label: "refuse", size: 8)
        let config = try kit.tinyConfig(epochs: 1, everySteps: 0, keep: 3, model: "resnet20")
        let first = try kit.train(config, dir: "run")
        XCTAssertEqual(first.status, 0, first.output)
        let other = kit.path("other.h5")
        let made = try ProcessLauncher.run("trainer", ["data", "synthetic", other, "--train", "128", "--test", "16", "--size", "8"], limit: 120)
        XCTAssertEqual(made.status, 0, made.output)

        let cases: [(String, [String], String)] = [
            ("global batch", ["--set", "train.batch_size=16"], "it was trained with global batch 32, this run has train.batch_size 16"),
            ("model", ["--set", "model.name=resnet32"], "it holds model 'resnet20', this run builds 'resnet32'"),
            ("dataset", ["--set", "data.path=\(other)"], "it was trained on data.h5 (256 train images"),
        ]
        for (what, overrides, reason) in cases {
            let refused = try kit.train(config, dir: "run", extra: overrides + ["--set", "train.epochs=2"])
            XCTAssertEqual(refused.status, 1, "\(what): \(refused.output)")
            let lines = refused.output.split(separator: "\n").filter { $0.contains("refusing to resume") }
            XCTAssertEqual(lines.count, 1, "\(what): one line expected:\n\(refused.output)")
            XCTAssertTrue(lines.first?.contains(reason) == true, "\(what): \(lines)")
            XCTAssertTrue(lines.first?.contains("--force-resume") == true, "\(what): \(lines)")
        }
        let forced = try kit.train(config, dir: "run", extra: ["--set", "train.batch_size=16", "--set", "train.epochs=2",
                                                               "--force-resume"])
        XCTAssertEqual(forced.status, 0, forced.output)
        XCTAssertTrue(forced.output.contains("resuming from step 8"), forced.output)
    }

    // MARK: Stop signals

    /// What a stop signal does, measured (Open MPI 4.1):
    /// - SIGUSR1 to mpirun is forwarded to every rank at once; they finish the step, write a
    ///   checkpoint and exit 138, and so does mpirun.
    /// - SIGTERM (or SIGINT) to mpirun starts its teardown: output is no longer forwarded, the
    ///   ranks get SIGCONT, then SIGTERM only `odls_base_sigkill_timeout` seconds later (default
    ///   1), then SIGKILL as long again. With the timeout raised (5 s here) the ranks stop and
    ///   write the checkpoint in that window; mpirun exits 1.
    /// - Without mpirun (or when the ranks get the signal themselves, as under srun): SIGTERM →
    ///   143, SIGINT → 130.
    /// Every stop leaves a valid checkpoint that a rerun resumes from.
    func testStopSignalsWriteACheckpointAndExitWithTheDocumentedStatus() throws {
        let kit = try CheckpointTestKit(self, label: "signals", size: 8)
        // No periodic checkpoints: the only one is the stop's.
        let config = try kit.tinyConfig(epochs: 5000, everySteps: 0, everyEpochs: 0, keep: 2)
        let cases: [(name: String, signal: Int32, ranks: Int?, mpi: [String], extra: [String], status: Int32)] = [
            ("usr1-mpirun", SIGUSR1, 2, [], [], 138),
            ("term-mpirun", SIGTERM, 2, ["--mca", "odls_base_sigkill_timeout", "5"], ["--set", "log.progress=false"], 1),
            ("term-direct", SIGTERM, nil, [], [], 143),
            ("int-direct", SIGINT, nil, [], [], 130),
        ]
        for c in cases {
            let job = try kit.start(config, dir: c.name, ranks: c.ranks, mpiOptions: c.mpi, extra: c.extra)
            let metrics = kit.path("\(c.name)/metrics.csv")
            // Wait until training runs (a progress row exists), then signal mpirun / the trainer.
            let t0 = Date()
            while job.process.isRunning && Date().timeIntervalSince(t0) < 240
                    && ((try? CheckpointTestKit.metricsRows(metrics).count) ?? 0) < 1 { usleep(50_000) }
            let signalled = Date()
            kill(job.pid, c.signal)
            let run = job.wait(limit: 240)
            let seconds = Date().timeIntervalSince(signalled)
            print(String(format: "%@: exit %d %.1f s after the signal", c.name, run.status, seconds))
            XCTAssertEqual(run.status, c.status, "\(c.name): exit status\n\(run.output)")
            let written = try CheckpointDirectory(kit.path(c.name)).list()
            XCTAssertEqual(written.count, 1, "\(c.name): one checkpoint (the stop's) expected, found \(written.map(\.path)):\n\(run.output)")
            guard let step = written.last?.step else { continue }
            XCTAssertNoThrow(try CheckpointFile.validate(written.last!.path), "\(c.name): \(run.output)")
            if c.extra.isEmpty {
                XCTAssertTrue(run.output.contains("stopped at step \(step) on request; checkpoint written"), "\(c.name):\n\(run.output)")
            } else {
                XCTAssertGreaterThanOrEqual(seconds, 5, "\(c.name): mpirun passes SIGTERM on only after odls_base_sigkill_timeout")
            }
            let again = try kit.train(config, dir: c.name, extra: ["--stop-at-step", "\(step + 1)"])
            XCTAssertEqual(again.status, 0, again.output)
            XCTAssertTrue(again.output.contains("resuming from step \(step) of"), "\(c.name):\n\(again.output)")
        }
    }

    // MARK: kill -9 around checkpoint writes

    /// A checkpoint after every step (resnet20 on 8×8 images: a 3 MB file with Adam's state),
    /// and 20 kills with SIGKILL at moments chosen from what the run has done, never from the
    /// clock: half as soon as a checkpoint's `.tmp` is being written (plus 0-2 ms), half after
    /// 0-2 further complete checkpoints. Every start that has a complete checkpoint to resume
    /// from is killed only after it said so, so each of them must resume from the newest one;
    /// none may fail on or warn about a partial file; a final start continues the run.
    func testKillNineAroundCheckpointWritesAlwaysResumesFromACompleteCheckpoint() throws {
        let kit = try CheckpointTestKit(self, label: "kill9", size: 8)
        let config = try kit.tinyConfig(epochs: 1000, everySteps: 1, keep: 2, model: "resnet20")
        let folder = kit.path("run")
        var rng = SystemRandomNumberGenerator()
        var resumes = 0, couldResume = 0, tmpSeen = 0, partialLeft = 0
        /// A `.tmp` being written (or left by a kill) modified at or after `since`.
        func partial(since: Date = .distantPast) -> Bool {
            ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).contains { name in
                guard name.hasSuffix(".h5.tmp"),
                      let m = try? FileManager.default.attributesOfItem(atPath: folder + "/" + name)[.modificationDate] as? Date
                else { return false }
                return m >= since
            }
        }
        /// The newest complete checkpoint's step by name (nil: none yet); cheap enough to poll,
        /// since a checkpoint gets its final name only once written.
        func newest() -> Int? {
            ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).compactMap { name -> Int? in
                guard name.hasPrefix("ckpt-"), name.hasSuffix(".h5") else { return nil }
                return Int(name.dropFirst(5).dropLast(3))
            }.max()
        }
        for i in 0..<20 {
            let expected = try CheckpointDirectory(folder).latestValid(warn: { _ in })?.step
            let job = try kit.start(config, dir: "run")
            let t0 = Date()
            // A start with something to resume from is killed only once it has said so.
            if expected != nil {
                couldResume += 1
                XCTAssertTrue(job.waitFor(limit: 600) { job.output.contains("resuming from") }, "start \(i) never resumed:\n\(job.output)")
            }
            if i % 2 == 0 {
                // While a checkpoint is being written: a fresh .tmp, then 0-2 ms.
                if job.waitFor(limit: 600, { partial(since: t0) }) { tmpSeen += 1 }
                usleep(UInt32.random(in: 0...2_000, using: &rng))
            } else {
                // Between writes: after 0-2 more complete checkpoints (at least one when there is none yet).
                let more = Int.random(in: (expected == nil ? 1 : 0)...2, using: &rng)
                let target = (expected ?? 0) + more
                XCTAssertTrue(job.waitFor(limit: 600) { (newest() ?? 0) >= target },
                              "start \(i) wrote no checkpoint up to step \(target):\n\(job.output)")
            }
            kill(job.pid, SIGKILL)
            let run = job.wait(limit: 120)
            if partial(since: t0) { partialLeft += 1 }
            XCTAssertTrue(run.signalled, "start \(i) ended by itself (status \(run.status)):\n\(run.output)")
            let errors = run.output.split(separator: "\n").filter { $0.hasPrefix("trainer:") && !$0.contains("rank(s) on") }
            XCTAssertTrue(errors.isEmpty, "start \(i) reported an error:\n\(run.output)")
            XCTAssertFalse(run.output.contains("skipping invalid checkpoint"), "start \(i) met an invalid checkpoint:\n\(run.output)")
            if let expected, run.output.contains("resuming from") {
                resumes += 1
                XCTAssertTrue(run.output.contains("resuming from step \(expected) of 1-rank checkpoint"),
                              "start \(i): the newest complete checkpoint was step \(expected):\n\(run.output)")
            }
            if expected == nil {
                XCTAssertFalse(run.output.contains("resuming from"), "start \(i) resumed though no complete checkpoint existed:\n\(run.output)")
            }
        }
        print("kill -9 loop: \(tmpSeen) kills aimed at a .tmp being written, \(partialLeft) left a partial .tmp behind, "
              + "\(resumes) of \(couldResume) starts with a complete checkpoint resumed")
        XCTAssertEqual(resumes, couldResume, "every start with a complete checkpoint resumes from it")
        XCTAssertGreaterThanOrEqual(couldResume, 10, "the loop left too few complete checkpoints to resume from")
        XCTAssertEqual(tmpSeen, 10, "every other kill is aimed at a checkpoint being written")
        XCTAssertGreaterThanOrEqual(partialLeft, 1, "no kill interrupted a checkpoint write")
        let expected = try CheckpointDirectory(folder).latestValid(warn: { _ in })?.step ?? 0
        let last = try kit.train(config, dir: "run", extra: ["--stop-at-step", "\(expected + 2)"])
        XCTAssertEqual(last.status, 0, last.output)
        if expected > 0 { XCTAssertTrue(last.output.contains("resuming from step \(expected) of"), last.output) }
        XCTAssertEqual(try CheckpointFile.read(kit.path("run/ckpt-\(expected + 2).h5")).metadata.samplesSeen, (expected + 2) * 32)
        for entry in try CheckpointDirectory(folder).list() { XCTAssertNoThrow(try CheckpointFile.validate(entry.path)) }
    }
}

/// Shared by the checkpoint tests (ResumeTests, InteropTests, FoldBNTests): a temporary folder
/// with a synthetic dataset, configs, and trainer runs in that folder.
struct CheckpointTestKit {
    let root: String

    /// Creates the folder (removed when `owner` ends) and its dataset.
    init(_ owner: XCTestCase, label: String, size: Int = 16, train: Int = 256, test count: Int = 32) throws {
        let root = try ProcessLauncher.temporaryDirectory(label)
        self.root = root
        owner.addTeardownBlock { try? FileManager.default.removeItem(atPath: root) }
        let made = try ProcessLauncher.run("trainer", ["data", "synthetic", root + "/data.h5", "--train", "\(train)",
                                                       "--test", "\(count)", "--size", "\(size)", "--seed", "3"], limit: 120)
        XCTAssertEqual(made.status, 0, made.output)
    }

    func path(_ relative: String) -> String { root + "/" + relative }

    /// resnet20, crop + flip, SGD with momentum and weight decay, 2 epochs of 8 steps, a
    /// checkpoint at every epoch end, a progress row every 2 steps.
    func resnet20Config(syncBN: Bool) throws -> String {
        try write("resnet20.cfg", """
            model: {name: resnet20, num_classes: 10}
            data: {path: data.h5, augment: {crop_padding: 2, flip: true}}
            train: {epochs: 2, batch_size: 32, seed: 11, sync_bn: \(syncBN), blas_threads: 1}
            optimizer: {name: sgd, lr: 0.05, momentum: 0.9, nesterov: true, weight_decay: 5.0e-4}
            schedule: {name: cosine}
            checkpoint: {every_epochs: 1, keep: 3}
            log: {every_steps: 2}
            """)
    }

    /// A small model (a conv-BN-ReLU layer list, or a zoo `model`) for runs that must be quick.
    func tinyConfig(epochs: Int, everySteps: Int, everyEpochs: Int = 1, keep: Int, model: String? = nil) throws -> String {
        let m = model.map { "model: {name: \($0), num_classes: 10}" } ?? """
            model:
              name: layers
              num_classes: 10
              input: [3, 8, 8]
              layers:
                - conv: {out: 8, kernel: 3, padding: 1}
                - batchnorm: {}
                - relu
                - adaptive_avgpool: {out: 1}
                - flatten
                - linear: {out: 10}
            """
        return try write("tiny-\(model ?? "layers")-\(everySteps)-\(everyEpochs).cfg", """
            \(m)
            data: {path: data.h5, augment: {crop_padding: 1, flip: true}}
            train: {epochs: \(epochs), batch_size: 32, seed: 4, blas_threads: 1}
            optimizer: {name: adam, lr: 0.01}
            checkpoint: {every_epochs: \(everyEpochs), every_steps: \(everySteps), keep: \(keep)}
            log: {every_steps: 4}
            """)
    }

    func write(_ name: String, _ text: String) throws -> String {
        let p = path(name)
        try (text + "\n").write(toFile: p, atomically: true, encoding: .utf8)
        return p
    }

    /// `trainer train CONFIG` in the kit's folder with checkpoint.dir = `dir` (relative).
    func train(_ config: String, dir: String, ranks: Int? = nil, extra: [String] = [], limit: Double = 600,
               file: StaticString = #filePath, line: UInt = #line) throws -> ProcessLauncher.Run {
        try ProcessLauncher.run("trainer", ["train", config, "--set", "checkpoint.dir=\(dir)"] + extra, ranks: ranks,
                                limit: limit, directory: root, file: file, line: line)
    }

    func start(_ config: String, dir: String, ranks: Int? = nil, mpiOptions: [String] = [],
               extra: [String] = []) throws -> ProcessLauncher.Started {
        try ProcessLauncher.start("trainer", ["train", config, "--set", "checkpoint.dir=\(dir)"] + extra, ranks: ranks,
                                  directory: root, mpiOptions: mpiOptions)
    }

    func copyFolder(_ from: String, to: String) throws {
        try? FileManager.default.removeItem(atPath: path(to))
        try FileManager.default.copyItem(atPath: path(from), toPath: path(to))
    }

    /// metrics.csv rows (header skipped) with their step.
    static func metricsRows(_ path: String) throws -> [(step: Int, fields: [String], line: String)] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        return text.split(separator: "\n").dropFirst().map { line in
            let f = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            return (Int(f.count > 1 ? f[1] : "") ?? -1, f, String(line))
        }
    }

    /// Same keys, shapes, float bit patterns, counters and optimizer slots.
    static func assertBitwiseEqual(_ a: Checkpoint, _ b: Checkpoint, _ what: String,
                                   file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.counters, b.counters, "\(what): num_batches_tracked", file: file, line: line)
        for (x, y, group) in [(a.model, b.model, "model"), (a.optimizer, b.optimizer, "optimizer")] {
            XCTAssertEqual(x.map(\.name), y.map(\.name), "\(what): /\(group) keys", file: file, line: line)
            for (s, t) in zip(x, y) {
                XCTAssertEqual(s.shape, t.shape, "\(what): /\(group)/\(s.name) shape", file: file, line: line)
                if s.values.map(\.bitPattern) != t.values.map(\.bitPattern) {
                    XCTFail("\(what): /\(group)/\(s.name) differs (relative \(relativeError(s.values, t.values)))", file: file, line: line)
                }
            }
        }
        XCTAssertEqual(a.metadata.step, b.metadata.step, "\(what): step", file: file, line: line)
        XCTAssertEqual(a.metadata.epoch, b.metadata.epoch, "\(what): epoch", file: file, line: line)
        XCTAssertEqual(a.metadata.samplesSeen, b.metadata.samplesSeen, "\(what): samples_seen", file: file, line: line)
    }

    /// ‖a − b‖ / ‖b‖ over every float model tensor, concatenated.
    static func parameterError(_ a: Checkpoint, _ b: Checkpoint) -> Double {
        let bx = Dictionary(uniqueKeysWithValues: b.model.map { ($0.name, $0.values) })
        var x: [Float] = [], y: [Float] = []
        for t in a.model { guard let v = bx[t.name] else { return .infinity }; x += t.values; y += v }
        return relativeError(x, y)
    }
}
