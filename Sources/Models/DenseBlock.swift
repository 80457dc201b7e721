import TensorCore
import NN

/// One DenseNet-BC layer: BN-ReLU-Conv1x1(bnSize·k) - BN-ReLU-Conv3x3(k), whose k new channels
/// are appended to its input; torchvision's `denselayer<l>` with children `norm1`, `conv1`,
/// `norm2`, `conv2`. Driven by its `DenseBlock`.
public final class DenseLayer {
    public let name: String
    public let norm1: BatchNorm   // reads the first `inChannels` channels of the block buffer
    public let conv1: Conv2d      // (N, c, H, W) → (N, bnSize·k, H, W)
    /// BN-ReLU; a plain ReLU once BN folding has moved its statistics into `conv1`.
    public let norm2: Layer
    public let conv2: Conv2d      // → (N, k, H, W)
    public var inChannels: Int { norm1.channels }
    var layers: [Layer] { [norm1, conv1, norm2, conv2] }

    /// A layer of these parts (BN folding passes folded ones); each must take the previous one's output.
    public init(name: String, norm1: BatchNorm, conv1: Conv2d, norm2: Layer, conv2: Conv2d) throws {
        guard conv1.inputShape == norm1.outputShape, norm2.inputShape == conv1.outputShape,
              conv2.inputShape == norm2.outputShape else {
            throw ShapeError("dense layer '\(name)': its norm1, conv1, norm2 and conv2 do not chain")
        }
        self.name = name; self.norm1 = norm1; self.conv1 = conv1; self.norm2 = norm2; self.conv2 = conv2
    }

    /// torchvision's layer at `scope`; `features`: the BN-ReLU output buffer its block shares, if any.
    public convenience init(at scope: ParameterScope, inputShape: [Int], growth: Int, bnSize: Int, features: Tensor?) throws {
        let norm1 = try BatchNorm(at: scope.scope("norm1"), inputShape: inputShape, relu: true, sharedOutput: features)
        let conv1 = try Conv2d(at: scope.scope("conv1"), inputShape: inputShape, outChannels: bnSize * growth, kernel: 1,
                               bias: false)
        let norm2 = try BatchNorm(at: scope.scope("norm2"), inputShape: conv1.outputShape, relu: true)
        let conv2 = try Conv2d(at: scope.scope("conv2"), inputShape: norm2.outputShape, outChannels: growth, kernel: 3,
                               padding: 1, bias: false)
        try self.init(name: scope.path, norm1: norm1, conv1: conv1, norm2: norm2, conv2: conv2)
    }
}

/// A dense block with a shared (memory-efficient) concatenation buffer.
///
/// torch.cat would copy every layer's whole input into a fresh tensor (quadratic traffic in the
/// block depth). Here the block owns one (N, C₀ + L·k, H, W) buffer: the block input is copied
/// into its first C₀ channels once, and layer l reads the prefix of C₀ + l·k channels in place
/// (its fused BN-ReLU takes a strided channel prefix) and writes its k new channels after it.
/// Backward mirrors this with one block gradient buffer: layer l's input gradient is *added*
/// into the prefix, and by the time layer l runs backward, the gradient of its k output
/// channels is complete (only later layers read them).
///
/// The layers' first BN-ReLU outputs (N, c_l, H, W) — quadratic in depth if each were kept —
/// share one buffer too (Pleiss et al. 2017, "Memory-efficient implementation of DenseNets"):
/// before layer l's backward its norm1 recomputes its output from the block buffer with the
/// statistics of the forward (one cheap element-wise pass), and conv1, which kept a reference
/// to that buffer, finds its input as it was. `memoryEfficient: false` keeps one per layer.
///
/// After each layer's backward, `ctx.gradientsReady` gets the offset of its first parameter.
public final class DenseBlock: Layer {
    public let name: String
    public let inputShape: [Int]
    public let outputShape: [Int]
    public let growth: Int
    public let denseLayers: [DenseLayer]
    /// Whether the layers' first BN-ReLU outputs share one recomputed buffer (see above).
    public var memoryEfficient: Bool { features != nil }
    public var children: [Layer] { denseLayers.flatMap { $0.layers } }

    private let block = Tensor(shape: [0])    // (N, C₀ + L·k, H, W) input and every layer's output
    private let gBlock = Tensor(shape: [0])   // (N, C₀ + L·k, H, W) gradient of the above
    private let gNew = Tensor(shape: [0])     // (N, k, H, W) gradient of one layer's new channels
    private let gMid = Tensor(shape: [0])     // (N, bnSize·k, H, W) gradient at conv1's output, shared by all layers
    private let gx = Tensor(shape: [0])       // (N, C₀, H, W)
    private let features: Tensor?             // (N, c_l, H, W) BN-ReLU output of the current layer, shared
    /// The batch statistics of the block buffer's channels, computed by the first norm1 that reads
    /// each and taken by the later ones (the channels do not change during a forward; exact).
    private let statistics: BatchStatisticsCache

