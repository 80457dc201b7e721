import TensorCore

/// Which global samples each rank trains on at each step.
///
/// One global permutation per epoch from (seed, epoch); the global batch B is cut from it in
/// order and split into `worldSize` equal contiguous slices, slice r going to rank r. The ragged
/// tail (N mod B samples) is dropped so every rank runs the same number of steps. Because the
/// permutation and the slices depend only on (seed, epoch, B), a run on N ranks visits exactly
/// the samples a run on 1 rank does, and a resume on another number of ranks continues from the
/// same global sample.
public struct EpochSampler: Sendable {
    public let datasetSize: Int
    public let globalBatch: Int
    public let worldSize: Int
    public let seed: UInt64
    public let shuffle: Bool

    public init(datasetSize: Int, globalBatch: Int, worldSize: Int, seed: UInt64, shuffle: Bool = true) {
        precondition(globalBatch % worldSize == 0, "EpochSampler: global batch \(globalBatch) not divisible by \(worldSize) ranks")
        self.datasetSize = datasetSize; self.globalBatch = globalBatch; self.worldSize = worldSize
        self.seed = seed; self.shuffle = shuffle
    }

    public var localBatch: Int { globalBatch / worldSize }
    /// Full global batches per epoch (the ragged tail is dropped).
    public var stepsPerEpoch: Int { datasetSize / globalBatch }

    /// The epoch's order of global sample indices.
    public func permutation(epoch: Int) -> [Int] {
        guard shuffle else { return Array(0..<datasetSize) }
        var rng = Philox(seed: seed, 0x5A3B_1E00, UInt32(truncatingIfNeeded: epoch))
        return rng.permutation(datasetSize)
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
