import ModelNames
import NN
import TensorCore

/// torchvision's ResNet, generalised to any number of stages and widths
/// (reference: `ResNet` in Tests/Reference/models.py).
///
/// Layout and state keys: `conv1` (bias-free), `bn1` (+ fused ReLU), [maxpool], stages `layer1` ...
/// `layer<S>` of residual blocks `layer<s>.<i>` (stride 2 in the first block of every stage
/// after the first; projection shortcut where the shape changes), global average pool, `fc`.
public enum ResNet {
    public static func build(block: ResidualBlock.Kind, blocks: [Int], widths: [Int], stem: Stem,
                             numClasses: Int, inputShape: [Int], seed: UInt64 = 0,
                             name: String = "resnet") throws -> Model {
        guard !blocks.isEmpty, blocks.count == widths.count else {
            throw ShapeError("resnet '\(name)': blocks \(blocks) and widths \(widths) must be non-empty and of equal length")
        }
        guard blocks.allSatisfy({ $0 >= 1 }), widths.allSatisfy({ $0 >= 1 }), numClasses >= 1 else {
            throw ShapeError("resnet '\(name)': blocks, widths and num_classes must be ≥ 1")
        }
        try checkImage(inputShape, model: name)
        let store = ParameterStore(), root = store.root
        let net = Sequential(at: root, inputShape: inputShape)
        let (kernel, stride) = stem == .imagenet ? (7, 2) : (3, 1)
        try net.add(Conv2d(at: root.scope("conv1"), inputShape: net.outputShape, outChannels: widths[0], kernel: kernel,
                           stride: stride, padding: kernel / 2, bias: false))
        try net.add(BatchNorm(at: root.scope("bn1"), inputShape: net.outputShape, relu: true))
        if stem == .imagenet {
            try net.add(MaxPool2d(name: root.key("maxpool"), inputShape: net.outputShape, kernel: 3, stride: 2, padding: 1))
        }
        for (s, (count, width)) in zip(blocks, widths).enumerated() {
            let stage = Sequential(at: root.scope("layer\(s + 1)"), inputShape: net.outputShape)
            for i in 0..<count {
                try stage.add(ResidualBlock(at: stage.nextScope, kind: block, inputShape: stage.outputShape,
                                            planes: width, stride: i == 0 && s > 0 ? 2 : 1))
            }
            try net.add(stage)
        }
        try addHead(to: net, classifier: "fc", numClasses: numClasses)
        return try Model(name: name, network: net, store: store, seed: seed)
    }

    /// He et al. 2016 CIFAR ResNet-(6n+2): three stages of n basic blocks, widths 16, 32, 64.
    public static func cifar(depth: Int, numClasses: Int, inputShape: [Int], seed: UInt64 = 0) throws -> Model {
        guard depth >= 8, (depth - 2) % 6 == 0 else {
            throw ShapeError("resnet: CIFAR depth must be 6n+2 (20, 32, 44, 56, 110, ...), got \(depth)")
        }
        let n = (depth - 2) / 6
        return try build(block: .basic, blocks: [n, n, n], widths: [16, 32, 64], stem: .cifar,
                         numClasses: numClasses, inputShape: inputShape, seed: seed, name: "resnet\(depth)")
    }

    /// torchvision resnet18/34/50/101/152 (width 64); `stem: .cifar` gives the CIFAR variant.
    public static let imagenetDepths: [Int: (ResidualBlock.Kind, [Int])] = [
        18: (.basic, [2, 2, 2, 2]), 34: (.basic, [3, 4, 6, 3]), 50: (.bottleneck, [3, 4, 6, 3]),
        101: (.bottleneck, [3, 4, 23, 3]), 152: (.bottleneck, [3, 8, 36, 3]),
    ]

    public static func imagenet(depth: Int, numClasses: Int, inputShape: [Int], stem: Stem = .imagenet,
                                width: Int = 64, seed: UInt64 = 0, name: String? = nil) throws -> Model {
        guard let (block, blocks) = imagenetDepths[depth] else {
            throw ShapeError("resnet: depth must be one of 18, 34, 50, 101, 152, got \(depth)")
        }
        return try build(block: block, blocks: blocks, widths: [width, 2 * width, 4 * width, 8 * width], stem: stem,
                         numClasses: numClasses, inputShape: inputShape, seed: seed, name: name ?? "resnet\(depth)")
    }
}

/// The torchvision head of ResNet and DenseNet: global average pool, flatten, linear `classifier`.
func addHead(to net: Sequential, classifier: String, numClasses: Int) throws {
    try net.add(AdaptiveAvgPool2d(name: net.scope.key("avgpool"), inputShape: net.outputShape, outputSize: (1, 1)))
    try net.add(Flatten(name: net.scope.key("flatten"), inputShape: net.outputShape))
    try net.add(Linear(at: net.scope.scope(classifier), inputShape: net.outputShape, outFeatures: numClasses))
}

/// Throws unless `shape` is a positive (C, H, W) image shape.
func checkImage(_ shape: [Int], model: String) throws {
    guard shape.count == 3, shape.allSatisfy({ $0 > 0 }) else {
        throw ShapeError("model '\(model)': input must be (C, H, W) with positive sizes, got \(Shape.format(shape))")
    }
}
