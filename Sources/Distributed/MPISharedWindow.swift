import CMPI
import Foundation

extension MPICommunicator {
    /// One MPI-3 shared window on the node's communicator (MPI_Win_allocate_shared): node rank 0
    /// holds the whole segment, the others map it (MPI_Win_shared_query). The node's ranks agree
    /// on the outcome, so a refusal throws on all of them and none is left in the collective.
    func makeNodeSharedBuffer(bytes: Int) throws -> NodeSharedBuffer {
        if localSize == 1 || nodeComm == nil || nodeComm == trainer_mpi_comm_null() {
            try HostMemory.check(bytes)
            return try PrivateBuffer(bytes: bytes)
        }
        // Node rank 0's verdict on the size, so every rank of the node takes the same path.
        var verdict: [Int64] = [0, 0]   // [too large, available bytes]
        if localRank == 0, let available = HostMemory.availableBytes, bytes > available { verdict = [1, Int64(available)] }
        run("MPI_Bcast(shared window size)") { MPI_Bcast(&verdict, 2, trainer_mpi_int64(), 0, nodeComm) }
        if verdict[0] != 0 {
            throw SharedMemoryError("cannot allocate a \(formatBytes(bytes)) shared-memory window on \(hostname): the node has \(formatBytes(Int(verdict[1]))) available")
        }
        return try MPISharedWindow(self, bytes: bytes)
    }
}

extension MPICommunicator {
    /// Frees the node-shared windows in the order they were made, on every rank (`shutdown`).
    /// Not on release: a rank leaving by an error (then `abort`) must not wait in MPI_Win_free.
    func freeSharedWindows() {
        for i in sharedWindows.indices {
            MPI_Win_unlock_all(sharedWindows[i])
            MPI_Win_free(&sharedWindows[i])
        }
        sharedWindows.removeAll()
    }
}

/// The window behind a node-shared buffer; it stays mapped until `MPICommunicator.shutdown`.
final class MPISharedWindow: NodeSharedBuffer {
    let bytes: UnsafeMutableRawBufferPointer
    let localRank: Int, localSize: Int
    private unowned let communicator: MPICommunicator
    private let window: MPI_Win?

    init(_ comm: MPICommunicator, bytes count: Int) throws {
        communicator = comm; localRank = comm.localRank; localSize = comm.localSize
        var base: UnsafeMutableRawPointer? = nil
        var win: MPI_Win? = trainer_mpi_win_null()
        let mine = MPI_Aint(comm.localRank == 0 ? count : 0)
        comm.watchdog.begin("MPI_Win_allocate_shared", activity: comm.activity)
        var rc = MPI_Win_allocate_shared(mine, 1, trainer_mpi_info_null(), comm.nodeComm, &base, &win)
        comm.watchdog.end()
        if rc == trainer_mpi_success() {
            var size: MPI_Aint = 0, unit: Int32 = 0
            rc = MPI_Win_shared_query(win, 0, &size, &unit, &base)
        }
        // Every rank of the node learns whether any failed; a window that exists on some ranks
        // only is left to MPI_Finalize (freeing it would wait for the ranks that have none).
        var failed: Int32 = rc == trainer_mpi_success() && base != nil ? 0 : 1
        comm.run("MPI_Allreduce(shared window)") {
            MPI_Allreduce(trainer_mpi_in_place(), &failed, 1, trainer_mpi_int(), trainer_mpi_max(), comm.nodeComm)
        }
        guard failed == 0, let base else {
            let why = rc == trainer_mpi_success() ? "another rank of the node could not" : MPICommunicator.errorText(rc)
            throw SharedMemoryError("cannot allocate a \(formatBytes(count)) shared-memory window on \(comm.hostname) (MPI_Win_allocate_shared: \(why))")
        }
        window = win
        bytes = UnsafeMutableRawBufferPointer(start: base, count: count)
        // A passive-target epoch for the run's life: MPI_Win_sync then orders the fill's stores.
        comm.check(MPI_Win_lock_all(trainer_mpi_mode_nocheck(), win), "MPI_Win_lock_all")
        comm.sharedWindows.append(win)
    }

    func barrier() {
        let comm = communicator
        comm.check(MPI_Win_sync(window), "MPI_Win_sync")
        comm.run("MPI_Barrier(node)") { MPI_Barrier(comm.nodeComm) }
        comm.check(MPI_Win_sync(window), "MPI_Win_sync")
    }

}
