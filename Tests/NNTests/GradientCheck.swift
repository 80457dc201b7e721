import TensorCore
import TestSupport
@testable import NN

/// A tensor of standard normal values drawn from Philox(seed).
func randomTensor(_ shape: [Int], seed: UInt64, scale: Float = 1, shift: Float = 0) -> Tensor {
    var rng = Philox(seed: seed)
    let t = Tensor(shape: shape)
    for i in 0..<t.count { t.data[i] = shift + scale * rng.normal() }
    return t
}

/// Central finite differences of L = Σ gy · layer(x) against the layer's backward, for ∂L/∂x and
/// every parameter of `store`. Returns the relative error of each, keyed "gx" / parameter name.
func finiteDifferenceErrors(_ layer: Layer, x: Tensor, store: ParameterStore, ctx: ForwardContext,
                            h: Float = 1e-2, seed: UInt64 = 99) -> [String: Double] {
    let y0 = layer.forward(x, ctx)
    let gy = randomTensor(y0.shape, seed: seed)
    store.zeroGrads()
    let analytic = layer.backward(gy, ctx).array
    func loss() -> Double {
        let y = layer.forward(x, ctx)
        var s = 0.0
        for i in 0..<y.count { s += Double(y.data[i]) * Double(gy.data[i]) }
        return s
    }
    func numeric(_ p: UnsafeMutablePointer<Float>, _ n: Int) -> [Float] {
        (0..<n).map { i in
            let keep = p[i]
            p[i] = keep + h; let up = loss()
            p[i] = keep - h; let down = loss()
            p[i] = keep
            return Float((up - down) / Double(2 * h))
        }
    }
    var errors = ["gx": relativeError(analytic, numeric(x.data, x.count))]
    for p in store.parameters { errors[p.name] = relativeError(Array(p.grads), numeric(p.value, p.count)) }
    return errors
}
