import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Durable file replacement: the fsync/rename dance that makes a file appear under its final
/// name complete or not at all, even across a crash or power loss.
enum FileSystem {
    /// fsync(2) on a file or directory path.
    static func fsync(path: String) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw IOError(file: path, "cannot open for fsync: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard Glibc.fsync(fd) == 0 else { throw IOError(file: path, "fsync failed: \(String(cString: strerror(errno)))") }
    }

    /// fsync `tmp`, rename it over `path`, fsync the directory so the rename itself is durable.
    static func replace(_ tmp: String, with path: String) throws {
        try fsync(path: tmp)
        guard rename(tmp, path) == 0 else {
            throw IOError(file: path, "cannot rename \(tmp) into place: \(String(cString: strerror(errno)))")
        }
        let dir = (path as NSString).deletingLastPathComponent
        try fsync(path: dir.isEmpty ? "." : dir)
    }
}
