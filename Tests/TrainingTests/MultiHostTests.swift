import Foundation
import IO
import TestSupport
import XCTest

/// Multi-host training over TCP, with two "hosts" made of Linux network namespaces
/// (Tests/multihost/run.sh builds them, runs mpirun and always removes them): 4 ranks on 2 hosts
/// must end with the parameters of 4 ranks on one host, and the log must name both hosts; the
/// same again when started the user's way, `Launch/train --hostfile`.
final class MultiHostTests: XCTestCase {
    func testTwoNamespaceHostsTrainLikeOneHost() throws {
        try ScriptRun.requireRootAndNetns()
        let trainer = try ProcessLauncher.product("trainer")
        let out = try ProcessLauncher.temporaryDirectory("multihost")
        addTeardownBlock { try? FileManager.default.removeItem(atPath: out) }

        // 2 ranks per host, resnet20, 8 steps of 32 images (16 px) over a 1 Gbit/s shaped link.
        let run = try ScriptRun.run(ScriptRun.repoPath("Tests/multihost/run.sh"),
                                    ["--trainer", trainer, "--out", out, "--rate", "1gbit", "--runs", "multi single launch",
                                     "--ranks-per-host", "2", "--model", "resnet20", "--epochs", "2", "--batch", "32",
                                     // Cleans up and stops if this test process dies first.
                                     "--parent", String(getpid())],
                                    limit: 900)
        if run.status == 77 { throw XCTSkip(run.output.split(separator: "\n").last.map(String.init) ?? "multihost: cannot run here") }
        XCTAssertEqual(run.status, 0, "Tests/multihost/run.sh failed:\n\(run.output)")
        print(run.output)

        // The script's namespaces are gone, whatever happened above.
        let left = try ScriptRun.run("/usr/bin/env", ["ip", "netns", "list"], limit: 30).output
        XCTAssertFalse(left.contains("trainer-mh\(run.pid)-"), "namespaces of run.sh (pid \(run.pid)) left behind:\n\(left)")
        guard run.status == 0 else { return }

        let multi = try String(contentsOfFile: out + "/multi.log", encoding: .utf8)
        let single = try String(contentsOfFile: out + "/single.log", encoding: .utf8)
        let launched = try String(contentsOfFile: out + "/launch.log", encoding: .utf8)
        for (name, log) in [("multi", multi), ("launch", launched)] {
            XCTAssertTrue(log.contains("trainer: 4 rank(s) on mh-host1 (2 ranks), mh-host2 (2 ranks),"),
                          "\(name): the 2-host log must report both hosts and 2 ranks per host:\n\(log)")
        }
        XCTAssertTrue(single.contains("trainer: 4 rank(s) on mh-host1 (4 ranks),"),
                      "the 1-host log must report one host with 4 ranks:\n\(single)")
        XCTAssertTrue(multi.contains("comm wait"), "no progress line with the all-reduce share:\n\(multi)")

        // Final checkpoints: same step, parameters and optimizer state within 1e-6 (relative).
        let a = try Self.finalCheckpoint(out + "/multi"), b = try Self.finalCheckpoint(out + "/single")
        XCTAssertEqual(a.metadata.step, 8)
        XCTAssertEqual(a.metadata.step, b.metadata.step)
        XCTAssertEqual(a.counters, b.counters, "BN batch counters differ")
        let error = relativeError(a.model + a.optimizer, b.model + b.optimizer).error
        XCTAssertLessThanOrEqual(error, 1e-6, "2 hosts vs 1 host: final state differs by \(error) (relative)")
        print("multihost: final state 2 hosts vs 1 host: relative error \(error)\(error == 0 ? " (bitwise equal)" : "")")
        let c = try Self.finalCheckpoint(out + "/launch")
        XCTAssertEqual(c.metadata.step, a.metadata.step)
        let launchError = relativeError(c.model + c.optimizer, b.model + b.optimizer).error
        XCTAssertLessThanOrEqual(launchError, 1e-6, "Launch/train --hostfile vs 1 host: final state differs by \(launchError)")
    }

    /// The newest checkpoint of a run folder.
    static func finalCheckpoint(_ dir: String) throws -> Checkpoint {
        guard let last = try CheckpointDirectory(dir).list().max(by: { $0.step < $1.step }) else {
            throw XCTSkip("no checkpoint in \(dir)")
        }
        return try CheckpointFile.read(last.path)
    }
}

/// Runs a script or tool with a time limit and collects its combined output. On the limit it
/// sends SIGTERM first, so the script's traps clean up (namespaces, mpirun), then SIGKILL.
enum ScriptRun {
    struct Result { let status: Int32; let output: String; let pid: Int32 }

    /// The repository root, from this file's place in Tests/TrainingTests.
    static func repoPath(_ relative: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(relative).path
    }

    static func start(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                      log: URL) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        p.environment = ProcessLauncher.launchEnvironment().merging(environment) { _, new in new }
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        p.standardOutput = handle
        p.standardError = handle
        try p.run()
        return p
    }

    /// Waits for `p` up to `limit` seconds; past it: SIGTERM, 30 s grace, SIGKILL, and a failure.
    static func wait(_ p: Process, log: URL, limit: Double, file: StaticString = #filePath, line: UInt = #line) -> Result {
        let start = Date()
        while p.isRunning && Date().timeIntervalSince(start) < limit { usleep(50_000) }
        var timedOut = false
        if p.isRunning {
            timedOut = true
            kill(p.processIdentifier, SIGTERM)
            let grace = Date()
            while p.isRunning && Date().timeIntervalSince(grace) < 30 { usleep(50_000) }
            if p.isRunning { kill(p.processIdentifier, SIGKILL) }
        }
        p.waitUntilExit()
        let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        try? FileManager.default.removeItem(at: log)
        if timedOut { XCTFail("\(p.executableURL?.path ?? "?") still running after \(limit) s:\n\(output)", file: file, line: line) }
        return Result(status: timedOut ? -1 : p.terminationStatus, output: output, pid: p.processIdentifier)
    }

    static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                    limit: Double, file: StaticString = #filePath, line: UInt = #line) throws -> Result {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("trainer-script-\(UUID().uuidString).log")
        let p = try start(executable, arguments, environment: environment, log: log)
        return wait(p, log: log, limit: limit, file: file, line: line)
    }

    /// Skips (with the reason) unless this process is root and `ip netns` works.
    static func requireRootAndNetns() throws {
        guard getuid() == 0 else { throw XCTSkip("multi-host test needs root to create network namespaces") }
        guard ProcessLauncher.findOnPath("ip") != nil || FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip")
                || FileManager.default.isExecutableFile(atPath: "/sbin/ip") else {
            throw XCTSkip("multi-host test needs iproute2's `ip` (ip netns) on PATH")
        }
        guard ProcessLauncher.findOnPath("mpirun") != nil else { throw XCTSkip("mpirun not found on PATH") }
    }
}
