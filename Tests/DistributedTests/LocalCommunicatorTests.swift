import Foundation
import XCTest
@testable import Distributed

final class LocalCommunicatorTests: XCTestCase {
    func testIdentityCollectives() {
        let comm = LocalCommunicator()
        XCTAssertEqual(comm.rank, 0)
        XCTAssertEqual(comm.size, 1)
        XCTAssertEqual(comm.localRank, 0)
        XCTAssertEqual(comm.localSize, 1)
        XCTAssertTrue(comm.isRoot)
        XCTAssertFalse(comm.hostname.isEmpty)

        var xs: [Float] = [1.5, -2, 3]
        xs.withUnsafeMutableBufferPointer { comm.allReduceSum($0) }
        XCTAssertEqual(xs, [1.5, -2, 3])
        var ds: [Double] = [0.25, 7]
        ds.withUnsafeMutableBufferPointer { comm.allReduceSum($0); comm.allReduceMax($0) }
        XCTAssertEqual(ds, [0.25, 7])
        xs.withUnsafeMutableBufferPointer { comm.broadcast($0, root: 0) }
        XCTAssertEqual(xs, [1.5, -2, 3])

        var bytes: [UInt8] = [9, 8, 7]
        comm.broadcast(bytes: &bytes, root: 0)
        XCTAssertEqual(bytes, [9, 8, 7])
        XCTAssertEqual(comm.broadcast(string: "héllo", root: 0), "héllo")
        XCTAssertEqual(comm.allGather(string: "abc"), ["abc"])
        XCTAssertEqual(comm.allReduceSum(2.5), 2.5)
        XCTAssertEqual(comm.allReduceMax(-1), -1)
        XCTAssertTrue(comm.any(true))
        XCTAssertFalse(comm.any(false))
        comm.barrier()
    }

    func testDefaultBLASThreadsSplitsCoresBetweenLocalRanks() {
        let cores = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        // Capped by the CPUs this process may run on (a bound rank): equal to cores when unbound.
        let allowed = allowedCPUs() ?? cores
        XCTAssertGreaterThanOrEqual(allowed, 1)
        XCTAssertLessThanOrEqual(allowed, cores)
        XCTAssertEqual(defaultBLASThreads(localSize: 1), max(1, min(cores, allowed)))
        XCTAssertEqual(defaultBLASThreads(localSize: 2), max(1, min(cores / 2, allowed)))
        XCTAssertEqual(defaultBLASThreads(localSize: 10_000), 1)
        XCTAssertEqual(defaultBLASThreads(localSize: 0), max(1, min(cores, allowed)))
    }

    /// In-process MPI: started without mpirun it is a singleton job of one rank.
    func testMPISingletonWithoutLauncher() throws {
        if ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_SIZE"] != nil {
            throw XCTSkip("test process itself runs under mpirun")
        }
        let comm = jobCommunicator()
        XCTAssertEqual(comm.size, 1)
        XCTAssertEqual(comm.rank, 0)
        XCTAssertEqual(comm.localSize, 1)
        XCTAssertEqual(comm.allGather(string: "only"), ["only"])
        XCTAssertEqual(comm.allReduceSum(3), 3)
        XCTAssertEqual(comm.broadcast(string: "x", root: 0), "x")
        comm.barrier()
        var g: [Float] = (0..<1000).map(Float.init)
        g.withUnsafeMutableBufferPointer { buffer in
            let b = GradientBucketer(communicator: comm, gradients: buffer, bucketBytes: 1024)
            b.reset(); b.gradientsReady(below: 500); b.finish()
        }
        XCTAssertEqual(g, (0..<1000).map(Float.init))
    }
}