    /// A block of these layers (BN folding passes folded ones): layer l reads C₀ + l·k channels
    /// and adds k. `features`: the tensor the layers' norm1 were built to share as output, or nil.
    public init(name: String, inputShape: [Int], layers: [DenseLayer], features: Tensor?) throws {
        guard inputShape.count == 3, inputShape.allSatisfy({ $0 > 0 }) else {
            throw ShapeError("dense block '\(name)': expected input (C, H, W), got \(Shape.format(inputShape))")
        }
        guard let first = layers.first else { throw ShapeError("dense block '\(name)': needs at least one layer") }
        let k = first.conv2.outChannels, (c0, h, w) = (inputShape[0], inputShape[1], inputShape[2])
        for (l, layer) in layers.enumerated() where layer.norm1.inputShape != [c0 + l * k, h, w] || layer.conv2.outChannels != k {
            throw ShapeError("dense block '\(name)': layer '\(layer.name)' does not take \(c0 + l * k) channels and add \(k)")
        }
        self.name = name; self.inputShape = inputShape; self.growth = k
        denseLayers = layers; self.features = features
        outputShape = [c0 + layers.count * k, h, w]
        statistics = BatchStatisticsCache(channels: outputShape[0])
        for layer in layers { layer.norm1.statisticsCache = statistics }
    }

    /// torchvision's `_DenseBlock` at `scope`: `denselayer1` ... `denselayer<count>`.
    public convenience init(at scope: ParameterScope, inputShape: [Int], layers count: Int, growth: Int, bnSize: Int = 4,
                            memoryEfficient: Bool = true) throws {
        guard inputShape.count == 3, inputShape.allSatisfy({ $0 > 0 }) else {
            throw ShapeError("dense block '\(scope.path)': expected input (C, H, W), got \(Shape.format(inputShape))")
        }
        guard count >= 1, growth >= 1, bnSize >= 1 else {
            throw ShapeError("dense block '\(scope.path)': needs layers, growth and bn_size ≥ 1 (got \(count), \(growth), \(bnSize))")
        }
        let features = memoryEfficient ? Tensor(shape: [0]) : nil
        let layers = try (0..<count).map { l in
            try DenseLayer(at: scope.scope("denselayer\(l + 1)"), inputShape: [inputShape[0] + l * growth, inputShape[1], inputShape[2]],
                           growth: growth, bnSize: bnSize, features: features)
        }
        try self.init(name: scope.path, inputShape: inputShape, layers: layers, features: features)
    }

    public func forward(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        checkInput(x, kind: "dense block")
        let n = x.dim(0), c0 = inputShape[0]
        block.resize([n] + outputShape)
        features?.resize([n, denseLayers.last!.inChannels, inputShape[1], inputShape[2]])  // capacity for the widest
        Concat.copyChannels(from: x, channelOffset: 0, into: block, channelOffset: 0, count: c0)
        statistics.reset()
        for layer in denseLayers {
            let c = layer.inChannels
            var h = ctx.timed(layer.norm1, .forward) { layer.norm1.forward(prefixOf: block, ctx) }   // (N, c, H, W)
            h = ctx.forward(layer.conv1, h)                     // (N, bnSize·k, H, W)
            h = ctx.forward(layer.norm2, h)
            h = ctx.forward(layer.conv2, h)                     // (N, k, H, W)
            Concat.copyChannels(from: h, channelOffset: 0, into: block, channelOffset: c, count: growth)
        }
        return block
    }

    public func backward(_ gy: Tensor, _ ctx: ForwardContext) -> Tensor {
        precondition(gy.shape == block.shape, "dense block '\(name)': gradient \(Shape.format(gy.shape)) for output \(Shape.format(block.shape))")
        let n = gy.dim(0), c0 = inputShape[0]
        gBlock.copy(from: gy)
        gNew.resize([n, growth, inputShape[1], inputShape[2]])
        for layer in denseLayers.reversed() {
            let c = layer.inChannels
            Concat.copyChannels(from: gBlock, channelOffset: c, into: gNew, channelOffset: 0, count: growth)
            let g2 = ctx.backward(layer.conv2, gNew)   // (N, bnSize·k, H, W)
            let gm = backward(layer.norm2, g2, ctx)
            if memoryEfficient { ctx.timed(layer.norm1, .backward) { layer.norm1.recompute() } }   // conv1's input, back in the shared buffer
            let g1 = ctx.backward(layer.conv1, gm)   // (N, c, H, W)
            ctx.timed(layer.norm1, .backward) { layer.norm1.backward(g1, into: gBlock, accumulate: true, ctx) }
            ctx.gradientsReady?(layer.norm1.weight!.offset)
        }
        gx.resize([n] + inputShape)
        Concat.copyChannels(from: gBlock, channelOffset: 0, into: gx, channelOffset: 0, count: c0)
        return gx
    }

    /// A BN-ReLU writes into the block's one `gMid`; any other layer (a folded ReLU) into its own.
    private func backward(_ norm2: Layer, _ g2: Tensor, _ ctx: ForwardContext) -> Tensor {
        guard let bn = norm2 as? BatchNorm else { return ctx.backward(norm2, g2) }
        gMid.resize(g2.shape)
        ctx.timed(bn, .backward) { bn.backward(g2, into: gMid, accumulate: false, ctx) }
        return gMid
    }
}

/// DenseNet transition at `scope`, children `norm`, `conv`, `pool`: BN-ReLU-Conv1x1(out)-AvgPool 2x2/2.
public func makeTransition(at scope: ParameterScope, inputShape: [Int], outChannels: Int) throws -> Sequential {
    let t = Sequential(at: scope, inputShape: inputShape)
    try t.add(BatchNorm(at: scope.scope("norm"), inputShape: t.outputShape, relu: true))
    try t.add(Conv2d(at: scope.scope("conv"), inputShape: t.outputShape, outChannels: outChannels, kernel: 1, bias: false))
    try t.add(AvgPool2d(name: scope.key("pool"), inputShape: t.outputShape, kernel: 2, stride: 2))
    return t
}
