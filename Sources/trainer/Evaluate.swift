import ArgumentParser
import Commands
import Training

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Test-split (or validation) loss and accuracy of a checkpoint (eval mode; shardable under mpirun).")

    @Argument(help: "The run's YAML config (.cfg).")
    var config: String

    @Option(help: "Checkpoint to evaluate (default: the newest valid one in checkpoint.dir).")
    var checkpoint: String?

    @Option(name: .customLong("set"), help: ArgumentHelp("Override a config value (repeatable).", valueName: "section.key=value"))
    var overrides: [String] = []

    @Option(help: "test, or val: the run's validation samples (data.val_split's hold-out or /val).")
    var split: Evaluation.Split = .test

    @Flag(help: "Print one JSON object.")
    var json = false

    func run() throws {
        let status = Launcher.runCollective { comm in
            let report = try Evaluation.run(configPath: config, overrides: overrides, checkpoint: checkpoint, split: split,
                                            communicator: comm)
            if comm.isRoot { print(json ? report.json : report.text) }
            return 0
        }
        throw ExitCode(status)
    }
}

extension Evaluation.Split: ExpressibleByArgument {}
