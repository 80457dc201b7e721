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

    static let presets: [(String, Preset)] = {
        var p: [(String, Preset)] = [("cifar_cnn", Preset(side: 32) { try CifarCNN.build(numClasses: $0, inputShape: $1, seed: $2) })]
        for depth in [20, 32, 44, 56, 110] {
            p.append(("resnet\(depth)", Preset(side: 32) { try ResNet.cifar(depth: depth, numClasses: $0, inputShape: $1, seed: $2) }))
        }
        p.append(("resnet18_cifar_stem", Preset(side: 32) {
            try ResNet.imagenet(depth: 18, numClasses: $0, inputShape: $1, stem: .cifar, seed: $2, name: "resnet18_cifar_stem")
        }))
        for depth in [18, 34, 50, 101, 152] {
            p.append(("resnet\(depth)", Preset(side: 224) { try ResNet.imagenet(depth: depth, numClasses: $0, inputShape: $1, seed: $2) }))
        }
        for (depth, k) in [(40, 12), (100, 12), (250, 24)] {
            p.append(("densenet_bc_\(depth)_k\(k)", Preset(side: 32) {
                try DenseNet.cifarBC(depth: depth, growth: k, numClasses: $0, inputShape: $1, seed: $2)
            }))
        }
        for depth in [121, 161, 169, 201, 264] {
            p.append(("densenet\(depth)", Preset(side: 224) { try DenseNet.imagenet(depth: depth, numClasses: $0, inputShape: $1, seed: $2) }))
        }
        return p
    }()

    /// Every preset name, in a stable order.
    public static var names: [String] { presets.map { $0.0 } }

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
        if let p = presets.first(where: { $0.0 == name }) { return p.1 }
        let nearest = names.min { editDistance($0, name) < editDistance($1, name) }!
        throw ModelError("unknown model '\(name)' (did you mean '\(nearest)'?); valid: \(names.joined(separator: ", "))")
    }
}
