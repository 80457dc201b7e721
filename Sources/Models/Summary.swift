import Foundation
import TensorCore
import NN

/// Per-layer shapes, parameters and multiply-accumulates of a model, with totals
/// (`trainer summary`). Counts follow catalog.json / make_fixtures.macs_of:
/// conv MACs = output elements · (in/groups) · k · k, linear MACs = in · out, others 0.
///
/// Activation memory per image (training) counts, in float32 bytes: the input image, every
/// row's output (each leaf layer owns and keeps its output for its own or its successor's
/// backward; a residual block's post-add ReLU output and a dense block's concatenation buffer
/// are rows of their own), except that the dense layers' first BN-ReLU outputs, which share
/// one recomputed buffer per block, count once at the widest. Not counted: gradient buffers,
/// per-channel BN statistics, pooling argmax indices, im2col workspaces and the parameters.
public struct ModelSummary {
    public struct Row {
        public let name: String
        public let kind: String
        /// Per-sample output shape.
        public let outputShape: [Int]
        public let params: Int
        public let macs: Int
    }

    public let model: String
    public let input: [Int]
    public let rows: [Row]
    public let params: Int
    /// Floats in BN running_mean / running_var.
    public let buffersFloat: Int
    /// Parameters + float buffers + num_batches_tracked counters (PyTorch `len(state_dict())`).
    public let stateDictKeys: Int
    public let forwardMacs: Int
    public let activationBytesPerImage: Int

    public init(model: Model) { self.init(name: model.name, network: model.network, store: model.store) }

    /// Any layer stack, classifier or not (a block, a feature extractor).
    public init(name: String, network: Sequential, store: ParameterStore) {
        var owned: [String: Int] = [:]   // layer name → parameters it declared
        for p in store.parameters {
            let owner = p.name.split(separator: ".", omittingEmptySubsequences: false).dropLast().joined(separator: ".")
            owned[owner, default: 0] += p.count
        }
        var rows: [Row] = []
        var sharedRows: [Bool] = []        // output lives in a shared, recomputed buffer
        var denseBlocks: [DenseBlock] = []
        func walk(_ layer: Layer) {
            if layer.children.isEmpty {
                sharedRows.append((layer as? BatchNorm)?.sharesOutput ?? (layer as? Activation)?.inPlace ?? false)
                let count = owned[layer.name] ?? 0
                rows.append(Row(name: layer.name, kind: Self.kind(of: layer), outputShape: layer.outputShape,
                                params: count, macs: Self.macs(of: layer)))
                return
            }
            layer.children.forEach(walk)
            if let block = layer as? ResidualBlock {
                sharedRows.append(false)
                rows.append(Row(name: block.name, kind: "\(block.kind.rawValue) add+relu", outputShape: block.outputShape,
                                params: 0, macs: 0))
            } else if let block = layer as? DenseBlock {
                denseBlocks.append(block); sharedRows.append(false)
                rows.append(Row(name: block.name, kind: "dense concat", outputShape: block.outputShape, params: 0, macs: 0))
            }
        }
        walk(network)
        self.model = name
        self.input = network.inputShape
        self.rows = rows
        params = store.parameterCount
        buffersFloat = store.bufferCount
        stateDictKeys = store.stateKeys.count
        forwardMacs = rows.reduce(0) { $0 + $1.macs }
        var floats = network.inputShape.reduce(1, *)
        for (row, shares) in zip(rows, sharedRows) where !shares { floats += row.outputShape.reduce(1, *) }
        for block in denseBlocks { floats += block.denseLayers.last!.norm1.outputShape.reduce(1, *) }
        activationBytesPerImage = 4 * floats
    }

    static func kind(of layer: Layer) -> String {
        switch layer {
        case is Conv2d: return "conv"
        case is Linear: return "linear"
        case let l as BatchNorm: return l.relu ? "batchnorm+relu" : "batchnorm"
        case let l as Activation: return l.kind.rawValue
        case is MaxPool2d: return "maxpool"
        case is AvgPool2d: return "avgpool"
        case is AdaptiveAvgPool2d: return "adaptive_avgpool"
        case is Dropout: return "dropout"
        case is Flatten: return "flatten"
        default: return String(describing: type(of: layer)).lowercased()
        }
    }

    /// Per-sample MACs: conv → output spatial size × weight elements; linear → weight elements.
    static func macs(of layer: Layer) -> Int {
        switch layer {
        case let conv as Conv2d:
            return conv.outputShape.dropFirst().reduce(1, *) * conv.weight.count
        case let linear as Linear:
            return linear.weight.count
        default:
            return 0
        }
    }

    /// Aligned text table, one row per layer, then the totals.
    public var table: String {
        let header = ["layer", "kind", "output", "params", "MACs"]
        let cells = rows.map { [$0.name, $0.kind, $0.outputShape.map(String.init).joined(separator: "x"),
                                Self.grouped($0.params), Self.grouped($0.macs)] }
        var widths = header.map(\.count)
        for r in cells { for (i, c) in r.enumerated() { widths[i] = Swift.max(widths[i], c.count) } }
        func line(_ r: [String]) -> String {
            r.enumerated().map { i, c in
                let pad = String(repeating: " ", count: widths[i] - c.count)
                return i >= 3 ? pad + c : c + pad      // numbers right-aligned
            }.joined(separator: "  ")
        }
        var out = "model \(model), input \(input.map(String.init).joined(separator: "x"))\n"
        out += line(header) + "\n"
        out += String(repeating: "-", count: widths.reduce(0, +) + 2 * (widths.count - 1)) + "\n"
        for r in cells { out += line(r) + "\n" }
        let mb = Double(activationBytesPerImage) / 1_048_576
        out += "params \(Self.grouped(params)), float buffers \(Self.grouped(buffersFloat)), "
            + "state_dict keys \(stateDictKeys), forward MACs \(Self.grouped(forwardMacs)) per image, "
            + "training activations \(String(format: mb < 10 ? "%.2f" : "%.1f", mb)) MiB per image\n"
        return out
    }

    /// 1234567 → "1,234,567".
    public static func grouped(_ n: Int) -> String {
        let s = String(n.magnitude)
        var out = ""
        for (i, ch) in s.enumerated() {
            if i > 0 && (s.count - i) % 3 == 0 { out.append(",") }
            out.append(ch)
        }
        return n < 0 ? "-" + out : out
    }
}
