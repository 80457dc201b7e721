import Foundation
import IO
import TestSupport
import XCTest

/// The failure model, end to end with the release `trainer` under mpirun: whatever goes wrong on
/// whichever rank, the whole job ends within seconds with a non-zero status and one line saying
/// which rank failed and why, and no checkpoint is lost or left half-written.
///
/// Faults on one rank are injected with TRAINER_FAULT (Sources/Training/FaultInjection.swift);
/// kill -9 is real. Runs are tiny (8×8 images, a 1k-parameter model, 1 BLAS thread) so that they
/// stay short on a loaded 2-core machine; time limits are the issue's 10 s where it names one
/// and generous elsewhere.
final class FailureTests: XCTestCase {
    /// The issue's bound: from the failure to mpirun's exit.
    static let endsWithin = 10.0

    // MARK: A rank that dies

    /// kill -9 of one of 4 ranks mid-epoch, 10 times (each rank in turn): mpirun exits non-zero
    /// within 10 s every time, and says which rank died.
    func testKillNineOfOneRankEndsTheJobWithin10Seconds() throws {
        let w = try Workspace.make("kill", for: self)
        try w.writeConfig("run.cfg", epochs: 1000, extra: "checkpoint: {dir: ck, every_epochs: 0}\nlog: {every_steps: 10}\n")
        var times: [String] = []
        for attempt in 0..<10 {
            let victimRank = [1, 2, 3, 0][attempt % 4]
            let job = try ProcessLauncher.start("trainer", ["run.cfg"], ranks: 4, directory: w.path)
            // Mid-epoch: after the first progress line (step 10 of 32), plus a varying delay.
            let started = waitFor(job, limit: 120) { $0.contains("step 10/32") }
            XCTAssertTrue(started, "attempt \(attempt): training never started:\n\(job.output)")
            usleep(UInt32(attempt * 37_000 % 300_000))
            guard let victim = Self.rankProcess(victimRank, under: job.pid) else {
                let run = job.wait(limit: 5)
                XCTFail("attempt \(attempt): no process of rank \(victimRank) under mpirun \(job.pid) (status \(run.status)):\n\(run.output)")
                continue
            }
            let killed = Date()
            kill(victim, SIGKILL)
            let run = job.wait(limit: 120)
            let seconds = Date().timeIntervalSince(killed)
            times.append(String(format: "rank %d: %.2f s", victimRank, seconds))
            XCTAssertNotEqual(run.status, 0, "attempt \(attempt): mpirun exited 0 after rank \(victimRank) was killed:\n\(run.output)")
            XCTAssertLessThan(seconds, Self.endsWithin, "attempt \(attempt): the job took \(seconds) s to end:\n\(run.output)")
            XCTAssertTrue(run.output.contains("process rank \(victimRank) with PID"), "attempt \(attempt): mpirun did not name rank \(victimRank):\n\(run.output)")
        }
        print("kill -9 of one of 4 ranks, time from the kill to mpirun's exit: \(times.joined(separator: ", "))")
    }

    /// An error on rank 1 only (its shard cannot be read): the job ends within 10 s of the
    /// error, mpirun exits non-zero, and the one line names rank 1, the file and the key.
    func testReadErrorOnRank1EndsTheJobNamingRank1() throws {
        let run = try runFault("rank=1,step=3,kind=read", line: "rank 1: data.h5: /train/images: cannot read")
        XCTAssertEqual(run.status, 1, run.output)   // MPI_Abort's error code
    }

    /// A rank that exits without MPI_Abort (any `exit` path): mpirun notices and ends the job.
    func testRankExitingWithoutAbortEndsTheJob() throws {
        _ = try runFault("rank=1,step=3,kind=exit", line: "rank 1: exiting without MPI_Abort")
    }

    /// A crash (SIGSEGV) on rank 1: the fatal-signal handler names the rank and the signal.
    func testSegfaultOnRank1EndsTheJobNamingRank1() throws {
        let run = try runFault("rank=1,step=3,kind=segv", line: "rank 1: fatal signal \(SIGSEGV) (SIGSEGV)")
        XCTAssertTrue(run.output.contains("exited on signal \(SIGSEGV)"), run.output)
    }

