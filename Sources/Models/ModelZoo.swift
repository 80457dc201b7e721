import ModelNames
import NN
import TensorCore

/// A model request the zoo cannot satisfy (unknown name, bad argument); one line.
public struct ModelError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Named presets of the model families, each at PyTorch's architecture and state keys.
public enum ModelZoo {
    /// A preset: default input side (CIFAR 32, ImageNet 224) and its builder.
    struct Preset: Sendable {
        let side: Int
        let make: @Sendable (_ numClasses: Int, _ inputShape: [Int], _ seed: UInt64) throws -> Model
    }

    /// The builder of each preset, at PyTorch's architecture (torchvision's for the ImageNet ones).
    static func preset(_ model: ZooModel) -> Preset {
        switch model {
        case .cifarCNN: return Preset(side: 32) { try CifarCNN.build(numClasses: $0, inputShape: $1, seed: $2) }
        case .resnet20: return cifarResNet(depth: 20)
        case .resnet32: return cifarResNet(depth: 32)
        case .resnet44: return cifarResNet(depth: 44)
        case .resnet56: return cifarResNet(depth: 56)
        case .resnet110: return cifarResNet(depth: 110)
        case .resnet18CifarStem:
            return Preset(side: 32) {
                try ResNet.imagenet(depth: 18, numClasses: $0, inputShape: $1, stem: .cifar, seed: $2, name: model.rawValue)
            }
        case .resnet18: return imagenetResNet(depth: 18)
        case .resnet34: return imagenetResNet(depth: 34)
        case .resnet50: return imagenetResNet(depth: 50)
        case .resnet101: return imagenetResNet(depth: 101)
        case .resnet152: return imagenetResNet(depth: 152)
        case .densenetBC40K12: return cifarDenseNet(depth: 40, growth: 12)
        case .densenetBC100K12: return cifarDenseNet(depth: 100, growth: 12)
        case .densenetBC250K24: return cifarDenseNet(depth: 250, growth: 24)
        case .densenet121: return imagenetDenseNet(depth: 121)
        case .densenet161: return imagenetDenseNet(depth: 161)
        case .densenet169: return imagenetDenseNet(depth: 169)
        case .densenet201: return imagenetDenseNet(depth: 201)
        case .densenet264: return imagenetDenseNet(depth: 264)
        }
    }

    private static func cifarResNet(depth: Int) -> Preset {
        Preset(side: 32) { try ResNet.cifar(depth: depth, numClasses: $0, inputShape: $1, seed: $2) }
    }
    private static func imagenetResNet(depth: Int) -> Preset {
        Preset(side: 224) { try ResNet.imagenet(depth: depth, numClasses: $0, inputShape: $1, seed: $2) }
    }
    private static func cifarDenseNet(depth: Int, growth: Int) -> Preset {
        Preset(side: 32) { try DenseNet.cifarBC(depth: depth, growth: growth, numClasses: $0, inputShape: $1, seed: $2) }
    }
    private static func imagenetDenseNet(depth: Int) -> Preset {
        Preset(side: 224) { try DenseNet.imagenet(depth: depth, numClasses: $0, inputShape: $1, seed: $2) }
    }

    /// Every preset name, in a stable order.
    public static var names: [String] { ZooModel.names }

    /// Default per-sample input of a preset: (inChannels, 32, 32) for CIFAR models,
    /// (inChannels, 224, 224) for the ImageNet ones.
    public static func defaultInputShape(name: String, inChannels: Int = 3) throws -> [Int] {
        let side = try preset(name).side
        return [inChannels, side, side]
    }

    /// Builds the preset `name`. `inputShape` defaults to `defaultInputShape`; when given, its
    /// channel count must equal `inChannels`. Throws `ModelError` for an unknown name (listing
    /// the valid ones and suggesting the nearest) and `ShapeError` when the input is too small.
    public static func build(name: String, numClasses: Int, inChannels: Int = 3, inputShape: [Int]? = nil,
                             seed: UInt64 = 0) throws -> Model {
        let p = try preset(name)
        guard numClasses >= 1 else { throw ModelError("model '\(name)': num_classes must be ≥ 1, got \(numClasses)") }
        guard inChannels >= 1 else { throw ModelError("model '\(name)': in_channels must be ≥ 1, got \(inChannels)") }
        let shape = inputShape ?? [inChannels, p.side, p.side]
        if let s = inputShape, s.first != inChannels {
            throw ModelError("model '\(name)': input \(s) has \(s.first.map(String.init) ?? "no") channels but in_channels is \(inChannels)")
        }
        return try p.make(numClasses, shape, seed)
    }

    static func preset(_ name: String) throws -> Preset {
        if let model = ZooModel(rawValue: name) { return preset(model) }
        let nearest = names.min { editDistance($0, name) < editDistance($1, name) }!
        throw ModelError("unknown model '\(name)' (did you mean '\(nearest)'?); valid: \(names.joined(separator: ", "))")
    }
}
