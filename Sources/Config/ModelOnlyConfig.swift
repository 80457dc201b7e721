/// The `model` section of a config alone, for `trainer summary`: a file with only a model
/// section (and `input`) is enough, `--set` applies, and the other sections are not checked
/// beyond their names (data.path is read, if given, to take the input shape from the dataset).
public struct ModelOnlyConfig: Sendable {
    public let model: ModelConfig
    /// `data.path` when the file gives one as a string.
    public let dataPath: String?
    public let warnings: [String]

    public static func load(path: String, overrides: [String] = []) throws -> ModelOnlyConfig {
        let section = try RunConfig.sections(text: try RunConfig.readText(path), file: path, overrides: overrides)
        let log = EffectiveLog()
        let (node, origin) = section("model")
        let model = try ModelConfig.read(node, origin: origin, log: log)
        var dataPath: String?
        if case .mapping(let entries)? = section("data").0?.kind, let p = entries.first(where: { $0.key == "path" }) {
            dataPath = try? Scalar.string(p.value)
        }
        return ModelOnlyConfig(model: model, dataPath: dataPath, warnings: log.warnings)
    }
}
