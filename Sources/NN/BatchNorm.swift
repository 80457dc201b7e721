import TensorCore

/// Batch normalisation over the channel dimension: BatchNorm2d for per-sample inputs (C, H, W),
/// BatchNorm1d for (C) and (C, L). PyTorch semantics throughout:
/// - training: normalise with the batch mean and the biased variance; update the running
///   stats with `momentum` and the unbiased variance; num_batches_tracked += 1;
/// - eval: normalise with the running stats;
/// - sync BN (training with `ctx.statisticsReducer`): per-channel Σx, Σx² and the count are
///   summed across ranks before normalising, and backward sums its two per-channel reductions
///   (Σgy, Σgy·x̂) the same way. Parameter gradients stay per rank (the gradient all-reduce sums them).
///
/// Every buffer is viewed as (N, C, S) with S = H·W (or L, or 1). Statistics use double accumulators.
public final class BatchNorm: Layer {
    public let name: String
    public let inputShape: [Int]
    public var outputShape: [Int] { inputShape }
    public let channels: Int
    public let momentum: Float
    public let eps: Float
    public let weight: Parameter?
    public let bias: Parameter?
    public let runningMean: StateBuffer
    public let runningVar: StateBuffer
    public let batchesTracked: Counter
    private let spatial: Int
    private var kind: String { inputShape.count == 3 ? "batchnorm2d" : "batchnorm1d" }

    private let y = Tensor(shape: [0])    // (N, C, S...) as input
    private let gx = Tensor(shape: [0])   // (N, C, S...) as input
    private var input: Tensor?            // x of the last forward, for backward
    private var mean: [Float]             // (C) statistics the last forward normalised with
    private var invStd: [Float]           // (C) 1/√(var + eps)
    private var count = 0                 // elements per channel behind `mean` (global under sync BN)
    private var usedBatchStatistics = false
    private var reduceScratch: [Float]    // (2C + 1) per-channel sums sent through the reducer
    private var partial: [Double]         // (2C) double accumulators

    public init(name: String, inputShape: [Int], affine: Bool = true, momentum: Float = 0.1, eps: Float = 1e-5,
                store: ParameterStore) throws {
        let kind = inputShape.count == 3 ? "batchnorm2d" : "batchnorm1d"
        let label = name.isEmpty ? kind : "\(kind) '\(name)'"
        guard (1...3).contains(inputShape.count), inputShape.allSatisfy({ $0 > 0 }) else {
            throw ShapeError("\(label): expected input (C), (C, L) or (C, H, W), got \(Shape.format(inputShape))")
        }
        guard eps > 0, momentum >= 0, momentum <= 1 else {
            throw ShapeError("\(label): eps \(eps) must be positive and momentum \(momentum) in [0, 1]")
        }
        self.name = name; self.inputShape = inputShape; self.momentum = momentum; self.eps = eps
        channels = inputShape[0]
        spatial = inputShape.dropFirst().reduce(1, *)
        func key(_ leaf: String) -> String { name.isEmpty ? leaf : "\(name).\(leaf)" }
        weight = affine ? store.declare(key("weight"), shape: [channels], initializer: .constant(1)) : nil
        bias = affine ? store.declare(key("bias"), shape: [channels], initializer: .constant(0)) : nil
        runningMean = store.declareBuffer(key("running_mean"), shape: [channels], initializer: .constant(0))
        runningVar = store.declareBuffer(key("running_var"), shape: [channels], initializer: .constant(1))
        batchesTracked = store.declareCounter(key("num_batches_tracked"))
        mean = [Float](repeating: 0, count: channels)
        invStd = [Float](repeating: 1, count: channels)
        reduceScratch = [Float](repeating: 0, count: 2 * channels + 1)
        partial = [Double](repeating: 0, count: 2 * channels)
    }

    public func forward(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        checkInput(x, kind: kind)
        input = x
        usedBatchStatistics = ctx.training
        if ctx.training {
            batchStatistics(x, reducer: ctx.statisticsReducer)
        } else {
            for c in 0..<channels {
                mean[c] = runningMean.value[c]
                invStd[c] = Float(1 / (Double(runningVar.value[c]) + Double(eps)).squareRoot())
            }
        }
        // y = (x − mean) · invStd · γ + β
        y.resize(x.shape)
        let rows = x.dim(0), s = spatial
        for n in 0..<rows {
            for c in 0..<channels {
                let off = (n * channels + c) * s
                let src = x.data + off, dst = y.data + off
                let m = mean[c], a = invStd[c] * (weight?.value[c] ?? 1), b = bias?.value[c] ?? 0
                for i in 0..<s { dst[i] = (src[i] - m) * a + b }
            }
        }
        return y
    }

