import TensorCore
import NN

/// Folds every BatchNorm that directly follows a convolution into that convolution, for
/// inference (`trainer fold-bn`).
///
/// In eval mode BN is an affine map per channel, y = (x − μ)·s + β with s = γ/√(σ² + ε), so
/// conv → BN equals one conv with weight W·s (per output channel) and bias β + (b − μ)·s.
/// "Directly follows" is structural: the BN is the next layer after the conv in the same
/// container and reads exactly the conv's output —
///   - ResNet: `conv1`→`bn1` of the stem, every block's `convK`→`bnK` and `downsample.0`→`.1`;
///   - layer lists: `conv`→`batchnorm` (2d) pairs;
///   - DenseNet: each dense layer's `conv1`→`norm2` (and the ImageNet stem `conv0`→`norm0`);
///     `norm1` and transition norms come *before* their conv (pre-activation) and read a
///     concatenation, so they stay.
/// A fused BN-ReLU becomes a plain ReLU. The folded model has new keys: each folded conv gains
/// `<conv>.bias` and the folded BN's keys disappear, so it is a different state_dict; it is
/// built from the unfolded model by `fold(_:)`, which is deterministic in the architecture —
/// a checkpoint of a folded model (root attribute `folded_bn = 1`) loads by building the
/// config's model, folding it, and loading strictly by key.
///
/// The folded network is for inference only: its rebuilt residual and dense blocks have no
/// backward.
public enum BatchNormFolding {
    /// One conv → BN pair that was folded, by layer name.
    public struct Pair: Sendable, Equatable {
        public let conv: String
        public let norm: String
    }

    /// The folded model (weights computed in double from `model`'s current state) and the pairs
    /// folded, in forward order. `model` is not changed.
    public static func fold(_ model: Model) throws -> (model: Model, pairs: [Pair]) {
        let store = ParameterStore()
        var folds: [Fold] = []
        guard let net = try rebuild(model.network, store: store, folds: &folds) as? Sequential else {
            preconditionFailure("BatchNormFolding: the rebuilt root is not a Sequential")
        }
        let folded = try Model(name: model.name, network: net, store: store, seed: 0)
        copyState(from: model, to: folded, folds: folds)
        return (folded, folds.map { Pair(conv: $0.conv.name, norm: $0.normName) })
    }

    // MARK: Structure

    /// A conv that absorbs the BN after it: the original conv and BN statistics, the new conv.
    struct Fold {
        let conv: Conv2d
        let normName: String
        let gamma: Parameter?, beta: Parameter?
        let mean: StateBuffer, variance: StateBuffer
        let eps: Float
        let folded: Conv2d
    }

    /// Rebuilds `layer` into `store`, folding conv → BN pairs it contains.
    static func rebuild(_ layer: Layer, store: ParameterStore, folds: inout [Fold]) throws -> Layer {
        switch layer {
        case let s as Sequential:
            return try rebuildSequential(s, store: store, folds: &folds)
        case let block as ResidualBlock:
            guard let branch = try rebuild(block.branch, store: store, folds: &folds) as? Sequential else {
                preconditionFailure("BatchNormFolding: residual branch '\(block.name)' did not rebuild to a Sequential")
            }
            let shortcut = try block.shortcut.map { s -> Sequential in
                guard let r = try rebuild(s, store: store, folds: &folds) as? Sequential else {
                    preconditionFailure("BatchNormFolding: shortcut '\(s.name)' did not rebuild to a Sequential")
                }
                return r
            }
            return InferenceResidualBlock(name: block.name, inputShape: block.inputShape, branch: branch, shortcut: shortcut)
        case let block as DenseBlock:
            return try FoldedDenseBlock(block, store: store, folds: &folds)
        default:
            return try copyLeaf(layer, store: store)
        }
    }

    private static func rebuildSequential(_ s: Sequential, store: ParameterStore, folds: inout [Fold]) throws -> Sequential {
        let out = Sequential(name: s.name, inputShape: s.inputShape, store: store)
        var i = 0
        while i < s.layers.count {
            let layer = s.layers[i]
            if let conv = layer as? Conv2d, i + 1 < s.layers.count,
               let fold = try foldPair(conv, s.layers[i + 1], store: store, into: out) {
                folds.append(fold)
                i += 2
                continue
            }
            try append(try rebuild(layer, store: store, folds: &folds), to: out)
            i += 1
        }
        return out
    }

    /// `Sequential.add` for an existential layer (opened into the generic parameter).
    private static func append<L: Layer>(_ layer: L, to s: Sequential) throws { try s.add(layer) }

