import ModelNames
import TensorCore

/// `model:` — which network to build.
///
///     name         required: a zoo model (`zooNames`), or `resnet` / `densenet` (generic, with
///                  the keys below) or `layers` (a darknet-style list)
///     num_classes  default: from the dataset (classes attribute, else max label + 1)
///     in_channels  default: from the dataset images (C of [N, H, W, C])
///     input        [C, H, W]; required for `layers`, otherwise default from the dataset
///     init_from    checkpoint whose /model weights initialise the network (default none):
///                  `init_from: PATH` loads strictly (every key, same shapes, nothing extra);
///                  `init_from: {path: PATH, exclude: ["fc.*"]}` loads every key both have
///                  except the excluded globs (fine-tuning with a new head), see `InitFrom`
///     conv_algorithm  auto (default: each 3×3 stride-1 convolution picks GEMM or Winograd
///                  F(2×2, 3×3) for its forward and ∂input by the plan made when the layer is
///                  built; ∂weight stays GEMM) | gemm | winograd (F(2×2) for all three passes where
///                  it applies) | winograd_f4 (F(4×4): faster, larger float32 error). A Winograd
///                  ∂weight makes N ranks drift from 1 rank past the 1e-5 the equivalence tests allow
///     resnet:      block (basic | bottleneck, default basic), blocks [n1, n2, ...] (required),
///                  widths (default 16·2^i with stem cifar, 64·2^i with stem imagenet),
///                  stem (cifar: 3×3 conv; imagenet: 7×7/2 conv + 3×3/2 max pool; default imagenet)
///     densenet:    growth (default 32), blocks (required), init_features (default 2·growth),
///                  bn_size (4), compression (0.5), stem (default imagenet)
///     layers:      input and layers (see `LayerSpec`)
public struct ModelConfig: Equatable, Sendable {
    public enum Architecture: Equatable, Sendable {
        /// A fixed model of ModelZoo, by name ("resnet56").
        case zoo(String)
        case resnet(ResNetSpec)
        case densenet(DenseNetSpec)
        case layers([LayerSpec])
    }

    /// The names ModelZoo builds (`ZooModel`, the one list).
    public static var zooNames: [String] { ZooModel.names }
    public static let genericNames = ["resnet", "densenet", "layers"]

    /// `model.name` as written.
    public var name: String
    public var architecture: Architecture
    public var numClasses: Int?
    public var inChannels: Int?
    /// Per-sample input [C, H, W]; always set for `layers`.
    public var input: [Int]?
    public var initFrom: InitFrom?
    public var convAlgorithm: ConvAlgorithm = .auto
}

/// `model.init_from`: the checkpoint to start from and how strictly it must match.
public struct InitFrom: Equatable, Sendable {
    public var path: String
    /// Globs (fnmatch: `*`, `?`, `[...]`) of state_dict keys left at their initial values.
    public var exclude: [String]
    /// The one-line form: every key of the model in the checkpoint with the same shape, and
    /// no other key (PyTorch's strict=True). The mapping form loads the keys both share,
    /// lists those skipped or left initialised, and fails only on a shape mismatch of a key
    /// not excluded.
    public var strict: Bool

    public init(path: String, exclude: [String] = [], strict: Bool) {
        self.path = path; self.exclude = exclude; self.strict = strict
    }
}

/// Generic ResNet (torchvision naming): `blocks[i]` residual blocks of width `widths[i]`,
/// stride 2 at the start of every stage but the first.
public struct ResNetSpec: Equatable, Sendable {
    public var block: ResidualBlockKind
    public var blocks: [Int]
    public var widths: [Int]
    public var stem: Stem
}

/// Generic DenseNet-BC (torchvision naming): dense blocks of `blocks[i]` layers adding
/// `growth` channels each, 1×1 bottlenecks of `bnSize · growth`, transitions keeping
/// ⌊compression · C⌋ channels.
public struct DenseNetSpec: Equatable, Sendable {
    public var growth: Int
    public var blocks: [Int]
    public var initFeatures: Int
    public var bnSize: Int
    public var compression: Double
    public var stem: Stem
}

extension ModelConfig {
    static let commonKeys = ["name", "num_classes", "in_channels", "input", "init_from", "conv_algorithm"]
    static let resnetKeys = ["block", "blocks", "widths", "stem"]
    static let densenetKeys = ["growth", "blocks", "init_features", "bn_size", "compression", "stem"]
    static let layersKeys = ["layers"]
    static var allKeys: [String] {
        var seen = Set<String>()
        return (commonKeys + resnetKeys + densenetKeys + layersKeys).filter { seen.insert($0).inserted }
    }

