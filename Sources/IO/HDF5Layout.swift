import CHDF5
import TensorCore

/// How a dataset's bytes lie in the file: what decides whether reading arbitrary rows is a
/// plain seek and read (contiguous) or decompresses whole chunks (chunked, filtered).
public struct HDF5StorageLayout: Equatable, Sendable {
    public enum Kind: String, Sendable { case contiguous, chunked, compact, external, virtual }
    public let kind: Kind
    /// Chunk dimensions when chunked.
    public let chunks: [Int]?
    /// Names of the filters applied to every chunk ("deflate", "shuffle", ...).
    public let filters: [String]

    /// "chunked (1, 32, 32, 3), deflate" / "contiguous".
    public var description: String {
        var parts = [kind.rawValue + (chunks.map { " " + Shape.format($0) } ?? "")]
        parts += filters
        return parts.joined(separator: ", ")
    }
}

extension HDF5File {
    /// The storage layout of dataset `key`.
    public func storageLayout(_ key: String) throws -> HDF5StorageLayout {
        let k = Self.normalize(key)
        let did = try openDataset(k)
        defer { H5Dclose(did) }
        let plist = H5Dget_create_plist(did)
        guard plist >= 0 else { throw IOError(file: path, key: k, "cannot read the dataset's creation properties") }
        defer { H5Pclose(plist) }
        if H5Pget_external_count(plist) > 0 { return HDF5StorageLayout(kind: .external, chunks: nil, filters: []) }
        switch H5Pget_layout(plist) {
        case H5D_CHUNKED:
            let rank = Int(H5Pget_chunk(plist, 0, nil))
            var dims = [hsize_t](repeating: 0, count: Swift.max(rank, 1))
            _ = H5Pget_chunk(plist, Int32(dims.count), &dims)
            return HDF5StorageLayout(kind: .chunked, chunks: dims.prefix(rank).map { Int($0) }, filters: filterNames(plist))
        case H5D_COMPACT: return HDF5StorageLayout(kind: .compact, chunks: nil, filters: [])
        case H5D_VIRTUAL: return HDF5StorageLayout(kind: .virtual, chunks: nil, filters: [])
        default: return HDF5StorageLayout(kind: .contiguous, chunks: nil, filters: [])
        }
    }

    private func filterNames(_ plist: hid_t) -> [String] {
        (0..<Swift.max(0, H5Pget_nfilters(plist))).map { i in
            var flags: UInt32 = 0, count = 0
            var name = [CChar](repeating: 0, count: 64)
            let id = H5Pget_filter2(plist, UInt32(i), &flags, &count, nil, name.count, &name, nil)
            let text = String(cBuffer: name)
            return text.isEmpty ? "filter \(id)" : text
        }
    }

    /// True when the HDF5 library serialises its own calls (built with --enable-threadsafe,
    /// as Debian's is): then a reader thread may call it while the main thread writes checkpoints.
    public static var libraryIsThreadSafe: Bool {
        var ts: hbool_t = false
        return H5is_library_threadsafe(&ts) >= 0 && ts
    }
}

extension HDF5File {
    /// Turns HDF5's error stack dump off for the calling thread: a thread-safe HDF5 keeps that
    /// setting per thread, so a reader thread must say it too.
    public static func silenceErrorsOnThisThread() { trainer_h5_silence_errors() }
}
