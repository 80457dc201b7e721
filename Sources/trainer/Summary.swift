import ArgumentParser
import TensorCore
import Commands
import Training

struct Summary: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Per-layer output shapes, parameters and MACs of a model, then the totals.")

    @Argument(help: "A config whose model to summarise (only its model section is needed), or use --model.")
    var config: String?

    @Option(help: "A preset model name instead of a config (e.g. resnet50, densenet_bc_100_k12).")
    var model: String?

    @Option(help: "Per-sample input C,H,W (default: the preset's, or the config's dataset).")
    var input: String?

    @Option(help: "Number of classes (default: 10 for CIFAR-size presets, 1000 for ImageNet ones).")
    var numClasses: Int?

    @Option(name: .customLong("set"), help: ArgumentHelp("Override a config value, as for `trainer train` (repeatable).", valueName: "section.key=value"))
    var overrides: [String] = []

    @Flag(help: "Print one JSON object (params, buffers_float, state_dict_keys, forward_macs, input, layers).")
    var json = false

    func validate() throws {
        if (config == nil) == (model == nil) { throw ValidationError("give either a CONFIG or --model NAME") }
        if model != nil && !overrides.isEmpty { throw ValidationError("--set applies to a CONFIG, not to --model") }
    }

    func run() throws {
        let shape = try input.map(parseShape)
        let summary = try Launcher.guarded {
            if let model {
                return try ModelSummaries.preset(model, input: shape, numClasses: numClasses)
            }
            let (summary, warnings) = try ModelSummaries.config(config!, overrides: overrides, input: shape, numClasses: numClasses)
            for w in warnings { printError("trainer: warning: \(w)") }
            return summary
        }
        print(json ? summary.json : summary.table)
    }

    private func parseShape(_ text: String) throws -> [Int] {
        let parts = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.count == 3, parts.allSatisfy({ ($0 ?? 0) > 0 }) else {
            throw ValidationError("--input: expected C,H,W such as 3,32,32, got '\(text)'")
        }
        return parts.map { $0! }
    }
}

import Foundation
import TensorCore