    static func read(_ node: ConfigNode?, origin: ConfigOrigin, log: EffectiveLog) throws -> ModelConfig {
        let r = try MappingReader(node, path: ["model"], origin: origin, allowed: allKeys, log: log)
        let names = zooNames + genericNames
        let name = try r.value("name", default: nil, { n -> String in
            let s = try Scalar.string(n)
            guard names.contains(s) else { throw Problem("unknown model '\(s)'" + Suggest.hint(s, in: names)) }
            return s
        }, render: Scalar.render)
        let numClasses = try r.read("num_classes", default: nil, note: "from the dataset", Scalar.int, render: Scalar.render,
                                    check: { $0 < 1 ? "must be >= 1, got \($0)" : nil })
        let inChannels = try r.read("in_channels", default: nil, note: "from the dataset", Scalar.int, render: Scalar.render,
                                    check: { $0 < 1 ? "must be >= 1, got \($0)" : nil })
        let inputCheck = { (v: [Int]) -> String? in
            v.count != 3 || v.contains { $0 < 1 } ? "expected [C, H, W] of positive sizes, got \(v)" : nil
        }
        let input: [Int]?
        if name == "layers" {
            input = try r.value("input", default: nil, Scalar.intList, render: Scalar.render, check: inputCheck)
        } else {
            input = try r.read("input", default: nil, note: "from the dataset", Scalar.intList, render: Scalar.render, check: inputCheck)
        }
        if let input, let inChannels, input[0] != inChannels {
            throw r.error("in_channels", "\(inChannels) disagrees with model.input \(input)")
        }
        let initFrom = try readInitFrom(r, log: log)
        let convAlgorithm = try r.choice("conv_algorithm", default: ConvAlgorithm.auto, what: "convolution algorithm")

        let architecture: Architecture
        let reason = "by model '\(name)'"
        switch name {
        case "resnet":
            try r.forbid(layersKeys + densenetKeys.filter { !resnetKeys.contains($0) }, because: reason)
            architecture = .resnet(try readResNet(r))
        case "densenet":
            try r.forbid(layersKeys + resnetKeys.filter { !densenetKeys.contains($0) }, because: reason)
            architecture = .densenet(try readDenseNet(r))
        case "layers":
            try r.forbid(resnetKeys + densenetKeys, because: reason)
            guard let node = r.node("layers") else { throw r.error("layers", "missing (required with name: layers)") }
            let specs = try LayerSpec.parseList(node)
            log.record(["model", "layers"], .block(specs.map(\.yaml)), defaulted: false)
            architecture = .layers(specs)
        default:
            try r.forbid(resnetKeys + densenetKeys + layersKeys, because: reason + " (only by resnet, densenet or layers)")
            architecture = .zoo(name)
        }
        try r.finish()
        return ModelConfig(name: name, architecture: architecture, numClasses: numClasses, inChannels: inChannels,
                           input: input, initFrom: initFrom, convAlgorithm: convAlgorithm)
    }

    /// `init_from: PATH` (strict) or `init_from: {path: PATH, exclude: [globs]}`.
    private static func readInitFrom(_ r: MappingReader, log: EffectiveLog) throws -> InitFrom? {
        guard let n = r.node("init_from"), case .mapping = n.kind else {
            return try r.read("init_from", default: nil, note: "none", Scalar.string, render: Scalar.render,
                              check: { $0.isEmpty ? "must not be empty" : nil }).map { InitFrom(path: $0, strict: true) }
        }
        let m = try MappingReader(n, path: ["model", "init_from"], origin: r.origin(of: "init_from"),
                                  allowed: ["path", "exclude"], log: log)
        let path = try m.string("path", default: nil)
        let exclude = try m.value("exclude", default: [String](), Scalar.stringList, render: Scalar.render)
        try m.finish()
        return InitFrom(path: path, exclude: exclude, strict: false)
    }

    private static func positiveList(_ v: [Int]) -> String? {
        v.isEmpty ? "must not be empty" : v.contains { $0 < 1 } ? "every entry must be >= 1, got \(v)" : nil
    }

    private static func readResNet(_ r: MappingReader) throws -> ResNetSpec {
        let block = try r.choice("block", default: ResidualBlockKind.basic, what: "block")
        let blocks = try r.value("blocks", default: nil, Scalar.intList, render: Scalar.render, check: positiveList)
        let stem = try r.choice("stem", default: Stem.imagenet, what: "stem")
        let base = stem == .cifar ? 16 : 64
        let widths = try r.value("widths", default: blocks.indices.map { base << $0 }, Scalar.intList, render: Scalar.render,
                                 check: { w in positiveList(w) ?? (w.count != blocks.count
                                     ? "needs one width per stage (\(blocks.count), as blocks), got \(w.count)" : nil) })
        return ResNetSpec(block: block, blocks: blocks, widths: widths, stem: stem)
    }

    private static func readDenseNet(_ r: MappingReader) throws -> DenseNetSpec {
        let growth = try r.int("growth", default: 32, min: 1)
        let blocks = try r.value("blocks", default: nil, Scalar.intList, render: Scalar.render, check: positiveList)
        let initFeatures = try r.int("init_features", default: 2 * growth, min: 1)
        let bnSize = try r.int("bn_size", default: 4, min: 1)
        let compression = try r.double("compression", default: 0.5) {
            $0 <= 0 || $0 > 1 ? "must lie in (0, 1], got \(Scalar.format($0))" : nil
        }
        let stem = try r.choice("stem", default: Stem.imagenet, what: "stem")
        return DenseNetSpec(growth: growth, blocks: blocks, initFeatures: initFeatures, bnSize: bnSize,
                            compression: compression, stem: stem)
    }
}
