import TensorCore
import NN

/// Layers applied one after another, built darknet-style: each `add` constructs the next layer
/// on the current output shape (so a layer that cannot take it throws `ShapeError` at build
/// time, naming itself) and records which parameters that layer declared.
///
/// Backward runs the children in reverse; after each child that owns parameters it calls
/// `ctx.gradientsReady?(offset)` with the lowest flat-buffer offset that child owns. Parameters
/// are declared in forward order, so at that moment every gradient at offsets ≥ `offset` is
/// final: a gradient all-reduce can start on those buckets while backward continues. Nested
/// containers report too, so the offsets a step reports never increase but may repeat.
public final class Sequential: Layer {
    public let scope: ParameterScope
    public var name: String { scope.path }
    public let inputShape: [Int]
    public private(set) var outputShape: [Int]
    public private(set) var layers: [Layer] = []
    public var children: [Layer] { layers }
    /// The first parameter each child declared, nil for parameter-free children. Its offset
    /// (valid once the store is finalized) is the lowest offset the child owns.
    private var firstParameters: [Parameter?] = []
    private var store: ParameterStore { scope.store }

    /// A container at `scope`: its children's keys are `scope`'s (`nextScope` for nn.Sequential indices).
    public init(at scope: ParameterScope, inputShape: [Int]) {
        self.scope = scope; self.inputShape = inputShape; self.outputShape = inputShape
    }

    /// The scope of the next child by position, nn.Sequential's naming ("downsample.0", "3").
    public var nextScope: ParameterScope { scope.scope(layers.count) }

    /// Builds the next layer (the closure sees `outputShape` as its input shape) and appends it.
    @discardableResult
    public func add<L: Layer>(_ make: @autoclosure () throws -> L) throws -> L {
        let before = store.parameters.count
        let layer = try make()
        guard layer.inputShape == outputShape else {
            throw ShapeError("sequential '\(name)': layer '\(layer.name)' takes \(Shape.format(layer.inputShape)) but the previous output is \(Shape.format(outputShape))")
        }
        firstParameters.append(store.parameters.count > before ? store.parameters[before] : nil)
        layers.append(layer)
        outputShape = layer.outputShape
        return layer
    }

    /// The lowest parameter offset owned by this container, nil when it owns none.
    public var firstParameterOffset: Int? { firstParameters.lazy.compactMap { $0?.offset }.first }

    public func forward(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        var h = x
        for layer in layers { h = ctx.forward(layer, h) }
        return h
    }

    public func backward(_ gy: Tensor, _ ctx: ForwardContext) -> Tensor {
        var g = gy
        for i in layers.indices.reversed() {
            g = ctx.backward(layers[i], g)
            if let ready = ctx.gradientsReady, let first = firstParameters[i] { ready(first.offset) }
        }
        return g
    }
}
