/// AdamW as torch.optim.AdamW: Adam with decoupled weight decay (Loshchilov & Hutter),
///
///     p = p · (1 − lr · weight_decay)      before the Adam update (see `Adam`), whose
///                                          gradient carries no L2 term.
///
/// PyTorch's default weight decay for AdamW is 0.01. State slots as Adam's.
public final class AdamW: Optimizer {
    public let beta1: Double
    public let beta2: Double
    public let eps: Double
    public let weightDecay: Double
    public let amsgrad: Bool
    public var stepCount = 0
    private let state: OptimizerState

    public init(beta1: Double = 0.9, beta2: Double = 0.999, eps: Double = 1e-8, weightDecay: Double = 0.01, amsgrad: Bool = false) {
        AdamKernel.check(beta1: beta1, beta2: beta2, eps: eps, weightDecay: weightDecay, kind: "AdamW")
        self.beta1 = beta1; self.beta2 = beta2; self.eps = eps; self.weightDecay = weightDecay; self.amsgrad = amsgrad
        state = OptimizerState(names: AdamKernel.slots(amsgrad: amsgrad))
    }

    /// Float hyperparameters, read as the decimals they print as (see `decimalDouble`).
    public convenience init(beta1: Float = 0.9, beta2: Float = 0.999, eps: Float, weightDecay: Float, amsgrad: Bool = false) {
        self.init(beta1: decimalDouble(beta1), beta2: decimalDouble(beta2), eps: decimalDouble(eps),
                  weightDecay: decimalDouble(weightDecay), amsgrad: amsgrad)
    }

    public var kind: String { "adamw" }
    public var stateNames: [String] { state.names }
    public var flatState: [(slot: String, values: UnsafeMutableBufferPointer<Float>)] { state.flat }
    public func prepare(for store: ParameterStore) { state.allocate(count: store.parameterCount) }
    public func state(for parameter: Parameter) -> [(slot: String, values: UnsafeMutableBufferPointer<Float>)] {
        state.views(for: parameter)
    }

    public func step(store: ParameterStore, lr: Float) {
        prepare(for: store)
        stepCount += 1
        AdamKernel(beta1: beta1, beta2: beta2, eps: eps, weightDecay: weightDecay, decoupled: true, amsgrad: amsgrad)
            .update(store: store, state: state, lr: lr, step: stepCount)
    }
}
