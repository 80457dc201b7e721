import Foundation
import TensorCore

/// Element-wise activation functions. Each keeps its output (ReLU, ReLU6, sigmoid and tanh
/// all have derivatives expressible through the output) and writes into reused tensors.
///
/// `inPlace`: the output overwrites the input tensor (no second activation buffer). Only for a
/// producer that does not read its own output in backward (conv, linear): the builder decides.
public final class Activation: Layer {
    public typealias Kind = ActivationKind

    public let kind: Kind
    public let name: String
    public let inputShape: [Int]
    public var outputShape: [Int] { inputShape }
    public let inPlace: Bool
    /// The layer before runs this ReLU itself (`Conv2d.fuseReLU`): values and gradients pass through.
    public let fused: Bool
    private let own = Tensor(shape: [0])  // (N, ...) as input, unless in place
    private var y: Tensor                 // the output: `own`, or the last input when in place
    private let gx = Tensor(shape: [0])   // (N, ...) as input

    public init(_ kind: Kind, name: String = "", inputShape: [Int], inPlace: Bool = false, fused: Bool = false) {
        precondition(!fused || kind == .relu, "Activation: only a ReLU is fused into the layer before")
        self.kind = kind; self.name = name; self.inputShape = inputShape; self.inPlace = inPlace; self.fused = fused
        y = own
    }

    public func forward(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        checkInput(x, kind: kind.rawValue)
        if fused { y = x; return x }
        if inPlace { y = x } else { own.resize(x.shape) }
        let n = x.count, src = x.data, dst = y.data
        switch kind {
        case .relu: Kernels.split(n, over: ctx.pool) { i, m in Kernels.relu(m, src + i, into: dst + i) }
        case .relu6: for i in 0..<n { dst[i] = Swift.min(Swift.max(src[i], 0), 6) }
        case .sigmoid: for i in 0..<n { dst[i] = 1 / (1 + expf(-src[i])) }
        case .tanh: for i in 0..<n { dst[i] = tanhf(src[i]) }
        }
        return y
    }

    public func backward(_ gy: Tensor, _ ctx: ForwardContext) -> Tensor {
        if fused { return gy }
        gx.resize(gy.shape)
        let n = gy.count, g = gy.data, out = y.data, dst = gx.data
        switch kind {
        case .relu: Kernels.split(n, over: ctx.pool) { i, m in Kernels.reluMask(m, g + i, by: out + i, into: dst + i) }
        case .relu6: for i in 0..<n { dst[i] = out[i] > 0 && out[i] < 6 ? g[i] : 0 }
        case .sigmoid: for i in 0..<n { dst[i] = g[i] * out[i] * (1 - out[i]) }
        case .tanh: for i in 0..<n { dst[i] = g[i] * (1 - out[i] * out[i]) }
        }
        return gx
    }
}
