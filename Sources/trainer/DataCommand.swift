import ArgumentParser
import Training

struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Create datasets in the trainer's HDF5 layout (/train and /test images and labels).",
        subcommands: [Synthetic.self, ImportCIFAR.self, Ensure.self])

    struct Synthetic: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a learnable CIFAR-shaped stand-in dataset (class templates plus noise).")
        @Argument(help: "Output HDF5 file.") var output: String
        @Option(help: "Training images.") var train = 5000
        @Option(help: "Test images.") var test = 1000
        @Option(help: "Classes.") var classes = 10
        @Option(help: "Image side in pixels.") var size = 32
        @Option(help: "Channels.") var channels = 3
        @Option(help: "Seed of the generator.") var seed: UInt64 = 0
        func run() throws {
            try Launcher.guarded {
                try Datasets.synthetic(output: output, train: train, test: test, classes: classes, size: size,
                                       channels: channels, seed: seed)
            }
        }
    }

    struct ImportCIFAR: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "import-cifar",
            abstract: "Import the CIFAR-10 binary distribution (cifar-10-binary.tar.gz or its extracted folder).")
        @Argument(help: "cifar-10-binary.tar.gz or the cifar-10-batches-bin folder.") var source: String
        @Argument(help: "Output HDF5 file.") var output: String
        func run() throws {
            try Launcher.guarded { try Datasets.importCIFAR(source: source, output: output) }
        }
    }

    struct Ensure: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create the dataset a config names when it is missing.",
            discussion: """
                Imports CIFAR-10 when cifar-10-binary.tar.gz or cifar-10-batches-bin/ lies next to the
                dataset path (or in the current directory); otherwise writes the synthetic stand-in and says so.
                """)
        @Argument(help: "The run's YAML config (.cfg).") var config: String
        @Option(name: .customLong("set"), help: ArgumentHelp("Override a config value, as for `trainer train` (repeatable).", valueName: "section.key=value"))
        var overrides: [String] = []
        func run() throws {
            try Launcher.guarded { try Datasets.ensure(configPath: config, overrides: overrides) }
        }
    }
}
