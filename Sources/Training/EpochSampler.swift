import TensorCore

/// Which global samples each rank trains on at each step.
///
/// One global permutation per epoch from (seed, epoch); the global batch B is cut from it in
/// order and split into `worldSize` equal contiguous slices, slice r going to rank r. The ragged
/// tail (N mod B samples) is dropped so every rank runs the same number of steps. Because the
/// permutation and the slices depend only on (seed, epoch, B), a run on N ranks visits exactly
/// the samples a run on 1 rank does, and a resume on another number of ranks continues from the
/// same global sample. With `samples` (what a validation hold-out leaves of /train) the
/// permutation is of positions in that list, mapped to its file indices.
public struct EpochSampler: Sendable {
    public let datasetSize: Int
    public let globalBatch: Int
    public let worldSize: Int
    public let seed: UInt64
    public let shuffle: Bool
    /// File indices of the trained samples; nil: 0..<datasetSize.
    public let samples: [Int]?

    public init(datasetSize: Int, globalBatch: Int, worldSize: Int, seed: UInt64, shuffle: Bool = true, samples: [Int]? = nil) {
        precondition(globalBatch % worldSize == 0, "EpochSampler: global batch \(globalBatch) not divisible by \(worldSize) ranks")
        precondition(samples.map { $0.count == datasetSize } ?? true, "EpochSampler: \(samples?.count ?? 0) samples for a dataset size of \(datasetSize)")
        self.datasetSize = datasetSize; self.globalBatch = globalBatch; self.worldSize = worldSize
        self.seed = seed; self.shuffle = shuffle; self.samples = samples
    }

    public var localBatch: Int { globalBatch / worldSize }
    /// Full global batches per epoch (the ragged tail is dropped).
    public var stepsPerEpoch: Int { datasetSize / globalBatch }

    /// The epoch's order of global sample indices (file indices).
    public func permutation(epoch: Int) -> [Int] {
        guard shuffle else { return samples ?? Array(0..<datasetSize) }
        var rng = Philox(seed: seed, 0x5A3B_1E00, UInt32(truncatingIfNeeded: epoch))
        let order = rng.permutation(datasetSize)
        guard let samples else { return order }
        return order.map { samples[$0] }
    }

    /// The global sample indices rank `rank` trains on at `step` of an epoch with order `order`.
    public func indices(order: [Int], step: Int, rank: Int) -> ArraySlice<Int> {
        let start = step * globalBatch + rank * localBatch
        return order[start..<(start + localBatch)]
    }
}

/// Contiguous, equal shards of an evaluation split: rank r gets [r·N/R, (r+1)·N/R).
/// Every sample is evaluated exactly once over all ranks (shards differ by at most one sample).
public func evaluationShard(count: Int, rank: Int, worldSize: Int) -> Range<Int> {
    (rank * count / worldSize)..<((rank + 1) * count / worldSize)
}

/// The permutations of the current epoch and the next, so the loop can name the next step's
/// samples (for the prefetch) at the end of an epoch without computing a permutation twice.
struct EpochOrders {
    let sampler: EpochSampler
    private(set) var epoch: Int
    private var current: [Int]
    private var following: (epoch: Int, order: [Int])?

    init(sampler: EpochSampler, epoch: Int) {
        self.sampler = sampler; self.epoch = epoch
        current = sampler.permutation(epoch: epoch)
    }

    /// Makes `epoch` the current one (reusing the next epoch's order when it was made).
    mutating func advance(to epoch: Int) {
        guard epoch != self.epoch else { return }
        if let f = following, f.epoch == epoch { current = f.order } else { current = sampler.permutation(epoch: epoch) }
        following = nil
        self.epoch = epoch
    }

    /// Rank `rank`'s samples at `cursor`'s step (the current epoch or the next).
    mutating func indices(_ cursor: TrainingCursor, rank: Int) -> ArraySlice<Int> {
        if cursor.epoch == epoch { return sampler.indices(order: current, step: cursor.stepInEpoch, rank: rank) }
        if following?.epoch != cursor.epoch { following = (cursor.epoch, sampler.permutation(epoch: cursor.epoch)) }
        return sampler.indices(order: following!.order, step: cursor.stepInEpoch, rank: rank)
    }
}
