import Config
import Foundation
import IO
import Training

/// `trainer data ensure` (what Launch/train runs before training): makes sure the dataset a
/// config names exists. In order: the file itself; a CIFAR-10 archive found beside it (or in
/// the working directory) imported; a dataset `trainer data download` knows, named by the file
/// (data/cifar10.h5, data/mnist.h5, ...), downloaded; otherwise the synthetic stand-in, written
/// under its own name `synthetic-<name>.h5` beside the expected file, never under the real one.
public enum DatasetEnsure {
    /// Archive names looked for next to the dataset path and in the current directory.
    static let cifarSources = ["cifar-10-binary.tar.gz", "cifar-10-batches-bin"]

    /// Returns the path the run must read when it is not data.path (the stand-in), else nil.
    /// `say` gets the human-readable lines.
    public static func ensure(configPath: String, overrides: [String] = [], download: Bool = true, mirror: String? = nil,
                              connectTimeout: Int = 10, say: (String) -> Void) throws -> String? {
        let config = try RunConfig.load(path: configPath, overrides: overrides)
        let path = config.data.path
        if FileManager.default.fileExists(atPath: path) {
            say("data: \(path) (source: \(DatasetFile.source(of: path) ?? "unknown"))")
            return nil
        }
        let folder = FileSystem.parentFolder(path)
        let stem = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
        let candidates = cifarSources.flatMap { [(folder.isEmpty ? "." : folder) + "/" + $0, $0] }
        if stem == "cifar10", let source = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) {
            say("data: \(path) is missing; importing CIFAR-10 from \(source)")
            try Datasets.makeParent(of: path)
            try CIFARImporter.importCIFAR10(from: source, to: path)
            return nil
        }
        if let entry = try? DatasetDownload.entry(stem) {
            if download {
                say("data: \(path) is missing; downloading \(entry.name)")
                do {
                    try Datasets.download(name: entry.name, output: path, mirror: mirror, connectTimeout: connectTimeout, say: { say("data: " + $0) })
                    return nil
                } catch {
                    say("data: \(error)")
                }
            } else {
                say("data: \(path) is missing (download off)")
            }
        }
        return try standIn(for: path, stem: stem, config: config, say: say)
    }

    /// Writes (or reuses) `synthetic-<stem>.h5` beside `path`, shaped as the named dataset.
    static func standIn(for path: String, stem: String, config: RunConfig, say: (String) -> Void) throws -> String {
        let folder = FileSystem.parentFolder(path)
        let synthetic = (folder.isEmpty ? "" : folder + "/") + "synthetic-\(stem).h5"
        let fetch = (try? DatasetDownload.entry(stem)).map { "`trainer data download \($0.name) \(path)`" }
            ?? "`trainer data import-...` (see trainer data --help)"
        say("data: using the SYNTHETIC stand-in \(synthetic) instead of \(path); its accuracy means nothing for real data. For the real data run \(fetch).")
        if FileManager.default.fileExists(atPath: synthetic) { return synthetic }
        let mnistLike = stem.contains("mnist")
        let channels = config.model.inChannels ?? config.model.input?[0] ?? (mnistLike ? 1 : 3)
        let size = config.model.input?[1] ?? (mnistLike ? 28 : 32)
        let classes = config.model.numClasses ?? (stem == "cifar100" ? 100 : 10)
        try Datasets.synthetic(output: synthetic, train: 5000, test: 1000, classes: classes, size: size,
                               channels: channels, seed: config.train.seed, say: { say("data: " + $0) })
        return synthetic
    }
}
