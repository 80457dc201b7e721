import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Durable file replacement: the fsync/rename dance that makes a file appear under its final
/// name complete or not at all, even across a crash or power loss; and output folders that are
/// checked for writability up front, with the operating system's reason when they are not.
public enum FileSystem {
    /// Creates `path` and its parents when missing (mkdir -p), then proves a file can be created
    /// in it (a probe file, removed at once). Fails with one line and the system's reason:
    /// `runs/x: cannot create folder: Read-only file system`, `runs/x: not writable: Permission denied`.
    public static func ensureWritableFolder(_ path: String) throws {
        try makeFolders(path)
        let probe = (path as NSString).appendingPathComponent(".write-probe-\(getpid())")
        let fd = open(probe, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        guard fd >= 0 else { throw IOError(file: path, "not writable: \(String(cString: strerror(errno)))") }
        close(fd)
        unlink(probe)
    }

    /// The folder part of `path`: "" for a bare name, "/" for a top-level entry. (Foundation's
    /// NSString.deletingLastPathComponent traps on a relative single-component path such as
    /// "data" in Swift 6.3's corelibs, so paths users type go through this.)
    public static func parentFolder(_ path: String) -> String {
        let trimmed = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
        guard let slash = trimmed.lastIndex(of: "/") else { return "" }
        return slash == trimmed.startIndex ? "/" : String(trimmed[..<slash])
    }

    /// mkdir -p with the reason of the first failure, naming the component that failed.
    static func makeFolders(_ path: String) throws {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir) {
            guard isDir.boolValue else { throw IOError(file: path, "exists and is not a folder") }
            return
        }
        let parent = parentFolder(path)
        if !parent.isEmpty && parent != path { try makeFolders(parent) }
        guard mkdir(path, 0o755) == 0 || errno == EEXIST else {
            throw IOError(file: path, "cannot create folder: \(String(cString: strerror(errno)))")
        }
    }

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
        let dir = parentFolder(path)
        try fsync(path: dir.isEmpty ? "." : dir)
    }
}
