import TensorCore
import NN

/// BatchNorm2d followed by ReLU in one pass — DenseNet's pre-activation unit — that can read
/// the first `C` channels of a wider (N, C_src, H, W) buffer.
///
/// Why it exists next to NN's `BatchNorm`: a DenseNet layer normalises the concatenation of
/// everything before it. The memory-efficient `DenseBlock` keeps that concatenation in one
/// preallocated block buffer, so a layer's input is a channel *prefix* of it (a strided view)
/// and its input gradient is *added* into the same prefix of the block gradient. Fusing the
/// ReLU saves one more pass and one tensor per unit.
///
/// Same state and math as PyTorch's BatchNorm2d (+ ReLU): keys `<name>.weight` (1),
/// `<name>.bias` (0), `<name>.running_mean` (0), `<name>.running_var` (1),
/// `<name>.num_batches_tracked`. Training normalises with the batch mean and biased variance
/// and updates the running statistics with `momentum` and the unbiased variance; eval uses the
/// running statistics. Sync BN: when `ctx.statisticsReducer` is set (training), the per-channel
/// sums, sums of squares and the count are summed across ranks before normalising, and the two
/// per-channel reductions of backward likewise (parameter gradients stay local sums, as in
/// PyTorch's SyncBatchNorm, and are all-reduced with the other gradients).
public final class BatchNormReLU: Layer {
    public let name: String
    public let inputShape: [Int]
    public var outputShape: [Int] { inputShape }
    public let channels: Int
    /// false: plain BatchNorm2d (used by tests against the BN fixtures).
    public let relu: Bool
    public let momentum: Float
    public let eps: Float
    public let weight: Parameter
    public let bias: Parameter
    public let runningMean: StateBuffer
    public let runningVar: StateBuffer
    public let batchesTracked: Counter

    private let spatial: Int
    private let y: Tensor                 // (N, C, H, W) output, kept for the ReLU mask (or shared, see init)
    /// True when the output lives in a tensor shared with other layers (see init).
    public let sharesOutput: Bool
    private let gx = Tensor(shape: [0])   // (N, C, H, W) input gradient of the standalone path
    private var source: Tensor?           // (N, C_src, H, W) read by the last forward
    private var sourceChannels = 0
    private var usedBatchStatistics = false
    private var elements = 0              // values per channel behind the last statistics (all ranks)
    private let mean: UnsafeMutablePointer<Float>     // (C) statistics of the last forward
    private let invStd: UnsafeMutablePointer<Float>   // (C)
    private let reduce: UnsafeMutablePointer<Float>   // (2C + 1) sums exchanged for sync BN
    private let sums: UnsafeMutablePointer<Double>    // (2C) per-channel accumulators

    /// `sharedOutput`: write the output into this tensor instead of an own one. Its owner lets
    /// several layers take turns in it and calls `recompute()` before this layer's backward
    /// (memory-efficient DenseNet: one BN-ReLU buffer per dense block instead of one per layer).
    public init(name: String, inputShape: [Int], relu: Bool = true, momentum: Float = 0.1, eps: Float = 1e-5,
                sharedOutput: Tensor? = nil, store: ParameterStore) throws {
        guard inputShape.count == 3, inputShape.allSatisfy({ $0 > 0 }) else {
            throw ShapeError("batchnorm '\(name)': expected input (C, H, W) with positive sizes, got \(Shape.format(inputShape))")
        }
        self.name = name; self.inputShape = inputShape; self.relu = relu
        y = sharedOutput ?? Tensor(shape: [0]); sharesOutput = sharedOutput != nil
        self.momentum = momentum; self.eps = eps
        channels = inputShape[0]; spatial = inputShape[1] * inputShape[2]
        let p = name.isEmpty ? "" : name + "."
        weight = store.declare(p + "weight", shape: [channels], initializer: .constant(1))
        bias = store.declare(p + "bias", shape: [channels], initializer: .constant(0))
        runningMean = store.declareBuffer(p + "running_mean", shape: [channels], initializer: .constant(0))
        runningVar = store.declareBuffer(p + "running_var", shape: [channels], initializer: .constant(1))
        batchesTracked = store.declareCounter(p + "num_batches_tracked")
        mean = .allocate(capacity: channels); mean.initialize(repeating: 0, count: channels)
        invStd = .allocate(capacity: channels); invStd.initialize(repeating: 1, count: channels)
        reduce = .allocate(capacity: 2 * channels + 1); reduce.initialize(repeating: 0, count: 2 * channels + 1)
        sums = .allocate(capacity: 2 * channels); sums.initialize(repeating: 0, count: 2 * channels)
    }

