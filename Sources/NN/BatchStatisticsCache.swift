/// The batch mean and variance of the channels of one buffer that several BatchNorms normalise a
/// growing prefix of (a DenseNet block: layer l's norm1 reads channels 0 ..< C₀ + l·k of the block
/// buffer, whose values do not change during the forward). The first BN to read a channel computes
/// its statistics and stores them here; later ones take them. The result is exact: a channel's
/// sums do not depend on which channels share its block (CKernels/batchnorm.c). The owner calls
/// `reset()` before every forward.
public final class BatchStatisticsCache {
    let mean: UnsafeMutablePointer<Double>
    let variance: UnsafeMutablePointer<Double>
    public let capacity: Int
    /// Channels 0 ..< known hold this forward's statistics.
    var known = 0

    public init(channels: Int) {
        capacity = channels
        mean = .allocate(capacity: channels); mean.initialize(repeating: 0, count: channels)
        variance = .allocate(capacity: channels); variance.initialize(repeating: 0, count: channels)
    }

    deinit { mean.deallocate(); variance.deallocate() }

    public func reset() { known = 0 }
}
