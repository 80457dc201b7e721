import Foundation
import TensorCore

/// What the trainer needs from the other ranks: sums, broadcasts, a barrier and a way to stop
/// the whole job. `MPICommunicator` is the real one; `LocalCommunicator` is the size-1 stand-in
/// that unit tests and single-process runs use.
///
/// Failure rule: a rank that cannot continue (bad input, I/O error, non-finite loss it cannot
/// skip, a fatal signal) must call `abort(code:message:)` — never plain `exit` or `fatalError`
/// alone. Any other way out leaves the remaining ranks blocked in their next collective until the
/// watchdog fires; `abort` ends every rank of the job at once and says which rank failed and why.
///
/// Every collective must be called by every rank, in the same order, with the same counts and
/// the same `root`; buffers are reduced in place.
public protocol Communicator: AnyObject {
    /// Position of this process in the job, 0 ..< size. Rank 0 prints and writes checkpoints.
    var rank: Int { get }
    /// Number of processes in the job.
    var size: Int { get }
    /// Position among the ranks on this host (shared-memory node), 0 ..< localSize.
    var localRank: Int { get }
    /// Number of ranks on this host (used to split the CPU cores between them).
    var localSize: Int { get }
    var hostname: String { get }
    /// What the job is doing ("step 12"), named in watchdog and MPI error messages; the caller
    /// keeps it current. Distributed only prints it.
    var activity: String { get set }
    /// Seconds a blocking collective may stay open before the job is aborted (≤ 0: never).
    var collectiveTimeout: Double { get set }

    /// Element-wise sum over all ranks, result on every rank.
    func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>)
    func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Double>)
    /// Element-wise maximum over all ranks (timings, "any rank says stop" flags).
    func allReduceMax(_ buffer: UnsafeMutableBufferPointer<Double>)
    /// Copies `root`'s buffer into every rank's buffer (same count everywhere).
    func broadcast(_ buffer: UnsafeMutableBufferPointer<Float>, root: Int)
    /// Copies `root`'s bytes to every rank; other ranks' arrays are resized to root's length.
    func broadcast(bytes: inout [UInt8], root: Int)
    /// `root`'s string on every rank (the argument is ignored on the other ranks).
    func broadcast(string: String, root: Int) -> String
    /// Every rank's string, indexed by rank (host names, config hashes).
    func allGather(string: String) -> [String]
    func barrier()
    /// A region every rank on this node sees as the same bytes (an MPI-3 shared window); collective
    /// over the node's ranks. Throws `SharedMemoryError` on every rank of the node when it cannot
    /// be made (more than the node's available memory, or MPI refuses).
    func makeNodeSharedBuffer(bytes: Int) throws -> NodeSharedBuffer
    /// Slots for non-blocking in-place sums (the gradient buckets), made once and reused every step.
    func makePendingSums(slots: Int) -> PendingSums
    /// Ends the job normally: call once on every rank after a successful run (MPI_Finalize).
    func shutdown()
    /// Prints "rank R: message" to stderr and ends every rank of the job with exit code `code`.
    func abort(code: Int32, message: String) -> Never
}

/// Non-blocking in-place sums over all ranks, one per slot: `start` them as their data becomes
/// final, `progress` while other work runs, `waitAll` before reading the results. Every rank
/// must start the same slots in the same order.
public protocol PendingSums: AnyObject {
    /// Starts the sum of `buffer` in `slot`; the buffer must not change until `waitAll`.
    func start(_ buffer: UnsafeMutableBufferPointer<Float>, slot: Int)
    /// Lets the started sums in `slots` progress without blocking.
    func progress(slots: Range<Int>)
    /// Blocks until every started sum has completed; all slots are free again afterwards.
    func waitAll()
}

