import Foundation
import TensorCore

/// One split ("train", "test") of a dataset file, validated on open and read by sample index.
///
/// Decision: by default the whole split is loaded into memory once per rank (`.memory`).
/// CIFAR-sized data (50 000 × 32 × 32 × 3 = 150 MB) fits easily, every epoch permutes
/// globally so a rank needs arbitrary samples anyway, and a memory copy per sample is far
/// cheaper than an HDF5 hyperslab per sample. `.file` keeps only the labels in memory and
/// reads images through an `ImageRowReader` (contiguous index runs merged into one hyperslab
/// read) for data sets larger than memory; it allocates nothing per read either. `.labelsOnly` reads the
/// metadata and labels and leaves the images to whoever holds them (a shared-memory copy or
/// an `ImageRowReader`: the residencies of a training run).
///
/// Validation produces one line naming the file and the key: missing file, not an HDF5 file,
/// missing group or dataset, images not uint8 or not rank 4 (N, H, W, C), labels not integer
/// or not rank 1 ((N, 1) is accepted, Keras style), images and labels of different length,
/// an empty split, a label outside 0..<numClasses, mean/std not of length C.
public final class ImageDataset {
    public enum Residency: Sendable { case memory, file, labelsOnly }

    public let path: String
    public let split: String
    public let residency: Residency
    /// Samples in the split (N).
    public let count: Int
    public let height: Int, width: Int, channels: Int
    /// Labels of every sample, validated against `numClasses`. (N)
    public let labels: [Int32]
    /// `numClasses` as given, else the length of the `classes` attribute, else max label + 1.
    public let numClasses: Int
    /// Root attributes, when present.
    public let classNames: [String]?
    public let mean: [Double]?
    public let std: [Double]?
    /// The `source` root attribute ("cifar10", "synthetic", ...), nil when absent.
    public let source: String?

    /// Bytes of one image (H·W·C).
    public var imageBytes: Int { height * width * channels }
    /// Per-sample shape as stored: [H, W, C].
    public var sampleShape: [Int] { [height, width, channels] }

    private var pixels: [UInt8] = []      // (N, H, W, C) in .memory; empty otherwise
    private let reader: ImageRowReader?   // open in .file only

    public init(path: String, split: String, numClasses: Int? = nil, residency: Residency = .memory) throws {
        self.path = path
        self.split = split
        self.residency = residency
        let f = try HDF5File.open(path)
        let (ik, lk, ishape) = try Self.checkedLayout(f, path: path, split: split)
        count = ishape[0]; height = ishape[1]; width = ishape[2]; channels = ishape[3]

        classNames = f.hasAttribute("classes") ? try f.stringsAttribute("classes") : nil
        mean = f.hasAttribute("mean") ? try f.doublesAttribute("mean") : nil
        std = f.hasAttribute("std") ? try f.doublesAttribute("std") : nil
        source = f.hasAttribute(DatasetFile.sourceAttribute) ? try f.stringAttribute(DatasetFile.sourceAttribute) : nil
        try Self.checkNormalisation(mean: mean, std: std, channels: channels, path: path, images: ik)

        let raw = try f.readInt64s(lk)
        let k = numClasses ?? classNames?.count ?? (Int(raw.max() ?? 0) + 1)
        guard k > 0 else { throw IOError(file: path, key: lk, "num_classes \(k) must be > 0") }
        if let bad = raw.firstIndex(where: { $0 < 0 || $0 >= Int64(k) }) {
            let source = numClasses != nil ? "num_classes" : classNames != nil ? "the classes attribute" : "negative label"
            throw IOError(file: path, key: lk, "label \(raw[bad]) at index \(bad) out of range 0..<\(k) (\(source))")
        }
        self.numClasses = k
        labels = raw.map { Int32($0) }

        switch residency {
        case .memory:
            pixels = try f.readUInt8s(ik)
            reader = nil
        case .file:
            reader = try ImageRowReader(path: path, split: split)
        case .labelsOnly:
            reader = nil
        }
    }

    /// Bytes of the whole split's images (N·H·W·C).
    public var totalImageBytes: Int { count * imageBytes }

