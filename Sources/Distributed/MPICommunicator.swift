import CMPI
import Foundation
import TensorCore

/// This process's place in the job: the one way to reach the MPI communicator from outside
/// Distributed. The first call initialises MPI and must come from the main thread.
public func jobCommunicator() -> Communicator { MPICommunicator.shared }

/// The job's ranks over MPI_COMM_WORLD.
///
/// MPI may be initialised once per process, so there is one instance, which `jobCommunicator()`
/// hands out (MPI_Init_thread with MPI_THREAD_FUNNELED on first use: only the main thread calls MPI; the
/// watchdog's MPI_Abort is the one exception, which Open MPI allows). Started without mpirun it
/// is a singleton job of size 1, so unit tests need no launcher.
///
/// Errors return (MPI_ERRORS_RETURN) and every return code is checked: a failure aborts the job
/// with one line naming the rank, the MPI call, the step and MPI's own error text. Every blocking
/// call runs under the `watchdog` (`train.collective_timeout`, default 600 s).
///
/// Call `shutdown()` (MPI_Finalize) once at the end of a successful run. A rank that fails must
/// call `abort(code:message:)` instead — see the failure rule on `Communicator`.

final class MPICommunicator: Communicator, @unchecked Sendable {
    public let rank: Int
    public let size: Int
    public let localRank: Int
    public let localSize: Int
    public let hostname: String
    public var activity = "start-up"
    /// Open MPI's thread support level granted by MPI_Init_thread.
    public let threadLevel: Int32
    /// Aborts the job when a blocking collective stays open longer than its timeout.
    public let watchdog: Watchdog

    private let world: MPI_Comm
    /// The ranks on this host (MPI_COMM_TYPE_SHARED): node-shared windows live on it.
    let nodeComm: MPI_Comm?
    /// A duplicate of COMM_WORLD for the gradient buckets: their non-blocking all-reduces then
    /// need no ordering against other collectives (sync BN sums, flags) issued meanwhile.
    private let gradientComm: MPI_Comm
    private var isShutDown = false
    /// Node-shared windows, freed at `shutdown` (see `freeSharedWindows`).
    var sharedWindows: [MPI_Win?] = []

    /// The process's communicator; the first access initialises MPI and must come from the
    /// main thread (MPI_THREAD_FUNNELED: the thread that initialised MPI is the one that calls it).
    static let shared = MPICommunicator()

    /// Seconds a blocking collective may take before the job is aborted (≤ 0: never).
    public var collectiveTimeout: Double {
        get { watchdog.timeout }
        set { watchdog.timeout = newValue }
    }

    private init() {
        var initialized: Int32 = 0
        MPI_Initialized(&initialized)
        var provided: Int32 = 0
        if initialized == 0 {
            // Open MPI's default non-blocking all-reduce for MB-sized buckets (recursive doubling)
            // measured about twice as slow as the blocking one; the ring algorithm matches it.
            // Set before MPI_Init so an explicit user or mpirun --mca setting still wins.
            setenv("OMPI_MCA_coll_libnbc_iallreduce_algorithm", "1", 0)
            let rc = MPI_Init_thread(nil, nil, trainer_mpi_thread_funneled(), &provided)
            if rc != trainer_mpi_success() {
                printError("MPI_Init_thread failed with code \(rc); is Open MPI installed and the job started by mpirun?")
                exit(ExitStatus.mpiUnavailable)
            }
        } else {
            MPI_Query_thread(&provided)
        }
        threadLevel = provided
        world = trainer_mpi_comm_world()
        MPI_Comm_set_errhandler(world, trainer_mpi_errors_return())

        var r: Int32 = 0, s: Int32 = 0
        MPI_Comm_rank(world, &r)
        MPI_Comm_size(world, &s)
        rank = Int(r); size = Int(s)

        // Ranks sharing this host's memory: localRank/localSize split the cores between them.
        var local = trainer_mpi_comm_null()
        var lr: Int32 = 0, ls: Int32 = 1
        if MPI_Comm_split_type(world, trainer_mpi_comm_type_shared(), r, trainer_mpi_info_null(), &local)
            == trainer_mpi_success() {
            MPI_Comm_set_errhandler(local, trainer_mpi_errors_return())
            MPI_Comm_rank(local, &lr)
            MPI_Comm_size(local, &ls)
        }
        localRank = Int(lr); localSize = Int(ls)
        nodeComm = local

        var dup: MPI_Comm? = nil
        guard MPI_Comm_dup(world, &dup) == trainer_mpi_success(), let dup else {
            printError("rank \(r): MPI_Comm_dup failed while starting MPI")
            MPI_Abort(world, ExitStatus.mpiUnavailable)
            exit(ExitStatus.mpiUnavailable)
        }
        MPI_Comm_set_errhandler(dup, trainer_mpi_errors_return())
        gradientComm = dup

        hostname = hostName()

        let myRank = Int(r)
        watchdog = Watchdog(timeout: Watchdog.defaultTimeout) { message in
            MPICommunicator.abortWorld(rank: myRank, code: ExitStatus.collectiveTimeout, message: message)
        }
    }

