import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `<run dir>/lock`: one job per run directory. An exclusive `flock` on the file is held for
/// the life of the job, and the file says who holds it (host, pid, start time). The kernel
/// drops the lock when the holder dies, however it dies (kill -9 included), so a lock file
/// whose lock can be taken is stale: its holder is gone, and it is taken over.
///
/// A clean end (or a failed start) removes the file; one left behind by a killed job is
/// reported when the next job takes it over. On network file systems flock works across hosts
/// on Linux NFS (it is emulated with fcntl locks there).
public final class RunDirectoryLock {
    public let path: String
    /// Who held the lock before it was taken over ("pid 12 on node1, started ..."), if it was stale.
    public let staleHolder: String?
    private var fd: Int32

    /// Takes the lock of `folder` (created when missing), or fails with one line naming the
    /// folder and the job that holds it.
    public init(folder: String, host: String, now: Date = Date()) throws {
        try FileSystem.ensureWritableFolder(folder)
        path = (folder as NSString).appendingPathComponent("lock")
        var attempt = 0
        while true {
            let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw IOError(file: path, "cannot open the run lock: \(String(cString: strerror(errno)))") }
            if flock(fd, LOCK_EX | LOCK_NB) != 0 {
                let reason = errno
                let holder = Self.holder(Self.readAll(fd))
                close(fd)
                guard reason == EWOULDBLOCK else {
                    throw IOError(file: path, "cannot lock the run folder: \(String(cString: strerror(reason)))")
                }
                throw IOError(file: folder, "in use by another job (\(holder ?? "holder unknown")); wait for it to end, or give this run another checkpoint.dir")
            }
            // The previous holder may have removed the file between our open and flock: lock the file
            // that is there now, not an unlinked one.
            var mine = stat(), there = stat()
            if fstat(fd, &mine) == 0, stat(path, &there) == 0, mine.st_ino == there.st_ino, mine.st_dev == there.st_dev {
                self.fd = fd
                break
            }
            close(fd)
            attempt += 1
            if attempt > 20 { throw IOError(file: path, "the run lock keeps being replaced by another job") }
        }
        staleHolder = Self.holder(Self.readAll(fd))
        let text = "host \(host)\npid \(getpid())\nstarted \(ISO8601DateFormatter().string(from: now))\n"
        guard ftruncate(fd, 0) == 0, pwrite(fd, text, text.utf8.count, 0) == text.utf8.count else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw IOError(file: path, "cannot write the run lock: \(reason)")
        }
        _ = Glibc.fsync(fd)
    }

    deinit { release() }

    /// Removes the lock file and drops the lock (idempotent).
    public func release() {
        guard fd >= 0 else { return }
        unlink(path)
        close(fd)
        fd = -1
    }

    /// "pid 12 on node1, started 2026-12-01T21:00:00Z" from the file's lines; nil when empty.
    static func holder(_ text: String) -> String? {
        var fields: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1)
            if parts.count == 2 { fields[String(parts[0])] = String(parts[1]) }
        }
        guard let pid = fields["pid"] else { return nil }
        return "pid \(pid) on \(fields["host"] ?? "an unknown host"), started \(fields["started"] ?? "at an unknown time")"
    }

    private static func readAll(_ fd: Int32) -> String {
        var bytes = [UInt8](repeating: 0, count: 4096)
        let n = pread(fd, &bytes, bytes.count, 0)
        return n > 0 ? String(decoding: bytes[0..<n], as: UTF8.self) : ""
    }
}
