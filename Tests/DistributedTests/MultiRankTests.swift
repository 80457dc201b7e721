import Foundation
import TestSupport
import XCTest

/// Runs the `mpi-selftest` executable under mpirun with 2 and 4 ranks (oversubscribed on a small
/// machine). The collectives themselves are checked inside it against formula-computed answers.
final class MultiRankTests: XCTestCase {
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

    /// Rank 1 aborts while ranks 0, 2, 3 sit in a barrier: the whole job must end, non-zero, within
    /// 10 s of the abort (timed from its line, so a slow start-up on a busy machine does not count).
    func testAbortOnOneRankEndsTheWholeJob() throws {
        let marker = "rank 1: selftest abort requested"
        let (run, after) = try ProcessLauncher.start("mpi-selftest", ["--abort"], ranks: 4).wait(limit: 120) { $0.contains(marker) }
        XCTAssertNotEqual(run.status, 0, run.output)
        XCTAssertLessThan(after ?? .infinity, 10, "the job took \(after ?? .infinity) s to end after rank 1 aborted:\n\(run.output)")
        XCTAssertTrue(run.output.contains("rank 1: selftest abort requested"), run.output)
        XCTAssertFalse(run.output.contains("barrier returned"), run.output)
    }

    /// Rank 0 never reaches the barrier: rank 1's watchdog (1 s) must abort the job and say where,
    /// and the job ends within 10 s of that line.
    func testWatchdogAbortsAHungCollective() throws {
        let marker = "rank 1: collective 'MPI_Barrier' at step 7 has not completed"
        let (run, after) = try ProcessLauncher.start("mpi-selftest", ["--watchdog"], ranks: 2).wait(limit: 120) { $0.contains(marker) }
        XCTAssertNotEqual(run.status, 0, run.output)
        XCTAssertTrue(run.output.contains(marker), run.output)
        XCTAssertLessThan(after ?? .infinity, 10, "the job took \(after ?? .infinity) s to end after the watchdog fired:\n\(run.output)")
    }

    private func mpirun(ranks: Int, _ command: [String], limit: Double = 120) throws -> ProcessLauncher.Run {
        try ProcessLauncher.run(command[0], Array(command.dropFirst()), ranks: ranks, limit: limit)
    }
}