    deinit { mean.deallocate(); invStd.deallocate(); reduce.deallocate(); sums.deallocate() }

    public func forward(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        checkInput(x, kind: relu ? "batchnorm+relu" : "batchnorm")
        return forward(prefixOf: x, ctx)
    }

    /// Normalises channels 0..<C of `x` (N, C_src ≥ C, H, W); returns the owned (N, C, H, W) output.
    public func forward(prefixOf x: Tensor, _ ctx: ForwardContext) -> Tensor {
        precondition(x.shape.count == 4 && x.dim(1) >= channels && x.dim(2) * x.dim(3) == spatial,
                     "batchnorm '\(name)': source \(Shape.format(x.shape)) does not hold \(channels) channels of \(inputShape[1])x\(inputShape[2])")
        let n = x.dim(0), cs = x.dim(1), hw = spatial, c = channels
        source = x; sourceChannels = cs
        y.resize([n, c, inputShape[1], inputShape[2]])
        usedBatchStatistics = ctx.training
        if !ctx.training {
            for k in 0..<c {
                mean[k] = runningMean.value[k]
                invStd[k] = 1 / (runningVar.value[k] + eps).squareRoot()
            }
        }
        // One channel at a time, statistics then normalisation while its planes are in cache;
        // sync BN needs every channel's sums before the one exchange, so it goes in one block.
        let block = ctx.training && ctx.statisticsReducer != nil ? c : 1
        let xs = x.data, ys = y.data, w = weight.value!, b = bias.value!
        for k0 in stride(from: 0, to: c, by: block) {
            let channels = k0..<Swift.min(c, k0 + block)
            if ctx.training { batchStatistics(xs, n: n, cs: cs, channels: channels, ctx) }
            // y = max(0, (x − μ)·scale + β) with scale = γ/σ; centring first keeps float32
            // rounding relative to σ even where |μ| ≫ σ (a ReLU input near 0 must land right).
            for k in channels {
                let scale = w[k] * invStd[k], mu = mean[k], beta = b[k]
                for i in 0..<n {
                    Self.normalize(xs + (i * cs + k) * hw, into: ys + (i * c + k) * hw, hw,
                                   mean: mu, scale: scale, shift: beta, relu: relu)
                }
            }
        }
        if ctx.training { batchesTracked.value += 1 }
        return y
    }

    /// Batch mean and inverse std of `channels` (summed across ranks for sync BN, which passes
    /// all channels at once); updates their running statistics.
    private func batchStatistics(_ xs: UnsafeMutablePointer<Float>, n: Int, cs: Int, channels: Range<Int>,
                                 _ ctx: ForwardContext) {
        let c = self.channels, hw = spatial
        // Shifted sums Σ(x−K), Σ(x−K)² with K = running mean (the same on every rank): once K
        // tracks the mean, E[(x−K)²] − E[x−K]² does not cancel, even summed in float for sync BN.
        let rm = runningMean.value!, rv = runningVar.value!
        for k in channels {
            var s = 0.0, ss = 0.0
            for i in 0..<n {
                let (a, b) = Self.shiftedSums(xs + (i * cs + k) * hw, hw, shift: rm[k])
                s += a; ss += b
            }
            sums[k] = s; sums[c + k] = ss
        }
        var count = Double(n * hw)
        if let reducer = ctx.statisticsReducer {
            precondition(channels.count == c, "batchnorm '\(name)': sync BN reduces all channels at once")
            for k in 0..<(2 * c) { reduce[k] = Float(sums[k]) }
            reduce[2 * c] = Float(count)
            reducer.sumInPlace(UnsafeMutableBufferPointer(start: reduce, count: 2 * c + 1))
            for k in 0..<(2 * c) { sums[k] = Double(reduce[k]) }
            count = Double(reduce[2 * c]).rounded()
        }
        precondition(count > 1, "batchnorm '\(name)': training needs more than 1 value per channel, got \(Int(count))")
        elements = Int(count)
        let m = Double(momentum)
        for k in channels {
            let d = sums[k] / count, mu = Double(rm[k]) + d
            let variance = Swift.max(sums[c + k] / count - d * d, 0)
            mean[k] = Float(mu)
            invStd[k] = Float(1 / (variance + Double(eps)).squareRoot())
            rm[k] = Float((1 - m) * Double(rm[k]) + m * mu)
            rv[k] = Float((1 - m) * Double(rv[k]) + m * variance * count / (count - 1))
        }
    }

