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
/// TensorCore's `Kernels`), one channel at a time while its planes are in cache, channels split
/// over `ctx.pool` (each channel reduced by one worker in one order: the same bits for any
/// thread count); sync BN needs every channel's sums before its one exchange.
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
    private let sums: UnsafeMutablePointer<Double>    // (2C) per-channel accumulators

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
        sums = .allocate(capacity: 2 * channels); sums.initialize(repeating: 0, count: 2 * channels)
    }

    deinit { mean.deallocate(); invStd.deallocate(); reduce.deallocate(); sums.deallocate() }

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
            ctx.pool.parallelFor(c) { k, _ in batchShiftedSums(x, channel: k) }
            exchangeStatistics(x, reducer: reducer)
            ctx.pool.parallelFor(c) { k, _ in apply(x, channels: k..<k + 1) }
        } else {
            if ctx.training {
                count = n * spatial
                precondition(count > 1, "\(label): training needs more than 1 value per channel, got input \(Shape.format(x.shape))")
            }
            // Channels are independent: one worker does a channel's statistics and apply while its
            // planes are in cache, in the same order whatever the thread count.
            ctx.pool.parallelFor(c) { k, _ in
                if ctx.training { batchStatistics(x, channel: k) }
                apply(x, channels: k..<k + 1)
            }
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

    /// Channel k's affine map of the normalised value, y = relu?((x − μ)·scale + shift): the apply
    /// and the backward's ReLU mask use the same two numbers.
    @inline(__always)
    private func affine(_ k: Int) -> (scale: Float, shift: Float) {
        (invStd[k] * (weight?.value[k] ?? 1), bias?.value[k] ?? 0)
    }

    /// y[:, k] = relu?((x[:, k] − μ_k)·γ_k/σ_k + β_k) for k in `channels`.
    private func apply(_ x: Tensor, channels range: Range<Int>) {
        let n = x.dim(0), c = channels, s = spatial, cs = sourceChannels
        for k in range {
            let (scale, shift) = affine(k)
            for i in 0..<n {
                Kernels.normalize(s, x.data + (i * cs + k) * s, into: y.data + (i * c + k) * s,
                                  mean: mean[k], scale: scale, shift: shift, relu: relu)
            }
        }
    }

    @inline(__always)
    private func plane(_ x: Tensor, _ i: Int, _ k: Int) -> UnsafeMutablePointer<Float> { x.data + (i * sourceChannels + k) * spatial }

    /// Batch mean and inverse std of channel `k` (`count` set); updates its running statistics.
    /// Two passes: the mean m, then squares centred on its float rounding m′ (no cancellation):
    /// var = Σ(x − m′)²/n − (m − m′)².
    private func batchStatistics(_ x: Tensor, channel k: Int) {
        let n = x.dim(0), s = spatial
        var s1 = 0.0
        for i in 0..<n { s1 += Kernels.sum(s, plane(x, i, k)) }
        let m = s1 / Double(count), mf = Float(m)
        var s2 = 0.0
        for i in 0..<n { s2 += Kernels.sumOfSquares(s, plane(x, i, k), minus: mf) }
        let d = m - Double(mf)
        finishChannel(k, mean: m, variance: Swift.max(s2 / Double(count) - d * d, 0))
    }

    /// Sync BN, channel `k`'s shifted sums Σ(x−K), Σ(x−K)² into `reduce`, K = running mean: it is
    /// identical on every rank, and once it tracks the mean E[(x−K)²] − E[x−K]² does not cancel,
    /// even summed in float.
    private func batchShiftedSums(_ x: Tensor, channel k: Int) {
        let n = x.dim(0), s = spatial, shift = runningMean.value[k]
        var s1 = 0.0, s2 = 0.0
        for i in 0..<n { s1 += Kernels.sum(s, plane(x, i, k), minus: shift); s2 += Kernels.sumOfSquares(s, plane(x, i, k), minus: shift) }
        reduce[k] = Float(s1); reduce[channels + k] = Float(s2)
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
        if usedBatchStatistics, let reducer = ctx.statisticsReducer {
            ctx.pool.parallelFor(channels) { k, _ in gradientSums(gy, x, channel: k) }
            exchangeGradientSums(reducer)
            ctx.pool.parallelFor(channels) { k, _ in inputGradient(gy, x, into: g, channel: k, accumulate: accumulate) }
        } else {
            ctx.pool.parallelFor(channels) { k, _ in
                gradientSums(gy, x, channel: k)
                inputGradient(gy, x, into: g, channel: k, accumulate: accumulate)
            }
        }
    }

    /// Channel k's Σĝ and Σĝ·x̂ (ĝ = gy masked by the fused ReLU) into `sums`; adds them to the
    /// bias and weight gradients (local sums).
    private func gradientSums(_ gy: Tensor, _ x: Tensor, channel k: Int) {
        let n = x.dim(0), c = channels, s = spatial
        let (scale, shift) = affine(k)
        var sg = 0.0, sgx = 0.0
        for i in 0..<n {
            let (a, b) = Kernels.normalizeGradientSums(s, gy.data + (i * c + k) * s, plane(x, i, k), mean: mean[k],
                                                       scale: scale, shift: shift, relu: relu)
            sg += a; sgx += b
        }
        sums[k] = sg; sums[c + k] = sgx * Double(invStd[k])
        bias?.grad[k] += Float(sums[k]); weight?.grad[k] += Float(sums[c + k])
    }

    /// Sync BN: the two per-channel sums of every channel, summed across ranks.
    private func exchangeGradientSums(_ reducer: StatisticsReducer) {
        let c = channels
        for k in 0..<(2 * c) { reduce[k] = Float(sums[k]) }
        reducer.sumInPlace(UnsafeMutableBufferPointer(start: reduce, count: 2 * c))
        for k in 0..<(2 * c) { sums[k] = Double(reduce[k]) }
    }

    /// Channel k, training: gx = a·ĝ + b·(x − μ) + d with a = γ/σ, b = −a·Σĝx̂/(σ·m), d = −a·Σĝ/m;
    /// eval: gx = a·ĝ.
    private func inputGradient(_ gy: Tensor, _ x: Tensor, into g: Tensor, channel k: Int, accumulate: Bool) {
        let n = x.dim(0), c = channels, s = spatial, cs = sourceChannels
        let m = Double(Swift.max(count, 1))
        let (a, shift) = affine(k)
        var b: Float = 0, d: Float = 0
        if usedBatchStatistics {
            b = Float(-Double(a) * sums[c + k] * Double(invStd[k]) / m)
            d = Float(-Double(a) * sums[k] / m)
        }
        for i in 0..<n {
            Kernels.normalizeGradient(s, gy.data + (i * c + k) * s, plane(x, i, k), into: g.data + (i * cs + k) * s,
                                      a: a, b: b, mean: mean[k], d: d, scale: a, shift: shift,
                                      relu: relu, accumulate: accumulate)
        }
    }
}
