import CHDF5

/// Numeric datasets: shape and type queries, whole and row-range (hyperslab) reads with type
/// conversion by HDF5, and writes of a flat buffer with a shape (row-major, like numpy).
extension HDF5File {
    /// Dimensions of a dataset, outermost first; `[]` for a scalar dataset.
    public func shape(_ key: String) throws -> [Int] {
        let k = Self.normalize(key)
        let did = try openDataset(k)
        defer { H5Dclose(did) }
        return try dims(did, k)
    }

    /// The type stored in the file (before any conversion on read).
    public func storedType(_ key: String) throws -> HDF5StoredType {
        let k = Self.normalize(key)
        let did = try openDataset(k)
        defer { H5Dclose(did) }
        let t = H5Dget_type(did)
        guard t >= 0 else { throw IOError(file: path, key: k, "cannot read datatype") }
        defer { H5Tclose(t) }
        return HDF5StoredType(typeID: t)
    }

    /// All elements, row-major, converted to `T` by HDF5 (integers and floats of any width).
    public func read<T: HDF5Element>(_ key: String, as: T.Type = T.self) throws -> [T] {
        let k = Self.normalize(key)
        let n = try shape(k).reduce(1, *)
        var out = [T](repeating: T(), count: n)
        try out.withUnsafeMutableBufferPointer { try read(k, into: $0) }
        return out
    }

    public func readFloats(_ key: String) throws -> [Float] { try read(key, as: Float.self) }
    public func readDoubles(_ key: String) throws -> [Double] { try read(key, as: Double.self) }
    public func readInt64s(_ key: String) throws -> [Int64] { try read(key, as: Int64.self) }
    public func readInt32s(_ key: String) throws -> [Int32] { try read(key, as: Int32.self) }
    public func readUInt8s(_ key: String) throws -> [UInt8] { try read(key, as: UInt8.self) }

    /// The single element of a scalar (or one-element) dataset.
    public func readScalar<T: HDF5Element>(_ key: String, as: T.Type = T.self) throws -> T {
        let values = try read(key, as: T.self)
        guard values.count == 1 else {
            throw IOError(file: path, key: Self.normalize(key), "expected a scalar, found \(values.count) elements")
        }
        return values[0]
    }

    /// Reads all elements into a caller-owned buffer of exactly the dataset's element count.
    public func read<T: HDF5Element>(_ key: String, into buffer: UnsafeMutableBufferPointer<T>) throws {
        let k = Self.normalize(key)
        let did = try openDataset(k)
        defer { H5Dclose(did) }
        try checkNumeric(did, k)
        let n = try dims(did, k).reduce(1, *)
        guard buffer.count == n else {
            throw IOError(file: path, key: k, "has \(n) elements, buffer holds \(buffer.count)")
        }
        if n == 0 { return }
        guard H5Dread(did, T.hdf5Type.nativeType, trainer_h5s_all(), trainer_h5s_all(),
                      trainer_h5p_default(), buffer.baseAddress) >= 0 else {
            throw IOError(file: path, key: k, "read failed (corrupt file or unconvertible type)")
        }
    }

    /// Rows `rows` of the first dimension (all of the others), row-major.
    public func readRows<T: HDF5Element>(_ key: String, rows: Range<Int>, as: T.Type = T.self) throws -> [T] {
        let k = Self.normalize(key)
        let s = try shape(k)
        guard !s.isEmpty else { throw IOError(file: path, key: k, "is a scalar; it has no rows") }
        let n = rows.count * s.dropFirst().reduce(1, *)
        var out = [T](repeating: T(), count: n)
        try out.withUnsafeMutableBufferPointer { try readRows(k, rows: rows, into: $0) }
        return out
    }