    /// MPI_Finalize; the communicator cannot be used afterwards. Call once, on every rank,
    /// at the end of a successful run.
    public func shutdown() {
        guard !isShutDown else { return }
        freeSharedWindows()
        watchdog.stop()
        isShutDown = true
        var finalized: Int32 = 0
        MPI_Finalized(&finalized)
        if finalized == 0 { MPI_Finalize() }
    }

    // MARK: Collectives

    public func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) {
        guard size > 1, let base = buffer.baseAddress else { return }
        Self.forEachChunk(buffer.count) { offset, n in
            run("MPI_Allreduce") {
                MPI_Allreduce(trainer_mpi_in_place(), base + offset, n, trainer_mpi_float(), trainer_mpi_sum(), world)
            }
        }
    }

    public func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) {
        guard size > 1, let base = buffer.baseAddress else { return }
        Self.forEachChunk(buffer.count) { offset, n in
            run("MPI_Allreduce") {
                MPI_Allreduce(trainer_mpi_in_place(), base + offset, n, trainer_mpi_double(), trainer_mpi_sum(), world)
            }
        }
    }

    public func allReduceMax(_ buffer: UnsafeMutableBufferPointer<Double>) {
        guard size > 1, let base = buffer.baseAddress else { return }
        Self.forEachChunk(buffer.count) { offset, n in
            run("MPI_Allreduce(max)") {
                MPI_Allreduce(trainer_mpi_in_place(), base + offset, n, trainer_mpi_double(), trainer_mpi_max(), world)
            }
        }
    }

    public func broadcast(_ buffer: UnsafeMutableBufferPointer<Float>, root: Int) {
        checkRoot(root)
        guard size > 1, let base = buffer.baseAddress else { return }
        Self.forEachChunk(buffer.count) { offset, n in
            run("MPI_Bcast") { MPI_Bcast(base + offset, n, trainer_mpi_float(), Int32(root), world) }
        }
    }

    public func broadcast(bytes: inout [UInt8], root: Int) {
        checkRoot(root)
        guard size > 1 else { return }
        var length = Int64(bytes.count)
        run("MPI_Bcast(length)") { MPI_Bcast(&length, 1, trainer_mpi_int64(), Int32(root), world) }
        if rank != root { bytes = [UInt8](repeating: 0, count: Int(length)) }
        bytes.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            Self.forEachChunk(buffer.count) { offset, n in
                run("MPI_Bcast(bytes)") { MPI_Bcast(base + offset, n, trainer_mpi_byte(), Int32(root), world) }
            }
        }
    }

    public func allGather(string: String) -> [String] {
        guard size > 1 else { return [string] }
        let mine = Array(string.utf8)
        var lengths = [Int64](repeating: 0, count: size)
        var myLength = Int64(mine.count)
        run("MPI_Allgather(lengths)") {
            MPI_Allgather(&myLength, 1, trainer_mpi_int64(), &lengths, 1, trainer_mpi_int64(), world)
        }
        let total = lengths.reduce(0, +)
        precondition(total < Int64(Int32.max), "MPICommunicator.allGather: \(total) bytes exceed one MPI message")
        var counts = lengths.map { Int32($0) }
        var displacements = [Int32](repeating: 0, count: size)
        for i in 1..<size { displacements[i] = displacements[i - 1] + counts[i - 1] }
        var all = [UInt8](repeating: 0, count: Swift.max(Int(total), 1))
        mine.withUnsafeBufferPointer { send in
            run("MPI_Allgatherv") {
                MPI_Allgatherv(send.baseAddress, Int32(mine.count), trainer_mpi_byte(),
                               &all, &counts, &displacements, trainer_mpi_byte(), world)
            }
        }
        return (0..<size).map { i in
            let start = Int(displacements[i])
            return String(decoding: all[start..<start + Int(counts[i])], as: UTF8.self)
        }
    }

    public func barrier() {
        guard size > 1 else { return }
        run("MPI_Barrier") { MPI_Barrier(world) }
    }

    public func abort(code: Int32, message: String) -> Never {
        MPICommunicator.abortWorld(rank: rank, code: code, message: message)
    }

    /// Prints "rank R: message" and ends every process of the job (MPI_Abort on COMM_WORLD).
    static func abortWorld(rank: Int, code: Int32, message: String) -> Never {
        printError("rank \(rank): \(message)")
        var finalized: Int32 = 0
        MPI_Finalized(&finalized)
        if finalized == 0 { MPI_Abort(trainer_mpi_comm_world(), code) }
        exit(code)
    }

    // MARK: Non-blocking sums (gradient buckets)

    public func makePendingSums(slots: Int) -> PendingSums {
        size > 1 ? MPIPendingSums(self, slots: slots) : BlockingSums(self)
    }

    /// Starts an in-place sum of `buffer` over all ranks; complete it with `waitAll`.
    fileprivate func startAllReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>, request: UnsafeMutablePointer<MPI_Request?>) {
        precondition(buffer.count <= Int(Int32.max), "MPICommunicator: bucket of \(buffer.count) floats exceeds one MPI message")
        check(MPI_Iallreduce(trainer_mpi_in_place(), buffer.baseAddress, Int32(buffer.count), trainer_mpi_float(),
                             trainer_mpi_sum(), gradientComm, request), "MPI_Iallreduce")
    }

    /// Lets MPI progress outstanding requests without blocking; completed ones become null.
    fileprivate func test(_ requests: UnsafeMutablePointer<MPI_Request?>, count: Int) {
        guard count > 0 else { return }
        var done: Int32 = 0
        check(MPI_Testall(Int32(count), requests, &done, trainer_mpi_statuses_ignore()), "MPI_Testall")
    }

    /// Blocks (under the watchdog) until every request has completed.
    fileprivate func waitAll(_ requests: UnsafeMutablePointer<MPI_Request?>, count: Int) {
        guard count > 0 else { return }
        run("MPI_Waitall(gradient buckets)") { MPI_Waitall(Int32(count), requests, trainer_mpi_statuses_ignore()) }
    }

    // MARK: Helpers

    /// Runs one blocking MPI call under the watchdog and checks its return code.
    @inline(__always)
    func run(_ operation: StaticString, _ call: () -> Int32) {
        precondition(!isShutDown, "MPICommunicator: \(operation) after shutdown()")
        watchdog.begin(operation, activity: activity)
        let rc = call()
        watchdog.end()
        check(rc, operation)
    }

    @inline(__always)
    func check(_ rc: Int32, _ operation: StaticString) {
        if rc == trainer_mpi_success() { return }
        abort(code: ExitStatus.mpiError, message: "\(operation) failed at \(activity): \(Self.errorText(rc)) (MPI error \(rc))")
    }

    /// MPI's own text for an error code.
    static func errorText(_ rc: Int32) -> String {
        var text = [CChar](repeating: 0, count: Int(trainer_mpi_max_error_string()) + 1)
        var length: Int32 = 0
        MPI_Error_string(rc, &text, &length)
        return text.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    private func checkRoot(_ root: Int) {
        precondition(root >= 0 && root < size, "MPICommunicator.broadcast: root \(root) outside 0..<\(size)")
    }

    /// MPI counts are Int32: large buffers go in pieces of at most 2^30 elements.
    @inline(__always)
    private static func forEachChunk(_ count: Int, _ body: (Int, Int32) -> Void) {
        let chunk = 1 << 30
        var offset = 0
        while offset < count {
            let n = Swift.min(chunk, count - offset)
            body(offset, Int32(n))
            offset += n
        }
    }
}

/// MPI_Iallreduce requests, one per slot, on the communicator's duplicate of COMM_WORLD.
private final class MPIPendingSums: PendingSums {
    private let communicator: MPICommunicator
    private let requests: UnsafeMutablePointer<MPI_Request?>
    private let count: Int

    init(_ communicator: MPICommunicator, slots: Int) {
        self.communicator = communicator
        count = slots
        requests = .allocate(capacity: Swift.max(slots, 1))
        requests.initialize(repeating: trainer_mpi_request_null(), count: Swift.max(slots, 1))
    }

    deinit { requests.deallocate() }

    func start(_ buffer: UnsafeMutableBufferPointer<Float>, slot: Int) {
        communicator.startAllReduceSum(buffer, request: requests + slot)
    }

    func progress(slots: Range<Int>) {
        communicator.test(requests + slots.lowerBound, count: slots.count)
    }

    func waitAll() { communicator.waitAll(requests, count: count) }
}