    /// A failed precondition / fatalError on rank 2: Swift's message, then the rank's signal line.
    func testFatalErrorOnRank2EndsTheJobNamingRank2() throws {
        let run = try runFault("rank=2,step=3,kind=trap", line: "rank 2: fatal signal")
        XCTAssertTrue(run.output.contains("Fatal error: rank 2: failed precondition"), run.output)
    }

    // MARK: Watchdog

    /// Rank 1 stalls (no crash, no message): the others wait in the step's gradient all-reduce
    /// until train.collective_timeout (2 s here) and then abort the job naming their rank, the
    /// collective and the step.
    func testStalledRankIsCaughtByTheCollectiveWatchdog() throws {
        let w = try Workspace.make("stall", for: self)
        try w.writeConfig("run.cfg", epochs: 1000, extra: "train: {collective_timeout: 2}\n")
        let job = try ProcessLauncher.start("trainer", ["run.cfg"], ranks: 4, directory: w.path,
                                            environment: ["TRAINER_FAULT": "rank=1,step=3,kind=stall"])
        let run = job.wait(limit: 120)
        XCTAssertNotEqual(run.status, 0, run.output)
        let lines = errorLines(run.output)
        XCTAssertFalse(lines.isEmpty, run.output)
        for line in lines {
            XCTAssertNotNil(line.range(of: #"^rank [023]: collective 'MPI_[A-Za-z]+.*' at step 3 has not completed after \d+ s \(collective_timeout 2 s\)"#,
                                       options: .regularExpression), "unexpected line '\(line)':\n\(run.output)")
        }
        XCTAssertFalse(run.output.contains("rank 1: collective"), "the stalled rank is not waiting in a collective:\n\(run.output)")
    }

    // MARK: Non-finite values

    /// A NaN in rank 1's batch at step 3: every rank stops at step 3 (exit 3) with one line naming
    /// the step and the first parameter whose summed gradient is not finite, and the checkpoints
    /// after steps 1-3 are all there is: none of the broken state.
    func testNonFiniteGradientStopsWithoutCheckpointingTheBrokenState() throws {
        let w = try Workspace.make("nan", for: self)
        try w.writeConfig("run.cfg", epochs: 1, extra: "checkpoint: {dir: ck, every_steps: 1, keep: 0}\nlog: {every_steps: 1}\n")
        let run = try ProcessLauncher.run("trainer", ["run.cfg"], ranks: 2, limit: 120, directory: w.path,
                                          environment: ["TRAINER_FAULT": "rank=1,step=3,kind=nan"])
        XCTAssertEqual(run.status, 3, run.output)
        let lines = errorLines(run.output)
        XCTAssertEqual(lines.count, 1, run.output)
        XCTAssertTrue(lines.first?.hasPrefix("trainer: non-finite gradient at step 3 (first in 0.weight); stopped without writing a checkpoint") == true,
                      run.output)
        XCTAssertEqual(try w.checkpointSteps("ck"), [1, 2, 3], run.output)
        XCTAssertEqual(try w.temporaryFiles("ck"), [])
        for step in 1...3 { try assertFinite(CheckpointFile.read(w.path + "/ck/ckpt-\(step).h5"), "ckpt-\(step)") }
    }

    /// A NaN in rank 1's batch with no ReLU to absorb it: rank 1's loss itself is NaN, and the
    /// line names that rank as well as the step and the first parameter.
    func testNonFiniteLossNamesTheRankThatComputedIt() throws {
        let w = try Workspace.make("nanloss", for: self)
        try w.writeConfig("run.cfg", epochs: 1, extra: "model: {layers: [{conv: {out: 4, kernel: 3, padding: 1}}, flatten, {linear: {out: 4}}]}\ncheckpoint: {dir: ck, every_epochs: 0}\n")
        let run = try ProcessLauncher.run("trainer", ["run.cfg"], ranks: 2, limit: 120, directory: w.path,
                                          environment: ["TRAINER_FAULT": "rank=1,step=2,kind=nan"])
        XCTAssertEqual(run.status, 3, run.output)
        XCTAssertEqual(errorLines(run.output).map { String($0.prefix(90)) },
                       ["trainer: non-finite loss at step 2 on rank 1 (first non-finite gradient in 0.weight); stop"], run.output)
        XCTAssertEqual(try w.checkpointSteps("ck"), [], run.output)
    }

