import Foundation

/// The threads of one rank: a fixed set of workers started once per process, that layers hand
/// their per-step work to (image chunks of a convolution, channels of a BatchNorm, ...).
///
/// Work is split *statically*: `parallelFor(count)` gives worker `w` the contiguous indices
/// `range(of: w, count:)`, a function of the count and the thread count only. A per-worker
/// partial sum therefore always covers the same indices, and `PartialSums` adds the partials in
/// worker order, so a given thread count gives the same bits every run (a different thread count
/// may round differently). The calling thread is worker 0; with one thread nothing is started
/// and every call runs inline.
///
/// With more than one worker OpenBLAS is set to one thread: a GEMM inside a worker must not
/// start threads of its own on cores the other workers use.
///
/// Calls are not re-entrant: a body must not call back into the same pool (it would wait for
/// itself); this is checked.
public final class WorkerPool: @unchecked Sendable {
    /// Number of workers, the calling thread included.
    public let threads: Int
    private let crew: Crew?
    private var busy = false
    private let scratchArenas: [Tensor]
    /// Per-worker partial sums shared by the layers (they run one at a time).
    public let partials: PartialSums

    /// A pool that runs everything on the calling thread (tests, evaluation tools, defaults).
    public static let serial = WorkerPool(threads: 1)

    public init(threads: Int) {
        precondition(threads >= 1, "WorkerPool: thread count \(threads) must be at least 1")
        self.threads = threads
        crew = threads > 1 ? Crew(workers: threads - 1) : nil
        scratchArenas = (0..<threads).map { _ in Tensor(shape: [0]) }
        partials = PartialSums(workers: threads)
        if threads > 1 { BLAS.threads = 1 }
    }

    deinit { crew?.stop() }

    /// The indices of 0..<count that worker `w` runs in `parallelFor` (contiguous, possibly empty).
    public func range(of w: Int, count: Int) -> Range<Int> {
        let t = threads
        return (w * count / t)..<((w + 1) * count / t)
    }

    /// Runs `body(index, worker)` for every index in 0..<count, worker `w` taking
    /// `range(of: w, count:)`, and returns when all are done. Indices of one worker run in
    /// increasing order.
    public func parallelFor(_ count: Int, _ body: (_ index: Int, _ worker: Int) -> Void) {
        guard count > 0 else { return }
        if threads == 1 || count == 1 {
            for i in 0..<count { body(i, 0) }
            return
        }
        onEveryWorker { w in
            for i in range(of: w, count: count) { body(i, w) }
        }
    }

    /// Runs `body(worker)` once on each of the `threads` workers and waits for all of them.
    public func onEveryWorker(_ body: (_ worker: Int) -> Void) {
        guard let crew else { return body(0) }
        precondition(!busy, "WorkerPool: parallelFor called from inside a parallelFor body of the same pool")
        busy = true
        defer { busy = false }
        crew.run(body)
    }

    /// Worker `w`'s scratch buffer of at least `count` floats, shared by every layer (contents
    /// are unspecified; valid until the worker's next `scratch` call). Grows, never shrinks, so a
    /// steady-state step allocates nothing.
    public func scratch(_ w: Int, count: Int) -> UnsafeMutablePointer<Float> {
        let arena = scratchArenas[w]
        if arena.capacity < count { arena.resize([count]) }
        return arena.data
    }

    /// Floats held by the scratch arenas (tests of the workspace bound).
    public var scratchCapacity: Int { scratchArenas.reduce(0) { $0 + $1.capacity } }
}

/// Per-worker copies of one float vector, zeroed by `prepare`, summed into a destination in
/// worker order 0, 1, ... (the fixed order that makes threaded reductions reproducible).
public final class PartialSums: @unchecked Sendable {
    public let workers: Int
    private let storage = Tensor(shape: [0])
    /// Floats per worker of the current use.
    public private(set) var count = 0

    init(workers: Int) { self.workers = workers }

    /// Sizes every worker's vector to `count` floats and zeroes it.
    public func prepare(count: Int) {
        self.count = count
        storage.resize([workers * count])
        storage.zero()
    }

    /// Worker `w`'s vector (count floats).
    public func slot(_ w: Int) -> UnsafeMutablePointer<Float> { storage.data + w * count }

    /// Σ_w slot(w), summed in worker order into slot 0, which is returned.
    public func combined() -> UnsafeMutablePointer<Float> {
        let first = slot(0)
        for w in 1..<Swift.max(workers, 1) { PartialSums.add(UnsafePointer(slot(w)), into: first, count: count) }
        return first
    }

    /// dst[i] += Σ_w slot(w)[i], the workers added one after another in worker order.
    public func add(into dst: UnsafeMutablePointer<Float>) {
        for w in 0..<workers { PartialSums.add(UnsafePointer(slot(w)), into: dst, count: count) }
    }

    /// dst += src: Kernels' one element-wise add (IEEE addition commutes, so the bits are dst + src's).
    private static func add(_ src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>, count: Int) {
        Kernels.add(count, UnsafePointer(dst), src, into: dst)
    }
}

/// The started threads of a pool: each waits on its own semaphore for a task, runs it with its
/// worker index and signals `done`; the caller runs worker 0's share meanwhile.
private final class Crew: @unchecked Sendable {
    private let start: [DispatchSemaphore]
    private let done = DispatchSemaphore(value: 0)
    private var task: ((Int) -> Void)?
    private var stopping = false

    init(workers: Int) {
        start = (0..<workers).map { _ in DispatchSemaphore(value: 0) }
        for w in 1...workers {
            let thread = Thread { [self] in loop(worker: w) }
            thread.name = "worker \(w)"
            thread.stackSize = 8 << 20
            thread.start()
        }
    }

    private func loop(worker w: Int) {
        while true {
            start[w - 1].wait()
            if stopping { return }
            task!(w)
            done.signal()
        }
    }

    /// Runs `task(w)` on every worker (0 on the caller) and returns when all have finished. The
    /// semaphores order the writes of the task before and after the call.
    func run(_ task: (Int) -> Void) {
        withoutActuallyEscaping(task) { t in
            self.task = t
            for s in start { s.signal() }
            t(0)
            for _ in start { done.wait() }
            self.task = nil
        }
    }

    /// Lets the threads end (they hold the crew, so the pool that owns it calls this).
    func stop() {
        stopping = true
        for s in start { s.signal() }
    }
}
