import Foundation

/// Imports the CIFAR-10 and CIFAR-100 binary distributions (cifar-10-binary.tar.gz and
/// cifar-100-binary.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html), as the archive
/// (streamed, never unpacked) or its extracted folder, into the schema of `DatasetFile`.
///
/// A record is the label byte(s) — CIFAR-10: the label; CIFAR-100: coarse, then fine — then
/// 1024 red, 1024 green and 1024 blue bytes of a 32×32 image, rows top to bottom. Images are
/// transposed to (N, H, W, C) uint8; the root gets the class names (from the archive's names
/// file), the per-channel mean/std of the train split (0..1 units) and `source`.
public enum CIFARImporter {
    public static let classes = ["airplane", "automobile", "bird", "cat", "deer",
                                 "dog", "frog", "horse", "ship", "truck"]
    public static let trainFiles = (1...5).map { "data_batch_\($0).bin" }
    public static let testFiles = ["test_batch.bin"]
    static let side = 32, imageBytes = 3 * 32 * 32

    /// Which CIFAR-100 label becomes /labels.
    public enum Labels: String, CaseIterable, Sendable { case fine, coarse }

    /// `source`: the archive or a folder holding the batches (directly or in a subfolder).
    /// Returns the train and test sample counts.
    @discardableResult
    public static func importCIFAR10(from source: String, to output: String) throws -> (train: Int, test: Int) {
        let what = "the CIFAR-10 binary version, cifar-10-binary.tar.gz"
        var batches: [String: DatasetSplit] = [:]
        var names = classes
        try DistributionFiles.read(source, wanted: Set(trainFiles + testFiles + ["batches.meta.txt"]),
                                   required: trainFiles + testFiles, anchor: trainFiles[0], what: what) { name, label, bytes in
            if name == "batches.meta.txt" { names = DistributionFiles.lines(bytes); return }
            batches[name] = try decode(bytes, file: label, labelBytes: 1, labelIndex: 0, numClasses: 10, dataset: "CIFAR-10")
        }
        guard names.count == 10 else { throw IOError(file: source, key: "batches.meta.txt", "\(names.count) class names, expected 10") }
        let train = try DatasetSplit.concatenating(trainFiles.map { batches[$0]! })
        return try write(train: train, test: batches[testFiles[0]]!, classes: names, source: "cifar10", to: output)
    }

    /// CIFAR-100: train.bin and test.bin, with fine (100) or coarse (20) labels and the names
    /// from fine_label_names.txt or coarse_label_names.txt.
    @discardableResult
    public static func importCIFAR100(from source: String, to output: String, labels: Labels = .fine) throws -> (train: Int, test: Int) {
        let what = "the CIFAR-100 binary version, cifar-100-binary.tar.gz"
        let namesFile = "\(labels.rawValue)_label_names.txt"
        let k = labels == .fine ? 100 : 20
        var splits: [String: DatasetSplit] = [:]
        var names: [String] = []
        try DistributionFiles.read(source, wanted: ["train.bin", "test.bin", namesFile], required: ["train.bin", "test.bin", namesFile],
                                   anchor: "train.bin", what: what) { name, label, bytes in
            if name == namesFile { names = DistributionFiles.lines(bytes); return }
            splits[name] = try decode(bytes, file: label, labelBytes: 2, labelIndex: labels == .fine ? 1 : 0,
                                      numClasses: k, dataset: "CIFAR-100")
        }
        guard names.count == k else { throw IOError(file: source, key: namesFile, "\(names.count) class names, expected \(k)") }
        return try write(train: splits["train.bin"]!, test: splits["test.bin"]!, classes: names,
                         source: labels == .fine ? "cifar100" : "cifar100-coarse", to: output)
    }

    static func write(train: DatasetSplit, test: DatasetSplit, classes: [String], source: String,
                      to output: String) throws -> (train: Int, test: Int) {
        let stats = train.channelMeanStd()
        try DatasetFile.write(path: output, splits: [("train", train), ("test", test)],
                              classes: classes, mean: stats.mean, std: stats.std, source: source)
        return (train.count, test.count)
    }

    /// One batch file's records as a split, (N, 32, 32, 3); `labelIndex` picks the label byte.
    static func decode(_ data: [UInt8], file: String, labelBytes: Int, labelIndex: Int, numClasses: Int,
                       dataset: String) throws -> DatasetSplit {
        let record = labelBytes + imageBytes, plane = side * side
        guard !data.isEmpty, data.count % record == 0 else {
            throw IOError(file: file, "size \(data.count) is not a multiple of the \(record)-byte \(dataset) record (truncated?)")
        }
        let n = data.count / record
        var images = [UInt8](repeating: 0, count: n * imageBytes)
        var labels = [Int32](repeating: 0, count: n)
        try data.withUnsafeBufferPointer { raw in
            try images.withUnsafeMutableBufferPointer { out in
                for r in 0..<n {
                    let rec = raw.baseAddress! + r * record
                    guard Int(rec[labelIndex]) < numClasses else {
                        throw IOError(file: file, key: "record \(r)", "label \(rec[labelIndex]) out of range 0..<\(numClasses)")
                    }
                    labels[r] = Int32(rec[labelIndex])
                    let px = rec + labelBytes, dst = out.baseAddress! + r * imageBytes    // (H, W, C)
                    for p in 0..<plane {
                        dst[3 * p] = px[p]
                        dst[3 * p + 1] = px[plane + p]
                        dst[3 * p + 2] = px[2 * plane + p]
                    }
                }
            }
        }
        return DatasetSplit(images: images, labels: labels, height: side, width: side, channels: 3)
    }
}