    /// A learning rate of 1e30 (a real divergence, nothing injected): the run stops with exit 3
    /// at the first step whose loss or gradient overflows, and no checkpoint holds that step.
    func testDivergingRunStopsAtTheFirstNonFiniteStep() throws {
        let w = try Workspace.make("diverge", for: self)
        try w.writeConfig("run.cfg", epochs: 1, lr: 1e30, extra: "checkpoint: {dir: ck, every_steps: 1, keep: 0}\n")
        let run = try ProcessLauncher.run("trainer", ["run.cfg"], ranks: 2, limit: 120, directory: w.path)
        XCTAssertEqual(run.status, 3, run.output)
        let lines = errorLines(run.output)
        XCTAssertEqual(lines.count, 1, run.output)
        let line = try XCTUnwrap(lines.first)
        let match = try XCTUnwrap(line.firstMatch(of: /trainer: non-finite (loss|gradient) at step (\d+)/), line)
        let step = Int(match.2)!
        XCTAssertTrue(line.contains("0.weight"), line)
        XCTAssertEqual(try w.checkpointSteps("ck"), step >= 1 ? Array(1...step) : [], run.output)
    }

    /// train.skip_nonfinite: true: the bad step (a NaN in rank 0's batch, a BN model) is skipped
    /// and logged, training finishes, metrics.csv counts it, and the skipped step leaves no NaN
    /// in the BatchNorm running statistics that rank 0 checkpoints.
    func testSkipNonfiniteSkipsAndCountsTheStep() throws {
        let w = try Workspace.make("skip", for: self)
        try w.writeConfig("run.cfg", epochs: 1, batchnorm: true,
                          extra: "train: {skip_nonfinite: true}\ncheckpoint: {dir: ck}\nlog: {every_steps: 1}\n")
        let run = try ProcessLauncher.run("trainer", ["run.cfg"], ranks: 2, limit: 120, directory: w.path,
                                          environment: ["TRAINER_FAULT": "rank=0,step=3,kind=nan"])
        XCTAssertEqual(run.status, 0, run.output)
        XCTAssertTrue(run.output.contains("skipped step: non-finite"), run.output)
        XCTAssertTrue(run.output.contains("at step 3"), run.output)
        let rows = try String(contentsOfFile: w.path + "/ck/metrics.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(rows.first?.split(separator: ",").last, "skipped_steps")
        var skippedByStep: [Int: Int] = [:]
        for row in rows.dropFirst() {
            let f = row.split(separator: ",", omittingEmptySubsequences: false)
            skippedByStep[Int(f[1])!] = Int(f.last!)!
        }
        XCTAssertEqual(skippedByStep[3], 0, "\(rows)")
        XCTAssertEqual(skippedByStep[4], 1, "\(rows)")
        XCTAssertEqual(skippedByStep[Workspace.stepsPerEpoch], 1, "\(rows)")
        let last = try CheckpointFile.read(w.path + "/ck/ckpt-\(Workspace.stepsPerEpoch).h5")
        XCTAssertEqual(last.metadata.extraInts["skipped_steps"], 1)
        XCTAssertNotNil(last.tensor("1.running_mean"), "the model should have BatchNorm buffers")
        try assertFinite(last, "final checkpoint")
    }

    // MARK: Checkpoint folder failures

    /// The disk fills while rank 0 writes a checkpoint (a 1 MiB tmpfs; each checkpoint is about
    /// 0.55 MB): one line naming the file, the earlier checkpoint still valid, no .tmp left.
    func testDiskFullDuringCheckpointWriteKeepsTheEarlierCheckpoint() throws {
        let w = try Workspace.make("diskfull", for: self)
        let mount = try w.mountTmpfs("ckfs", options: "size=1m")
        try w.writeConfig("run.cfg", epochs: 3, big: true,
                          extra: "checkpoint: {dir: \(mount)/ck, every_steps: 2, keep: 3}\nlog: {dir: logs}\n")
        let run = try ProcessLauncher.run("trainer", ["run.cfg"], ranks: 2, limit: 120, directory: w.path)
        XCTAssertNotEqual(run.status, 0, run.output)
        let lines = errorLines(run.output)
        XCTAssertEqual(lines.count, 1, run.output)
        XCTAssertTrue(lines.first?.hasPrefix("trainer: \(mount)/ck/ckpt-4.h5: cannot write checkpoint: ") == true, run.output)
        XCTAssertEqual(try w.checkpointSteps(mount + "/ck"), [2], run.output)
        XCTAssertNoThrow(try CheckpointFile.validate(mount + "/ck/ckpt-2.h5"))
        XCTAssertEqual(try w.temporaryFiles(mount + "/ck"), [])
    }

    /// A checkpoint folder that became read-only (a tmpfs remounted ro after a first run): the
    /// next run stops at start-up, before training, with one line and the system's reason; the
    /// earlier checkpoints stay valid.
    func testReadOnlyCheckpointFolderStopsAtStartup() throws {
        let w = try Workspace.make("readonly", for: self)
        let mount = try w.mountTmpfs("ckfs", options: "size=4m")
        try w.writeConfig("run.cfg", epochs: 1, extra: "checkpoint: {dir: \(mount)/ck, every_steps: 4}\nlog: {dir: logs}\n")
        let first = try ProcessLauncher.run("trainer", ["run.cfg"], ranks: 2, limit: 120, directory: w.path)
        XCTAssertEqual(first.status, 0, first.output)
        let before = try w.checkpointSteps(mount + "/ck")
        XCTAssertFalse(before.isEmpty)
        try w.shell("mount -o remount,ro \(mount)")
        let run = try ProcessLauncher.run("trainer", ["run.cfg", "--set", "train.epochs=2"], ranks: 2, limit: 120,
                                          directory: w.path)
        XCTAssertNotEqual(run.status, 0, run.output)
        let lines = errorLines(run.output)
        XCTAssertEqual(lines, ["trainer: run.cfg: checkpoint.dir: \(mount)/ck: not writable: Read-only file system"], run.output)
        XCTAssertFalse(run.output.contains("epoch 2/2"), "training started before the folder was checked:\n\(run.output)")
        XCTAssertEqual(try w.checkpointSteps(mount + "/ck"), before)
        for step in before { XCTAssertNoThrow(try CheckpointFile.validate(mount + "/ck/ckpt-\(step).h5")) }
    }

    /// A checkpoint folder below a regular file (needs no root): one line at start-up.
    func testCheckpointFolderUnderARegularFileStopsAtStartup() throws {
        let w = try Workspace.make("notdir", for: self)
        try "x".write(toFile: w.path + "/afile", atomically: true, encoding: .utf8)
        try w.writeConfig("run.cfg", epochs: 1, extra: "checkpoint: {dir: afile/ck}\nlog: {dir: logs}\n")
        let run = try ProcessLauncher.run("trainer", ["run.cfg"], ranks: 2, limit: 120, directory: w.path)
        XCTAssertNotEqual(run.status, 0, run.output)
        XCTAssertEqual(errorLines(run.output), ["trainer: run.cfg: checkpoint.dir: afile: exists and is not a folder"], run.output)
    }

    // MARK: Helpers

    /// Runs a 4-rank job with `fault` and checks the failure rule: mpirun exits non-zero within
    /// 10 s of `line` appearing, and `line` is printed exactly once.
    private func runFault(_ fault: String, line: String, file: StaticString = #filePath, lineNumber: UInt = #line) throws -> ProcessLauncher.Run {
        let w = try Workspace.make("fault", for: self)
        try w.writeConfig("run.cfg", epochs: 1000, extra: "checkpoint: {dir: ck, every_epochs: 0}\n")
        let job = try ProcessLauncher.start("trainer", ["run.cfg"], ranks: 4, directory: w.path,
                                            environment: ["TRAINER_FAULT": fault])
        var failedAt: Date?
        while job.process.isRunning && job.elapsed < 120 {
            if failedAt == nil && job.output.contains(line) { failedAt = Date() }
            usleep(20_000)
        }
        let run = job.wait(limit: 5, file: file, line: lineNumber)
        let seconds = Date().timeIntervalSince(failedAt ?? Date())
        XCTAssertNotEqual(run.status, 0, run.output, file: file, line: lineNumber)
        XCTAssertEqual(run.output.components(separatedBy: line).count - 1, 1, "expected '\(line)' once:\n\(run.output)", file: file, line: lineNumber)
        XCTAssertLessThan(seconds, Self.endsWithin, "the job took \(seconds) s to end after the fault:\n\(run.output)", file: file, line: lineNumber)
        print("TRAINER_FAULT=\(fault): mpirun exited \(run.status), \(String(format: "%.2f", seconds)) s after '\(line)'")
        return run
    }

    private func waitFor(_ job: ProcessLauncher.Started, limit: Double, _ predicate: (String) -> Bool) -> Bool {
        while job.process.isRunning && job.elapsed < limit {
            if predicate(job.output) { return true }
            usleep(20_000)
        }
        return predicate(job.output)
    }

    private func assertFinite(_ c: Checkpoint, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        for t in c.model + c.optimizer {
            XCTAssertTrue(t.values.allSatisfy(\.isFinite), "\(what): \(t.name) holds non-finite values", file: file, line: line)
        }
    }

    /// The pid of MPI rank `rank` among the descendants of `root` (its environment names the rank).
    static func rankProcess(_ rank: Int, under root: Int32) -> Int32? {
        var parent: [Int32: Int32] = [:]
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(entry), let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")   // state ppid ...
            if fields.count > 1, let ppid = Int32(fields[1]) { parent[pid] = ppid }
        }
        for pid in parent.keys.sorted() {
            var p = pid, below = false
            for _ in 0..<16 { guard let up = parent[p], up > 1 else { break }; if up == root { below = true; break }; p = up }
            guard below, let data = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { continue }
            let env = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            if env.contains("OMPI_COMM_WORLD_RANK=\(rank)") { return pid }
        }
        return nil
    }
}

