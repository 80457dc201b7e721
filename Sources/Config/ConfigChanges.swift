/// The keys that differ between the config a checkpoint was written with and the run's own,
/// for the one line a resume prints (`optimizer.lr 0.1 → 0.01, train.epochs 30 → 60`).
///
/// Changes that leave the saved state meaningful go through: epochs, the learning rate and
/// schedule, optimizer hyperparameters, augmentation, early stopping, checkpoint and log
/// settings. Changes that make it another run need `--force-resume`: the model, the data
/// (file, validation hold-out, normalisation), the global batch, the optimizer kind and the seed.
public struct ConfigChange: Equatable, Sendable {
    public let key: String
    /// Rendered values; "(absent)" when a side does not have the key.
    public let old: String
    public let new: String

    /// True when the change makes the checkpoint's state belong to another run.
    public var needsForce: Bool {
        if key.hasPrefix("model.") { return key != "model.init_from" }
        return ConfigChange.runDefining.contains(key)
    }

    static let runDefining: Set<String> = ["data.path", "data.val_split", "data.mean", "data.std",
                                           "train.batch_size", "train.seed", "optimizer.name"]

    public var description: String { "\(key) \(old) → \(new)" }

    /// The differing keys, in the new config's key order (keys only the old one has last).
    /// The old text is read with this trainer's defaults first, so a key added since the
    /// checkpoint was written counts as its default rather than as a change.
    public static func between(checkpointConfig old: String, run new: RunConfig) -> [ConfigChange] {
        let oldText = (try? RunConfig.parse(text: old, file: "<checkpoint>").canonicalText) ?? old
        let before = flatten(oldText), after = flatten(new.canonicalText)
        let oldValues = Dictionary(before, uniquingKeysWith: { a, _ in a })
        let newKeys = Set(after.map(\.0))
        var changes: [ConfigChange] = []
        for (key, value) in after where oldValues[key] != value {
            changes.append(ConfigChange(key: key, old: oldValues[key] ?? "(absent)", new: value))
        }
        for (key, value) in before where !newKeys.contains(key) {
            changes.append(ConfigChange(key: key, old: value, new: "(absent)"))
        }
        return changes
    }

    /// Dotted key → compact value ("model.layers" → "[{conv: {out: 8, ...}}, relu]"), in order;
    /// unreadable text gives no keys.
    static func flatten(_ text: String) -> [(String, String)] {
        guard let root = try? ConfigNode.parse(text: text, file: "<config>") else { return [] }
        var out: [(String, String)] = []
        func walk(_ node: ConfigNode, _ path: [String]) {
            if case .mapping(let entries) = node.kind, !path.isEmpty || !entries.isEmpty {
                for e in entries { walk(e.value, path + [e.key]) }
            } else {
                out.append((path.joined(separator: "."), compact(node)))
            }
        }
        walk(root, [])
        return out
    }

    private static func compact(_ node: ConfigNode) -> String {
        switch node.kind {
        case .scalar(let s, _): return s.isEmpty ? "null" : s
        case .sequence(let items): return "[" + items.map(compact).joined(separator: ", ") + "]"
        case .mapping(let entries): return "{" + entries.map { "\($0.key): \(compact($0.value))" }.joined(separator: ", ") + "}"
        }
    }
}
