import Foundation

/// Streams the regular files of a tar archive (ustar / GNU, plain or gzip-compressed), one
/// member at a time: each is read into memory, handed to the caller and dropped, so an archive
/// never needs unpacking to disk nor more memory than its largest member.
public enum TarReader {
    public struct Member {
        /// Path inside the archive, e.g. "cifar-100-binary/train.bin".
        public let name: String
        public let bytes: [UInt8]
        /// The last path component.
        public var fileName: String { (name as NSString).lastPathComponent }
    }

    /// Calls `body` for every regular file whose name `wanted` accepts (others are skipped
    /// unread), in archive order.
    public static func forEachMember(in path: String, wanted: (String) -> Bool, _ body: (Member) throws -> Void) throws {
        let stream = try GzipStream(path: path)
        var longName: String?, first = true
        while true {
            var header = [UInt8](repeating: 0, count: 512)
            let n = try header.withUnsafeMutableBytes { try stream.read(into: $0.baseAddress!, count: 512) }
            if n == 0 && !first { return }        // no end-of-archive blocks: tolerated, as GNU tar does
            guard n == 512 else { throw IOError(file: path, first ? "not a tar archive (too short)" : "truncated: the archive ends inside a header") }
            first = false
            if header.allSatisfy({ $0 == 0 }) { return }
            try checkSum(header, path: path)
            let size = try octal(header[124..<136], path: path)
            let type = header[156]
            let padded = (size + 511) / 512 * 512
            if type == UInt8(ascii: "L") {          // GNU long name: the next member's name
                longName = cString(try stream.readExactly(padded, what: "a long name")[0..<size])
                continue
            }
            let name = longName ?? headerName(header)
            longName = nil
            let regular = type == 0 || type == UInt8(ascii: "0") || type == UInt8(ascii: "7")
            guard regular, wanted(name) else { try stream.skip(padded); continue }
            let bytes = try stream.readExactly(size, what: "member \(name)")
            try stream.skip(padded - size)
            try body(Member(name: name, bytes: bytes))
        }
    }

    /// ustar: prefix (345..<500) + "/" + name (0..<100).
    static func headerName(_ h: [UInt8]) -> String {
        let name = cString(h[0..<100])
        let magic = cString(h[257..<263])
        let prefix = magic.hasPrefix("ustar") ? cString(h[345..<500]) : ""
        return prefix.isEmpty ? name : prefix + "/" + name
    }

    static func cString(_ bytes: ArraySlice<UInt8>) -> String {
        String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
    }

    static func octal(_ field: ArraySlice<UInt8>, path: String) throws -> Int {
        let text = cString(field).trimmingCharacters(in: CharacterSet(charactersIn: " \0"))
        guard let v = Int(text.isEmpty ? "0" : text, radix: 8) else {
            throw IOError(file: path, "not a tar archive (bad size field '\(text)')")
        }
        return v
    }

    /// The header checksum: the byte sum with the checksum field read as spaces.
    static func checkSum(_ h: [UInt8], path: String) throws {
        let stored = try octal(h[148..<156], path: path)
        let sum = h.enumerated().reduce(0) { $0 + ((148..<156).contains($1.offset) ? 32 : Int($1.element)) }
        guard stored == sum else { throw IOError(file: path, "not a tar archive (header checksum mismatch)") }
    }
}
