import Foundation
import TensorCore

/// Imports a tree of PNG and JPEG files with one subfolder per class — torchvision's
/// ImageFolder, Keras' image_dataset_from_directory — into the schema of `DatasetFile`.
///
///     root/cat/001.png  root/dog/xyz.jpg ...          → /train (and /val with valFraction > 0)
///     root/train/cat/... root/test/cat/... (val/)     → /train, /test, /val as given
///
/// Classes are the subfolder names sorted (as torchvision does), labels their indices. Every
/// image is decoded, converted to `channels` (1 gray, 3 RGB) and resized to size×size with
/// `ImageResize` (aspect ratio not kept, as Keras does by default); files are read one at a
/// time. `valFraction` holds out that share of each class, chosen by a permutation from
/// Philox(seed), as /val. Files with other extensions are skipped.
public enum ImageFolderImporter {
    public struct Options: Sendable {
        public var size = 32
        public var channels = 3
        public var valFraction = 0.0
        public var seed: UInt64 = 0
        public init(size: Int = 32, channels: Int = 3, valFraction: Double = 0, seed: UInt64 = 0) {
            self.size = size; self.channels = channels; self.valFraction = valFraction; self.seed = seed
        }
    }

    public static let splitFolders = ["train", "test", "val"]

    /// Returns the sample count of every split written, and the class names.
    @discardableResult
    public static func importFolder(from root: String, to output: String, options o: Options = Options()) throws
        -> (counts: [String: Int], classes: [String]) {
        guard o.size >= 1, o.channels == 1 || o.channels == 3, (0..<1).contains(o.valFraction) else {
            throw IOError(file: root, "size must be >= 1, channels 1 or 3, val-fraction in [0, 1)")
        }
        let top = try subfolders(root)
        let presplit = !top.isEmpty && top.allSatisfy(splitFolders.contains)
        let trainRoot = presplit ? "\(root)/train" : root
        let classes = try subfolders(trainRoot)
        guard !classes.isEmpty else { throw IOError(file: trainRoot, "no class subfolders (expected root/<class>/<image>.png|jpg)") }

        var lists: [(String, [(String, Int32)])] = []
        if presplit {
            for split in top.sorted(by: { splitFolders.firstIndex(of: $0)! < splitFolders.firstIndex(of: $1)! }) {
                lists.append((split, try files("\(root)/\(split)", classes: classes)))
            }
        } else {
            let all = try files(root, classes: classes)
            let (train, val) = holdOut(all, fraction: o.valFraction, classes: classes.count, seed: o.seed)
            lists.append(("train", train))
            if !val.isEmpty { lists.append(("val", val)) }
        }
        var splits: [(name: String, data: DatasetSplit)] = []
        for (name, list) in lists {
            guard !list.isEmpty else { throw IOError(file: "\(root)/\(name)", "no PNG or JPEG images") }
            splits.append((name, try decodeAll(list, o)))
        }
        let stats = splits[0].data.channelMeanStd()
        try DatasetFile.write(path: output, splits: splits, classes: classes, mean: stats.mean, std: stats.std,
                              source: "image-folder " + (root as NSString).lastPathComponent)
        return (Dictionary(uniqueKeysWithValues: splits.map { ($0.name, $0.data.count) }), classes)
    }

    static func subfolders(_ path: String) throws -> [String] {
        let fm = FileManager.default
        guard let names = try? fm.contentsOfDirectory(atPath: path) else { throw IOError(file: path, "no such folder") }
        return names.filter { n in
            var d: ObjCBool = false
            return !n.hasPrefix(".") && fm.fileExists(atPath: "\(path)/\(n)", isDirectory: &d) && d.boolValue
        }.sorted()
    }

    /// (path, label) of every image under root/<class>/, classes in order, files sorted.
    static func files(_ root: String, classes: [String]) throws -> [(String, Int32)] {
        var out: [(String, Int32)] = []
        for (k, name) in classes.enumerated() {
            let folder = "\(root)/\(name)"
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
            for f in entries.sorted() where ImageCodec.extensions.contains((f as NSString).pathExtension.lowercased()) {
                out.append(("\(folder)/\(f)", Int32(k)))
            }
        }
        return out
    }

    /// Splits each class's files: round(fraction · n) of them, picked by Philox(seed, class), go to val.
    static func holdOut(_ all: [(String, Int32)], fraction: Double, classes: Int, seed: UInt64)
        -> (train: [(String, Int32)], val: [(String, Int32)]) {
        guard fraction > 0 else { return (all, []) }
        var train: [(String, Int32)] = [], val: [(String, Int32)] = []
        for k in 0..<classes {
            let members = all.filter { $0.1 == Int32(k) }
            var r = Philox(seed: seed, 4, UInt32(k))
            let held = Set(r.permutation(members.count).prefix(Int((fraction * Double(members.count)).rounded())))
            for (i, m) in members.enumerated() { if held.contains(i) { val.append(m) } else { train.append(m) } }
        }
        return (train, val)
    }

    static func decodeAll(_ list: [(String, Int32)], _ o: Options) throws -> DatasetSplit {
        let per = o.size * o.size * o.channels
        var images = [UInt8](repeating: 0, count: list.count * per)
        for (i, (path, _)) in list.enumerated() {
            let im = try ImageCodec.decode(file: path, channels: o.channels)
            let px = ImageResize.resize(im.pixels, height: im.height, width: im.width, channels: o.channels,
                                        toHeight: o.size, toWidth: o.size)
            images.replaceSubrange((i * per)..<((i + 1) * per), with: px)
        }
        return DatasetSplit(images: images, labels: list.map(\.1), height: o.size, width: o.size, channels: o.channels)
    }
}