    /// When `next` is a BN over `conv`'s output, adds the folded conv (and a ReLU for a fused
    /// BN-ReLU) to `out` and returns the fold; nil otherwise.
    static func foldPair(_ conv: Conv2d, _ next: Layer, store: ParameterStore, into out: Sequential) throws -> Fold? {
        let gamma: Parameter?, beta: Parameter?, mean: StateBuffer, variance: StateBuffer, eps: Float, relu: Bool
        switch next {
        case let bn as BatchNorm where bn.inputShape.count == 3:
            (gamma, beta, mean, variance, eps, relu) = (bn.weight, bn.bias, bn.runningMean, bn.runningVar, bn.eps, bn.relu)
        default:
            return nil
        }
        guard next.inputShape == conv.outputShape else { return nil }
        let folded = try out.add(Conv2d(name: conv.name, inputShape: conv.inputShape, outChannels: conv.outChannels,
                                        kernel: conv.kernel, stride: conv.stride, padding: conv.padding,
                                        groups: conv.groups, bias: true, store: store))
        if relu { try out.add(Activation(.relu, name: next.name, inputShape: folded.outputShape)) }
        return Fold(conv: conv, normName: next.name, gamma: gamma, beta: beta, mean: mean, variance: variance,
                    eps: eps, folded: folded)
    }

    /// A fresh copy of a leaf layer (same configuration, parameters declared in `store`).
    static func copyLeaf(_ layer: Layer, store: ParameterStore) throws -> Layer {
        switch layer {
        case let l as Conv2d:
            return try Conv2d(name: l.name, inputShape: l.inputShape, outChannels: l.outChannels, kernel: l.kernel,
                              stride: l.stride, padding: l.padding, groups: l.groups, bias: l.bias != nil, store: store)
        case let l as BatchNorm:
            return try BatchNorm(name: l.name, inputShape: l.inputShape, affine: l.weight != nil, relu: l.relu,
                                 momentum: l.momentum, eps: l.eps, store: store)
        case let l as Linear:
            return try Linear(name: l.name, inputShape: l.inputShape, outFeatures: l.outFeatures, bias: l.bias != nil,
                              store: store)
        case let l as Activation:
            return Activation(l.kind, name: l.name, inputShape: l.inputShape, inPlace: l.inPlace)
        case let l as MaxPool2d:
            return try MaxPool2d(name: l.name, inputShape: l.inputShape, kernel: l.kernel, stride: l.stride, padding: l.padding)
        case let l as AvgPool2d:
            return try AvgPool2d(name: l.name, inputShape: l.inputShape, kernel: l.kernel, stride: l.stride,
                                 padding: l.padding, countIncludePad: l.countIncludePad)
        case let l as AdaptiveAvgPool2d:
            return try AdaptiveAvgPool2d(name: l.name, inputShape: l.inputShape, outputSize: l.outputSize)
        case let l as Flatten:
            return Flatten(name: l.name, inputShape: l.inputShape)
        case let l as Dropout:
            return try Dropout(name: l.name, inputShape: l.inputShape, p: l.p)
        default:
            throw ModelError("fold-bn: layer '\(layer.name)' of type \(type(of: layer)) cannot be rebuilt")
        }
    }

    // MARK: Values

    /// Copies every unfolded entry by key and computes the folded convs in double.
    static func copyState(from source: Model, to folded: Model, folds: [Fold]) {
        let index = source.stateIndex
        let computed = Set(folds.flatMap { f in [f.folded.weight.name, f.folded.bias!.name] })
        for (key, entry) in folded.stateEntries where !computed.contains(key) {
            guard let from = index[key] else { preconditionFailure("BatchNormFolding: '\(key)' has no source entry") }
            switch (entry, from) {
            case let (.counter(c), .counter(s)): c.value = s.value
            default:
                let dst = entry.floats!, src = from.floats!
                precondition(dst.count == src.count, "BatchNormFolding: '\(key)' has \(src.count) values, rebuilt \(dst.count)")
                dst.baseAddress!.update(from: src.baseAddress!, count: dst.count)
            }
        }
        for f in folds {
            let out = f.conv.outChannels, per = f.conv.weight.count / out
            let w = f.conv.weight.value!, b = f.conv.bias?.value
            let fw = f.folded.weight.value!, fb = f.folded.bias!.value!
            for o in 0..<out {
                let gamma = f.gamma.map { Double($0.value[o]) } ?? 1
                let beta = f.beta.map { Double($0.value[o]) } ?? 0
                let scale = gamma / (Double(f.variance.value[o]) + Double(f.eps)).squareRoot()
                for j in 0..<per { fw[o * per + j] = Float(Double(w[o * per + j]) * scale) }
                fb[o] = Float(beta + (Double(b?[o] ?? 0) - Double(f.mean.value[o])) * scale)
            }
        }
    }
}

