import TensorCore
import NN

/// Darknet-style builder for a plain list of layers (config `model.name: layers`), equivalent
/// to a PyTorch `nn.Sequential`: every call appends one layer built on the current output
/// shape and throws `ShapeError` naming that layer when it cannot take it. Each layer sits at
/// the list's next index scope ("0", "1", ...), so state keys are nn.Sequential's ("0.weight", "3.bias").
///
///     let b = try LayerListBuilder(inputShape: [3, 32, 32])
///     try b.conv(out: 16, kernel: 3, padding: 1); try b.batchnorm(); try b.activation(.relu)
///     try b.adaptiveAvgPool(1, 1); try b.flatten(); try b.linear(out: 10)
///     let model = try b.build(seed: 1)
public final class LayerListBuilder {
    public let inputShape: [Int]
    public let store = ParameterStore()
    public let network: Sequential
    /// Shape (per sample) after the layers added so far.
    public var outputShape: [Int] { network.outputShape }
    private var next: ParameterScope { network.nextScope }

    public init(inputShape: [Int]) throws {
        guard inputShape.count == 3 || inputShape.count == 1, inputShape.allSatisfy({ $0 > 0 }) else {
            throw ShapeError("layers: input must be (C, H, W) or (F) with positive sizes, got \(Shape.format(inputShape))")
        }
        self.inputShape = inputShape
        network = Sequential(at: store.root, inputShape: inputShape)
    }

    public func conv(out: Int, kernel: Int, stride: Int = 1, padding: Int = 0, groups: Int = 1, bias: Bool = true) throws {
        try network.add(Conv2d(at: next, inputShape: outputShape, outChannels: out, kernel: kernel, stride: stride,
                               padding: padding, groups: groups, bias: bias))
    }

    /// BatchNorm2d after (C, H, W), BatchNorm1d after (F).
    public func batchnorm(momentum: Float = 0.1, eps: Float = 1e-5) throws {
        try network.add(BatchNorm(at: next, inputShape: outputShape, momentum: momentum, eps: eps))
    }

    /// A ReLU after a conv runs inside it (`Conv2d.fuseReLU`); other activations after a conv or
    /// linear work in place (those layers do not read their output in backward).
    public func activation(_ kind: Activation.Kind) throws {
        if kind == .relu, let conv = network.layers.last as? Conv2d {
            conv.fuseReLU()
            try network.add(Activation(kind, name: next.path, inputShape: outputShape, fused: true))
            return
        }
        let inPlace = network.layers.last is Conv2d || network.layers.last is Linear
        try network.add(Activation(kind, name: next.path, inputShape: outputShape, inPlace: inPlace))
    }

    /// stride defaults to the kernel size (PyTorch's rule).
    public func maxpool(kernel: Int, stride: Int? = nil, padding: Int = 0) throws {
        try network.add(MaxPool2d(name: next.path, inputShape: outputShape, kernel: kernel, stride: stride ?? kernel,
                                  padding: padding))
    }

    public func avgpool(kernel: Int, stride: Int? = nil, padding: Int = 0, countIncludePad: Bool = true) throws {
        try network.add(AvgPool2d(name: next.path, inputShape: outputShape, kernel: kernel, stride: stride ?? kernel,
                                  padding: padding, countIncludePad: countIncludePad))
    }

    public func adaptiveAvgPool(_ height: Int, _ width: Int) throws {
        try network.add(AdaptiveAvgPool2d(name: next.path, inputShape: outputShape, outputSize: (height, width)))
    }

    public func dropout(p: Float) throws {
        try network.add(Dropout(name: next.path, inputShape: outputShape, p: p))
    }

    public func flatten() throws {
        try network.add(Flatten(name: next.path, inputShape: outputShape))
    }

    public func linear(out: Int, bias: Bool = true) throws {
        try network.add(Linear(at: next, inputShape: outputShape, outFeatures: out, bias: bias))
    }

    /// Shapes, parameters and MACs of the list as it stands, whatever its output (no class
    /// scores needed: a block such as MobileNetV2's inverted residual is summarised too).
    public func summary(name: String = "layers", seed: UInt64 = 0) -> ModelSummary {
        if !store.isFinalized { store.finalize(seed: seed) }
        return ModelSummary(name: name, network: network, store: store)
    }

    /// Finalises the parameters with `seed`. The list must end in class scores (K); when
    /// `numClasses` is given, K must equal it.
    public func build(seed: UInt64 = 0, numClasses: Int? = nil, name: String = "layers") throws -> Model {
        guard !network.layers.isEmpty else { throw ShapeError("layers: the layer list is empty") }
        if let k = numClasses, outputShape != [k] {
            throw ClassCountError("layers: the last layer '\(network.layers.last!.name)' gives \(Shape.format(outputShape)), expected num_classes (\(k))")
        }
        return try Model(name: name, network: network, store: store, seed: seed)
    }
}

/// A layer list whose output is not the class count asked for: callers that chose the count
/// themselves (from a dataset's labels) say where it came from.
public struct ClassCountError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
