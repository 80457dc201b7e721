import Foundation

extension ModelSummary {
    /// The document `trainer summary --json` prints, field names as in catalog.json.
    struct Document: Encodable {
        struct Layer: Encodable {
            let name: String, kind: String, output: [Int], params: Int, macs: Int
        }
        let model: String
        let input: [Int]
        let params: Int
        let buffers_float: Int
        let state_dict_keys: Int
        let forward_macs: Int
        let activation_bytes_per_image: Int
        let layers: [Layer]
    }

    /// One JSON object: model, input, params, buffers_float, state_dict_keys, forward_macs,
    /// activation_bytes_per_image, and layers (name, kind, output, params, macs); written by
    /// JSONEncoder, so any name or path survives as a valid string.
    public var json: String {
        let doc = Document(model: model, input: input, params: params, buffers_float: buffersFloat,
                           state_dict_keys: stateDictKeys, forward_macs: forwardMacs,
                           activation_bytes_per_image: activationBytesPerImage,
                           layers: rows.map { .init(name: $0.name, kind: $0.kind, output: $0.outputShape, params: $0.params, macs: $0.macs) })
        return JSONText.encode(doc)
    }
}

/// The JSON the command line prints (`summary --json`, `eval --json`): JSONEncoder output,
/// keys sorted, non-finite numbers as the strings "nan", "inf", "-inf".
public enum JSONText {
    /// `value` as JSON with sorted keys: indented for people, or on one line (`pretty: false`)
    /// for reports that scripts read line by line.
    public static func encode<T: Encodable>(_ value: T, pretty: Bool = true) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        do { return String(decoding: try encoder.encode(value), as: UTF8.self) } catch {
            preconditionFailure("JSONText: \(T.self) did not encode: \(error)")
        }
    }
}