    /// Rewrites the last forward's output from its (unchanged) source with the statistics that
    /// forward used, into the shared output tensor; nothing else changes (no running stats).
    public func recompute() {
        guard let x = source else { preconditionFailure("batchnorm '\(name)': recompute before forward") }
        let n = x.dim(0), c = channels, hw = spatial, cs = sourceChannels
        y.resize([n, c, inputShape[1], inputShape[2]])
        let xs = x.data, ys = y.data, w = weight.value!, b = bias.value!
        for k in 0..<c {
            let scale = w[k] * invStd[k], mu = mean[k], beta = b[k]
            for i in 0..<n {
                Self.normalize(xs + (i * cs + k) * hw, into: ys + (i * c + k) * hw, hw,
                               mean: mu, scale: scale, shift: beta, relu: relu)
            }
        }
    }

    public func backward(_ gy: Tensor, _ ctx: ForwardContext) -> Tensor {
        precondition(sourceChannels == channels, "batchnorm '\(name)': standalone backward after a prefix forward")
        gx.resize(y.shape)
        backward(gy, into: gx, accumulate: false, ctx)
        return gx
    }

    /// Input gradient into channels 0..<C of `g` (same shape as the forward source), added to
    /// what is there when `accumulate`, else overwriting; parameter gradients are added.
    public func backward(_ gy: Tensor, into g: Tensor, accumulate: Bool, _ ctx: ForwardContext) {
        guard let x = source else { preconditionFailure("batchnorm '\(name)': backward before forward") }
        precondition(gy.shape == y.shape, "batchnorm '\(name)': gradient \(Shape.format(gy.shape)) for output \(Shape.format(y.shape))")
        precondition(g.shape == x.shape, "batchnorm '\(name)': gradient target \(Shape.format(g.shape)) for source \(Shape.format(x.shape))")
        let n = y.dim(0), c = channels, hw = spatial, cs = sourceChannels
        let xs = x.data, ys = y.data, gs = gy.data, out = g.data, w = weight.value!
        // Per channel Σ ĝ and Σ ĝ·x̂ (ĝ = gy masked by the ReLU), then the input gradient, one
        // channel at a time while its planes are in cache (sync BN: all sums, one exchange, then all)
        let reducer = usedBatchStatistics ? ctx.statisticsReducer : nil
        let block = reducer != nil ? c : 1
        let count = Double(Swift.max(elements, 1))
        for k0 in stride(from: 0, to: c, by: block) {
            let channels = k0..<Swift.min(c, k0 + block)
            for k in channels {
                var sg = 0.0, sgx = 0.0
                for i in 0..<n {
                    let (a, b) = Self.maskedSums(gs + (i * c + k) * hw, ys + (i * c + k) * hw,
                                                 xs + (i * cs + k) * hw, mean[k], hw, relu: relu)
                    sg += a; sgx += b
                }
                sums[k] = sg; sums[c + k] = sgx * Double(invStd[k])
                bias.grad[k] += Float(sums[k]); weight.grad[k] += Float(sums[c + k])
            }
            if let reducer {
                for k in 0..<(2 * c) { reduce[k] = Float(sums[k]) }
                reducer.sumInPlace(UnsafeMutableBufferPointer(start: reduce, count: 2 * c))
                for k in 0..<(2 * c) { sums[k] = Double(reduce[k]) }
            }
            // training: gx = a·ĝ + b·(x − μ) + d with a = γ/σ, b = −a·Σĝx̂/(σ·m), d = −a·Σĝ/m;
            // eval: gx = a·ĝ
            for k in channels {
                let a = w[k] * invStd[k], mu = mean[k]
                var b: Float = 0, d: Float = 0
                if usedBatchStatistics {
                    b = Float(-Double(a) * sums[c + k] * Double(invStd[k]) / count)
                    d = Float(-Double(a) * sums[k] / count)
                }
                for i in 0..<n {
                    Self.inputGradient(gs + (i * c + k) * hw, ys + (i * c + k) * hw, xs + (i * cs + k) * hw,
                                       into: out + (i * cs + k) * hw, hw, a: a, b: b, mean: mu, d: d,
                                       relu: relu, accumulate: accumulate)
                }
            }
        }
    }

