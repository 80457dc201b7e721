import TensorCore
import NN

/// torchvision's BasicBlock and Bottleneck: y = relu(branch(x) + shortcut(x)).
///
/// - basic:      conv1 3x3/s – bn1+relu – conv2 3x3 – bn2                    (expansion 1)
/// - bottleneck: conv1 1x1 – bn1+relu – conv2 3x3/s – bn2+relu – conv3 1x1 – bn3 (expansion 4)
///
/// The shortcut is the identity, or where the shape changes (stride ≠ 1 or channels ≠
/// planes·expansion) a projection `downsample.0` (1x1 conv, stride s, no bias) +
/// `downsample.1` (BN) — torchvision's option B. All convs are bias-free. State keys:
/// `<name>.conv1.weight`, `<name>.bn1.running_mean`, ..., `<name>.downsample.0.weight`.
public final class ResidualBlock: Layer {
    public enum Kind: String, Sendable, CaseIterable {
        case basic, bottleneck
        /// Output channels per `planes`.
        public var expansion: Int { self == .basic ? 1 : 4 }
    }

    public let name: String
    public let kind: Kind
    public let inputShape: [Int]
    public let outputShape: [Int]
    public let branch: Sequential
    /// nil: identity shortcut.
    public let shortcut: Sequential?
    public var children: [Layer] { shortcut.map { [branch, $0] } ?? [branch] }

    private let y = Tensor(shape: [0])      // (N, C', H', W') relu(branch + shortcut)
    private let gSum = Tensor(shape: [0])   // (N, C', H', W') gradient at the sum (ReLU-masked)
    private let gx = Tensor(shape: [0])     // (N, C, H, W)

    public init(name: String, kind: Kind, inputShape: [Int], planes: Int, stride: Int = 1,
                store: ParameterStore) throws {
        guard inputShape.count == 3 else {
            throw ShapeError("\(kind) block '\(name)': expected input (C, H, W), got \(Shape.format(inputShape))")
        }
        self.name = name; self.kind = kind; self.inputShape = inputShape
        let out = planes * kind.expansion
        let b = Sequential(name: name, inputShape: inputShape, store: store)
        switch kind {
        case .basic:
            try b.add(Conv2d(name: "\(name).conv1", inputShape: b.outputShape, outChannels: planes, kernel: 3,
                             stride: stride, padding: 1, bias: false, store: store))
            try b.add(BatchNorm(name: "\(name).bn1", inputShape: b.outputShape, relu: true, store: store))
            try b.add(Conv2d(name: "\(name).conv2", inputShape: b.outputShape, outChannels: planes, kernel: 3,
                             stride: 1, padding: 1, bias: false, store: store))
            try b.add(BatchNorm(name: "\(name).bn2", inputShape: b.outputShape, store: store))
        case .bottleneck:
            try b.add(Conv2d(name: "\(name).conv1", inputShape: b.outputShape, outChannels: planes, kernel: 1,
                             bias: false, store: store))
            try b.add(BatchNorm(name: "\(name).bn1", inputShape: b.outputShape, relu: true, store: store))
            try b.add(Conv2d(name: "\(name).conv2", inputShape: b.outputShape, outChannels: planes, kernel: 3,
                             stride: stride, padding: 1, bias: false, store: store))
            try b.add(BatchNorm(name: "\(name).bn2", inputShape: b.outputShape, relu: true, store: store))
            try b.add(Conv2d(name: "\(name).conv3", inputShape: b.outputShape, outChannels: out, kernel: 1,
                             bias: false, store: store))
            try b.add(BatchNorm(name: "\(name).bn3", inputShape: b.outputShape, store: store))
        }
        branch = b
        if stride != 1 || inputShape[0] != out {
            let s = Sequential(name: "\(name).downsample", inputShape: inputShape, store: store)
            try s.add(Conv2d(name: "\(name).downsample.0", inputShape: inputShape, outChannels: out, kernel: 1,
                             stride: stride, bias: false, store: store))
            try s.add(BatchNorm(name: "\(name).downsample.1", inputShape: s.outputShape, store: store))
            guard s.outputShape == b.outputShape else {
                throw ShapeError("\(kind) block '\(name)': shortcut gives \(Shape.format(s.outputShape)) but the branch \(Shape.format(b.outputShape))")
            }
            shortcut = s
        } else {
            shortcut = nil
        }
        outputShape = b.outputShape
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
