import Foundation

/// Imports the idx files of MNIST (http://yann.lecun.com/exdb/mnist/) and the sets that share
/// its format and file names — Fashion-MNIST and KMNIST — plain or gzip-compressed, into the
/// schema of `DatasetFile` as 1-channel 28×28 images (N, 28, 28, 1).
///
/// An idx file is a big-endian header — two zero bytes, the element type (0x08: uint8), the
/// number of dimensions d — then d uint32 sizes and the elements row-major. Each file is
/// streamed straight into the output split.
public enum MNISTImporter {
    /// The sets in this format, their class names and the `source` they are recorded as.
    public enum Kind: String, CaseIterable, Sendable {
        case mnist, fashionMNIST = "fashion-mnist", kmnist

        public var classes: [String] {
            switch self {
            case .mnist: return (0..<10).map(String.init)
            case .fashionMNIST: return ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
            case .kmnist: return ["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"]
            }
        }
    }

    /// The four files, by split: (images, labels); each may also be given with ".gz".
    public static let files = [("train", "train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
                               ("test", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")]

    /// `folder` holds the four files (plain or .gz). Returns the train and test sample counts.
    @discardableResult
    public static func importIdx(from folder: String, to output: String, kind: Kind = .mnist) throws -> (train: Int, test: Int) {
        var splits: [(String, DatasetSplit)] = []
        for (split, imagesName, labelsName) in files {
            let images = try find(imagesName, in: folder), labels = try find(labelsName, in: folder)
            splits.append((split, try readSplit(images: images, labels: labels, numClasses: kind.classes.count)))
        }
        let stats = splits[0].1.channelMeanStd()
        try DatasetFile.write(path: output, splits: splits, classes: kind.classes, mean: stats.mean, std: stats.std,
                              source: kind.rawValue)
        return (splits[0].1.count, splits[1].1.count)
    }

    /// `name` or `name.gz` in `folder`.
    static func find(_ name: String, in folder: String) throws -> String {
        for candidate in [name, name + ".gz"] where FileManager.default.fileExists(atPath: "\(folder)/\(candidate)") {
            return "\(folder)/\(candidate)"
        }
        throw IOError(file: folder, "no \(name) or \(name).gz (expected the MNIST idx files)")
    }

    /// One split from its images (idx3) and labels (idx1) files.
    public static func readSplit(images: String, labels: String, numClasses: Int = 10) throws -> DatasetSplit {
        let ls = try GzipStream(path: labels)
        let ldims = try header(ls, rank: 1)
        let labelBytes = try ls.readExactly(ldims[0], what: "\(ldims[0]) labels")
        if let bad = labelBytes.firstIndex(where: { Int($0) >= numClasses }) {
            throw IOError(file: labels, key: "label \(bad)", "\(labelBytes[bad]) out of range 0..<\(numClasses)")
        }
        let ims = try GzipStream(path: images)
        let dims = try header(ims, rank: 3)
        guard dims[0] == ldims[0] else { throw IOError(file: images, "\(dims[0]) images but \(labels) has \(ldims[0]) labels") }
        let pixels = try ims.readExactly(dims[0] * dims[1] * dims[2], what: "\(dims[0]) images of \(dims[1])×\(dims[2])")
        return DatasetSplit(images: pixels, labels: labelBytes.map(Int32.init), height: dims[1], width: dims[2], channels: 1)
    }

    /// Reads and checks the idx header of a uint8 array of `rank` dimensions; returns the sizes.
    static func header(_ s: GzipStream, rank: Int) throws -> [Int] {
        let magic = try s.readExactly(4, what: "the idx header")
        guard magic[0] == 0, magic[1] == 0 else { throw IOError(file: s.path, "not an idx file (bad magic number)") }
        guard magic[2] == 0x08 else { throw IOError(file: s.path, "idx element type 0x\(String(magic[2], radix: 16)), expected 0x08 (uint8)") }
        guard Int(magic[3]) == rank else { throw IOError(file: s.path, "idx file of \(magic[3]) dimensions, expected \(rank)") }
        let sizes = try s.readExactly(4 * rank, what: "the idx sizes")
        return (0..<rank).map { d in (0..<4).reduce(0) { $0 << 8 | Int(sizes[4 * d + $1]) } }
    }
}
