import Foundation

/// The dataset file schema (DESIGN.md "File formats"), the layout torchvision's CIFAR10 data
/// and Keras datasets use, and its writer:
///
///     /<split>/images   uint8 (N, H, W, C)      /<split>/labels   uint8 | int32 | int64 (N)
///     root attributes (optional): classes (strings), mean, std (length C, 0..1 pixel units),
///                                 source (where the data came from: "cifar10", "mnist", "synthetic", ...)
///
/// Splits are "train", "test" and optionally "val" (the run's validation split when present);
/// any other group name works the same way.
public enum DatasetFile {
    public static let imagesKey = "images"
    public static let labelsKey = "labels"
    public static let sourceAttribute = "source"

    /// The file's `source` attribute, nil when it has none (files written before it existed).
    public static func source(of path: String) -> String? {
        guard let f = try? HDF5File.open(path), f.hasAttribute(sourceAttribute) else { return nil }
        return try? f.stringAttribute(sourceAttribute)
    }

    /// The splits a file holds: root groups that contain an `images` dataset.
    public static func splits(in path: String) throws -> [String] {
        let f = try HDF5File.open(path)
        return try f.keys().filter { f.isGroup($0) && f.isDataset("\($0)/\(imagesKey)") }
    }

    /// Writes a dataset file atomically (to `<path>.tmp`, then renamed), so an interrupted
    /// import never leaves a half-written file under the final name.
    /// Labels are stored as uint8 when every label fits, else int32.
    public static func write(path: String, splits: [(name: String, data: DatasetSplit)],
                             classes: [String]? = nil, mean: [Double]? = nil, std: [Double]? = nil,
                             source: String? = nil) throws {
        let tmp = path + ".tmp"
        do {
            let f = try HDF5File.create(tmp)
            for (name, s) in splits {
                try s.images.withUnsafeBufferPointer {
                    try f.write("\(name)/\(imagesKey)", from: $0, shape: [s.count, s.height, s.width, s.channels])
                }
                if s.labels.allSatisfy({ (0...255).contains($0) }) {
                    try f.write("\(name)/\(labelsKey)", s.labels.map { UInt8($0) }, shape: [s.count])
                } else {
                    try f.write("\(name)/\(labelsKey)", s.labels, shape: [s.count])
                }
            }
            if let classes { try f.setAttribute("classes", classes) }
            if let mean { try f.setAttribute("mean", mean) }
            if let std { try f.setAttribute("std", std) }
            if let source { try f.setAttribute(sourceAttribute, source) }
            try f.close()
            try FileSystem.replace(tmp, with: path)
        } catch {
            try? FileManager.default.removeItem(atPath: tmp)
            throw error
        }
    }
}

/// One split held in memory: images row-major (N, H, W, C) uint8, labels (N).
public struct DatasetSplit: Sendable {
    public var images: [UInt8]          // (N, H, W, C)
    public var labels: [Int32]          // (N)
    public let height: Int, width: Int, channels: Int

    public var count: Int { labels.count }

    /// The splits' samples one after another (all of one image shape).
    public static func concatenating(_ parts: [DatasetSplit]) throws -> DatasetSplit {
        guard var all = parts.first else { throw IOError("no samples to concatenate") }
        for p in parts.dropFirst() {
            guard (p.height, p.width, p.channels) == (all.height, all.width, all.channels) else {
                throw IOError("cannot concatenate images of \(p.height)x\(p.width)x\(p.channels) to \(all.height)x\(all.width)x\(all.channels)")
            }
            all.images += p.images; all.labels += p.labels
        }
        return all
    }

    public init(images: [UInt8], labels: [Int32], height: Int, width: Int, channels: Int) {
        precondition(images.count == labels.count * height * width * channels,
                     "DatasetSplit: \(images.count) bytes for \(labels.count) images of \(height)x\(width)x\(channels)")
        self.images = images; self.labels = labels
        self.height = height; self.width = width; self.channels = channels
    }

    /// Per-channel mean and (population) standard deviation in 0..1 pixel units, computed in
    /// Double over every pixel of the split: what `data.mean` / `data.std` normalise with.
    public func channelMeanStd() -> (mean: [Double], std: [Double]) {
        var sum = [Double](repeating: 0, count: channels), sq = [Double](repeating: 0, count: channels)
        images.withUnsafeBufferPointer { px in
            // Integer partial sums per channel are exact; fold them into Double per image.
            var s = [UInt64](repeating: 0, count: channels), q = [UInt64](repeating: 0, count: channels)
            let perImage = height * width * channels
            for n in 0..<count {
                for c in 0..<channels { s[c] = 0; q[c] = 0 }
                var i = n * perImage
                for _ in 0..<(height * width) {
                    for c in 0..<channels {
                        let v = UInt64(px[i + c]); s[c] += v; q[c] += v * v
                    }
                    i += channels
                }
                for c in 0..<channels { sum[c] += Double(s[c]); sq[c] += Double(q[c]) }
            }
        }
        let n = Double(count * height * width)
        let mean = sum.map { $0 / n / 255 }
        let std = (0..<channels).map { c in (max(0, sq[c] / n - (sum[c] / n) * (sum[c] / n))).squareRoot() / 255 }
        return (mean, std)
    }
}
