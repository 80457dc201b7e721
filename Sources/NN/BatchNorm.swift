import TensorCore

/// Batch normalisation over the channel dimension, optionally followed by a fused ReLU:
/// BatchNorm2d for per-sample inputs (C, H, W), BatchNorm1d for (C) and (C, L). The one BN
/// of the project (darknet's one routine for every layer kind; tinygrad's two steps).
/// PyTorch semantics throughout:
/// - training: normalise with the batch mean and the biased variance; update the running
///   stats with `momentum` and the unbiased variance; num_batches_tracked += 1;
/// - eval: normalise with the running stats;
/// - sync BN (training with `ctx.statisticsReducer`): per-channel sums and the count are summed
///   across ranks before normalising, and backward sums its two per-channel reductions
///   (Σĝ, Σĝ·x̂) the same way. Parameter gradients stay per rank (the gradient all-reduce sums them).
///
/// Two steps per channel, statistics then one apply y = relu?((x − μ)·γ/σ + β) (kernels in
/// CKernels/batchnorm.c), a block of channels at a time, read image-major as long streams and
/// sized to stay in cache for the second pass; blocks split over `ctx.pool` (each channel
/// reduced by one worker in image order: the same bits for any thread count or blocking);
/// sync BN needs every channel's sums before its one exchange.
///
/// DenseNet's memory-efficient block uses two more modes: `forward(prefixOf:)` reads the first
/// C channels of a wider (N, C_src, ...) buffer, and with `sharedOutput` the output lives in a
/// tensor that several layers take turns in (`recompute()` rewrites it before backward).
/// Every buffer is viewed as (N, C, S) with S = H·W (or L, or 1).
public final class BatchNorm: Layer {
    public let name: String
    public let inputShape: [Int]
    public var outputShape: [Int] { inputShape }
    public let channels: Int
    /// Whether a ReLU follows in the same pass (forward and the gradient's mask).
    public let relu: Bool
    public let momentum: Float
    public let eps: Float
    public let weight: Parameter?
    public let bias: Parameter?
    public let runningMean: StateBuffer
    public let runningVar: StateBuffer
    public let batchesTracked: Counter
    /// True when the output lives in a tensor shared with other layers (see init).
    public let sharesOutput: Bool
    /// Statistics shared with the other BatchNorms of a buffer whose prefixes they read (a dense
    /// block); used in training without sync BN.
    public var statisticsCache: BatchStatisticsCache?
    /// "batchnorm2d", "batchnorm1d", with "+relu" when fused.
    public var kind: String { (inputShape.count == 3 ? "batchnorm2d" : "batchnorm1d") + (relu ? "+relu" : "") }

    private let spatial: Int
    private let y: Tensor                  // (N, C, S...) output (or the tensor shared with other layers)
    private let gx = Tensor(shape: [0])    // (N, C, S...) input gradient of the standalone path
    private var source: Tensor?            // (N, C_src, S...) read by the last forward
    private var sourceChannels = 0
    private var usedBatchStatistics = false
    private var count = 0                  // values per channel behind the last statistics (all ranks)
    private let mean: UnsafeMutablePointer<Float>     // (C) statistics the last forward normalised with
    private let invStd: UnsafeMutablePointer<Float>   // (C) 1/√(var + eps)
    private let reduce: UnsafeMutablePointer<Float>   // (2C + 1) sums exchanged for sync BN
    private let sums: UnsafeMutablePointer<Double>    // (3C) per-channel accumulators
    private let scale: UnsafeMutablePointer<Float>    // (C) γ/σ, the apply's slope (and ∂x's ĝ factor)
    private let shift: UnsafeMutablePointer<Float>    // (C) β
    private let slope: UnsafeMutablePointer<Float>    // (C) ∂x's factor of (x − μ)
    private let offset: UnsafeMutablePointer<Float>   // (C) ∂x's constant term
    private let zeros: UnsafeMutablePointer<Float>    // (C) the shift of a plain sum