/// The trainer's error lines in a job's output: "trainer: ..." (a stop every rank agreed on)
/// and "rank R: ..." (one rank's abort or crash); not rank 0's start-up line "trainer: 2 rank(s) on ...".
func errorLines(_ output: String) -> [String] {
    output.split(separator: "\n").map(String.init).filter {
        ($0.hasPrefix("trainer: ") && $0.range(of: #"^trainer: \d+ rank\(s\) on "#, options: .regularExpression) == nil)
            || $0.range(of: #"^rank \d+: "#, options: .regularExpression) != nil
    }
}

/// A test's folder with a tiny dataset (data.h5: 1024 train / 64 test images 8×8×3, 4 classes,
/// 32 steps of 32 per epoch) and configs written from one template.
struct Workspace {
    let path: String
    static let stepsPerEpoch = 32

    /// A fresh folder with data.h5, removed (tmpfs mounts first) when `test` ends.
    static func make(_ label: String, for test: XCTestCase) throws -> Workspace {
        guard ProcessLauncher.findOnPath("mpirun") != nil else { throw XCTSkip("mpirun not found on PATH") }
        let w = Workspace(path: try ProcessLauncher.temporaryDirectory(label))
        test.addTeardownBlock { w.remove() }
        try w.makeDataset("data.h5", train: 1024, size: 8)
        return w
    }

    /// `trainer data synthetic` into the workspace: `train` / 64 images of size², 4 classes.
    func makeDataset(_ name: String, train: Int, size: Int) throws {
        guard !FileManager.default.fileExists(atPath: path + "/" + name) else { return }
        let made = try ProcessLauncher.run("trainer", ["data", "synthetic", name, "--train", String(train), "--test", "64",
                                                       "--size", String(size), "--classes", "4"], limit: 120, directory: path)
        XCTAssertEqual(made.status, 0, "cannot make \(name):\n\(made.output)")
    }

    /// A run config: a conv-relu-linear model (1.1k parameters; `big`: 16×16 images and a 67k-
    /// parameter model, so a checkpoint with SGD momentum is about 0.54 MB; `batchnorm`: BN after
    /// the conv), SGD, global batch 32, 1 BLAS thread. `extra` YAML is merged section by section
    /// (a section given there replaces keys of the template's).
    func writeConfig(_ name: String, epochs: Int, lr: Double = 0.01, big: Bool = false, batchnorm: Bool = false,
                     extra: String = "") throws {
        if big { try makeDataset("data16.h5", train: 128, size: 16) }
        var sections: [String: [String: String]] = [
            "model": ["name": "layers", "num_classes": "4", "input": big ? "[3, 16, 16]" : "[3, 8, 8]",
                      "layers": big ? "[{conv: {out: 64, kernel: 3, padding: 1}}, relu, flatten, {linear: {out: 4}}]"
                                    : batchnorm ? "[{conv: {out: 4, kernel: 3, padding: 1}}, {batchnorm: {}}, relu, flatten, {linear: {out: 4}}]"
                                                : "[{conv: {out: 4, kernel: 3, padding: 1}}, relu, flatten, {linear: {out: 4}}]"],
            "data": ["path": big ? "data16.h5" : "data.h5"],
            "train": ["epochs": String(epochs), "batch_size": "32", "blas_threads": "1"],
            "optimizer": ["name": "sgd", "lr": String(lr), "momentum": "0.9"],
            "checkpoint": ["dir": "ck"],
            "log": ["every_steps": "100"],
        ]
        for line in extra.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let section = String(line[..<colon])
            var body = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            body = String(body.dropFirst().dropLast())   // {a: 1, b: {c: 2}}
            for (k, v) in Self.splitFlowMapping(body) { sections[section, default: [:]][k] = v }
        }
        let order = ["model", "data", "train", "optimizer", "checkpoint", "log"]
        let text = order.compactMap { s in
            sections[s].map { keys in "\(s): {" + keys.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ") + "}" }
        }.joined(separator: "\n") + "\n"
        try text.write(toFile: path + "/" + name, atomically: true, encoding: .utf8)
    }

    /// "a: 1, b: {c: 2, d: [3, 4]}" → [(a, 1), (b, {c: 2, d: [3, 4]})].
    static func splitFlowMapping(_ body: String) -> [(String, String)] {
        var items: [String] = [], depth = 0, current = ""
        for ch in body {
            if ch == "{" || ch == "[" { depth += 1 }
            if ch == "}" || ch == "]" { depth -= 1 }
            if ch == "," && depth == 0 { items.append(current); current = "" } else { current.append(ch) }
        }
        if !current.trimmingCharacters(in: .whitespaces).isEmpty { items.append(current) }
        return items.compactMap { item in
            guard let colon = item.firstIndex(of: ":") else { return nil }
            return (item[..<colon].trimmingCharacters(in: .whitespaces), item[item.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
    }

    /// Steps of the `ckpt-<step>.h5` files in `folder` (relative to the workspace or absolute), ascending.
    func checkpointSteps(_ folder: String) throws -> [Int] {
        try CheckpointDirectory(resolve(folder)).list().map(\.step)
    }

    /// Names of `*.tmp` files in `folder`.
    func temporaryFiles(_ folder: String) throws -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: resolve(folder))) ?? []
        return names.filter { $0.hasSuffix(".tmp") }.sorted()
    }

    func resolve(_ p: String) -> String { p.hasPrefix("/") ? p : path + "/" + p }

    /// Mounts a fresh tmpfs at `<workspace>/<name>` (unmounted at the end of the test); skips the
    /// test where mounting is not allowed (not root, or a container without CAP_SYS_ADMIN).
    func mountTmpfs(_ name: String, options: String) throws -> String {
        let point = path + "/" + name
        try FileManager.default.createDirectory(atPath: point, withIntermediateDirectories: true)
        do { try shell("mount -t tmpfs -o \(options) tmpfs \(point)") } catch {
            throw XCTSkip("cannot mount a tmpfs here (\(error)); this test needs root")
        }
        Self.mounted.append(point)
        return point
    }

    nonisolated(unsafe) static var mounted: [String] = []

    /// Unmounts what `mountTmpfs` mounted and removes the workspace.
    func remove() {
        for m in Self.mounted where m.hasPrefix(path) { _ = try? shell("umount \(m)") }
        Self.mounted.removeAll { $0.hasPrefix(path) }
        try? FileManager.default.removeItem(atPath: path)
    }

    @discardableResult
    func shell(_ command: String) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", command]
        p.environment = ProcessLauncher.launchEnvironment()
        let pipe = Pipe()
        p.standardOutput = pipe; p.standardError = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard p.terminationStatus == 0 else {
            throw NSError(domain: "shell", code: Int(p.terminationStatus), userInfo: [NSLocalizedDescriptionKey: "\(command): \(text)"])
        }
        return text
    }
}
