import ModelNames
import NN
import TensorCore

/// torchvision's BasicBlock and Bottleneck: y = relu(branch(x) + shortcut(x)).
///
/// - basic:      conv1 3x3/s – bn1+relu – conv2 3x3 – bn2                    (expansion 1)
/// - bottleneck: conv1 1x1 – bn1+relu – conv2 3x3/s – bn2+relu – conv3 1x1 – bn3 (expansion 4)
///
/// The shortcut is the identity, or where the shape changes (stride ≠ 1 or channels ≠
/// planes·expansion) a projection `downsample.0` (1x1 conv, stride s, no bias) +
/// `downsample.1` (BN) — torchvision's option B. All convs are bias-free. The block's scope
/// names its children (`conv1`, `bn1`, ..., `downsample.0`), so their keys are
/// `layer1.0.conv1.weight`, .... BN folding builds the same block from folded branches.
public final class ResidualBlock: Layer {
    public typealias Kind = ResidualBlockKind

    public let kind: Kind
    public let branch: Sequential
    /// nil: identity shortcut.
    public let shortcut: Sequential?
    public var name: String { branch.name }
    public var inputShape: [Int] { branch.inputShape }
    public var outputShape: [Int] { branch.outputShape }
    public var children: [Layer] { shortcut.map { [branch, $0] } ?? [branch] }

    private let y = Tensor(shape: [0])      // (N, C', H', W') relu(branch + shortcut)
    private let gSum = Tensor(shape: [0])   // (N, C', H', W') gradient at the sum (ReLU-masked)
    private let gx = Tensor(shape: [0])     // (N, C, H, W)

    /// A block of these layers; the shortcut (identity when nil) must map the branch's input to its output shape.
    public init(kind: Kind, branch: Sequential, shortcut: Sequential?) throws {
        let gives = shortcut.map { ($0.inputShape, $0.outputShape) } ?? (branch.inputShape, branch.inputShape)
        guard gives == (branch.inputShape, branch.outputShape) else {
            throw ShapeError("\(kind) block '\(branch.name)': shortcut maps \(Shape.format(gives.0)) to \(Shape.format(gives.1)) but the branch \(Shape.format(branch.inputShape)) to \(Shape.format(branch.outputShape))")
        }
        self.kind = kind; self.branch = branch; self.shortcut = shortcut
    }

    /// torchvision's block at `scope`, stride `stride` in its first 3x3 (basic) or its 3x3 (bottleneck).
    public convenience init(at scope: ParameterScope, kind: Kind, inputShape: [Int], planes: Int, stride: Int = 1) throws {
        guard inputShape.count == 3 else {
            throw ShapeError("\(kind) block '\(scope.path)': expected input (C, H, W), got \(Shape.format(inputShape))")
        }
        let out = planes * kind.expansion
        let branch = try Self.branch(at: scope, kind: kind, inputShape: inputShape, planes: planes, stride: stride)
        var shortcut: Sequential?
        if stride != 1 || inputShape[0] != out {
            let s = Sequential(at: scope.scope("downsample"), inputShape: inputShape)
            try s.add(Conv2d(at: s.nextScope, inputShape: inputShape, outChannels: out, kernel: 1, stride: stride, bias: false))
            try s.add(BatchNorm(at: s.nextScope, inputShape: s.outputShape))
            shortcut = s
        }
        try self.init(kind: kind, branch: branch, shortcut: shortcut)
    }

    private static func branch(at scope: ParameterScope, kind: Kind, inputShape: [Int], planes: Int, stride: Int) throws -> Sequential {
        let b = Sequential(at: scope, inputShape: inputShape)
        func conv(_ name: String, _ out: Int, kernel: Int, stride: Int = 1) throws {
            try b.add(Conv2d(at: scope.scope(name), inputShape: b.outputShape, outChannels: out, kernel: kernel,
                             stride: stride, padding: kernel / 2, bias: false))
        }
        func norm(_ name: String, relu: Bool) throws {
            try b.add(BatchNorm(at: scope.scope(name), inputShape: b.outputShape, relu: relu))
        }
        switch kind {
        case .basic:
            try conv("conv1", planes, kernel: 3, stride: stride); try norm("bn1", relu: true)
            try conv("conv2", planes, kernel: 3); try norm("bn2", relu: false)
        case .bottleneck:
            try conv("conv1", planes, kernel: 1); try norm("bn1", relu: true)
            try conv("conv2", planes, kernel: 3, stride: stride); try norm("bn2", relu: true)
            try conv("conv3", planes * kind.expansion, kernel: 1); try norm("bn3", relu: false)
        }
        return b
    }

    public func forward(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        checkInput(x, kind: "\(kind) block")
        let b = ctx.forward(branch, x)             // (N, C', H', W')
        let s = shortcut.map { ctx.forward($0, x) } ?? x     // (N, C', H', W')
        y.resize(b.shape)
        let (pb, ps, py) = (b.data, s.data, y.data)
        Kernels.split(y.count, over: ctx.pool) { i, m in Kernels.addReLU(m, pb + i, ps + i, into: py + i) }
        return y
    }

    /// The shortcut goes first: its parameters were declared last (highest offsets), so the
    /// gradient-ready offsets the branch then reports stay truthful.
    public func backward(_ gy: Tensor, _ ctx: ForwardContext) -> Tensor {
        gSum.resize(gy.shape)
        let (pg, py, pm) = (gy.data, y.data, gSum.data)
        Kernels.split(gy.count, over: ctx.pool) { i, m in Kernels.reluMask(m, pg + i, by: py + i, into: pm + i) }
        let gShort = shortcut.map { ctx.backward($0, gSum) } ?? gSum   // (N, C, H, W)
        let gBranch = ctx.backward(branch, gSum)             // (N, C, H, W)
        gx.resize(gBranch.shape)
        let (pa, pb, po) = (gBranch.data, gShort.data, gx.data)
        Kernels.split(gx.count, over: ctx.pool) { i, m in Kernels.add(m, pa + i, pb + i, into: po + i) }
        return gx
    }
}
