import Config
import Foundation
import IO
import Models
import TensorCore

/// `model.init_from`: a checkpoint's weights as the starting point of a run. The one-line form
/// is strict (`StateLoader`); the mapping form is timm's `--pretrained` with a new head: every
/// key both the model and the checkpoint hold is loaded unless an `exclude` glob matches it,
/// and the keys skipped or left initialised are listed.
public enum InitFromLoader {
    /// Loads `spec` into `model` and returns the lines that say what happened.
    public static func load(_ spec: InitFrom, into model: Model) throws -> [String] {
        let c = try CheckpointFile.read(spec.path)
        if spec.strict {
            try StateLoader.load(c, into: model, file: spec.path)
            return ["initialised the model from \(spec.path)"]
        }
        if c.metadata.extraInts["folded_bn"] == 1 { try StateLoader.load(c, into: model, file: spec.path) }  // its refusal
        let excluded = { (key: String) in spec.exclude.contains { fnmatch($0, key, 0) == 0 } }
        let index = model.stateIndex
        let tensors = Dictionary(c.model.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var loaded = 0, skipped: [String] = [], fresh: [String] = []
        for key in model.store.stateKeys {
            if excluded(key) { skipped.append(key); continue }
            if let t = tensors[key] {
                guard let dst = index[key]?.floats else {
                    throw TrainingError("\(spec.path): /model/\(key): float tensor where the model has an integer counter")
                }
                guard t.shape == index[key]!.shape else {
                    throw TrainingError("\(spec.path): /model/\(key): shape \(Shape.format(t.shape)) in the checkpoint, model '\(model.name)' has \(Shape.format(index[key]!.shape)) (add it to model.init_from.exclude to start it fresh)")
                }
                t.values.withUnsafeBufferPointer { dst.baseAddress!.update(from: $0.baseAddress!, count: dst.count) }
                loaded += 1
            } else if let v = c.counters[key], case .counter(let counter) = index[key] {
                counter.value = v
                loaded += 1
            } else {
                fresh.append(key)
            }
        }
        let unused = (Array(tensors.keys) + Array(c.counters.keys)).filter { index[$0] == nil && !excluded($0) }.sorted()
        var lines = ["initialised \(loaded) of \(index.count) keys of model '\(model.name)' from \(spec.path)"]
        if !skipped.isEmpty { lines.append("init_from: excluded, left initialised: \(list(skipped))") }
        if !fresh.isEmpty { lines.append("init_from: not in the checkpoint, left initialised: \(list(fresh))") }
        if !unused.isEmpty { lines.append("init_from: checkpoint keys this model does not have, skipped: \(list(unused))") }
        return lines
    }

    /// "a, b, c" or "a, b, ... (12 keys)".
    static func list(_ keys: [String]) -> String {
        keys.count <= 8 ? keys.joined(separator: ", ") : keys.prefix(6).joined(separator: ", ") + ", ... (\(keys.count) keys)"
    }
}
