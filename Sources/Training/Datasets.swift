import Config
import Foundation
import IO

/// The `trainer data` commands: dataset files in the layout of DESIGN.md.
public enum Datasets {
    public static func synthetic(output: String, train: Int, test: Int, classes: Int, size: Int, channels: Int,
                                 seed: UInt64) throws {
        try makeParent(of: output)
        try SyntheticDataset.write(path: output, options: .init(trainCount: train, testCount: test, height: size, width: size,
                                                                channels: channels, numClasses: classes, seed: seed))
        print("wrote \(output): synthetic stand-in, \(train) train / \(test) test images \(size)×\(size)×\(channels), \(classes) classes")
    }

    public static func importCIFAR(source: String, output: String) throws {
        try makeParent(of: output)
        let counts = try CIFARImporter.importCIFAR10(from: source, to: output)
        print("wrote \(output): CIFAR-10, \(counts.train) train / \(counts.test) test images")
    }

    /// Archive names looked for next to the dataset path and in the current directory.
    static let cifarSources = ["cifar-10-binary.tar.gz", "cifar-10-batches-bin"]

    /// Creates the config's dataset when it is missing: CIFAR-10 from an archive found beside it,
    /// otherwise the synthetic stand-in (announced, since its accuracy means nothing for CIFAR).
    /// `overrides` are the run's `--set` options, so `--set data.path=...` is the file ensured.
    public static func ensure(configPath: String, overrides: [String] = []) throws {
        let config = try RunConfig.load(path: configPath, overrides: overrides)
        let path = config.data.path
        if FileManager.default.fileExists(atPath: path) { return }
        let folder = (path as NSString).deletingLastPathComponent
        let candidates = cifarSources.flatMap { [(folder.isEmpty ? "." : folder) + "/" + $0, $0] }
        if let source = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) {
            print("data: \(path) is missing; importing CIFAR-10 from \(source)")
            try importCIFAR(source: source, output: path)
            return
        }
        print("""
            data: \(path) is missing and no CIFAR-10 archive was found (looked for \(candidates.joined(separator: ", "))).
            data: writing the SYNTHETIC stand-in instead; for real CIFAR-10 put cifar-10-binary.tar.gz
            data: (https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz) in \(folder.isEmpty ? "." : folder)/ and delete \(path).
            """)
        try synthetic(output: path, train: 5000, test: 1000, classes: config.model.numClasses ?? 10, size: 32,
                      channels: config.model.inChannels ?? 3, seed: config.train.seed)
    }

    private static func makeParent(of path: String) throws {
        let folder = (path as NSString).deletingLastPathComponent
        if !folder.isEmpty { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
    }
}
