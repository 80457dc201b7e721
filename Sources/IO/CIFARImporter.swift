import Foundation

/// Imports the CIFAR-10 binary distribution (cifar-10-binary.tar.gz from
/// https://www.cs.toronto.edu/~kriz/cifar.html) into the dataset schema of `DatasetFile`.
///
/// Each of data_batch_1..5.bin (train) and test_batch.bin (test) is a sequence of 3073-byte
/// records: one label byte, then 1024 red, 1024 green and 1024 blue bytes of a 32×32 image,
/// rows top to bottom. Images are transposed to (N, H, W, C) uint8; the root gets the class
/// names and the per-channel mean/std of the train split (0..1 units).
public enum CIFARImporter {
    public static let classes = ["airplane", "automobile", "bird", "cat", "deer",
                                 "dog", "frog", "horse", "ship", "truck"]
    public static let trainFiles = (1...5).map { "data_batch_\($0).bin" }
    public static let testFiles = ["test_batch.bin"]
    static let side = 32, recordBytes = 1 + 3 * 32 * 32

    /// `source` is the extracted folder (the batches directly in it or in any subfolder, e.g.
    /// cifar-10-batches-bin/) or the .tar.gz / .tgz / .tar archive (extracted with `tar` to a
    /// temporary folder that is removed afterwards). Returns the train and test sample counts.
    @discardableResult
    public static func importCIFAR10(from source: String, to output: String) throws -> (train: Int, test: Int) {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: source, isDirectory: &isDir) else {
            throw IOError(file: source, "no such file or folder")
        }
        if isDir.boolValue { return try importFolder(source, to: output) }
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("cifar-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        try extract(source, into: tmp)
        return try importFolder(tmp, to: output, label: source)
    }

    static func importFolder(_ folder: String, to output: String, label: String? = nil) throws -> (train: Int, test: Int) {
        let root = try batchFolder(folder, label: label ?? folder)
        let train = try readBatches(trainFiles.map { "\(root)/\($0)" })
        let test = try readBatches(testFiles.map { "\(root)/\($0)" })
        let stats = train.channelMeanStd()
        try DatasetFile.write(path: output, splits: [("train", train), ("test", test)],
                              classes: classes, mean: stats.mean, std: stats.std)
        return (train.count, test.count)
    }

    /// The folder holding data_batch_1.bin: `folder` itself or the first subfolder that does.
    static func batchFolder(_ folder: String, label: String) throws -> String {
        let fm = FileManager.default
        if fm.fileExists(atPath: "\(folder)/\(trainFiles[0])") { return folder }
        if let e = fm.enumerator(atPath: folder) {
            for case let rel as String in e where (rel as NSString).lastPathComponent == trainFiles[0] {
                return "\(folder)/\((rel as NSString).deletingLastPathComponent)"
            }
        }
        throw IOError(file: label, "no \(trainFiles[0]) found (expected the CIFAR-10 binary version, cifar-10-binary.tar.gz)")
    }

    /// Reads and concatenates batch files into one split, (N, 32, 32, 3).
    public static func readBatches(_ paths: [String]) throws -> DatasetSplit {
        var images: [UInt8] = [], labels: [Int32] = []
        let plane = side * side
        for path in paths {
            guard let data = FileManager.default.contents(atPath: path) else { throw IOError(file: path, "missing or unreadable") }
            guard !data.isEmpty, data.count % recordBytes == 0 else {
                throw IOError(file: path, "size \(data.count) is not a multiple of the \(recordBytes)-byte CIFAR-10 record (truncated?)")
            }
            let n = data.count / recordBytes
            let base = images.count
            images += [UInt8](repeating: 0, count: n * 3 * plane)
            try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
                try images.withUnsafeMutableBufferPointer { out in
                    for r in 0..<n {
                        let rec = raw.baseAddress!.assumingMemoryBound(to: UInt8.self) + r * recordBytes
                        guard rec[0] < 10 else { throw IOError(file: path, key: "record \(r)", "label \(rec[0]) out of range 0..<10") }
                        labels.append(Int32(rec[0]))
                        let dst = out.baseAddress! + base + r * 3 * plane    // (H, W, C)
                        for p in 0..<plane {
                            dst[3 * p] = rec[1 + p]
                            dst[3 * p + 1] = rec[1 + plane + p]
                            dst[3 * p + 2] = rec[1 + 2 * plane + p]
                        }
                    }
                }
            }
        }
        return DatasetSplit(images: images, labels: labels, height: side, width: side, channels: 3)
    }

    /// `tar -xf archive -C folder` (tar detects gzip itself).
    static func extract(_ archive: String, into folder: String) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["tar", "-xf", archive, "-C", folder]
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        do { try p.run() } catch { throw IOError(file: archive, "cannot run tar: \(error)") }
        let msg = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            let line = msg.split(separator: "\n").first.map(String.init) ?? "exit \(p.terminationStatus)"
            throw IOError(file: archive, "cannot extract: \(line)")
        }
    }
}