    /// `sharedOutput`: write the output into this tensor instead of an own one; its owner calls
    /// `recompute()` before this layer's backward (memory-efficient DenseNet).
    public init(at scope: ParameterScope, inputShape: [Int], affine: Bool = true, relu: Bool = false, momentum: Float = 0.1,
                eps: Float = 1e-5, sharedOutput: Tensor? = nil) throws {
        let name = scope.path
        let kind = inputShape.count == 3 ? "batchnorm2d" : "batchnorm1d"
        let label = name.isEmpty ? kind : "\(kind) '\(name)'"
        guard (1...3).contains(inputShape.count), inputShape.allSatisfy({ $0 > 0 }) else {
            throw ShapeError("\(label): expected input (C), (C, L) or (C, H, W), got \(Shape.format(inputShape))")
        }
        guard eps > 0, momentum >= 0, momentum <= 1 else {
            throw ShapeError("\(label): eps \(eps) must be positive and momentum \(momentum) in [0, 1]")
        }
        self.name = name; self.inputShape = inputShape; self.relu = relu; self.momentum = momentum; self.eps = eps
        y = sharedOutput ?? Tensor(shape: [0]); sharesOutput = sharedOutput != nil
        channels = inputShape[0]
        spatial = inputShape.dropFirst().reduce(1, *)
        weight = affine ? scope.declare("weight", shape: [channels], initializer: .constant(1)) : nil
        bias = affine ? scope.declare("bias", shape: [channels], initializer: .constant(0)) : nil
        runningMean = scope.declareBuffer("running_mean", shape: [channels], initializer: .constant(0))
        runningVar = scope.declareBuffer("running_var", shape: [channels], initializer: .constant(1))
        batchesTracked = scope.declareCounter("num_batches_tracked")
        mean = .allocate(capacity: channels); mean.initialize(repeating: 0, count: channels)
        invStd = .allocate(capacity: channels); invStd.initialize(repeating: 1, count: channels)
        reduce = .allocate(capacity: 2 * channels + 1); reduce.initialize(repeating: 0, count: 2 * channels + 1)
        sums = .allocate(capacity: 3 * channels); sums.initialize(repeating: 0, count: 3 * channels)
        func perChannel(_ value: Float) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: inputShape[0]); p.initialize(repeating: value, count: inputShape[0]); return p
        }
        scale = perChannel(1); shift = perChannel(0); slope = perChannel(0); offset = perChannel(0); zeros = perChannel(0)
    }

    deinit {
        for p in [mean, invStd, reduce, scale, shift, slope, offset, zeros] { p.deallocate() }
        sums.deallocate()
    }

    private var label: String { name.isEmpty ? kind : "\(kind) '\(name)'" }

    public func forward(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        checkInput(x, kind: kind)
        return forward(prefixOf: x, ctx)
    }

    /// Normalises channels 0..<C of `x` (N, C_src ≥ C, S...); returns the (N, C, S...) output.
    public func forward(prefixOf x: Tensor, _ ctx: ForwardContext) -> Tensor {
        precondition(x.shape.count == inputShape.count + 1 && x.dim(1) >= channels
                     && x.shape.dropFirst(2).reduce(1, *) == spatial,
                     "\(label): source \(Shape.format(x.shape)) does not hold \(channels) channels of \(Shape.format(Array(inputShape.dropFirst())))")
        let n = x.dim(0), c = channels
        source = x; sourceChannels = x.dim(1)
        y.resize([n] + inputShape)
        usedBatchStatistics = ctx.training
        if !ctx.training {
            for k in 0..<c { mean[k] = runningMean.value[k]; invStd[k] = Float(1 / (Double(runningVar.value[k]) + Double(eps)).squareRoot()) }
        }
        if ctx.training, let reducer = ctx.statisticsReducer {
            forEachBlock(images: n, streams: 1, ctx) { ks in batchShiftedSums(x, channels: ks) }
            exchangeStatistics(x, reducer: reducer)
            forEachBlock(images: n, streams: 1, ctx) { ks in apply(x, channels: ks) }
        } else {
            if ctx.training {
                count = n * spatial
                precondition(count > 1, "\(label): training needs more than 1 value per channel, got input \(Shape.format(x.shape))")
            }
            // Channels are independent: one worker does a block's statistics and apply while its
            // planes are in cache, each channel in the same order whatever the thread count.
            let known = ctx.training ? reuseCachedStatistics() : 0
            forEachBlock(images: n, streams: 1, ctx) { ks in
                let fresh = Swift.min(Swift.max(ks.lowerBound, known), ks.upperBound)..<ks.upperBound
                if ctx.training && !fresh.isEmpty { batchStatistics(x, channels: fresh) }
                apply(x, channels: ks)
            }
            if ctx.training, let cache = statisticsCache { cache.known = Swift.max(cache.known, c) }
        }
        if ctx.training { batchesTracked.value += 1 }
        return y
    }

    /// Rewrites the last forward's output from its (unchanged) source with the statistics that
    /// forward used, into the shared output tensor; nothing else changes (no running stats).
    public func recompute() {
        guard let x = source else { preconditionFailure("\(label): recompute before forward") }
        y.resize([x.dim(0)] + inputShape)
        apply(x, channels: 0..<channels)
    }

    /// Runs `body` on blocks of channels split over `ctx.pool`, each block's planes in a pass
    /// over `streams` tensors sized to stay in cache for the next pass (`ChannelBlock.width`).
    private func forEachBlock(images n: Int, streams: Int, _ ctx: ForwardContext, _ body: (Range<Int>) -> Void) {
        let width = ChannelBlock.width(channels: channels, images: n, spatial: spatial, streams: streams,
                                       workers: ctx.pool.threads)
        ctx.pool.parallelFor((channels + width - 1) / width) { b, _ in
            body(b * width ..< Swift.min((b + 1) * width, channels))
        }
    }

    private func block(_ ks: Range<Int>, images n: Int) -> ChannelBlock {
        ChannelBlock(images: n, channels: ks.count, spatial: spatial)
    }

    /// Channel k's affine map of the normalised value, y = relu?((x − μ)·scale + shift): the
    /// apply and the backward's ReLU mask use the same two numbers.
    private func prepareAffine(_ ks: Range<Int>) {
        for k in ks { scale[k] = invStd[k] * (weight?.value[k] ?? 1); shift[k] = bias?.value[k] ?? 0 }
    }

    /// y[:, k] = relu?((x[:, k] − μ_k)·γ_k/σ_k + β_k) for k in `ks`.
    private func apply(_ x: Tensor, channels ks: Range<Int>) {
        prepareAffine(ks)
        let k0 = ks.lowerBound, s = spatial
        Kernels.normalize(block(ks, images: x.dim(0)), x.data + k0 * s, xImage: sourceChannels * s,
                          into: y.data + k0 * s, yImage: channels * s, mean: mean + k0, scale: scale + k0,
                          shift: shift + k0, relu: relu)
    }

    /// Batch mean and inverse std of the channels `ks` (`count` set); updates their running
    /// statistics. Two passes: the mean m, then squares centred on its float rounding m′ (no
    /// cancellation): var = Σ(x − m′)²/n − (m − m′)².
    private func batchStatistics(_ x: Tensor, channels ks: Range<Int>) {
        let c = channels, k0 = ks.lowerBound, b = block(ks, images: x.dim(0))
        let p = x.data + k0 * spatial, stride = sourceChannels * spatial, unused = sums + 2 * c + k0
        for k in ks { sums[k] = 0; sums[c + k] = 0; sums[2 * c + k] = 0 }
        Kernels.moments(b, p, xImage: stride, shift: zeros + k0, s1: sums + k0, s2: unused)
        for k in ks { mean[k] = Float(sums[k] / Double(count)) }
        Kernels.moments(b, p, xImage: stride, shift: mean + k0, s1: unused, s2: sums + c + k0)
        for k in ks {
            let m = sums[k] / Double(count), d = m - Double(mean[k])
            let v = Swift.max(sums[c + k] / Double(count) - d * d, 0)
            finishChannel(k, mean: m, variance: v)
            if let cache = statisticsCache, k < cache.capacity { cache.mean[k] = m; cache.variance[k] = v }
        }
    }

    /// Takes the statistics of the channels the cache already holds (running stats updated as if
    /// computed here); returns how many.
    private func reuseCachedStatistics() -> Int {
        guard let cache = statisticsCache else { return 0 }
        let known = Swift.min(cache.known, channels)
        for k in 0..<known { finishChannel(k, mean: cache.mean[k], variance: cache.variance[k]) }
        return known
    }

    /// Sync BN, the shifted sums Σ(x−K), Σ(x−K)² of the channels `ks` into `reduce`, K = running
    /// mean: it is identical on every rank, and once it tracks the mean E[(x−K)²] − E[x−K]² does
    /// not cancel, even summed in float.
    private func batchShiftedSums(_ x: Tensor, channels ks: Range<Int>) {
        let c = channels, k0 = ks.lowerBound
        for k in ks { sums[k] = 0; sums[c + k] = 0 }
        Kernels.moments(block(ks, images: x.dim(0)), x.data + k0 * spatial, xImage: sourceChannels * spatial,
                        shift: runningMean.value + k0, s1: sums + k0, s2: sums + c + k0)
        for k in ks { reduce[k] = Float(sums[k]); reduce[c + k] = Float(sums[c + k]) }
    }

    /// Sync BN: sums the shifted sums and the count across ranks, then every channel's statistics.
    private func exchangeStatistics(_ x: Tensor, reducer: StatisticsReducer) {
        let c = channels
        reduce[2 * c] = Float(x.dim(0) * spatial)
        reducer.sumInPlace(UnsafeMutableBufferPointer(start: reduce, count: 2 * c + 1))
        count = Int(reduce[2 * c].rounded())
        precondition(count > 1, "\(label): training needs more than 1 value per channel, got \(count) across ranks")
        for k in 0..<c {
            let d = Double(reduce[k]) / Double(count)
            finishChannel(k, mean: Double(runningMean.value[k]) + d,
                          variance: Swift.max(Double(reduce[c + k]) / Double(count) - d * d, 0))
        }
    }

    /// Stores the normalising statistics of channel `k` and moves its running stats towards them.
    @inline(__always)
    private func finishChannel(_ k: Int, mean m: Double, variance v: Double) {
        mean[k] = Float(m)
        invStd[k] = Float(1 / (v + Double(eps)).squareRoot())
        let mom = Double(momentum), unbiased = v * Double(count) / Double(count - 1)
        runningMean.value[k] = Float((1 - mom) * Double(runningMean.value[k]) + mom * m)
        runningVar.value[k] = Float((1 - mom) * Double(runningVar.value[k]) + mom * unbiased)
    }

    public func backward(_ gy: Tensor, _ ctx: ForwardContext) -> Tensor {
        precondition(sourceChannels == channels, "\(label): standalone backward after a prefix forward")
        gx.resize(y.shape)
        backward(gy, into: gx, accumulate: false, ctx)
        return gx
    }

    /// Input gradient into channels 0..<C of `g` (shaped as the forward source), added to what
    /// is there when `accumulate`, else overwriting; parameter gradients are added.
    public func backward(_ gy: Tensor, into g: Tensor, accumulate: Bool, _ ctx: ForwardContext) {
        guard let x = source else { preconditionFailure("\(label): backward before forward") }
        precondition(gy.shape == y.shape, "\(label): gradient \(Shape.format(gy.shape)) for output \(Shape.format(y.shape))")
        precondition(g.shape == x.shape, "\(label): gradient target \(Shape.format(g.shape)) for source \(Shape.format(x.shape))")
        let n = x.dim(0)
        if usedBatchStatistics, let reducer = ctx.statisticsReducer {
            forEachBlock(images: n, streams: 2, ctx) { ks in gradientSums(gy, x, channels: ks) }
            exchangeGradientSums(reducer)
            forEachBlock(images: n, streams: 2, ctx) { ks in inputGradient(gy, x, into: g, channels: ks, accumulate: accumulate) }
        } else {
            forEachBlock(images: n, streams: 2, ctx) { ks in
                gradientSums(gy, x, channels: ks)
                inputGradient(gy, x, into: g, channels: ks, accumulate: accumulate)
            }
        }
    }

    /// Σĝ and Σĝ·x̂ of the channels `ks` (ĝ = gy masked by the fused ReLU) into `sums`; adds them
    /// to the bias and weight gradients (local sums).
    private func gradientSums(_ gy: Tensor, _ x: Tensor, channels ks: Range<Int>) {
        prepareAffine(ks)
        let c = channels, k0 = ks.lowerBound, s = spatial
        for k in ks { sums[k] = 0; sums[c + k] = 0 }
        Kernels.normalizeGradientSums(block(ks, images: x.dim(0)), gy.data + k0 * s, gImage: c * s, x.data + k0 * s,
                                      xImage: sourceChannels * s, mean: mean + k0, scale: scale + k0, shift: shift + k0,
                                      relu: relu, sg: sums + k0, sgx: sums + c + k0)
        for k in ks {
            sums[c + k] *= Double(invStd[k])
            bias?.grad[k] += Float(sums[k]); weight?.grad[k] += Float(sums[c + k])
        }
    }

    /// Sync BN: the two per-channel sums of every channel, summed across ranks.
    private func exchangeGradientSums(_ reducer: StatisticsReducer) {
        let c = channels
        for k in 0..<(2 * c) { reduce[k] = Float(sums[k]) }
        reducer.sumInPlace(UnsafeMutableBufferPointer(start: reduce, count: 2 * c))
        for k in 0..<(2 * c) { sums[k] = Double(reduce[k]) }
    }

    /// The channels `ks`, training: gx = a·ĝ + b·(x − μ) + d with a = γ/σ, b = −a·Σĝx̂/(σ·m),
    /// d = −a·Σĝ/m; eval: gx = a·ĝ.
    private func inputGradient(_ gy: Tensor, _ x: Tensor, into g: Tensor, channels ks: Range<Int>, accumulate: Bool) {
        prepareAffine(ks)
        let c = channels, k0 = ks.lowerBound, s = spatial, cs = sourceChannels
        let m = Double(Swift.max(count, 1))
        for k in ks {
            let a = Double(scale[k])
            slope[k] = usedBatchStatistics ? Float(-a * sums[c + k] * Double(invStd[k]) / m) : 0
            offset[k] = usedBatchStatistics ? Float(-a * sums[k] / m) : 0
        }
        Kernels.normalizeGradient(block(ks, images: x.dim(0)), gy.data + k0 * s, gImage: c * s, x.data + k0 * s,
                                  xImage: cs * s, into: g.data + k0 * s, dstImage: cs * s, mean: mean + k0,
                                  scale: scale + k0, shift: shift + k0, slope: slope + k0, offset: offset + k0,
                                  relu: relu, accumulate: accumulate)
    }
}
