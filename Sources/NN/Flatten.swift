import TensorCore

/// Flattens each sample to one feature vector, (N, C, H, W) → (N, C·H·W), as nn.Flatten().
/// Copies rather than reshaping the input in place: the input belongs to the previous layer.
public final class Flatten: Layer {
    public let name: String
    public let inputShape: [Int]
    public var outputShape: [Int] { [inputShape.reduce(1, *)] }
    private let y = Tensor(shape: [0])    // (N, C·H·W)
    private let gx = Tensor(shape: [0])   // (N, C, H, W)

    public init(name: String = "", inputShape: [Int]) {
        self.name = name; self.inputShape = inputShape
    }

    public func forward(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        checkInput(x, kind: "flatten")
        y.resize([x.dim(0)] + outputShape)
        y.data.update(from: x.data, count: x.count)
        return y
    }

    public func backward(_ gy: Tensor, _ ctx: ForwardContext) -> Tensor {
        precondition(gy.shape == y.shape, "flatten: gradient \(Shape.format(gy.shape)) does not match output \(Shape.format(y.shape))")
        gx.resize([gy.dim(0)] + inputShape)
        gx.data.update(from: gy.data, count: gy.count)
        return gx
    }
}
