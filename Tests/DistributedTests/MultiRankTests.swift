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

    private func mpirun(ranks: Int, _ command: [String], limit: Double = 120) throws -> ProcessLauncher.Run {
        try ProcessLauncher.run(command[0], Array(command.dropFirst()), ranks: ranks, limit: limit)
    }
}
