import ArgumentParser
import Commands
import Training

struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Eval-mode logits of a checkpoint for a file of images (/images in, /logits out).",
        discussion: """
            IN.h5 /images: uint8 (N, H, W, C), normalised as in training (data.mean/std of the config, \
            else the mean/std attributes of data.path, else of IN.h5), or float32 (N, C, H, W) used as given. \
            OUT.h5 /logits: float32 (N, K). A BN-folded checkpoint (trainer fold-bn) works too.
            """)

    @Argument(help: "The run's YAML config (.cfg): it describes the model.")
    var config: String

    @Option(help: "Checkpoint to load.")
    var checkpoint: String

    @Option(help: "HDF5 file with /images.")
    var input: String

    @Option(help: "HDF5 file to write /logits to (replaced if it exists).")
    var output: String

    @Option(help: "Images per forward pass.")
    var batch = 128

    @Option(name: .customLong("set"), help: ArgumentHelp("Override a config value (repeatable).", valueName: "section.key=value"))
    var overrides: [String] = []

    func validate() throws {
        if batch < 1 { throw ValidationError("--batch must be >= 1, got \(batch)") }
    }

    func run() throws {
        let report = try Launcher.guarded {
            try Prediction.run(configPath: config, overrides: overrides, checkpoint: checkpoint, input: input,
                               output: output, batch: batch)
        }
        print(report.text)
    }
}
