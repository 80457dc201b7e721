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
/// The folded network is made of the same layer types (a residual block of folded branches, a
/// dense block whose layers' `norm2` is a ReLU), so it has the one forward of each.
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
            let branch = try rebuildSequential(block.branch, store: store, folds: &folds)
            let shortcut = try block.shortcut.map { try rebuildSequential($0, store: store, folds: &folds) }
            return try ResidualBlock(kind: block.kind, branch: branch, shortcut: shortcut)
        case let block as DenseBlock:
            let features = block.memoryEfficient ? Tensor(shape: [0]) : nil
            let layers = try block.denseLayers.map { try rebuild($0, features: features, store: store, folds: &folds) }
            return try DenseBlock(name: block.name, inputShape: block.inputShape, layers: layers, features: features)
        default:
            return try copyLeaf(layer, store: store)
        }
    }

    private static func rebuildSequential(_ s: Sequential, store: ParameterStore, folds: inout [Fold]) throws -> Sequential {
        let out = Sequential(at: store.scope(s.name), inputShape: s.inputShape)
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

    /// A dense layer with `norm2` folded into `conv1` (a ReLU in its place), its `norm1` sharing `features`.
    private static func rebuild(_ l: DenseLayer, features: Tensor?, store: ParameterStore, folds: inout [Fold]) throws -> DenseLayer {
        let n = l.norm1
        let norm1 = try BatchNorm(at: store.scope(n.name), inputShape: n.inputShape, affine: n.weight != nil, relu: n.relu,
                                  momentum: n.momentum, eps: n.eps, sharedOutput: features)
        let pair = Sequential(at: store.scope(l.name), inputShape: l.conv1.inputShape)
        guard let fold = try foldPair(l.conv1, l.norm2, store: store, into: pair), let relu = pair.layers.last as? Activation else {
            throw ModelError("fold-bn: dense layer '\(l.name)': norm2 does not fold into conv1")
        }
        folds.append(fold)
        let conv2 = try copyLeaf(l.conv2, store: store) as! Conv2d
        return try DenseLayer(name: l.name, norm1: norm1, conv1: fold.folded, norm2: relu, conv2: conv2)
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
        let folded = try out.add(Conv2d(at: store.scope(conv.name), inputShape: conv.inputShape, outChannels: conv.outChannels,
                                        kernel: conv.kernel, stride: conv.stride, padding: conv.padding,
                                        groups: conv.groups, bias: true))
        if relu { try out.add(Activation(.relu, name: next.name, inputShape: folded.outputShape)) }
        return Fold(conv: conv, normName: next.name, gamma: gamma, beta: beta, mean: mean, variance: variance,
                    eps: eps, folded: folded)
    }

    /// A fresh copy of a leaf layer (same configuration, parameters declared in `store`).
    static func copyLeaf(_ layer: Layer, store: ParameterStore) throws -> Layer {
        switch layer {
        case let l as Conv2d:
            return try Conv2d(at: store.scope(l.name), inputShape: l.inputShape, outChannels: l.outChannels, kernel: l.kernel,
                              stride: l.stride, padding: l.padding, groups: l.groups, bias: l.bias != nil)
        case let l as BatchNorm:
            return try BatchNorm(at: store.scope(l.name), inputShape: l.inputShape, affine: l.weight != nil, relu: l.relu,
                                 momentum: l.momentum, eps: l.eps)
        case let l as Linear:
            return try Linear(at: store.scope(l.name), inputShape: l.inputShape, outFeatures: l.outFeatures, bias: l.bias != nil)
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
