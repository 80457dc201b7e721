import ModelNames
import NN
import TensorCore

/// torchvision's DenseNet(-BC) with its state keys (reference: `DenseNet` in
/// Tests/Reference/models.py):
/// `features.conv0` [`features.norm0` + ReLU, max-pool 3x3/2 pad 1 — imagenet stem],
/// `features.denseblock<b>.denselayer<l>.{norm1,conv1,norm2,conv2}`,
/// `features.transition<b>.{norm,conv}` (+ avg-pool 2x2/2) between blocks,
/// `features.norm5`, ReLU, global average pool, `classifier`.
/// Transition b maps c channels to floor(c · compression). Every BN that is followed by a
/// ReLU is a `BatchNorm` with the fused ReLU; dense blocks share one concatenation buffer and, when
/// `memoryEfficient` (default), one recomputed BN-ReLU buffer.
public enum DenseNet {
    public static func build(growth: Int, blocks: [Int], initFeatures: Int, bnSize: Int = 4,
                             compression: Double = 0.5, stem: Stem, numClasses: Int, inputShape: [Int],
                             seed: UInt64 = 0, name: String = "densenet", memoryEfficient: Bool = true) throws -> Model {
        guard !blocks.isEmpty, blocks.allSatisfy({ $0 >= 1 }), growth >= 1, initFeatures >= 1, bnSize >= 1,
              numClasses >= 1 else {
            throw ShapeError("densenet '\(name)': blocks (non-empty), growth, init_features, bn_size and num_classes must be ≥ 1")
        }
        guard compression > 0, compression <= 1 else {
            throw ShapeError("densenet '\(name)': compression must be in (0, 1], got \(compression)")
        }
        try checkImage(inputShape, model: name)
        let store = ParameterStore(), features = store.root.scope("features")
        let net = Sequential(at: store.root, inputShape: inputShape)
        let (kernel, stride) = stem == .imagenet ? (7, 2) : (3, 1)
        try net.add(Conv2d(at: features.scope("conv0"), inputShape: net.outputShape, outChannels: initFeatures,
                           kernel: kernel, stride: stride, padding: kernel / 2, bias: false))
        if stem == .imagenet {
            try net.add(BatchNorm(at: features.scope("norm0"), inputShape: net.outputShape, relu: true))
            try net.add(MaxPool2d(name: features.key("pool0"), inputShape: net.outputShape, kernel: 3, stride: 2, padding: 1))
        }
        for (b, count) in blocks.enumerated() {
            try net.add(DenseBlock(at: features.scope("denseblock\(b + 1)"), inputShape: net.outputShape, layers: count,
                                   growth: growth, bnSize: bnSize, memoryEfficient: memoryEfficient))
            if b < blocks.count - 1 {
                let c = net.outputShape[0]
                let out = Int((Double(c) * compression).rounded(.down))
                guard out >= 1 else {
                    throw ShapeError("densenet '\(name)': transition\(b + 1) compresses \(c) channels to 0")
                }
                try net.add(makeTransition(at: features.scope("transition\(b + 1)"), inputShape: net.outputShape,
                                           outChannels: out))
            }
        }
        try net.add(BatchNorm(at: features.scope("norm5"), inputShape: net.outputShape, relu: true))
        try addHead(to: net, classifier: "classifier", numClasses: numClasses)
        return try Model(name: name, network: net, store: store, seed: seed)
    }

    /// DenseNet-BC (L, k) of Huang et al. 2017 for CIFAR: 3 blocks of (L−4)/6 layers, 2k init features.
    public static func cifarBC(depth: Int, growth: Int, numClasses: Int, inputShape: [Int], seed: UInt64 = 0) throws -> Model {
        guard depth >= 10, (depth - 4) % 6 == 0 else {
            throw ShapeError("densenet: DenseNet-BC depth must be 6n+4 (40, 100, 250, ...), got \(depth)")
        }
        let n = (depth - 4) / 6
        return try build(growth: growth, blocks: [n, n, n], initFeatures: 2 * growth, stem: .cifar,
                         numClasses: numClasses, inputShape: inputShape, seed: seed,
                         name: "densenet_bc_\(depth)_k\(growth)")
    }

    /// torchvision densenet121/161/169/201 and DenseNet-264: (growth, blocks, init features).
    public static let imagenetDepths: [Int: (Int, [Int], Int)] = [
        121: (32, [6, 12, 24, 16], 64), 169: (32, [6, 12, 32, 32], 64), 201: (32, [6, 12, 48, 32], 64),
        264: (32, [6, 12, 64, 48], 64), 161: (48, [6, 12, 36, 24], 96),
    ]

    public static func imagenet(depth: Int, numClasses: Int, inputShape: [Int], seed: UInt64 = 0) throws -> Model {
        guard let (k, blocks, initFeatures) = imagenetDepths[depth] else {
            throw ShapeError("densenet: depth must be one of 121, 161, 169, 201, 264, got \(depth)")
        }
        return try build(growth: k, blocks: blocks, initFeatures: initFeatures, stem: .imagenet,
                         numClasses: numClasses, inputShape: inputShape, seed: seed, name: "densenet\(depth)")
    }
}
