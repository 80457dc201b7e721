import TensorCore
import NN

/// A built network with its state: one `ParameterStore` (flat parameters, gradients, buffers,
/// keyed by PyTorch state_dict names) and the layer tree, for a fixed per-sample input shape.
///
/// Initialisation is PyTorch's nn default per layer type, as the reference models use it (no
/// custom init): Conv2d and Linear weight and bias U(−1/√fan_in, 1/√fan_in) (kaiming_uniform
/// with a = √5), BatchNorm weight 1, bias 0, running_mean 0, running_var 1 — drawn from
/// Philox streams keyed by (seed, tensor index), so every rank builds the same model.
public final class Model {
    /// Preset or family name ("resnet20", "layers", ...), for summaries and logs.
    public let name: String
    public let store: ParameterStore
    public let network: Sequential
    /// Per-sample input (C, H, W) (or (F) for a feature-vector layer list).
    public let inputShape: [Int]
    public let numClasses: Int

    /// Finalises `store` with `seed` (if not yet finalised) and checks that the network ends in
    /// class scores (K). The first conv, when no parameter precedes it, skips its input gradient.
    public init(name: String, network: Sequential, store: ParameterStore, seed: UInt64) throws {
        guard network.outputShape.count == 1, network.outputShape[0] >= 1 else {
            throw ShapeError("model '\(name)': the network must end in class scores (K), got \(Shape.format(network.outputShape))")
        }
        self.name = name; self.network = network; self.store = store
        inputShape = network.inputShape; numClasses = network.outputShape[0]
        if !store.isFinalized { store.finalize(seed: seed) }
        if let conv = leaves.first(where: { $0 is Conv2d }) as? Conv2d, conv.weight.offset == 0 {
            conv.propagatesInputGradient = false
        }
    }

    /// Logits (N, numClasses) for a batch x (N, inputShape...). The tensor is owned by the last
    /// layer and overwritten by the next forward.
    public func forward(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        network.forward(x, ctx)
    }

    /// Adds ∂L/∂parameters into `store.grads` (the caller zeroes them per step) given
    /// gLogits = ∂L/∂logits (N, numClasses); reports ready gradient buckets via ctx.gradientsReady.
    public func backward(_ gLogits: Tensor, _ ctx: ForwardContext) {
        _ = network.backward(gLogits, ctx)
    }

    /// Every leaf layer in forward order (containers expanded).
    public var leaves: [Layer] {
        var out: [Layer] = []
        func walk(_ l: Layer) { if l.children.isEmpty { out.append(l) } else { l.children.forEach(walk) } }
        walk(network)
        return out
    }

    public var summary: ModelSummary { ModelSummary(model: self) }

    /// Sets every convolution's algorithm (`model.conv_algorithm`); each layer re-plans.
    public func setConvAlgorithm(_ algorithm: ConvAlgorithm) {
        for case let conv as Conv2d in leaves { conv.algorithm = algorithm }
    }
}