    /// Fills `mean`, `invStd` and `count` from the batch and updates the running stats.
    private func batchStatistics(_ x: Tensor, reducer: StatisticsReducer?) {
        let rows = x.dim(0), s = spatial, cs = channels * s
        let xp = x.data
        if let reducer {
            // Shifted sums Σ(x−K), Σ(x−K)² with K = running mean, identical on every rank under
            // sync BN (all ranks update it from the same global statistics): it keeps
            // E[(x−K)²] − E[x−K]² from cancelling once K tracks the mean. The count travels as a
            // float, exact up to 2²⁴ values per channel across all ranks.
            for c in 0..<channels {
                let k = runningMean.value[c]
                var s1 = 0.0, s2 = 0.0
                for n in 0..<rows {
                    let p = xp + n * cs + c * s
                    s1 += Kernels.sum(s, p, minus: k)
                    s2 += Kernels.sumOfSquares(s, p, minus: k)
                }
                reduceScratch[c] = Float(s1); reduceScratch[channels + c] = Float(s2)
            }
            reduceScratch[2 * channels] = Float(rows * s)
            reduceScratch.withUnsafeMutableBufferPointer { reducer.sumInPlace($0) }
            count = Int(reduceScratch[2 * channels].rounded())
            precondition(count > 1, "\(kind) '\(name)': training needs more than 1 value per channel, got \(count) across ranks")
            for c in 0..<channels {
                let d = Double(reduceScratch[c]) / Double(count)
                let v = Swift.max(Double(reduceScratch[channels + c]) / Double(count) - d * d, 0)
                finishChannel(c, mean: Double(runningMean.value[c]) + d, variance: v)
            }
        } else {
            count = rows * s
            precondition(count > 1, "\(kind) '\(name)': training needs more than 1 value per channel, got input \(Shape.format(x.shape))")
            // Two passes: the mean m, then squares centred on its float rounding m′
            // (no cancellation): var = Σ(x − m′)²/n − (m − m′)².
            for c in 0..<channels {
                var s1 = 0.0
                for n in 0..<rows { s1 += Kernels.sum(s, xp + n * cs + c * s) }
                let m = s1 / Double(count), mf = Float(m)
                var s2 = 0.0
                for n in 0..<rows { s2 += Kernels.sumOfSquares(s, xp + n * cs + c * s, minus: mf) }
                let d = m - Double(mf)
                finishChannel(c, mean: m, variance: Swift.max(s2 / Double(count) - d * d, 0))
            }
        }
        batchesTracked.value += 1
    }

    /// Stores the normalising statistics of channel `c` and moves its running stats towards them.
    @inline(__always)
    private func finishChannel(_ c: Int, mean m: Double, variance v: Double) {
        mean[c] = Float(m)
        invStd[c] = Float(1 / (v + Double(eps)).squareRoot())
        let mom = Double(momentum), unbiased = v * Double(count) / Double(count - 1)
        runningMean.value[c] = Float((1 - mom) * Double(runningMean.value[c]) + mom * m)
        runningVar.value[c] = Float((1 - mom) * Double(runningVar.value[c]) + mom * unbiased)
    }

    public func backward(_ gy: Tensor, _ ctx: ForwardContext) -> Tensor {
        guard let x = input else { preconditionFailure("\(kind) '\(name)': backward before forward") }
        precondition(gy.shape == x.shape, "\(kind) '\(name)': gradient \(Shape.format(gy.shape)) does not match input \(Shape.format(x.shape))")
        let rows = x.dim(0), s = spatial, cs = channels * s
        // Per channel: Σgy and Σgy·x̂ with x̂ = (x − mean)·invStd.
        for c in 0..<channels {
            let m = mean[c], r = invStd[c]
            var sg = 0.0, sgx = 0.0
            for n in 0..<rows {
                let g = gy.data + n * cs + c * s, p = x.data + n * cs + c * s
                sg += Kernels.sum(s, g)
                sgx += Kernels.dot(s, g, p, minus: m)
            }
            sgx *= Double(r)
            partial[c] = sg; partial[channels + c] = sgx
            weight?.grad[c] += Float(sgx)
            bias?.grad[c] += Float(sg)
        }
        gx.resize(x.shape)
        if usedBatchStatistics {
            // gx = γ·invStd · (gy − Σgy/n − x̂·Σ(gy·x̂)/n), the sums global under sync BN.
            if let reducer = ctx.statisticsReducer {
                for i in 0..<(2 * channels) { reduceScratch[i] = Float(partial[i]) }
                reduceScratch.withUnsafeMutableBufferPointer { reducer.sumInPlace(UnsafeMutableBufferPointer(rebasing: $0[0..<(2 * channels)])) }
                for i in 0..<(2 * channels) { partial[i] = Double(reduceScratch[i]) }
            }
            let inv = 1 / Double(count)
            for c in 0..<channels {
                let m = mean[c], r = invStd[c], a = r * (weight?.value[c] ?? 1)
                let meanG = Float(partial[c] * inv), k = r * Float(partial[channels + c] * inv)
                for n in 0..<rows {
                    let off = n * cs + c * s
                    let g = gy.data + off, p = x.data + off, dst = gx.data + off
                    for i in 0..<s { dst[i] = a * (g[i] - meanG - (p[i] - m) * k) }
                }
            }
        } else {
            // Eval: the statistics are constants, gx = gy · γ · invStd.
            for c in 0..<channels {
                let a = invStd[c] * (weight?.value[c] ?? 1)
                for n in 0..<rows {
                    let off = n * cs + c * s
                    let g = gy.data + off, dst = gx.data + off
                    for i in 0..<s { dst[i] = a * g[i] }
                }
            }
        }
        return gx
    }
}
