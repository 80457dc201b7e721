import Foundation

/// The public datasets `trainer data download` fetches: where their files are published, the
/// MD5 sums their authors (or torchvision, for the MNIST mirror) publish, and the importer
/// that turns them into a dataset file.
public enum DatasetDownload {
    public struct RemoteFile: Sendable {
        public let name: String
        public let md5: String
        public init(name: String, md5: String) { self.name = name; self.md5 = md5 }
    }

    public struct Entry: Sendable {
        public let name: String
        /// Files are fetched from `baseURL + file name` unless a mirror is given.
        public let baseURL: String
        public let files: [RemoteFile]
        public init(name: String, baseURL: String, files: [RemoteFile]) {
            self.name = name; self.baseURL = baseURL; self.files = files
        }
        /// The default output file, e.g. data/cifar10.h5.
        public var defaultOutput: String { "data/\(name).h5" }
    }

    public static let entries: [Entry] = [
        Entry(name: "cifar10", baseURL: "https://www.cs.toronto.edu/~kriz/",
              files: [RemoteFile(name: "cifar-10-binary.tar.gz", md5: "c32a1d4ab5d03f1284b67883e8d87530")]),
        Entry(name: "cifar100", baseURL: "https://www.cs.toronto.edu/~kriz/",
              files: [RemoteFile(name: "cifar-100-binary.tar.gz", md5: "03b5dce01913d631647c71ecec9e9cb8")]),
        Entry(name: "mnist", baseURL: "https://ossci-datasets.s3.amazonaws.com/mnist/", files: idx(
            ["f68b3c2dcbeaaa9fbdd348bbdeb94873", "d53e105ee54ea40749a09fcbcd1e9432",
             "9fb629c4189551a2d022fa330f9573f3", "ec29112dd5afa0611ce80d1b7f02629c"])),
        Entry(name: "fashion-mnist", baseURL: "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/", files: idx(
            ["8d4fb7e6c68d591d4c3dfef9ec88bf0d", "25c81989df183df01b3e8a0aad5dffbe",
             "bef4ecab320f06d8554ea6380940ec79", "bb300cfdad3c16e7a12a480ee83cd310"])),
    ]

    public static var names: [String] { entries.map(\.name) }

    public static func entry(_ name: String) throws -> Entry {
        guard let e = entries.first(where: { $0.name == name }) else {
            throw IOError("unknown dataset '\(name)' (expected one of: \(names.joined(separator: ", ")))")
        }
        return e
    }

    /// The four MNIST-format files in MNISTImporter's order with their sums.
    private static func idx(_ sums: [String]) -> [RemoteFile] {
        let names = MNISTImporter.files.flatMap { [$0.1, $0.2] }.map { $0 + ".gz" }
        return zip(names, sums).map { RemoteFile(name: $0, md5: $1) }
    }

    /// Where the downloaded files are kept: `<output's folder>/<name>/`.
    public static func archiveFolder(_ entry: Entry, output: String) -> String {
        let folder = FileSystem.parentFolder(output)
        return (folder.isEmpty ? "" : folder + "/") + entry.name
    }

    /// Fetches every file of `entry` that is not already kept with the right checksum (from
    /// `mirror` instead of the published place when given), checks it, then imports into
    /// `output`. A file with the wrong sum is deleted and nothing is written. `say` reports
    /// each step. Returns the train and test sample counts.
    @discardableResult
    public static func download(_ entry: Entry, to output: String, mirror: String? = nil, connectTimeout: Int = 10,
                                say: (String) -> Void = { _ in }) throws -> (train: Int, test: Int) {
        let folder = archiveFolder(entry, output: output)
        try FileSystem.ensureWritableFolder(folder)
        for file in entry.files {
            let path = "\(folder)/\(file.name)"
            if FileManager.default.fileExists(atPath: path), try MD5.hexDigest(ofFile: path) == file.md5 {
                say("using \(path) (checksum ok)")
                continue
            }
            let base = mirror.map { $0.hasSuffix("/") ? $0 : $0 + "/" } ?? entry.baseURL
            let url = base + file.name
            say("downloading \(url)")
            do { try HTTPDownload.fetch(url, to: path, connectTimeout: connectTimeout) } catch let e as IOError {
                throw IOError("\(e.message); fetch it by hand and put it at \(path) (or give a mirror with --url), then run this again")
            }
            let sum = try MD5.hexDigest(ofFile: path)
            guard sum == file.md5 else {
                try? FileManager.default.removeItem(atPath: path)
                throw IOError(file: url, "checksum mismatch: MD5 \(sum), expected the published \(file.md5); the file was deleted")
            }
        }
        say("importing \(folder) into \(output)")
        switch entry.name {
        case "cifar10": return try CIFARImporter.importCIFAR10(from: "\(folder)/\(entry.files[0].name)", to: output)
        case "cifar100": return try CIFARImporter.importCIFAR100(from: "\(folder)/\(entry.files[0].name)", to: output)
        default: return try MNISTImporter.importIdx(from: folder, to: output, kind: MNISTImporter.Kind(rawValue: entry.name)!)
        }
    }
}
