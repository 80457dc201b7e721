import Config
import IO
import Models
import TensorCore
import Training

/// Model summaries for `trainer summary`, from a preset name or from a run config.
public enum ModelSummaries {
    /// A preset at its default input (CIFAR presets 10 classes, ImageNet presets 1000).
    public static func preset(_ name: String, input: [Int]?, numClasses: Int?) throws -> ModelSummary {
        let shape = try input ?? ModelZoo.defaultInputShape(name: name)
        let defaultClasses = try ModelZoo.defaultInputShape(name: name)[1] >= 224 ? 1000 : 10
        let model = try ModelZoo.build(name: name, numClasses: numClasses ?? defaultClasses, inChannels: shape[0],
                                       inputShape: shape, seed: 0)
        return model.summary
    }

    /// The config's model (only its `model` section is needed; `overrides` apply), at `input`,
    /// else `model.input`, else the dataset's image shape when data.path names an existing
    /// file, else the preset's default. Classes: `numClasses`, else model.num_classes, else the
    /// dataset's, else 10 — except a layer list, which is summarised whatever its output.
    public static func config(_ path: String, overrides: [String] = [], input: [Int]?, numClasses: Int?) throws
        -> (summary: ModelSummary, warnings: [String]) {
        let config = try ModelOnlyConfig.load(path: path, overrides: overrides)
        var shape = input ?? config.model.input
        var classes = numClasses ?? config.model.numClasses
        if shape == nil || classes == nil, let data = config.dataPath,
           let set = try? ImageDataset(path: data, split: "train", residency: .file) {
            shape = shape ?? [set.channels, set.height, set.width]
            classes = classes ?? set.numClasses
        }
        if shape == nil, case .zoo(let name) = config.model.architecture {
            shape = try ModelZoo.defaultInputShape(name: name, inChannels: config.model.inChannels ?? 3)
        }
        if case .layers(let specs) = config.model.architecture {
            let builder = try ModelFactory.layerList(specs, inputShape: shape ?? [3, 32, 32])
            if let k = classes, builder.outputShape.count == 1, builder.outputShape != [k] {
                throw TrainingError("\(path): model.layers: the last layer gives \(Shape.format(builder.outputShape)), expected num_classes (\(k))")
            }
            return (builder.summary(), config.warnings)
        }
        let model = try ModelFactory.build(config.model, imageShape: shape ?? [3, 32, 32], numClasses: classes ?? 10, seed: 0)
        return (model.summary, config.warnings)
    }
}