/// Sums that complete at `start` (a blocking all-reduce; with one rank, nothing): correct
/// anywhere, without overlap. The choice of communicators that have no non-blocking sum.
public final class BlockingSums: PendingSums {
    private unowned let communicator: Communicator
    public init(_ communicator: Communicator) { self.communicator = communicator }
    public func start(_ buffer: UnsafeMutableBufferPointer<Float>, slot: Int) {
        if communicator.size > 1 { communicator.allReduceSum(buffer) }
    }
    public func progress(slots: Range<Int>) {}
    public func waitAll() {}
}

extension Communicator {
    /// True on the rank that prints, writes checkpoints and roots broadcasts.
    public var isRoot: Bool { rank == 0 }

    public func broadcast(string: String, root: Int) -> String {
        var bytes = rank == root ? Array(string.utf8) : []
        broadcast(bytes: &bytes, root: root)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Sum of one value over all ranks (losses, correct counts).
    public func allReduceSum(_ value: Double) -> Double {
        var v = value
        withUnsafeMutablePointer(to: &v) { allReduceSum(UnsafeMutableBufferPointer(start: $0, count: 1)) }
        return v
    }

    /// Maximum of one value over all ranks (slowest rank's time).
    public func allReduceMax(_ value: Double) -> Double {
        var v = value
        withUnsafeMutablePointer(to: &v) { allReduceMax(UnsafeMutableBufferPointer(start: $0, count: 1)) }
        return v
    }

    /// True on every rank when `flag` is true on at least one rank.
    public func any(_ flag: Bool) -> Bool { allReduceMax(flag ? 1 : 0) > 0 }

    /// The lowest rank on which `flag` is true, the same on every rank; nil when it is true nowhere.
    public func lowestRank(where flag: Bool) -> Int? {
        // Max over ranks of −rank (or −size where the flag is false).
        let lowest = size > 1 ? Int(-allReduceMax(flag ? -Double(rank) : -Double(size))) : (flag ? 0 : 1)
        return lowest < size ? lowest : nil
    }

    public func makePendingSums(slots: Int) -> PendingSums { BlockingSums(self) }
    public func shutdown() {}

    /// Copies `root`'s tensor contents into every rank's tensor (shapes must already agree).
    public func broadcast(_ tensor: Tensor, root: Int) { broadcast(tensor.buffer, root: root) }
}

/// OpenBLAS threads for one rank: the host's cores shared evenly between the ranks on it, at
/// least one, and never more than the CPUs this rank may run on (mpirun's or srun's binding: a
/// rank bound to one core gets one thread, not cores ÷ ranks threads on that core).
/// Oversubscribed BLAS threads are the classic CPU data-parallel slowdown (mpirun leaves binding
/// off under --oversubscribe and OpenBLAS would start one thread per core per rank).
public func defaultBLASThreads(localSize: Int) -> Int {
    let cores = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
    let share = Swift.max(1, Swift.max(cores, 1) / Swift.max(localSize, 1))
    return Swift.max(1, Swift.min(share, allowedCPUs() ?? share))
}

/// CPUs in this process's affinity mask (sched_getaffinity), nil where unknown. Looked up with
/// dlsym because Glibc declares it only under _GNU_SOURCE, which Swift's Glibc module lacks.
func allowedCPUs() -> Int? {
    typealias GetAffinity = @convention(c) (pid_t, Int, UnsafeMutableRawPointer) -> Int32
    guard let handle = dlopen(nil, RTLD_NOW), let symbol = dlsym(handle, "sched_getaffinity") else { return nil }
    let getAffinity = unsafeBitCast(symbol, to: GetAffinity.self)
    var mask = [UInt64](repeating: 0, count: 64)   // room for 4096 CPUs
    let rc = mask.withUnsafeMutableBytes { getAffinity(0, $0.count, $0.baseAddress!) }
    guard rc == 0 else { return nil }
    let count = mask.reduce(0) { $0 + $1.nonzeroBitCount }
    return count > 0 ? count : nil
}

/// Seconds on a monotonic clock (for timeouts and wait measurements, never wall time).
@inline(__always)
public func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// This host's name (gethostname).
func hostName() -> String {
    var name = [CChar](repeating: 0, count: 256)
    gethostname(&name, name.count - 1)
    return name.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
}
