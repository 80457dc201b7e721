import Config
import Foundation
import IO
import Models
import TensorCore
import Training

/// `trainer fold-bn CHECKPOINT OUT.h5`: an inference checkpoint with every BatchNorm that
/// directly follows a convolution folded into it (see `BatchNormFolding`).
///
/// The output is a regular checkpoint file (same format, checksum, atomic write) holding the
/// folded model's state_dict — folded convs gain `<conv>.bias`, folded BN keys are gone — and
/// no optimizer state; root attributes keep the source's step, epoch, config and provenance
/// and add `folded_bn = 1`, `folded_pairs` (count) and `folded_from` (source path).
/// `trainer predict` and `trainer eval` load it by building the config's model and folding it;
/// training refuses it (`init_from` / resume need the unfolded checkpoint).
public enum BatchNormFoldingCheckpoint {
    public struct Report: Sendable {
        public let output: String
        public let model: String
        public let pairs: Int
        public let paramsBefore: Int, paramsAfter: Int
        public let buffersBefore: Int, buffersAfter: Int
        public let keysBefore: Int, keysAfter: Int
        public var text: String {
            func g(_ n: Int) -> String { ModelSummary.grouped(n) }
            return """
                folded \(pairs) BatchNorm layer(s) of \(model) into the convolution before them
                parameters       \(g(paramsBefore)) -> \(g(paramsAfter))
                float buffers    \(g(buffersBefore)) -> \(g(buffersAfter))
                state_dict keys  \(keysBefore) -> \(keysAfter)
                wrote \(output)
                """
        }
    }

    /// Folds `checkpoint` into `output`. The model is rebuilt from the config text stored in the
    /// checkpoint, at `inputShape` (C, H, W) when given, else model.input, else the shape of
    /// the training dataset when it is present, else the preset's default input.
    public static func run(checkpoint path: String, output: String, inputShape: [Int]? = nil) throws -> Report {
        let c = try CheckpointFile.read(path)
        guard c.metadata.extraInts["folded_bn"] != 1 else { throw TrainingError("\(path): already BN-folded (folded_bn = 1)") }
        guard !c.metadata.config.isEmpty else {
            throw TrainingError("\(path): holds no config text (root attribute config), so its model cannot be rebuilt")
        }
        let config = try RunConfig.parse(text: c.metadata.config, file: "\(path) (config attribute)")
        let shape = try inputShape ?? defaultInputShape(config)
        let model = try Prediction.loadModel(config: config, checkpoint: c, path: path, imageShape: shape)
        let (folded, pairs) = try BatchNormFolding.fold(model)

        var tensors: [NamedTensor] = [], counters: [String: Int64] = [:]
        for (key, entry) in folded.stateEntries {
            switch entry {
            case .counter(let k): counters[key] = k.value
            default: tensors.append(NamedTensor(name: key, shape: entry.shape, values: Array(entry.floats!)))
            }
        }
        var m = c.metadata
        m.extraInts = ["folded_bn": 1, "folded_pairs": Int64(pairs.count)]
        m.extraDoubles = [:]
        m.extraStrings = ["model": c.metadata.extraStrings["model"] ?? model.name, "folded_from": path]
        if let d = c.metadata.extraStrings["dataset"] { m.extraStrings["dataset"] = d }
        try CheckpointFile.write(Checkpoint(metadata: m, model: tensors, counters: counters), to: output)
        return Report(output: output, model: model.name, pairs: pairs.count,
                      paramsBefore: model.store.parameterCount, paramsAfter: folded.store.parameterCount,
                      buffersBefore: model.store.bufferCount, buffersAfter: folded.store.bufferCount,
                      keysBefore: model.store.stateKeys.count, keysAfter: folded.store.stateKeys.count)
    }

    static func defaultInputShape(_ config: RunConfig) throws -> [Int] {
        if let s = config.model.input { return s }
        if let set = try? ImageDataset(path: config.data.path, split: "train", residency: .file) {
            return [set.channels, set.height, set.width]
        }
        if case .zoo(let name) = config.model.architecture {
            return try ModelZoo.defaultInputShape(name: name, inChannels: config.model.inChannels ?? 3)
        }
        return [config.model.inChannels ?? 3, 32, 32]
    }
}
