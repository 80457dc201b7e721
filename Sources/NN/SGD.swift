import TensorCore

/// Stochastic gradient descent as torch.optim.SGD (maximize = false, one param group):
///
///     g = grad + weight_decay · p                       (L2 added to the gradient)
///     b = g                          on the first step  (PyTorch clones the gradient)
///     b = momentum · b + (1 − dampening) · g            afterwards
///     g = nesterov ? g + momentum · b : b               (when momentum ≠ 0)
///     p = p − lr · g
///
/// State slot `momentum_buffer` (only when momentum ≠ 0).
public final class SGD: FlatStateOptimizer, Optimizer {
    public let momentum: Double
    public let dampening: Double
    public let nesterov: Bool
    public let weightDecay: Double

    public init(momentum: Double = 0, nesterov: Bool = false, weightDecay: Double = 0, dampening: Double = 0) {
        precondition(momentum >= 0, "SGD: momentum must be >= 0, got \(momentum)")
        precondition(weightDecay >= 0, "SGD: weight decay must be >= 0, got \(weightDecay)")
        precondition(!nesterov || (momentum > 0 && dampening == 0),
                     "SGD: Nesterov momentum requires a momentum > 0 and zero dampening")
        self.momentum = momentum; self.nesterov = nesterov
        self.weightDecay = weightDecay; self.dampening = dampening
        super.init(slots: momentum != 0 ? ["momentum_buffer"] : [])
    }

    /// Float hyperparameters, read as the decimals they print as (see `decimalDouble`).
    public convenience init(momentum: Float, nesterov: Bool = false, weightDecay: Float, dampening: Float = 0) {
        self.init(momentum: decimalDouble(momentum), nesterov: nesterov, weightDecay: decimalDouble(weightDecay),
                  dampening: decimalDouble(dampening))
    }

    public var kind: String { "sgd" }

    public func step(store: ParameterStore, lr: Float) {
        prepare(for: store)
        let n = store.parameterCount
        guard n > 0 else { stepCount += 1; return }
        let p = store.values.baseAddress!, grad = store.grads.baseAddress!  // (P) flat
        // Hyperparameters are Python floats in PyTorch; its kernels cast each scalar to float32.
        let wd = Float(weightDecay), m = Float(momentum), negLR = -lr
        let keep = Float(1 - dampening)
        Kernels.sgd(n, p, grad, buffer: m == 0 ? nil : state.pointer(0), weightDecay: wd, momentum: m,
                    keep: keep, negLR: negLR, first: stepCount == 0, nesterov: nesterov)
        stepCount += 1
    }
}
