import Foundation

/// A run, as a `.cfg` file (YAML) describes it, validated and with every default filled in.
///
/// Sections: model, data, train, optimizer, schedule, checkpoint, log (see each section's type
/// for its keys and defaults). Required: model.name, data.path, train.epochs (and the keys a
/// chosen kind needs: model.input/layers for `layers`, blocks for resnet/densenet, milestones
/// for multistep, step_size for step). Null (`key:` or `key: null`) means "the default", which
/// lets `--set optimizer.momentum=null` unset a key.
///
/// Paths (data.path, model.init_from, checkpoint.dir, checkpoint.resume, log.dir) are used as
/// written: relative ones are relative to the working directory the trainer runs in (as with
/// PyTorch scripts and mpirun's -wdir), not to the config file's folder.
///
/// Every problem is a `ConfigError` naming the file and line (or the `--set`) and the key.
public struct RunConfig: Sendable {
    public static let sectionNames = ["model", "data", "train", "optimizer", "schedule", "checkpoint", "log"]

    public var model: ModelConfig
    public var data: DataConfig
    public var train: TrainConfig
    public var optimizer: OptimizerConfig
    public var schedule: ScheduleConfig
    public var checkpoint: CheckpointConfig
    public var log: LogConfig

    /// The file name errors use (the path given to `load`).
    public let file: String
    /// The file as read, before overrides.
    public let sourceText: String
    /// The `--set` assignments applied, in order.
    public let overrides: [String]
    /// Every key with its effective value (defaults included), one fixed order, no comments:
    /// the text to hash across ranks and store in checkpoints. Parsing it gives the same run.
    public let canonicalText: String
    /// `canonicalText` with each default marked (`# default`, and what it means), for rank 0 to
    /// print at start-up.
    public let effectiveDescription: String
    /// The dotted keys that took their defaults ("train.seed", "data.augment.flip").
    public let defaultedKeys: [String]
    /// One line each: file keys an override left unused (ignored, not errors). The trainer
    /// prints them at start-up.
    public let warnings: [String]

    /// API.md's name for `effectiveDescription`.
    public var effectiveText: String { effectiveDescription }

    /// Reads and validates the file at `path`, then applies `overrides` ("section.key=value",
    /// the value parsed as YAML: `train.epochs=3`, `optimizer.betas=[0.9,0.99]`).
    public static func load(path: String, overrides: [String] = []) throws -> RunConfig {
        try parse(text: try readText(path), file: path, overrides: overrides)
    }

    /// The file's text, or a ConfigError naming it.
    static func readText(_ path: String) throws -> String {
        do {
            return try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            let reason = FileManager.default.fileExists(atPath: path) ? "cannot read the file as UTF-8 text" : "no such file"
            throw ConfigError(.file(path, line: 0), key: "", reason)
        }
    }

    /// The config tree with `overrides` applied, checked to be a mapping of known sections;
    /// `section(name)` gives a section's node (nil when absent) and where it is named.
    static func sections(text: String, file: String, overrides: [String]) throws -> (String) -> (ConfigNode?, ConfigOrigin) {
        var root = try ConfigNode.parse(text: text, file: file)
        if root.isNull { root = .emptyMapping(root.origin) }
        for assignment in overrides { try root.apply(override: assignment) }
        guard case .mapping(let entries) = root.kind else {
            throw ConfigError(root.origin, key: "", "expected a mapping of sections (\(sectionNames.joined(separator: ", "))), got \(root.display)")
        }
        for e in entries where !sectionNames.contains(e.key) {
            throw ConfigError(e.origin, key: e.key, "unknown section" + Suggest.hint(e.key, in: sectionNames, listLabel: "sections"))
        }
        let origin = root.origin
        return { name in
            guard let e = entries.first(where: { $0.key == name }) else { return (nil, origin) }
            return (e.value, e.origin)
        }
    }

    /// Parses config text; `file` names it in errors and gives the default checkpoint.dir
    /// ("runs/<file name without extension>").
    public static func parse(text: String, file: String = "<config>", overrides: [String] = []) throws -> RunConfig {
        let section = try sections(text: text, file: file, overrides: overrides)

        let log = EffectiveLog()
        let (mn, mo) = section("model"), (dn, dno) = section("data"), (tn, to) = section("train")
        let (on, oo) = section("optimizer"), (sn, so) = section("schedule")
        let (cn, co) = section("checkpoint"), (ln, lo) = section("log")
        let model = try ModelConfig.read(mn, origin: mo, log: log)
        let data = try DataConfig.read(dn, origin: dno, log: log)
        let train = try TrainConfig.read(tn, origin: to, log: log)
        let optimizer = try OptimizerConfig.read(on, origin: oo, log: log)
        let schedule = try ScheduleConfig.read(sn, origin: so, epochs: train.epochs, log: log)
        let stem = ((file as NSString).lastPathComponent as NSString).deletingPathExtension
        let checkpoint = try CheckpointConfig.read(cn, origin: co, defaultDir: "runs/" + (stem.isEmpty ? "run" : stem), log: log)
        let logConfig = try LogConfig.read(ln, origin: lo, defaultDir: checkpoint.dir, log: log)

        return RunConfig(model: model, data: data, train: train, optimizer: optimizer, schedule: schedule,
                         checkpoint: checkpoint, log: logConfig, file: file, sourceText: text, overrides: overrides,
                         canonicalText: Self.render(log.items, marked: false),
                         effectiveDescription: Self.render(log.items, marked: true),
                         defaultedKeys: log.items.filter(\.defaulted).map { $0.path.joined(separator: ".") },
                         warnings: log.warnings)
    }

    /// YAML of the logged items, nesting by path; `marked` appends "# default" comments aligned
    /// in one column.
    private static func render(_ items: [EffectiveLog.Item], marked: Bool) -> String {
        var lines: [(text: String, comment: String?)] = []
        var open: [String] = []
        for item in items {
            let parents = Array(item.path.dropLast())
            var common = 0
            while common < min(open.count, parents.count) && open[common] == parents[common] { common += 1 }
            open = Array(open.prefix(common))
            for p in parents.dropFirst(common) {
                lines.append((String(repeating: "  ", count: open.count) + p + ":", nil))
                open.append(p)
            }
            let indent = String(repeating: "  ", count: open.count)
            let comment = marked && item.defaulted ? "default" + (item.note.map { ": \($0)" } ?? "") : nil
            switch item.value {
            case .inline(let v): lines.append((indent + item.path.last! + ": " + v, comment))
            case .block(let entries):
                lines.append((indent + item.path.last! + ":", comment))
                for e in entries { lines.append((indent + "  - " + e, nil)) }
            }
        }
        let width = lines.filter { $0.comment != nil }.map(\.text.count).max() ?? 0
        return lines.map { line in
            guard let c = line.comment else { return line.text }
            return line.text + String(repeating: " ", count: width - line.text.count) + "  # " + c
        }.joined(separator: "\n") + "\n"
    }
}

extension RunConfig: Equatable {
    /// Two configs are equal when they describe the same run (the seven sections), whatever
    /// their text, file name or overrides.
    public static func == (a: RunConfig, b: RunConfig) -> Bool {
        a.model == b.model && a.data == b.data && a.train == b.train && a.optimizer == b.optimizer
            && a.schedule == b.schedule && a.checkpoint == b.checkpoint && a.log == b.log
    }
}
