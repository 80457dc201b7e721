import CHDF5
import Foundation

/// An open HDF5 file: groups, numeric datasets and attributes, with every failure turned into
/// one `IOError` line naming the file and the key.
///
/// Paths are absolute or relative to the root ("train/images" == "/train/images").
/// The serial HDF5 library is not thread-safe: use a file (and HDF5 in general) from one thread
/// at a time. The file closes in `close()` or, at the latest, in `deinit`.
public final class HDF5File {
    public enum Mode: Sendable { case readOnly, readWrite }

    /// The path as the caller gave it; every error message starts with it.
    public let path: String
    public let mode: Mode
    /// HDF5 file id; -1 once closed.
    private(set) var id: hid_t

    private init(path: String, mode: Mode, id: hid_t) {
        self.path = path; self.mode = mode; self.id = id
    }

    deinit { if id >= 0 { H5Fclose(id) } }

    /// Turns HDF5's stack dump on errors off once per process (we report one line instead).
    private static let silenced: Void = { trainer_h5_silence_errors() }()

    /// Opens an existing file. Fails with "<path>: no such file" or "<path>: not an HDF5 file".
    public static func open(_ path: String, mode: Mode = .readOnly) throws -> HDF5File {
        _ = silenced
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw IOError(file: path, "no such file")
        }
        guard !isDir.boolValue else { throw IOError(file: path, "is a directory, not an HDF5 file") }
        guard FileManager.default.isReadableFile(atPath: path) else { throw IOError(file: path, "not readable") }
        guard H5Fis_hdf5(path) > 0 else { throw IOError(file: path, "not an HDF5 file") }
        let flags = mode == .readOnly ? trainer_h5f_acc_rdonly() : trainer_h5f_acc_rdwr()
        let fid = H5Fopen(path, flags, trainer_h5p_default())
        guard fid >= 0 else {
            throw IOError(file: path, mode == .readOnly ? "cannot open (corrupt or truncated HDF5 file?)"
                                                       : "cannot open for writing (read-only, locked or corrupt?)")
        }
        return HDF5File(path: path, mode: mode, id: fid)
    }

    /// Creates a new file, truncating any existing one.
    public static func create(_ path: String) throws -> HDF5File {
        _ = silenced
        let fid = H5Fcreate(path, trainer_h5f_acc_trunc(), trainer_h5p_default(), trainer_h5p_default())
        guard fid >= 0 else { throw IOError(file: path, "cannot create (missing directory or no permission?)") }
        return HDF5File(path: path, mode: .readWrite, id: fid)
    }

    /// Writes buffered data to the operating system (not necessarily to disk; see fsync).
    public func flush() throws {
        try checkOpen()
        guard H5Fflush(id, H5F_SCOPE_GLOBAL) >= 0 else { throw IOError(file: path, "flush failed") }
    }

    /// Closes the file; later calls fail with "closed". Closing twice is harmless.
    public func close() throws {
        guard id >= 0 else { return }
        let rc = H5Fclose(id)
        id = -1
        guard rc >= 0 else { throw IOError(file: path, "close failed (data may not be written)") }
    }

    public var isOpen: Bool { id >= 0 }

    func checkOpen() throws {
        guard id >= 0 else { throw IOError(file: path, "file already closed") }
    }

    func checkWritable(_ key: String) throws {
        try checkOpen()
        guard mode == .readWrite else { throw IOError(file: path, key: key, "file is open read-only") }
    }

    // MARK: paths and groups

    /// "/a/b/" and "a/b" → "/a/b"; "" → "/".
    static func normalize(_ key: String) -> String {
        let parts = key.split(separator: "/", omittingEmptySubsequences: true)
        return "/" + parts.joined(separator: "/")
    }

    /// True when every component of `key` exists (groups, datasets or any other link).
    public func contains(_ key: String) -> Bool {
        guard id >= 0 else { return false }
        var prefix = ""
        for part in Self.normalize(key).split(separator: "/") {
            prefix += "/" + part
            if H5Lexists(id, prefix, trainer_h5p_default()) <= 0 { return false }
        }
        return true
    }

    /// True when `key` names a group ("/" is one).
    public func isGroup(_ key: String) -> Bool { objectType(key) == H5I_GROUP }

    /// True when `key` names a dataset.
    public func isDataset(_ key: String) -> Bool { objectType(key) == H5I_DATASET }

    private func objectType(_ key: String) -> H5I_type_t? {
        let k = Self.normalize(key)
        guard k == "/" || contains(k) else { return nil }
        let oid = H5Oopen(id, k, trainer_h5p_default())
        guard oid >= 0 else { return nil }
        defer { H5Oclose(oid) }
        return H5Iget_type(oid)
    }

    /// Creates the group and any missing parents; an existing group is fine.
    public func createGroup(_ key: String) throws {
        try checkWritable(Self.normalize(key))
        var prefix = ""
        for part in Self.normalize(key).split(separator: "/") {
            prefix += "/" + part
            if contains(prefix) {
                guard isGroup(prefix) else { throw IOError(file: path, key: prefix, "exists and is not a group") }
                continue
            }
            let gid = H5Gcreate2(id, prefix, trainer_h5p_default(), trainer_h5p_default(), trainer_h5p_default())
            guard gid >= 0 else { throw IOError(file: path, key: prefix, "cannot create group") }
            H5Gclose(gid)
        }
    }

    /// Names of the direct children of a group, in name order.
    public func keys(_ group: String = "/") throws -> [String] {
        try checkOpen()
        let g = Self.normalize(group)
        guard g == "/" || contains(g) else { throw IOError(file: path, key: g, "not found") }
        guard isGroup(g) else { throw IOError(file: path, key: g, "is not a group") }
        let gid = H5Gopen2(id, g, trainer_h5p_default())
        guard gid >= 0 else { throw IOError(file: path, key: g, "cannot open group") }
        defer { H5Gclose(gid) }
        var info = H5G_info_t()
        guard H5Gget_info(gid, &info) >= 0 else { throw IOError(file: path, key: g, "cannot list group") }
        var names: [String] = []
        names.reserveCapacity(Int(info.nlinks))
        for i in 0..<info.nlinks {
            let n = H5Lget_name_by_idx(gid, ".", H5_INDEX_NAME, H5_ITER_INC, i, nil, 0, trainer_h5p_default())
            guard n >= 0 else { throw IOError(file: path, key: g, "cannot read child name \(i)") }
            var buf = [CChar](repeating: 0, count: Int(n) + 1)
            _ = H5Lget_name_by_idx(gid, ".", H5_INDEX_NAME, H5_ITER_INC, i, &buf, buf.count, trainer_h5p_default())
            names.append(String(decoding: buf.prefix(Int(n)).map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return names
    }

    /// Removes the link `key` (a dataset or a whole group). The space is not reclaimed.
    public func remove(_ key: String) throws {
        let k = Self.normalize(key)
        try checkWritable(k)
        guard contains(k) else { throw IOError(file: path, key: k, "not found") }
        guard H5Ldelete(id, k, trainer_h5p_default()) >= 0 else { throw IOError(file: path, key: k, "cannot delete") }
    }

    /// Opens an object (group or dataset) for attribute access; the caller closes it.
    func openObject(_ key: String) throws -> hid_t {
        try checkOpen()
        let k = Self.normalize(key)
        guard k == "/" || contains(k) else { throw IOError(file: path, key: k, "not found") }
        let oid = H5Oopen(id, k, trainer_h5p_default())
        guard oid >= 0 else { throw IOError(file: path, key: k, "cannot open object") }
        return oid
    }
}
