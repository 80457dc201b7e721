import Foundation

/// Adam as torch.optim.Adam (single-tensor path, maximize = false, one param group), with
/// the L2 weight decay added to the gradient:
///
///     t  = t + 1
///     g  = grad + weight_decay · p
///     m  = lerp(m, g, 1 − β1)                      (exp_avg)
///     v  = β2 · v + (1 − β2) · g²                  (exp_avg_sq)
///     v̂  = max(v̂, v)                               (max_exp_avg_sq, amsgrad only; used for v)
///     p  = p − lr / (1 − β1ᵗ) · m / (√v / √(1 − β2ᵗ) + eps)     (eps outside the sqrt)
///
/// State slots `exp_avg`, `exp_avg_sq` (+ `max_exp_avg_sq`); the step count is `stepCount`.
/// `AdamW` is this class with the weight decay decoupled from the gradient.
public class Adam: FlatStateOptimizer, Optimizer {
    public let beta1: Double
    public let beta2: Double
    public let eps: Double
    public let weightDecay: Double
    public let amsgrad: Bool
    /// AdamW: p ← p·(1 − lr·weight_decay) before the update instead of an L2 term in the gradient.
    public let decoupled: Bool
    public let kind: String

    public convenience init(beta1: Double = 0.9, beta2: Double = 0.999, eps: Double = 1e-8, weightDecay: Double = 0, amsgrad: Bool = false) {
        self.init(beta1: beta1, beta2: beta2, eps: eps, weightDecay: weightDecay, amsgrad: amsgrad, decoupled: false)
    }

    /// Float hyperparameters, read as the decimals they print as (see `decimalDouble`).
    public convenience init(beta1: Float = 0.9, beta2: Float = 0.999, eps: Float, weightDecay: Float, amsgrad: Bool = false) {
        self.init(beta1: decimalDouble(beta1), beta2: decimalDouble(beta2), eps: decimalDouble(eps),
                  weightDecay: decimalDouble(weightDecay), amsgrad: amsgrad)
    }

    init(beta1: Double, beta2: Double, eps: Double, weightDecay: Double, amsgrad: Bool, decoupled: Bool) {
        kind = decoupled ? "adamw" : "adam"
        AdamKernel.check(beta1: beta1, beta2: beta2, eps: eps, weightDecay: weightDecay, kind: decoupled ? "AdamW" : "Adam")
        self.beta1 = beta1; self.beta2 = beta2; self.eps = eps; self.weightDecay = weightDecay; self.amsgrad = amsgrad
        self.decoupled = decoupled
        super.init(slots: AdamKernel.slots(amsgrad: amsgrad))
    }

    public func step(store: ParameterStore, lr: Float) {
        prepare(for: store)
        stepCount += 1
        AdamKernel(beta1: beta1, beta2: beta2, eps: eps, weightDecay: weightDecay, decoupled: decoupled, amsgrad: amsgrad)
            .update(store: store, state: state, lr: lr, step: stepCount)
    }
}

/// The update shared by Adam and AdamW; only where the weight decay goes differs.
struct AdamKernel {
    let beta1: Double, beta2: Double, eps: Double, weightDecay: Double
    /// AdamW: p ← p · (1 − lr · wd) before the update instead of adding wd · p to the gradient.
    let decoupled: Bool
    let amsgrad: Bool

    static func slots(amsgrad: Bool) -> [String] {
        amsgrad ? ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"] : ["exp_avg", "exp_avg_sq"]
    }

    static func check(beta1: Double, beta2: Double, eps: Double, weightDecay: Double, kind: String) {
        precondition(beta1 >= 0 && beta1 < 1, "\(kind): beta1 must lie in [0, 1), got \(beta1)")
        precondition(beta2 >= 0 && beta2 < 1, "\(kind): beta2 must lie in [0, 1), got \(beta2)")
        precondition(eps >= 0, "\(kind): eps must be >= 0, got \(eps)")
        precondition(weightDecay >= 0, "\(kind): weight decay must be >= 0, got \(weightDecay)")
    }

    /// One update with step number `step` (1 on the first update).
    func update(store: ParameterStore, state: OptimizerState, lr: Float, step: Int) {
        let n = store.parameterCount
        guard n > 0 else { return }
        let p = store.values.baseAddress!, grad = store.grads.baseAddress!  // (P) flat
        let m = state.pointer(0), v = state.pointer(1)                        // (P) exp_avg, exp_avg_sq
        let vmax: UnsafeMutablePointer<Float>? = amsgrad ? state.pointer(2) : nil  // (P) max_exp_avg_sq
        // Scalars in double, as PyTorch computes them in Python before casting to float.
        let lrD = Double(lr), t = Double(step)
        let stepSize = lrD / (1 - pow(beta1, t))
        let bc2Sqrt = Float((1 - pow(beta2, t)).squareRoot())
        let negStep = Float(-stepSize)
        let decay = Float(1 - lrD * weightDecay)
        // torch passes these as Python floats; the kernels cast each to float32.
        let w1 = Float(1 - beta1), w2 = Float(1 - beta2), b2 = Float(beta2)
        let wd = Float(weightDecay), e = Float(eps)
        let decayParam = decoupled && wd != 0, l2 = !decoupled && wd != 0
        for i in 0..<n {
            if decayParam { p[i] *= decay }
            let g = l2 ? grad[i].addingProduct(wd, p[i]) : grad[i]
            // torch.lerp: weight < 0.5 ? start + w·(end − start) : end − (end − start)·(1 − w)
            let diff = g - m[i]
            let mi = w1 < 0.5 ? m[i].addingProduct(w1, diff) : g - diff * (1 - w1)
            m[i] = mi
            let vi = (v[i] * b2).addingProduct(w2, g * g)
            v[i] = vi
            var second = vi
            if let vmax { second = Swift.max(vmax[i], vi); vmax[i] = second }
            let denom = second.squareRoot() / bc2Sqrt + e
            p[i] = p[i].addingProduct(negStep, mi / denom)
        }
    }
}
