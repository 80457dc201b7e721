import Foundation

/// Small files in the real dataset formats, written byte by byte from the format
/// descriptions (not by the importers under test), for importer and download tests.
public enum DatasetFormats {
    /// One CIFAR-100 record's content: its coarse and fine labels and 3072 planar pixel bytes.
    public struct CIFAR100Record {
        public let coarse: UInt8, fine: UInt8
        public let pixels: [UInt8]     // 1024 R, 1024 G, 1024 B
    }

    /// Writes `cifar-100-binary/{train.bin, test.bin, fine_label_names.txt,
    /// coarse_label_names.txt}` under `folder`; returns the train and test records.
    @discardableResult
    public static func writeCIFAR100(in folder: String, train: Int, test: Int) throws -> (train: [CIFAR100Record], test: [CIFAR100Record]) {
        let root = "\(folder)/cifar-100-binary"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        func records(_ n: Int, salt: Int) -> [CIFAR100Record] {
            (0..<n).map { r in
                let fine = UInt8((r * 37 + salt) % 100)
                return CIFAR100Record(coarse: fine / 5, fine: fine,
                                      pixels: (0..<3072).map { UInt8(truncatingIfNeeded: $0 * 5 + r * 11 + salt + $0 / 1024) })
            }
        }
        let sets = (records(train, salt: 0), records(test, salt: 3))
        for (name, recs) in [("train.bin", sets.0), ("test.bin", sets.1)] {
            var data = Data()
            for r in recs { data.append(r.coarse); data.append(r.fine); data.append(contentsOf: r.pixels) }
            try data.write(to: URL(fileURLWithPath: "\(root)/\(name)"))
        }
        try (fineNames.joined(separator: "\n") + "\n").write(toFile: "\(root)/fine_label_names.txt", atomically: true, encoding: .utf8)
        try (coarseNames.joined(separator: "\n") + "\n").write(toFile: "\(root)/coarse_label_names.txt", atomically: true, encoding: .utf8)
        return sets
    }

    public static let fineNames = (0..<100).map { "fine\($0)" }
    public static let coarseNames = (0..<20).map { "coarse\($0)" }

    /// An idx file of uint8 elements: 0, 0, 0x08, rank, big-endian uint32 sizes, the bytes.
    public static func idx(_ dims: [Int], _ bytes: [UInt8]) -> Data {
        var d = Data([0, 0, 0x08, UInt8(dims.count)])
        for n in dims { d.append(contentsOf: (0..<4).map { UInt8(truncatingIfNeeded: n >> (8 * (3 - $0))) }) }
        d.append(contentsOf: bytes)
        return d
    }

    /// The four MNIST files in `folder` (train `train` and test `test` images of 28×28);
    /// gzip-compressed with the gzip tool when `gzip`. Returns (labels, images) per split.
    @discardableResult
    public static func writeMNIST(in folder: String, train: Int, test: Int, gzip: Bool) throws -> [(labels: [UInt8], images: [UInt8])] {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var out: [(labels: [UInt8], images: [UInt8])] = []
        for (prefix, n) in [("train", train), ("t10k", test)] {
            let labels = (0..<n).map { UInt8(($0 * 3 + prefix.count) % 10) }
            let images = (0..<(n * 784)).map { UInt8(truncatingIfNeeded: $0 * 13 + prefix.count) }
            for (kind, data) in [("images-idx3-ubyte", idx([n, 28, 28], images)), ("labels-idx1-ubyte", idx([n], labels))] {
                let path = "\(folder)/\(prefix)-\(kind)"
                try data.write(to: URL(fileURLWithPath: path))
                if gzip { try runTool(["gzip", "-f", path]) }
            }
            out.append((labels, images))
        }
        return out
    }

    /// `tar -czf archive -C folder member`.
    public static func tarGz(_ archive: String, folder: String, member: String) throws {
        try runTool(["tar", "-czf", archive, "-C", folder, member])
    }

    /// The MD5 the md5sum tool computes (coreutils: the independent reference).
    public static func md5sum(_ path: String) throws -> String {
        String(try runTool(["md5sum", path]).prefix(32))
    }
}
