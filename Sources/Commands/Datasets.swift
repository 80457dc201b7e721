import Config
import Foundation
import IO
import Training

/// The `trainer data` commands: dataset files in the layout of DESIGN.md.
public enum Datasets {
    public static func synthetic(output: String, train: Int, test: Int, classes: Int, size: Int, channels: Int,
                                 seed: UInt64, say: (String) -> Void = { print($0) }) throws {
        try makeParent(of: output)
        try SyntheticDataset.write(path: output, options: .init(trainCount: train, testCount: test, height: size, width: size,
                                                                channels: channels, numClasses: classes, seed: seed))
        say("wrote \(output): synthetic stand-in, \(train) train / \(test) test images \(size)×\(size)×\(channels), \(classes) classes")
    }

    public static func importCIFAR(source: String, output: String) throws {
        try makeParent(of: output)
        let counts = try CIFARImporter.importCIFAR10(from: source, to: output)
        print("wrote \(output): CIFAR-10, \(counts.train) train / \(counts.test) test images, 10 classes")
    }

    public static func importCIFAR100(source: String, output: String, coarse: Bool) throws {
        try makeParent(of: output)
        let counts = try CIFARImporter.importCIFAR100(from: source, to: output, labels: coarse ? .coarse : .fine)
        print("wrote \(output): CIFAR-100, \(counts.train) train / \(counts.test) test images, \(coarse ? "20 coarse" : "100 fine") classes")
    }

    /// `kind`: mnist, fashion-mnist or kmnist.
    public static func importIdx(source: String, output: String, kind: String) throws {
        guard let k = MNISTImporter.Kind(rawValue: kind) else {
            throw TrainingError("--kind: unknown '\(kind)' (expected one of: \(MNISTImporter.Kind.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        try makeParent(of: output)
        let counts = try MNISTImporter.importIdx(from: source, to: output, kind: k)
        print("wrote \(output): \(kind), \(counts.train) train / \(counts.test) test images 28×28×1, 10 classes")
    }

    public static func importFolder(source: String, output: String, size: Int, channels: Int, valFraction: Double,
                                    seed: UInt64) throws {
        try makeParent(of: output)
        let (counts, classes) = try ImageFolderImporter.importFolder(
            from: source, to: output, options: .init(size: size, channels: channels, valFraction: valFraction, seed: seed))
        let splits = counts.sorted { $0.key > $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: " / ")
        print("wrote \(output): \(splits) images \(size)×\(size)×\(channels), \(classes.count) class\(classes.count == 1 ? "" : "es")")
    }

    /// `trainer data download NAME [OUT]`: fetch, check, keep the files under <OUT's folder>/NAME/, import.
    public static func download(name: String, output: String?, mirror: String?, connectTimeout: Int = 10,
                                say: (String) -> Void = { print($0) }) throws {
        let entry = try DatasetDownload.entry(name)
        let out = output ?? entry.defaultOutput
        try makeParent(of: out)
        let counts = try DatasetDownload.download(entry, to: out, mirror: mirror, connectTimeout: connectTimeout, say: say)
        say("wrote \(out): \(name), \(counts.train) train / \(counts.test) test images")
    }

    static func makeParent(of path: String) throws {
        let folder = FileSystem.parentFolder(path)
        if !folder.isEmpty { try FileSystem.ensureWritableFolder(folder) }
    }
}
