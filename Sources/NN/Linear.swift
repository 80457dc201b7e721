import TensorCore

/// Fully connected layer y = x·Wᵀ + b (PyTorch nn.Linear), one GEMM each way.
public final class Linear: Layer {
    public let name: String
    public let inputShape: [Int]
    public var outputShape: [Int] { [outFeatures] }
    public let inFeatures: Int
    public let outFeatures: Int
    public let weight: Parameter      // (out, in)
    public let bias: Parameter?       // (out)
    /// False for a model's first layer: skips computing ∂L/∂x nobody reads (backward then
    /// returns a tensor of the right shape with unspecified contents).
    public var propagatesInputGradient = true
    public var macsPerSample: Int { inFeatures * outFeatures }
    private let y = Tensor(shape: [0])    // (N, out)
    private let gx = Tensor(shape: [0])   // (N, in)
    private var input: Tensor?            // (N, in) of the last forward

    public init(at scope: ParameterScope, inputShape: [Int], outFeatures: Int, bias: Bool = true) throws {
        let name = scope.path
        let label = name.isEmpty ? "linear" : "linear '\(name)'"
        guard inputShape.count == 1, inputShape[0] > 0 else {
            throw ShapeError("\(label): expected input (F), got \(Shape.format(inputShape))\(inputShape.count > 1 ? " (flatten first)" : "")")
        }
        guard outFeatures > 0 else { throw ShapeError("\(label): out features must be positive, got \(outFeatures)") }
        self.name = name; self.inputShape = inputShape
        inFeatures = inputShape[0]; self.outFeatures = outFeatures
        let bound = 1 / Float(inFeatures).squareRoot()
        weight = scope.declare("weight", shape: [outFeatures, inFeatures], initializer: .uniform(bound: bound))
        self.bias = bias ? scope.declare("bias", shape: [outFeatures], initializer: .uniform(bound: bound)) : nil
    }

    public func forward(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        checkInput(x, kind: "linear")
        input = x
        let n = x.dim(0)
        y.resize([n, outFeatures])
        // y (N, out) = x (N, in) · Wᵀ (in, out)
        BLAS.sgemm(transB: true, m: n, n: outFeatures, k: inFeatures,
                   a: x.data, lda: inFeatures, b: weight.value, ldb: inFeatures, c: y.data, ldc: outFeatures)
        if let bias { Kernels.addBias(bias.value, channels: outFeatures, spatial: 1, to: y) }
        return y
    }

    public func backward(_ gy: Tensor, _ ctx: ForwardContext) -> Tensor {
        guard let x = input else { preconditionFailure("linear '\(name)': backward before forward") }
        let n = x.dim(0)
        precondition(gy.shape == [n, outFeatures], "linear '\(name)': gradient \(Shape.format(gy.shape)) does not match output (\(n), \(outFeatures))")
        // gW (out, in) += gyᵀ (out, N) · x (N, in)
        BLAS.sgemm(transA: true, m: outFeatures, n: inFeatures, k: n,
                   a: gy.data, lda: outFeatures, b: x.data, ldb: inFeatures, beta: 1, c: weight.grad, ldc: inFeatures)
        if let bias { Kernels.addChannelSums(of: gy, channels: outFeatures, spatial: 1, into: bias.grad) }
        gx.resize([n, inFeatures])
        if propagatesInputGradient {
            // gx (N, in) = gy (N, out) · W (out, in)
            BLAS.sgemm(m: n, n: inFeatures, k: outFeatures,
                       a: gy.data, lda: outFeatures, b: weight.value, ldb: inFeatures, c: gx.data, ldc: inFeatures)
        }
        return gx
    }
}