/// y = relu(branch(x) + shortcut(x)) for inference: the rebuilt form of a `ResidualBlock`
/// whose branch and shortcut had their BNs folded.
public final class InferenceResidualBlock: Layer {
    public let name: String
    public let inputShape: [Int]
    public var outputShape: [Int] { branch.outputShape }
    public let branch: Sequential
    public let shortcut: Sequential?
    public var children: [Layer] { shortcut.map { [branch, $0] } ?? [branch] }
    private let y = Tensor(shape: [0])   // (N, C', H', W')

    init(name: String, inputShape: [Int], branch: Sequential, shortcut: Sequential?) {
        self.name = name; self.inputShape = inputShape; self.branch = branch; self.shortcut = shortcut
    }

    public func forward(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        checkInput(x, kind: "residual block")
        let b = branch.forward(x, ctx)            // (N, C', H', W')
        let s = shortcut?.forward(x, ctx) ?? x    // (N, C', H', W')
        y.resize(b.shape)
        let pb = b.data, ps = s.data, py = y.data
        Kernels.addReLU(y.count, pb, ps, into: py)
        return y
    }

    public func backward(_ gy: Tensor, _ ctx: ForwardContext) -> Tensor {
        preconditionFailure("residual block '\(name)': a BN-folded model is for inference only (no backward)")
    }
}

/// A `DenseBlock` whose layers' `conv1` absorbed `norm2`: per layer
/// BN-ReLU(norm1, on the channel prefix) → conv1 (with bias) → ReLU → conv2, outputs appended
/// to one concatenation buffer as in `DenseBlock`. Inference only.
public final class FoldedDenseBlock: Layer {
    public let name: String
    public let inputShape: [Int]
    public let outputShape: [Int]
    public let growth: Int
    let units: [(norm1: BatchNorm, conv1: Conv2d, relu: Activation, conv2: Conv2d)]
    public var children: [Layer] { units.flatMap { [$0.norm1, $0.conv1, $0.relu, $0.conv2] as [Layer] } }
    private let block = Tensor(shape: [0])   // (N, C₀ + L·k, H, W)

    init(_ source: DenseBlock, store: ParameterStore, folds: inout [BatchNormFolding.Fold]) throws {
        name = source.name; inputShape = source.inputShape; outputShape = source.outputShape; growth = source.growth
        var units: [(BatchNorm, Conv2d, Activation, Conv2d)] = []
        for l in source.denseLayers {
            let norm1 = try BatchNormFolding.copyLeaf(l.norm1, store: store) as! BatchNorm
            let scratch = Sequential(name: l.name, inputShape: l.conv1.inputShape, store: store)
            guard let fold = try BatchNormFolding.foldPair(l.conv1, l.norm2, store: store, into: scratch),
                  let relu = scratch.layers.last as? Activation else {
                throw ModelError("fold-bn: dense layer '\(l.name)': norm2 does not fold into conv1")
            }
            folds.append(fold)
            let conv2 = try BatchNormFolding.copyLeaf(l.conv2, store: store) as! Conv2d
            units.append((norm1, fold.folded, relu, conv2))
        }
        self.units = units
    }

    public func forward(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        checkInput(x, kind: "dense block")
        let n = x.dim(0), c0 = inputShape[0]
        block.resize([n] + outputShape)
        Concat.copyChannels(from: x, channelOffset: 0, into: block, channelOffset: 0, count: c0)
        for u in units {
            let c = u.norm1.channels
            var h = u.norm1.forward(prefixOf: block, ctx)   // (N, c, H, W)
            h = u.conv1.forward(h, ctx)                     // (N, bnSize·k, H, W)
            h = u.relu.forward(h, ctx)
            h = u.conv2.forward(h, ctx)                     // (N, k, H, W)
            Concat.copyChannels(from: h, channelOffset: 0, into: block, channelOffset: c, count: growth)
        }
        return block
    }

    public func backward(_ gy: Tensor, _ ctx: ForwardContext) -> Tensor {
        preconditionFailure("dense block '\(name)': a BN-folded model is for inference only (no backward)")
    }
}
