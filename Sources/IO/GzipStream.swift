import CZlib
import Foundation

/// A file read front to back through zlib: gzip-compressed (.gz, .tgz) or plain bytes alike,
/// so every importer streams its archive without unpacking it to disk first.
public final class GzipStream {
    public let path: String
    private let file: gzFile

    public init(path: String) throws {
        self.path = path
        guard FileManager.default.fileExists(atPath: path) else { throw IOError(file: path, "no such file") }
        guard let f = gzopen(path, "rb") else { throw IOError(file: path, "cannot open: \(String(cString: strerror(errno)))") }
        gzbuffer(f, 1 << 20)
        file = f
    }

    deinit { gzclose(file) }

    /// Reads up to `count` bytes into `buffer`; fewer only at the end of the stream.
    public func read(into buffer: UnsafeMutableRawPointer, count: Int) throws -> Int {
        var done = 0
        while done < count {
            let chunk = UInt32(min(count - done, 1 << 30))
            let n = gzread(file, buffer + done, chunk)
            if n < 0 { throw IOError(file: path, "corrupt or truncated archive: \(errorText())") }
            if n == 0 { break }
            done += Int(n)
        }
        return done
    }

    /// Exactly `count` bytes, or an error naming what was being read (`what`).
    public func readExactly(_ count: Int, what: String) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        let n = try bytes.withUnsafeMutableBytes { try read(into: $0.baseAddress!, count: count) }
        guard n == count else { throw IOError(file: path, "truncated: \(what) needs \(count) bytes, the file ends after \(n)") }
        return bytes
    }

    /// Skips `count` bytes.
    public func skip(_ count: Int) throws {
        var scratch = [UInt8](repeating: 0, count: min(count, 1 << 20))
        var left = count
        while left > 0 {
            let n = try scratch.withUnsafeMutableBytes { try read(into: $0.baseAddress!, count: min(left, $0.count)) }
            guard n > 0 else { throw IOError(file: path, "truncated: the file ends \(left) bytes early") }
            left -= n
        }
    }

    private func errorText() -> String {
        var code: Int32 = 0
        return gzerror(file, &code).map { String(cString: $0) } ?? "zlib error \(code)"
    }
}
