import TensorCore

/// One entry of `model.layers` (name: layers), darknet style: the network is the list, in order;
/// shapes flow from `model.input` through each layer and are checked when the model is built.
///
///     - conv: {out: 16, kernel: 3, stride: 1, padding: 1, groups: 1, bias: true}
///     - batchnorm            # BatchNorm2d after a conv, BatchNorm1d after flatten/linear
///     - relu                 # also relu6, sigmoid, tanh, flatten (bare names)
///     - maxpool: {kernel: 2}            # stride defaults to kernel, padding to 0
///     - avgpool: {kernel: 2, stride: 2}
///     - adaptive_avgpool: {out: [1, 1]} # or out: 1
///     - dropout: {p: 0.5}
///     - linear: {out: 10, bias: true}
///
/// Defaults are PyTorch's (conv kernel 3 is this project's, since nn.Conv2d has none).
/// Parameter names are nn.Sequential indices ("0.weight", "3.bias", ...).
public enum LayerSpec: Equatable, Sendable {
    public typealias Activation = ActivationKind

    case conv(out: Int, kernel: Int, stride: Int, padding: Int, groups: Int, bias: Bool)
    case batchnorm
    case activation(Activation)
    case flatten
    case maxpool(kernel: Int, stride: Int, padding: Int)
    case avgpool(kernel: Int, stride: Int, padding: Int)
    case adaptiveAvgPool(height: Int, width: Int)
    case dropout(p: Double)
    case linear(out: Int, bias: Bool)

    /// The type names as written in a config.
    public static let typeNames = ["conv", "batchnorm", "relu", "relu6", "sigmoid", "tanh", "flatten",
                                   "maxpool", "avgpool", "adaptive_avgpool", "dropout", "linear"]

    /// The config spelling of the layer's type.
    public var typeName: String {
        switch self {
        case .conv: return "conv"
        case .batchnorm: return "batchnorm"
        case .activation(let a): return a.rawValue
        case .flatten: return "flatten"
        case .maxpool: return "maxpool"
        case .avgpool: return "avgpool"
        case .adaptiveAvgPool: return "adaptive_avgpool"
        case .dropout: return "dropout"
        case .linear: return "linear"
        }
    }

    /// Canonical YAML of the entry, every field spelled out ("conv: {out: 16, kernel: 3, ...}").
    public var yaml: String {
        func b(_ v: Bool) -> String { v ? "true" : "false" }
        switch self {
        case let .conv(out, k, s, p, g, bias):
            return "conv: {out: \(out), kernel: \(k), stride: \(s), padding: \(p), groups: \(g), bias: \(b(bias))}"
        case .batchnorm, .activation, .flatten: return typeName
        case let .maxpool(k, s, p), let .avgpool(k, s, p):
            return "\(typeName): {kernel: \(k), stride: \(s), padding: \(p)}"
        case let .adaptiveAvgPool(h, w): return "adaptive_avgpool: {out: [\(h), \(w)]}"
        case let .dropout(p): return "dropout: {p: \(Scalar.format(p))}"
        case let .linear(out, bias): return "linear: {out: \(out), bias: \(b(bias))}"
        }
    }

    /// Parses `model.layers`: a list whose entries are a bare type name or a one-key mapping
    /// `type: {fields}`.
    static func parseList(_ node: ConfigNode) throws -> [LayerSpec] {
        guard case .sequence(let items) = node.kind else {
            throw ConfigError(node.origin, key: "model.layers", "expected a list of layers, got \(node.display)")
        }
        if items.isEmpty { throw ConfigError(node.origin, key: "model.layers", "the list of layers is empty") }
        return try items.enumerated().map { try parse($1, index: $0) }
    }

    private static func parse(_ item: ConfigNode, index: Int) throws -> LayerSpec {
        let at = "model.layers[\(index)]"
        let type: String, fields: ConfigNode?, typeOrigin: ConfigOrigin
        switch item.kind {
        case .scalar(let s, _): type = s; fields = nil; typeOrigin = item.origin
        case .mapping(let entries) where entries.count == 1:
            type = entries[0].key; fields = entries[0].value; typeOrigin = entries[0].origin
        default:
            throw ConfigError(item.origin, key: at, "expected a layer name or 'type: {fields}' with one type, got \(item.display)")
        }
        guard typeNames.contains(type) else {
            throw ConfigError(typeOrigin, key: at, "unknown layer '\(type)'" + Suggest.hint(type, in: typeNames))
        }
        func reader(_ allowed: [String]) throws -> MappingReader {
            try MappingReader(fields, path: ["model", "layers[\(index)]", type], origin: typeOrigin, allowed: allowed, log: nil)
        }
        let positive = { (v: Int) in v < 1 ? "must be >= 1, got \(v)" : nil }
        let spec: LayerSpec
        switch type {
        case "conv":
            let r = try reader(["out", "kernel", "stride", "padding", "groups", "bias"])
            let out = try r.int("out", default: nil, min: 1)
            let groups = try r.int("groups", default: 1, min: 1)
            if out % groups != 0 { throw r.error("groups", "out (\(out)) must be divisible by groups (\(groups))") }
            spec = .conv(out: out, kernel: try r.int("kernel", default: 3, min: 1), stride: try r.int("stride", default: 1, min: 1),
                         padding: try r.int("padding", default: 0, min: 0), groups: groups, bias: try r.bool("bias", default: true))
        case "batchnorm", "relu", "relu6", "sigmoid", "tanh", "flatten":
            _ = try reader([])
            spec = type == "batchnorm" ? .batchnorm : type == "flatten" ? .flatten : .activation(Activation(rawValue: type)!)
        case "maxpool", "avgpool":
            let r = try reader(["kernel", "stride", "padding"])
            let k = try r.int("kernel", default: nil, min: 1)
            let s = try r.int("stride", default: k, min: 1)
            let p = try r.int("padding", default: 0, min: 0)
            if 2 * p > k { throw r.error("padding", "must be at most half the kernel (\(k)), got \(p)") }
            spec = type == "maxpool" ? .maxpool(kernel: k, stride: s, padding: p) : .avgpool(kernel: k, stride: s, padding: p)
        case "adaptive_avgpool":
            let r = try reader(["out"])
            let hw = try r.value("out", default: [1, 1], { n -> [Int] in
                if case .sequence = n.kind { return try Scalar.intList(n) }
                let v = try Scalar.int(n); return [v, v]
            }, render: Scalar.render, check: { $0.count != 2 || $0.contains { $0 < 1 } ? "expected [height, width] or one size >= 1" : nil })
            spec = .adaptiveAvgPool(height: hw[0], width: hw[1])
        case "dropout":
            let r = try reader(["p"])
            spec = .dropout(p: try r.double("p", default: 0.5) { $0 < 0 || $0 >= 1 ? "must lie in [0, 1), got \(Scalar.format($0))" : nil })
        case "linear":
            let r = try reader(["out", "bias"])
            spec = .linear(out: try r.value("out", default: nil, Scalar.int, render: Scalar.render, check: positive),
                           bias: try r.bool("bias", default: true))
        default:
            preconditionFailure("LayerSpec: type '\(type)' listed in typeNames but not parsed")
        }
        return spec
    }
}
