import Foundation
import XCTest

/// Runs the `mpi-selftest` executable under mpirun with 2 and 4 ranks (oversubscribed on a small
/// machine). The collectives themselves are checked inside it against formula-computed answers.
final class MultiRankTests: XCTestCase {
    struct Run { let status: Int32; let output: String; let seconds: Double }

    func testAllCollectivesOn2Ranks() throws {
        let run = try mpirun(ranks: 2, ["mpi-selftest"])
        XCTAssertEqual(run.status, 0, run.output)
        XCTAssertTrue(run.output.contains("OK ") && run.output.contains("checks on 2 ranks"), run.output)
        XCTAssertFalse(run.output.contains("FAIL"), run.output)
    }

    func testAllCollectivesOn4Ranks() throws {
        let run = try mpirun(ranks: 4, ["mpi-selftest"])
        XCTAssertEqual(run.status, 0, run.output)
        XCTAssertTrue(run.output.contains("OK ") && run.output.contains("checks on 4 ranks"), run.output)
        XCTAssertFalse(run.output.contains("FAIL"), run.output)
    }

    /// Rank 1 aborts while ranks 0, 2, 3 sit in a barrier: the whole job must end, non-zero.
    func testAbortOnOneRankEndsTheWholeJob() throws {
        let run = try mpirun(ranks: 4, ["mpi-selftest", "--abort"], limit: 60)
        XCTAssertNotEqual(run.status, 0, run.output)
        XCTAssertLessThan(run.seconds, 10, "the job took \(run.seconds) s to end after rank 1 aborted")
        XCTAssertTrue(run.output.contains("rank 1: selftest abort requested"), run.output)
        XCTAssertFalse(run.output.contains("barrier returned"), run.output)
    }

    /// Rank 0 never reaches the barrier: rank 1's watchdog (1 s) must abort the job and say where.
    func testWatchdogAbortsAHungCollective() throws {
        let run = try mpirun(ranks: 2, ["mpi-selftest", "--watchdog"], limit: 60)
        XCTAssertNotEqual(run.status, 0, run.output)
        XCTAssertLessThan(run.seconds, 15, "the watchdog took \(run.seconds) s")
        XCTAssertTrue(run.output.contains("rank 1: collective 'MPI_Barrier' at step 7 has not completed"), run.output)
    }

    // MARK: Launching

    private func mpirun(ranks: Int, _ command: [String], limit: Double = 120) throws -> Run {
        guard let launcher = Self.findOnPath("mpirun") else { throw XCTSkip("mpirun not found on PATH") }
        let executable = try Self.selftestExecutable()
        let log = FileManager.default.temporaryDirectory
            .appendingPathComponent("mpi-selftest-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: log) }
        let handle = try FileHandle(forWritingTo: log)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: launcher)
        process.arguments = ["--allow-run-as-root", "--oversubscribe", "--mca", "mpi_yield_when_idle", "1",
                             "-n", String(ranks), executable] + command.dropFirst()
        process.environment = Self.launchEnvironment()
        process.standardOutput = handle
        process.standardError = handle
        let start = Date()
        try process.run()
        while process.isRunning && Date().timeIntervalSince(start) < limit { usleep(20_000) }
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
            try? handle.close()
            let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            XCTFail("mpirun -n \(ranks) \(command.joined(separator: " ")) still running after \(limit) s:\n\(output)")
            return Run(status: -1, output: output, seconds: limit)
        }
        process.waitUntilExit()
        let seconds = Date().timeIntervalSince(start)
        try? handle.close()
        let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        return Run(status: process.terminationStatus, output: output, seconds: seconds)
    }

    /// The test process may itself have initialised MPI as a singleton (which leaves OMPI_* and
    /// PMIX_* variables behind that would confuse a fresh mpirun): pass on everything else.
    private static func launchEnvironment() -> [String: String] {
        var env = ProcessInfo.processInfo.environment.filter { key, _ in
            !["OMPI_", "PMIX_", "ORTE_", "OPAL_"].contains { key.hasPrefix($0) }
        }
        env["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
        env["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
        return env
    }

    /// `mpi-selftest` sits in the products directory next to the test bundle.
    private static func selftestExecutable() throws -> String {
        var candidates: [URL] = []
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        candidates.append(exe.deletingLastPathComponent())
        candidates.append(Bundle.main.bundleURL)
        candidates.append(Bundle.main.bundleURL.deletingLastPathComponent())
        for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
            candidates.append(bundle.bundleURL.deletingLastPathComponent())
        }
        for dir in candidates {
            let path = dir.appendingPathComponent("mpi-selftest").path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        XCTFail("mpi-selftest not built next to the tests (looked in \(candidates.map(\.path))); "
                + "run `swift build --product mpi-selftest` with the same scratch path")
        throw XCTSkip("mpi-selftest executable missing")
    }

    private static func findOnPath(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }
}