    /// Reads rows `rows` of the first dimension into a caller-owned buffer of exactly
    /// `rows.count × (product of the other dimensions)` elements: a hyperslab read, so only
    /// those rows are touched on disk (sharded reading).
    public func readRows<T: HDF5Element>(_ key: String, rows: Range<Int>,
                                         into buffer: UnsafeMutableBufferPointer<T>) throws {
        let k = Self.normalize(key)
        let did = try openDataset(k)
        defer { H5Dclose(did) }
        try checkNumeric(did, k)
        let s = try dims(did, k)
        guard !s.isEmpty else { throw IOError(file: path, key: k, "is a scalar; it has no rows") }
        guard rows.lowerBound >= 0, rows.upperBound <= s[0] else {
            throw IOError(file: path, key: k, "rows \(rows.lowerBound)..<\(rows.upperBound) out of range 0..<\(s[0])")
        }
        let n = rows.count * s.dropFirst().reduce(1, *)
        guard buffer.count == n else {
            throw IOError(file: path, key: k, "rows \(rows.lowerBound)..<\(rows.upperBound) hold \(n) elements, buffer holds \(buffer.count)")
        }
        if n == 0 { return }
        let fileSpace = H5Dget_space(did)
        guard fileSpace >= 0 else { throw IOError(file: path, key: k, "cannot read dataspace") }
        defer { H5Sclose(fileSpace) }
        var start = [hsize_t](repeating: 0, count: s.count)
        start[0] = hsize_t(rows.lowerBound)
        var count = s.map { hsize_t($0) }
        count[0] = hsize_t(rows.count)
        guard H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, start, nil, count, nil) >= 0 else {
            throw IOError(file: path, key: k, "cannot select rows \(rows)")
        }
        let memSpace = H5Screate_simple(Int32(s.count), count, nil)
        guard memSpace >= 0 else { throw IOError(file: path, key: k, "cannot create memory dataspace") }
        defer { H5Sclose(memSpace) }
        guard H5Dread(did, T.hdf5Type.nativeType, memSpace, fileSpace, trainer_h5p_default(),
                      buffer.baseAddress) >= 0 else {
            throw IOError(file: path, key: k, "read of rows \(rows.lowerBound)..<\(rows.upperBound) failed")
        }
    }

    /// Writes `values` (row-major) as a dataset of `shape` (`[]` = scalar), creating parent
    /// groups and replacing an existing dataset of the same name.
    public func write<T: HDF5Element>(_ key: String, _ values: [T], shape: [Int]) throws {
        try values.withUnsafeBufferPointer { try write(key, from: $0, shape: shape) }
    }

    /// Writes a scalar dataset.
    public func writeScalar<T: HDF5Element>(_ key: String, _ value: T) throws {
        try write(key, [value], shape: [])
    }

    /// Writes a caller-owned buffer (no copy) as a dataset of `shape`.
    public func write<T: HDF5Element>(_ key: String, from buffer: UnsafeBufferPointer<T>, shape: [Int]) throws {
        let k = Self.normalize(key)
        try checkWritable(k)
        guard k != "/" else { throw IOError(file: path, key: k, "the root cannot be a dataset") }
        guard shape.allSatisfy({ $0 >= 0 }) else { throw IOError(file: path, key: k, "negative dimension in shape \(shape)") }
        let n = shape.reduce(1, *)
        guard buffer.count == n else {
            throw IOError(file: path, key: k, "shape \(shape) needs \(n) elements, got \(buffer.count)")
        }
        let parent = String(k[..<k.lastIndex(of: "/")!])
        if !parent.isEmpty { try createGroup(parent) }
        if contains(k) {
            guard isDataset(k) else { throw IOError(file: path, key: k, "exists and is not a dataset") }
            try remove(k)
        }
        let space = shape.isEmpty ? H5Screate(H5S_SCALAR) : H5Screate_simple(Int32(shape.count), shape.map { hsize_t($0) }, nil)
        guard space >= 0 else { throw IOError(file: path, key: k, "cannot create dataspace \(shape)") }
        defer { H5Sclose(space) }
        let type = T.hdf5Type.nativeType
        let did = H5Dcreate2(id, k, type, space, trainer_h5p_default(), trainer_h5p_default(), trainer_h5p_default())
        guard did >= 0 else { throw IOError(file: path, key: k, "cannot create dataset") }
        defer { H5Dclose(did) }
        if n == 0 { return }
        guard H5Dwrite(did, type, trainer_h5s_all(), trainer_h5s_all(), trainer_h5p_default(), buffer.baseAddress) >= 0 else {
            throw IOError(file: path, key: k, "write failed (disk full?)")
        }
    }

    // MARK: helpers

    func openDataset(_ k: String) throws -> hid_t {
        try checkOpen()
        guard contains(k) else { throw IOError(file: path, key: k, "not found") }
        guard isDataset(k) else { throw IOError(file: path, key: k, "is a group, not a dataset") }
        let did = H5Dopen2(id, k, trainer_h5p_default())
        guard did >= 0 else { throw IOError(file: path, key: k, "cannot open dataset") }
        return did
    }

    func dims(_ did: hid_t, _ k: String) throws -> [Int] {
        let space = H5Dget_space(did)
        guard space >= 0 else { throw IOError(file: path, key: k, "cannot read dataspace") }
        defer { H5Sclose(space) }
        return try spaceDims(space, k)
    }

    func spaceDims(_ space: hid_t, _ k: String) throws -> [Int] {
        let rank = H5Sget_simple_extent_ndims(space)
        guard rank >= 0 else { throw IOError(file: path, key: k, "cannot read shape") }
        if rank == 0 { return H5Sget_simple_extent_type(space) == H5S_NULL ? [0] : [] }
        var d = [hsize_t](repeating: 0, count: Int(rank))
        guard H5Sget_simple_extent_dims(space, &d, nil) >= 0 else { throw IOError(file: path, key: k, "cannot read shape") }
        return d.map { Int($0) }
    }

    private func checkNumeric(_ did: hid_t, _ k: String) throws {
        let t = H5Dget_type(did)
        guard t >= 0 else { throw IOError(file: path, key: k, "cannot read datatype") }
        defer { H5Tclose(t) }
        let st = HDF5StoredType(typeID: t)
        guard st.kind == .integer || st.kind == .float else {
            throw IOError(file: path, key: k, "holds \(st), expected numbers")
        }
    }
}
