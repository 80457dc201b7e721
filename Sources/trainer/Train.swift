import ArgumentParser
import Commands
import Training

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train the model a config describes (run under mpirun for several ranks).",
        discussion: """
            Resumes from the newest valid checkpoint in checkpoint.dir unless checkpoint.resume says otherwise.

            SIGTERM, SIGINT or SIGUSR1: every rank finishes the current step, a checkpoint is written, \
            and the job exits with status 143, 130 or 138; rerun the same command to resume. \
            Under mpirun send SIGUSR1 to mpirun, which forwards it (a SIGTERM to mpirun reaches the ranks \
            only after odls_base_sigkill_timeout seconds, default 1, and SIGKILL follows as long after). \
            Launch/train does this for Ctrl-C: it passes the signal on to mpirun as SIGUSR1.
            """)

    @Argument(help: "The run's YAML config (.cfg).")
    var config: String

    @Option(name: .customLong("set"), help: ArgumentHelp("Override a config value, e.g. --set train.epochs=3 (repeatable).", valueName: "section.key=value"))
    var overrides: [String] = []

    @Flag(help: "Resume even from a checkpoint of another global batch, model or dataset, or whose config differs in a key that changes the run (model.*, data.path/val_split/mean/std, train.seed, optimizer.name).")
    var forceResume = false

    @Option(help: ArgumentHelp("Stop after this global step with a checkpoint, as on SIGTERM (exit 0).", visibility: .hidden))
    var stopAtStep: Int?

    func run() throws {
        let status = Launcher.runTraining(configPath: config, overrides: overrides, forceResume: forceResume,
                                          stopAtStep: stopAtStep)
        throw ExitCode(status)
    }
}
