import Foundation

/// MD5 (RFC 1321), for checking downloads against the checksums the dataset authors publish.
/// Not for security: only to catch corrupt or substituted archives.
public struct MD5 {
    private var state: (UInt32, UInt32, UInt32, UInt32) = (0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476)
    private var pending: [UInt8] = []
    private var length: UInt64 = 0

    public init() {}

    static let shifts: [UInt32] = [7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
                                   5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20,
                                   4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
                                   6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21]
    /// floor(2^32 · |sin(i + 1)|)
    static let constants: [UInt32] = (0..<64).map { UInt32(truncatingIfNeeded: Int64((abs(sin(Double($0 + 1))) * 4294967296).rounded(.down))) }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        length &+= UInt64(bytes.count)
        var rest = bytes[...]
        if !pending.isEmpty {
            let take = min(64 - pending.count, rest.count)
            pending += rest.prefix(take)
            rest = rest.dropFirst(take)
            guard pending.count == 64 else { return }
            pending.withUnsafeBytes { block($0.baseAddress!) }
            pending = []
        }
        var i = rest.startIndex
        while rest.endIndex - i >= 64 { block(bytes.baseAddress! + i); i += 64 }
        pending = Array(rest[i...])
    }

    public mutating func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }

    /// The digest as 32 lowercase hex digits.
    public mutating func hexDigest() -> String {
        let bits = length &* 8
        var tail: [UInt8] = [0x80] + [UInt8](repeating: 0, count: (55 - Int(length % 64) + 64) % 64)
        for k in 0..<8 { tail.append(UInt8(truncatingIfNeeded: bits >> (8 * UInt64(k)))) }
        let saved = length
        tail.withUnsafeBytes { update($0) }
        length = saved
        return [state.0, state.1, state.2, state.3].map { w in
            (0..<4).map { String(format: "%02x", (w >> (8 * UInt32($0))) & 0xff) }.joined()
        }.joined()
    }

    /// The MD5 of a file, read in 1 MiB chunks.
    public static func hexDigest(ofFile path: String) throws -> String {
        guard let h = FileHandle(forReadingAtPath: path) else { throw IOError(file: path, "cannot open to checksum") }
        defer { try? h.close() }
        var md5 = MD5()
        while let chunk = try h.read(upToCount: 1 << 20), !chunk.isEmpty { chunk.withUnsafeBytes { md5.update($0) } }
        return md5.hexDigest()
    }

    private mutating func block(_ p: UnsafeRawPointer) {
        var (a, b, c, d) = state
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 16) { m in
            for k in 0..<16 { m[k] = UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * k, as: UInt32.self)) }
            for i in 0..<64 {
                var f: UInt32, g: Int
                switch i {
                case 0..<16: f = (b & c) | (~b & d); g = i
                case 16..<32: f = (d & b) | (~d & c); g = (5 * i + 1) % 16
                case 32..<48: f = b ^ c ^ d; g = (3 * i + 5) % 16
                default: f = c ^ (b | ~d); g = (7 * i) % 16
                }
                f = f &+ a &+ MD5.constants[i] &+ m[g]
                a = d; d = c; c = b
                b = b &+ ((f << MD5.shifts[i]) | (f >> (32 - MD5.shifts[i])))
            }
        }
        state = (state.0 &+ a, state.1 &+ b, state.2 &+ c, state.3 &+ d)
    }
}