    /// The split's datasets, checked against the layout: (images key, labels key, (N, H, W, C)).
    private static func checkedLayout(_ f: HDF5File, path: String, split: String) throws -> (String, String, [Int]) {
        let g = "/" + split
        guard f.contains(g) else {
            let have = (try? f.keys().filter { f.isGroup($0) }) ?? []
            throw IOError(file: path, key: g, "not found (the file has \(have.isEmpty ? "no groups" : "groups: " + have.joined(separator: ", ")))")
        }
        let ik = "\(g)/\(DatasetFile.imagesKey)", lk = "\(g)/\(DatasetFile.labelsKey)"
        let it = try f.storedType(ik)
        guard it == .uint8 else { throw IOError(file: path, key: ik, "dtype \(it), expected uint8") }
        let ishape = try f.shape(ik)
        guard ishape.count == 4 else {
            throw IOError(file: path, key: ik, "shape \(Shape.format(ishape)) has rank \(ishape.count), expected (N, H, W, C)")
        }
        let lt = try f.storedType(lk)
        guard lt.kind == .integer else { throw IOError(file: path, key: lk, "dtype \(lt), expected an integer type") }
        let lshape = try f.shape(lk)
        guard lshape.count == 1 || (lshape.count == 2 && lshape[1] == 1) else {
            throw IOError(file: path, key: lk, "shape \(Shape.format(lshape)), expected (N)")
        }
        guard lshape[0] == ishape[0] else {
            throw IOError(file: path, key: lk, "\(lshape[0]) labels for \(ishape[0]) images in \(ik)")
        }
        guard ishape[0] > 0 else { throw IOError(file: path, key: ik, "empty split (0 samples)") }
        guard ishape[1] > 0, ishape[2] > 0, ishape[3] > 0 else {
            throw IOError(file: path, key: ik, "shape \(Shape.format(ishape)) has an empty image dimension")
        }
        return (ik, lk, ishape)
    }

    /// The file's mean and std attributes: one value per channel, std positive.
    private static func checkNormalisation(mean: [Double]?, std: [Double]?, channels: Int, path: String, images ik: String) throws {
        for (name, v) in [("mean", mean), ("std", std)] {
            if let v, v.count != channels {
                throw IOError(file: path, key: "@" + name, "has \(v.count) values, expected \(channels) (one per channel of \(ik))")
            }
        }
        if let s = std, let bad = s.firstIndex(where: { !($0 > 0) }) {
            throw IOError(file: path, key: "@std", "value \(s[bad]) at channel \(bad) must be > 0")
        }
    }

    /// Copies samples `indices` (any order, repeats allowed) into `images` (B, H, W, C) and
    /// `labels` (B), B = indices.count.
    public func read<C: Collection>(indices: C, images: UnsafeMutableBufferPointer<UInt8>,
                                    labels out: UnsafeMutableBufferPointer<Int32>) throws where C.Element == Int {
        let b = indices.count, bytes = imageBytes
        precondition(images.count >= b * bytes, "ImageDataset.read: image buffer \(images.count) < \(b) × \(bytes) bytes")
        precondition(out.count >= b, "ImageDataset.read: label buffer \(out.count) < \(b)")
        var j = 0
        for i in indices {
            precondition(i >= 0 && i < count, "ImageDataset.read: sample \(i) out of 0..<\(count) in \(split)")
            out[j] = labels[i]
            switch residency {
            case .memory:
                pixels.withUnsafeBufferPointer {
                    (images.baseAddress! + j * bytes).update(from: $0.baseAddress! + i * bytes, count: bytes)
                }
            case .labelsOnly:
                preconditionFailure("ImageDataset.read: \(split) was opened for its labels only")
            case .file:
                break
            }
            j += 1
        }
        // The reader merges consecutive indices into one hyperslab read.
        try reader?.read(indices, into: UnsafeMutableRawBufferPointer(images))
    }

    /// Copies the contiguous samples `range` into `images` (B, H, W, C) and `labels` (B).
    public func read(range: Range<Int>, images: UnsafeMutableBufferPointer<UInt8>,
                     labels out: UnsafeMutableBufferPointer<Int32>) throws {
        try read(indices: range, images: images, labels: out)
    }

    /// The stored bytes of sample `i`, (H, W, C); for tests and tools.
    public func image(_ i: Int) throws -> [UInt8] {
        var buf = [UInt8](repeating: 0, count: imageBytes)
        var label: [Int32] = [0]
        try buf.withUnsafeMutableBufferPointer { b in
            try label.withUnsafeMutableBufferPointer { try read(indices: [i], images: b, labels: $0) }
        }
        return buf
    }
}
