/// Sums the flat gradient buffer over all ranks in buckets, overlapping communication with the
/// rest of backward (as PyTorch DDP and Horovod do).
///
/// Backward finishes gradients from the end of the flat buffer towards its start (parameters
/// are laid out in forward order). After each layer the model reports the lowest offset it has
/// finished; every bucket lying entirely at or above that offset is final and its in-place
/// MPI_Iallreduce starts at once, while backward goes on with earlier layers. `finish()` starts
/// whatever is left, waits for all of it and divides by the number of ranks.
///
/// Buckets are always started from the last to the first, whatever order the offsets arrive
/// in, so every rank issues the same sequence of non-blocking collectives (which MPI requires)
/// even when ranks report progress at different moments. The communicator's `PendingSums` run
/// apart from its blocking collectives, so those issued meanwhile (sync BN) need no ordering.
///
/// Per step: `reset()` (after zeroing the gradients), backward calling `gradientsReady(below:)`,
/// then `finish()` before the optimizer reads the gradients. With gradient accumulation, hook
/// `gradientsReady` up only on the last micro-batch: a started bucket must not change any more.
///
///     let bucketer = GradientBucketer(communicator: comm, gradients: store.grads)
///     ctx.gradientsReady = { bucketer.gradientsReady(below: $0) }
public final class GradientBucketer {
    public let communicator: Communicator
    /// The flat gradient buffer (the ParameterStore's `grads`), reduced in place.
    public let gradients: UnsafeMutableBufferPointer<Float>
    /// Element ranges of the buckets in buffer order; together they cover the buffer exactly.
    public let buckets: [Range<Int>]
    /// Divide the sums by the number of ranks in `finish()` (the mean gradient, as DDP does).
    /// Turn off when every rank's loss is already a mean over the global batch.
    public var average: Bool
    /// Seconds the last `finish()` spent starting the remaining buckets and waiting for all of
    /// them: the part of the step spent waiting on communication.
    public private(set) var lastWaitSeconds: Double = 0
    /// Sum of `lastWaitSeconds` since creation or `resetTimers()`, and the number of steps in it.
    public private(set) var totalWaitSeconds: Double = 0
    public private(set) var finishedSteps = 0

    /// One slot per bucket.
    private let pending: PendingSums
    /// Highest bucket index not started yet in this step (-1: all started).
    private var nextBucket: Int
    private var inStep = false

    /// Default bucket size: 2 MB (512 Ki floats), large enough for full shared-memory bandwidth,
    /// small enough that the first buckets start while most of backward is still to run.
    public static let defaultBucketBytes = 2 << 20

    /// Buckets of about `bucketBytes` each, cut from the end of the buffer (the first bucket to
    /// be ready is full size; the remainder goes to the first bucket, which is started last).
    public convenience init(communicator: Communicator, gradients: UnsafeMutableBufferPointer<Float>,
                            bucketBytes: Int = GradientBucketer.defaultBucketBytes, average: Bool = true) {
        precondition(bucketBytes >= MemoryLayout<Float>.stride,
                     "GradientBucketer: bucketBytes \(bucketBytes) is smaller than one float")
        let perBucket = bucketBytes / MemoryLayout<Float>.stride
        var starts: [Int] = []
        var end = gradients.count
        while end > 0 {
            end = Swift.max(0, end - perBucket)
            starts.append(end)
        }
        self.init(communicator: communicator, gradients: gradients, boundaries: starts.reversed(), average: average)
    }

    /// Buckets starting at the given offsets (ascending, the first one 0), e.g. chosen on
    /// parameter boundaries; each bucket runs to the next boundary or the end of the buffer.
    public init(communicator: Communicator, gradients: UnsafeMutableBufferPointer<Float>,
                boundaries: [Int], average: Bool = true) {
        let n = gradients.count
        if n > 0 {
            precondition(boundaries.first == 0, "GradientBucketer: boundaries must start at 0, got \(boundaries.prefix(3))")
            precondition(zip(boundaries, boundaries.dropFirst()).allSatisfy { $0 < $1 } && boundaries.last! < n,
                         "GradientBucketer: boundaries must increase strictly and stay below the buffer length \(n)")
        }
        self.communicator = communicator
        self.gradients = gradients
        self.buckets = n == 0 ? [] : boundaries.indices.map { i in
            boundaries[i] ..< (i + 1 < boundaries.count ? boundaries[i + 1] : n)
        }
        self.average = average
        pending = communicator.makePendingSums(slots: buckets.count)
        nextBucket = buckets.count - 1
    }

    deinit {
        precondition(!inStep || nextBucket == buckets.count - 1,
                     "GradientBucketer: released with buckets in flight; call finish() first")
    }

    /// Begins a step: no bucket started. Call after the gradients have been zeroed.
    public func reset() {
        precondition(!inStep || nextBucket == buckets.count - 1,
                     "GradientBucketer.reset: the previous step's buckets are still in flight; call finish() first")
        nextBucket = buckets.count - 1
        inStep = true
    }

    /// Every gradient at index ≥ `offset` is final: starts each bucket that now lies entirely
    /// in the finished part, and lets MPI progress the ones already started.
    public func gradientsReady(below offset: Int) {
        precondition(inStep, "GradientBucketer.gradientsReady: called outside a step; call reset() first")
        while nextBucket >= 0 && buckets[nextBucket].lowerBound >= offset {
            start(nextBucket)
            nextBucket -= 1
        }
        if nextBucket + 1 < buckets.count { pending.progress(slots: (nextBucket + 1)..<buckets.count) }
    }

    /// Starts the buckets not started yet, waits for all of them, then scales by 1/size when
    /// `average` is set. The gradients are the same on every rank afterwards.
    public func finish() {
        precondition(inStep, "GradientBucketer.finish: called outside a step; call reset() first")
        let t0 = monotonicSeconds()
        while nextBucket >= 0 {
            start(nextBucket)
            nextBucket -= 1
        }
        pending.waitAll()
        lastWaitSeconds = monotonicSeconds() - t0
        totalWaitSeconds += lastWaitSeconds
        finishedSteps += 1
        inStep = false
        nextBucket = buckets.count - 1

        let size = communicator.size
        if average && size > 1 {
            let scale = 1 / Float(size)
            let g = gradients.baseAddress!
            for i in 0..<gradients.count { g[i] *= scale }
        }
    }

    /// Clears `totalWaitSeconds` and `finishedSteps` (e.g. at each progress line).
    public func resetTimers() {
        totalWaitSeconds = 0
        finishedSteps = 0
    }

    private func start(_ index: Int) {
        pending.start(UnsafeMutableBufferPointer(rebasing: gradients[buckets[index]]), slot: index)
    }
}