    /// dst = relu?((src − μ)·scale + shift) over `count` floats, eight lanes at a time.
    @inline(__always)
    static func normalize(_ src: UnsafeMutablePointer<Float>, into dst: UnsafeMutablePointer<Float>, _ count: Int,
                          mean: Float, scale: Float, shift: Float, relu: Bool) {
        let sr = UnsafeRawPointer(src), dr = UnsafeMutableRawPointer(dst)
        let m = SIMD8<Float>(repeating: mean), sc = SIMD8<Float>(repeating: scale), sh = SIMD8<Float>(repeating: shift)
        let zero = SIMD8<Float>()
        var j = 0
        while j + 8 <= count {
            var v = (sr.loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self) - m) * sc + sh
            if relu { v.replace(with: zero, where: v .< zero) }
            dr.storeBytes(of: v, toByteOffset: j * 4, as: SIMD8<Float>.self)
            j += 8
        }
        while j < count {
            let v = (src[j] - mean) * scale + shift
            dst[j] = relu && !(v > 0) ? 0 : v
            j += 1
        }
    }

    /// dst (+)= a·ĝ + b·(x − μ) + d with ĝ = g masked where y ≤ 0 (when `relu`), eight lanes at a time.
    @inline(__always)
    static func inputGradient(_ g: UnsafeMutablePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                              _ x: UnsafeMutablePointer<Float>, into dst: UnsafeMutablePointer<Float>, _ count: Int,
                              a: Float, b: Float, mean: Float, d: Float, relu: Bool, accumulate: Bool) {
        let gr = UnsafeRawPointer(g), yr = UnsafeRawPointer(y), xr = UnsafeRawPointer(x)
        let dr = UnsafeMutableRawPointer(dst)
        let av = SIMD8<Float>(repeating: a), bv = SIMD8<Float>(repeating: b), dv = SIMD8<Float>(repeating: d)
        let m = SIMD8<Float>(repeating: mean), zero = SIMD8<Float>()
        var j = 0
        while j + 8 <= count {
            var gv = gr.loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self)
            if relu { gv.replace(with: zero, where: yr.loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self) .<= zero) }
            var v = av * gv + bv * (xr.loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self) - m) + dv
            if accumulate { v += dr.loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self) }
            dr.storeBytes(of: v, toByteOffset: j * 4, as: SIMD8<Float>.self)
            j += 8
        }
        while j < count {
            let gv = (!relu || y[j] > 0) ? g[j] : 0
            let v = a * gv + b * (x[j] - mean) + d
            dst[j] = accumulate ? dst[j] + v : v
            j += 1
        }
    }

    /// (Σ (x−K), Σ (x−K)²) over `count` floats: eight float lanes (vectorised), flushed into
    /// doubles every 256 values so long rows keep their precision.
    @inline(__always)
    static func shiftedSums(_ p: UnsafeMutablePointer<Float>, _ count: Int, shift: Float) -> (Double, Double) {
        let raw = UnsafeRawPointer(p), k = SIMD8<Float>(repeating: shift)
        var rs = 0.0, rq = 0.0
        var j = 0
        while j + 8 <= count {
            var s = SIMD8<Float>(), q = SIMD8<Float>()
            let end = Swift.min(count - 7, j + 256)
            while j < end {
                let v = raw.loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self) - k
                s += v; q += v * v; j += 8
            }
            rs += Double(s.sum()); rq += Double(q.sum())
        }
        while j < count { let v = Double(p[j] - shift); rs += v; rq += v * v; j += 1 }
        return (rs, rq)
    }

    /// (Σ ĝ, Σ ĝ·(x − μ)) with ĝ = g where y > 0 (or g when `relu` is false); float lanes
    /// flushed into doubles every 256 values.
    @inline(__always)
    static func maskedSums(_ g: UnsafeMutablePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                           _ x: UnsafeMutablePointer<Float>, _ mu: Float, _ count: Int, relu: Bool) -> (Double, Double) {
        let gr = UnsafeRawPointer(g), yr = UnsafeRawPointer(y), xr = UnsafeRawPointer(x)
        let zero = SIMD8<Float>(), m = SIMD8<Float>(repeating: mu)
        var rs = 0.0, rq = 0.0
        var j = 0
        while j + 8 <= count {
            var s = SIMD8<Float>(), q = SIMD8<Float>()
            let end = Swift.min(count - 7, j + 256)
            while j < end {
                var gv = gr.loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self)
                if relu { gv.replace(with: zero, where: yr.loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self) .<= zero) }
                let xv = xr.loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self)
                s += gv; q += gv * (xv - m); j += 8
            }
            rs += Double(s.sum()); rq += Double(q.sum())
        }
        while j < count {
            let gv = (!relu || y[j] > 0) ? g[j] : 0
            rs += Double(gv); rq += Double(gv) * Double(x[j] - mu); j += 1
        }
        return (rs, rq)
    }
}
