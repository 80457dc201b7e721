import ArgumentParser
import Commands
import Training

struct FoldBN: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fold-bn",
        abstract: "Fold every BatchNorm that directly follows a convolution into it (an inference checkpoint).",
        discussion: """
            The output holds the folded model (convs gain a bias, folded BN keys are gone), no optimizer \
            state, and the root attribute folded_bn = 1; use it with `trainer predict` or `trainer eval`. \
            The model is rebuilt from the config text stored in the checkpoint.
            """)

    @Argument(help: "Checkpoint to fold.")
    var checkpoint: String

    @Argument(help: "Output checkpoint (written atomically).")
    var output: String

    @Option(help: "Per-sample input C,H,W to build the model at (default: model.input, the dataset's, or the preset's).")
    var input: String?

    func run() throws {
        let shape = try input.map(parseShape)
        let report = try Launcher.guarded {
            try BatchNormFoldingCheckpoint.run(checkpoint: checkpoint, output: output, inputShape: shape)
        }
        print(report.text)
    }

    private func parseShape(_ text: String) throws -> [Int] {
        let parts = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.count == 3, parts.allSatisfy({ ($0 ?? 0) > 0 }) else {
            throw ValidationError("--input: expected C,H,W such as 3,32,32, got '\(text)'")
        }
        return parts.map { $0! }
    }
}
