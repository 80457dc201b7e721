/// AdamW as torch.optim.AdamW: Adam with decoupled weight decay (Loshchilov & Hutter),
///
///     p = p · (1 − lr · weight_decay)      before the Adam update (see `Adam`), whose
///                                          gradient carries no L2 term.
///
/// PyTorch's default weight decay for AdamW is 0.01. State slots as Adam's.
public final class AdamW: Adam {
    public init(beta1: Double = 0.9, beta2: Double = 0.999, eps: Double = 1e-8, weightDecay: Double = 0.01, amsgrad: Bool = false) {
        super.init(beta1: beta1, beta2: beta2, eps: eps, weightDecay: weightDecay, amsgrad: amsgrad, decoupled: true)
    }

    /// Float hyperparameters, read as the decimals they print as (see `decimalDouble`).
    public convenience init(beta1: Float = 0.9, beta2: Float = 0.999, eps: Float, weightDecay: Float, amsgrad: Bool = false) {
        self.init(beta1: decimalDouble(beta1), beta2: decimalDouble(beta2), eps: decimalDouble(eps),
                  weightDecay: decimalDouble(weightDecay), amsgrad: amsgrad)
    }
}
