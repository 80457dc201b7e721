import ArgumentParser
import Foundation
import TensorCore
import Commands
import Training

struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Create datasets in the trainer's HDF5 layout (/train and /test images and labels).",
        subcommands: [Download.self, ImportCIFAR10.self, ImportCIFAR100.self, ImportIdx.self, ImportFolder.self,
                      Synthetic.self, Ensure.self])

    struct Download: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Download a public dataset, check its published MD5 sums, keep the files and import them.",
            discussion: "Datasets: cifar10, cifar100, mnist, fashion-mnist. The downloaded files are kept in a folder named after the dataset beside OUTPUT (data/cifar10/ for data/cifar10.h5); a kept file with the right checksum is not fetched again.")
        @Argument(help: "cifar10, cifar100, mnist or fashion-mnist.") var name: String
        @Argument(help: "Output HDF5 file (default: data/NAME.h5).") var output: String?
        @Option(help: ArgumentHelp("Fetch the files from this mirror (each file at URL/FILE) instead of the published place.", valueName: "URL"))
        var url: String?
        @Option(help: "Seconds to wait for a connection before giving up.") var connectTimeout = 10
        func run() throws {
            try Launcher.guarded { try Datasets.download(name: name, output: output, mirror: url, connectTimeout: connectTimeout) }
        }
    }

    struct ImportCIFAR10: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "import-cifar10",
            abstract: "Import the CIFAR-10 binary distribution (cifar-10-binary.tar.gz or its extracted folder).",
            aliases: ["import-cifar"])
        @Argument(help: "cifar-10-binary.tar.gz or the cifar-10-batches-bin folder.") var source: String
        @Argument(help: "Output HDF5 file.") var output: String
        func run() throws {
            try Launcher.guarded { try Datasets.importCIFAR(source: source, output: output) }
        }
    }

    struct ImportCIFAR100: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "import-cifar100",
            abstract: "Import the CIFAR-100 binary distribution (cifar-100-binary.tar.gz or its extracted folder).")
        @Argument(help: "cifar-100-binary.tar.gz or the cifar-100-binary folder.") var source: String
        @Argument(help: "Output HDF5 file.") var output: String
        @Flag(help: "Use the 20 coarse (superclass) labels instead of the 100 fine ones.") var coarse = false
        func run() throws {
            try Launcher.guarded { try Datasets.importCIFAR100(source: source, output: output, coarse: coarse) }
        }
    }

    struct ImportIdx: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "import-idx",
            abstract: "Import MNIST-format idx files (MNIST, Fashion-MNIST, KMNIST), plain or .gz.",
            discussion: "FOLDER holds train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, each possibly ending in .gz.")
        @Argument(help: "The folder holding the four idx files.") var source: String
        @Argument(help: "Output HDF5 file.") var output: String
        @Option(help: "mnist, fashion-mnist or kmnist: the class names and the recorded source.") var kind = "mnist"
        func run() throws {
            try Launcher.guarded { try Datasets.importIdx(source: source, output: output, kind: kind) }
        }
    }

    struct ImportFolder: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "import-folder",
            abstract: "Import a folder of PNG and JPEG images with one subfolder per class.",
            discussion: "ROOT/<class>/<image> becomes /train (and /val with --val-fraction); a ROOT holding train/, test/ and val/ folders, each with class subfolders, becomes those splits. Classes are the subfolder names sorted; every image is resized to SIZE×SIZE (bilinear, aspect ratio not kept).")
        @Argument(help: "The root folder.") var source: String
        @Argument(help: "Output HDF5 file.") var output: String
        @Option(help: "Side of the stored images in pixels.") var size = 32
        @Option(help: "1 (grayscale) or 3 (RGB).") var channels = 3
        @Option(help: "Share of each class held out as /val.") var valFraction = 0.0
        @Option(help: "Seed of the held-out choice.") var seed: UInt64 = 0
        func run() throws {
            try Launcher.guarded {
                try Datasets.importFolder(source: source, output: output, size: size, channels: channels,
                                          valFraction: valFraction, seed: seed)
            }
        }
    }

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

    struct Ensure: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create the dataset a config names when it is missing (what Launch/train runs first).",
            discussion: "Imports CIFAR-10 when cifar-10-binary.tar.gz or cifar-10-batches-bin/ lies next to the dataset path (or in the current directory); downloads the dataset when the file is named after one `trainer data download` knows (data/cifar10.h5, data/mnist.h5, ...); otherwise, or offline, writes the synthetic stand-in as synthetic-<name>.h5 beside it. Messages go to stderr; when the run must read the stand-in, stdout gets one line, data.path=PATH, to pass as --set.")
        @Argument(help: "The run's YAML config (.cfg).") var config: String
        @Option(name: .customLong("set"), help: ArgumentHelp("Override a config value, as for `trainer train` (repeatable).", valueName: "section.key=value"))
        var overrides: [String] = []
        @Flag(help: "Never download; write the stand-in instead.") var noDownload = false
        @Option(help: ArgumentHelp("Download from this mirror (each file at URL/FILE).", valueName: "URL")) var url: String?
        @Option(help: "Seconds to wait for a connection before giving up.") var connectTimeout = 10
        func run() throws {
            try Launcher.guarded {
                let other = try DatasetEnsure.ensure(configPath: config, overrides: overrides, download: !noDownload, mirror: url,
                                                     connectTimeout: connectTimeout, say: { printError($0) })
                if let other { print("data.path=\(other)") }
            }
        }
    }
}
