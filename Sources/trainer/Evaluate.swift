import ArgumentParser
import Training

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Test-split loss and accuracy of a checkpoint (eval mode; shardable under mpirun).")

    @Argument(help: "The run's YAML config (.cfg).")
    var config: String

    @Option(help: "Checkpoint to evaluate (default: the newest valid one in checkpoint.dir).")
    var checkpoint: String?

    @Option(name: .customLong("set"), help: ArgumentHelp("Override a config value (repeatable).", valueName: "section.key=value"))
    var overrides: [String] = []

    @Flag(help: "Print one JSON object.")
    var json = false

    func run() throws {
        let status = Launcher.runCollective { comm in
            let report = try Evaluation.run(configPath: config, overrides: overrides, checkpoint: checkpoint, communicator: comm)
            if comm.isRoot { print(json ? report.json : report.text) }
            return 0
        }
        throw ExitCode(status)
    }
}
