import Foundation

/// The files of a dataset distribution, read from its archive (.tar, .tar.gz, .tgz, streamed
/// member by member) or from the folder it was extracted to, by file name: importers name the
/// files they want and never see the difference.
enum DistributionFiles {
    /// Calls `body(fileName, label, bytes)` for each wanted file found; `label` names it in
    /// errors ("folder/data_batch_1.bin" or "archive.tar.gz: cifar-10-batches-bin/data_batch_1.bin").
    /// In a folder, the files are looked up in the first folder (itself or below) that holds
    /// `anchor`. Every name in `required` must be found.
    static func read(_ source: String, wanted: Set<String>, required: [String], anchor: String,
                     what: String, _ body: (String, String, [UInt8]) throws -> Void) throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: source, isDirectory: &isDir) else {
            throw IOError(file: source, "no such file or folder")
        }
        var seen = Set<String>()
        if isDir.boolValue {
            let root = try folder(holding: anchor, in: source, what: what)
            for name in wanted.sorted() {
                let path = "\(root)/\(name)"
                guard let data = FileManager.default.contents(atPath: path) else {
                    if required.contains(name) { throw IOError(file: path, "missing or unreadable") }
                    continue
                }
                seen.insert(name)
                try body(name, path, [UInt8](data))
            }
            return
        }
        try TarReader.forEachMember(in: source, wanted: { wanted.contains(($0 as NSString).lastPathComponent) }) { m in
            guard seen.insert(m.fileName).inserted else { return }
            try body(m.fileName, "\(source): \(m.name)", m.bytes)
        }
        if let missing = required.first(where: { !seen.contains($0) }) {
            throw IOError(file: source, "no \(missing) in the archive (expected \(what))")
        }
    }

    /// `folder` itself or the first subfolder that holds a file named `anchor`.
    static func folder(holding anchor: String, in folder: String, what: String) throws -> String {
        let fm = FileManager.default
        if fm.fileExists(atPath: "\(folder)/\(anchor)") { return folder }
        if let e = fm.enumerator(atPath: folder) {
            for case let rel as String in e where (rel as NSString).lastPathComponent == anchor {
                return "\(folder)/\(FileSystem.parentFolder(rel))"
            }
        }
        throw IOError(file: folder, "no \(anchor) found (expected \(what))")
    }

    /// Non-empty lines of a names file (batches.meta.txt, fine_label_names.txt).
    static func lines(_ bytes: [UInt8]) -> [String] {
        String(decoding: bytes, as: UTF8.self).split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }
}
