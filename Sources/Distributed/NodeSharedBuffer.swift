import Foundation

/// One region of memory that every rank on a node sees as the same bytes: how the ranks of a
/// node hold one copy of a dataset split instead of one each (`Communicator.makeNodeSharedBuffer`).
///
/// The ranks fill it together, each its own part, then call `barrier()`; afterwards they only
/// read it. An MPI window stays mapped until the communicator's `shutdown()` frees it on every
/// rank together (a rank leaving by an error never waits in a collective free).
public protocol NodeSharedBuffer: AnyObject {
    /// The whole region, the same bytes on every rank of the node.
    var bytes: UnsafeMutableRawBufferPointer { get }
    /// This rank's place among the ranks sharing the region and their number: who fills what.
    var localRank: Int { get }
    var localSize: Int { get }
    /// Returns once every rank sharing the region has called it, with their writes visible.
    func barrier()
}

/// Why a node-shared region could not be made; one line naming the sizes.
public struct SharedMemoryError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A region only this process sees: the node-shared buffer of a rank alone on its node.
final class PrivateBuffer: NodeSharedBuffer {
    let bytes: UnsafeMutableRawBufferPointer
    var localRank: Int { 0 }
    var localSize: Int { 1 }

    init(bytes count: Int) throws {
        guard let p = malloc(Swift.max(count, 1)) else {
            throw SharedMemoryError("cannot allocate \(formatBytes(count)) (\(formatBytes(HostMemory.availableBytes ?? 0)) available)")
        }
        bytes = UnsafeMutableRawBufferPointer(start: p, count: count)
    }

    deinit { free(bytes.baseAddress) }
    func barrier() {}
}

extension Communicator {
    /// A rank alone on its node (LocalCommunicator) shares with nobody: ordinary memory.
    public func makeNodeSharedBuffer(bytes: Int) throws -> NodeSharedBuffer {
        precondition(localSize == 1, "makeNodeSharedBuffer: \(type(of: self)) has \(localSize) ranks per node but no shared memory")
        try HostMemory.check(bytes)
        return try PrivateBuffer(bytes: bytes)
    }
}

/// The host's memory as /proc/meminfo reports it.
public enum HostMemory {
    /// MemAvailable: what the kernel estimates can be allocated without swapping; nil where unknown.
    public static var availableBytes: Int? {
        guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
            let fields = line.split(separator: " ")
            if fields.count >= 2, let kb = Int(fields[1]) { return kb * 1024 }
        }
        return nil
    }

    /// Throws when `bytes` exceed the memory available: asking anyway would be killed later,
    /// by the OOM killer or a bus error on first touch, far from the cause.
    static func check(_ bytes: Int) throws {
        guard let available = availableBytes, bytes > available else { return }
        throw SharedMemoryError("cannot allocate \(formatBytes(bytes)) of node memory: the node has \(formatBytes(available)) available")
    }
}

/// "180.0 MB", "1.57 TB" (decimal units, as `df -H` and disk vendors count).
public func formatBytes(_ n: Int) -> String {
    let units = ["B", "kB", "MB", "GB", "TB", "PB"]
    var v = Double(n), u = 0
    while v >= 1000 && u < units.count - 1 { v /= 1000; u += 1 }
    return u == 0 ? "\(n) B" : String(format: "%.1f %@", v, units[u])
}
