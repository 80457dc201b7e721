import Config
import Models
import NN

/// Builds the model a config describes, for images of the dataset's size.
///
/// `imageShape` is the dataset's per-sample (C, H, W); presets and generic families are built at
/// that input, a layer list at its own `model.input`, which must then equal the dataset's shape.
/// `numClasses` nil leaves a layer list's class count to its last layer; the other families
/// need one.
public enum ModelFactory {
    public static func build(_ config: ModelConfig, imageShape: [Int], numClasses: Int?, seed: UInt64) throws -> Model {
        let model = try buildNetwork(config, imageShape: imageShape, numClasses: numClasses, seed: seed)
        model.setConvAlgorithm(config.convAlgorithm)
        return model
    }

    private static func buildNetwork(_ config: ModelConfig, imageShape: [Int], numClasses: Int?, seed: UInt64) throws -> Model {
        let inChannels = config.inChannels ?? imageShape[0]
        let shape = config.input ?? imageShape
        if case .layers(let specs) = config.architecture {
            return try layerList(specs, inputShape: shape).build(seed: seed, numClasses: numClasses)
        }
        guard let numClasses else { throw TrainingError("model '\(config.name)' needs a class count (model.num_classes)") }
        switch config.architecture {
        case .zoo(let name):
            return try ModelZoo.build(name: name, numClasses: numClasses, inChannels: inChannels, inputShape: shape, seed: seed)
        case .resnet(let spec):
            return try ResNet.build(block: spec.block, blocks: spec.blocks, widths: spec.widths,
                                    stem: spec.stem, numClasses: numClasses, inputShape: shape, seed: seed)
        case .densenet(let spec):
            return try DenseNet.build(growth: spec.growth, blocks: spec.blocks, initFeatures: spec.initFeatures,
                                      bnSize: spec.bnSize, compression: spec.compression, stem: spec.stem,
                                      numClasses: numClasses, inputShape: shape, seed: seed)
        case .layers:
            preconditionFailure("ModelFactory: layer lists are built above")
        }
    }

    /// The builder holding a config's layer list (`trainer summary` summarises it unbuilt).
    public static func layerList(_ specs: [LayerSpec], inputShape: [Int]) throws -> LayerListBuilder {
        let builder = try LayerListBuilder(inputShape: inputShape)
        for spec in specs { try add(spec, to: builder) }
        return builder
    }

    /// One darknet-style parse step: the config entry becomes a builder call.
    private static func add(_ spec: LayerSpec, to b: LayerListBuilder) throws {
        switch spec {
        case let .conv(out, kernel, stride, padding, groups, bias):
            try b.conv(out: out, kernel: kernel, stride: stride, padding: padding, groups: groups, bias: bias)
        case .batchnorm: try b.batchnorm()
        case .activation(let a): try b.activation(a)
        case .flatten: try b.flatten()
        case let .maxpool(kernel, stride, padding): try b.maxpool(kernel: kernel, stride: stride, padding: padding)
        case let .avgpool(kernel, stride, padding): try b.avgpool(kernel: kernel, stride: stride, padding: padding)
        case let .adaptiveAvgPool(h, w): try b.adaptiveAvgPool(h, w)
        case .dropout(let p): try b.dropout(p: Float(p))
        case let .linear(out, bias): try b.linear(out: out, bias: bias)
        }
    }
}

/// The optimizer and learning-rate schedule a config describes.
public enum OptimizerFactory {
    public static func optimizer(_ c: OptimizerConfig) -> Optimizer {
        switch c.name {
        case .sgd:
            return SGD(momentum: c.momentum, nesterov: c.nesterov, weightDecay: c.weightDecay, dampening: c.dampening)
        case .adam:
            return Adam(beta1: c.beta1, beta2: c.beta2, eps: c.eps, weightDecay: c.weightDecay, amsgrad: c.amsgrad)
        case .adamw:
            return AdamW(beta1: c.beta1, beta2: c.beta2, eps: c.eps, weightDecay: c.weightDecay, amsgrad: c.amsgrad)
        }
    }

    public static func schedule(_ c: ScheduleConfig, lr: Double, epochs: Int, stepsPerEpoch: Int) -> LRSchedule {
        let kind: LRSchedule.EpochKind
        switch c.name {
        case .constant: kind = .constant
        case .step: kind = .step(everyEpochs: c.stepSize, gamma: c.gamma)
        case .multistep: kind = .multistep(milestoneEpochs: c.milestones, gamma: c.gamma)
        case .cosine: kind = .cosine(minLR: c.minLR)
        }
        return LRSchedule(baseLR: lr, epochKind: kind, warmupEpochs: c.warmupEpochs, epochs: epochs, stepsPerEpoch: stepsPerEpoch)
    }
}
