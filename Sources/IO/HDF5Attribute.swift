import CHDF5
import Foundation

/// Attributes on the root, a group or a dataset (`at:` names the object; "/" by default):
/// strings (fixed or variable length; read either, write variable-length UTF-8 by default like
/// h5py), string arrays, integers, doubles and numeric arrays (converted by HDF5 on read).
extension HDF5File {
    // MARK: queries

    /// Names of the attributes of an object, in name order.
    public func attributeNames(at key: String = "/") throws -> [String] {
        let oid = try openObject(key)
        defer { H5Oclose(oid) }
        var names: [String] = []
        var i: hsize_t = 0
        while true {
            let n = H5Aget_name_by_idx(oid, ".", H5_INDEX_NAME, H5_ITER_INC, i, nil, 0, trainer_h5p_default())
            if n < 0 { break }
            var buf = [CChar](repeating: 0, count: Int(n) + 1)
            _ = H5Aget_name_by_idx(oid, ".", H5_INDEX_NAME, H5_ITER_INC, i, &buf, buf.count, trainer_h5p_default())
            names.append(String(decoding: buf.prefix(Int(n)).map { UInt8(bitPattern: $0) }, as: UTF8.self))
            i += 1
        }
        return names
    }

    public func hasAttribute(_ name: String, at key: String = "/") -> Bool {
        guard let oid = try? openObject(key) else { return false }
        defer { H5Oclose(oid) }
        return H5Aexists(oid, name) > 0
    }

    /// The stored type of an attribute.
    public func attributeType(_ name: String, at key: String = "/") throws -> HDF5StoredType {
        try withAttribute(name, at: key) { aid, _ in
            let t = H5Aget_type(aid)
            defer { H5Tclose(t) }
            return HDF5StoredType(typeID: t)
        }
    }

    // MARK: reading

    /// All elements of a numeric attribute, converted to `T` (a scalar gives one element).
    public func attribute<T: HDF5Element>(_ name: String, at key: String = "/", as: T.Type = T.self) throws -> [T] {
        try withAttribute(name, at: key) { aid, label in
            let t = H5Aget_type(aid)
            defer { H5Tclose(t) }
            let st = HDF5StoredType(typeID: t)
            guard st.kind == .integer || st.kind == .float else {
                throw IOError(file: path, key: label, "holds \(st), expected numbers")
            }
            let n = try attributeCount(aid, label)
            var out = [T](repeating: T(), count: n)
            if n > 0 {
                let rc = out.withUnsafeMutableBytes { H5Aread(aid, T.hdf5Type.nativeType, $0.baseAddress) }
                guard rc >= 0 else { throw IOError(file: path, key: label, "read failed") }
            }
            return out
        }
    }

    /// An integer attribute (any stored integer width).
    public func intAttribute(_ name: String, at key: String = "/") throws -> Int64 {
        let label = attributeLabel(name, key)
        let st = try attributeType(name, at: key)
        guard st.kind == .integer else { throw IOError(file: path, key: label, "holds \(st), expected an integer") }
        return try single(attribute(name, at: key, as: Int64.self), label)
    }

    /// A floating-point (or integer) attribute as Double.
    public func doubleAttribute(_ name: String, at key: String = "/") throws -> Double {
        try single(attribute(name, at: key, as: Double.self), attributeLabel(name, key))
    }

    public func doublesAttribute(_ name: String, at key: String = "/") throws -> [Double] {
        try attribute(name, at: key, as: Double.self)
    }

    public func int64sAttribute(_ name: String, at key: String = "/") throws -> [Int64] {
        try attribute(name, at: key, as: Int64.self)
    }

    /// A string attribute (fixed or variable length, scalar or a one-element array).
    public func stringAttribute(_ name: String, at key: String = "/") throws -> String {
        try single(stringsAttribute(name, at: key), attributeLabel(name, key))
    }

    /// All strings of a string attribute (fixed or variable length).
    public func stringsAttribute(_ name: String, at key: String = "/") throws -> [String] {
        try withAttribute(name, at: key) { aid, label in
            let t = H5Aget_type(aid)
            guard t >= 0 else { throw IOError(file: path, key: label, "cannot read datatype") }
            defer { H5Tclose(t) }
            guard H5Tget_class(t) == H5T_STRING else {
                throw IOError(file: path, key: label, "holds \(HDF5StoredType(typeID: t)), expected a string")
            }
            let n = try attributeCount(aid, label)
            if n == 0 { return [] }
            if H5Tis_variable_str(t) > 0 {
                let mem = H5Tcopy(trainer_h5t_c_s1())
                defer { H5Tclose(mem) }
                H5Tset_size(mem, trainer_h5t_variable())
                H5Tset_cset(mem, H5Tget_cset(t))
                var ptrs = [UnsafeMutablePointer<CChar>?](repeating: nil, count: n)
                guard H5Aread(aid, mem, &ptrs) >= 0 else { throw IOError(file: path, key: label, "read failed") }
                defer { for p in ptrs where p != nil { H5free_memory(p) } }
                return ptrs.map { $0.map { String(cString: $0) } ?? "" }
            }
            let size = H5Tget_size(t)
            let spacePadded = H5Tget_strpad(t) == H5T_STR_SPACEPAD
            var bytes = [UInt8](repeating: 0, count: n * size)
            guard H5Aread(aid, t, &bytes) >= 0 else { throw IOError(file: path, key: label, "read failed") }
            return (0..<n).map { i in
                var s = bytes[(i * size)..<((i + 1) * size)]
                if let z = s.firstIndex(of: 0) { s = s[..<z] }
                if spacePadded { while s.last == 0x20 { s = s.dropLast() } }
                return String(decoding: s, as: UTF8.self)
            }
        }
    }

    // MARK: writing

    /// A string attribute: variable-length UTF-8 (what h5py writes for `str`) by default,
    /// or fixed-length null-padded (numpy `S<n>`) when `fixedLength`.
    public func setAttribute(_ name: String, _ value: String, at key: String = "/", fixedLength: Bool = false) throws {
        try writeStrings(name, [value], scalar: true, at: key, fixedLength: fixedLength)
    }

    /// A 1-D string array attribute (e.g. class names).
    public func setAttribute(_ name: String, _ values: [String], at key: String = "/", fixedLength: Bool = false) throws {
        try writeStrings(name, values, scalar: false, at: key, fixedLength: fixedLength)
    }

    public func setAttribute(_ name: String, _ value: Int64, at key: String = "/") throws {
        try writeNumbers(name, [value], scalar: true, at: key)
    }

    public func setAttribute(_ name: String, _ value: Int, at key: String = "/") throws {
        try writeNumbers(name, [Int64(value)], scalar: true, at: key)
    }

    public func setAttribute(_ name: String, _ value: Double, at key: String = "/") throws {
        try writeNumbers(name, [value], scalar: true, at: key)
    }

    public func setAttribute(_ name: String, _ values: [Double], at key: String = "/") throws {
        try writeNumbers(name, values, scalar: false, at: key)
    }

    public func setAttribute(_ name: String, _ values: [Int64], at key: String = "/") throws {
        try writeNumbers(name, values, scalar: false, at: key)
    }

    public func setAttribute(_ name: String, _ values: [Int], at key: String = "/") throws {
        try writeNumbers(name, values.map { Int64($0) }, scalar: false, at: key)
    }

    /// Removes an attribute if present.
    public func removeAttribute(_ name: String, at key: String = "/") throws {
        try checkWritable(attributeLabel(name, key))
        let oid = try openObject(key)
        defer { H5Oclose(oid) }
        if H5Aexists(oid, name) > 0 {
            guard H5Adelete(oid, name) >= 0 else { throw IOError(file: path, key: attributeLabel(name, key), "cannot delete") }
        }
    }

    // MARK: helpers

    /// "/train/images@mean", "@classes" on the root: how errors name an attribute.
    func attributeLabel(_ name: String, _ key: String) -> String {
        let k = Self.normalize(key)
        return (k == "/" ? "" : k) + "@" + name
    }

    private func single<T>(_ values: [T], _ label: String) throws -> T {
        guard values.count == 1 else { throw IOError(file: path, key: label, "expected one value, found \(values.count)") }
        return values[0]
    }

    private func withAttribute<R>(_ name: String, at key: String, _ body: (hid_t, String) throws -> R) throws -> R {
        let label = attributeLabel(name, key)
        let oid = try openObject(key)
        defer { H5Oclose(oid) }
        guard H5Aexists(oid, name) > 0 else { throw IOError(file: path, key: label, "attribute not found") }
        let aid = H5Aopen(oid, name, trainer_h5p_default())
        guard aid >= 0 else { throw IOError(file: path, key: label, "cannot open attribute") }
        defer { H5Aclose(aid) }
        return try body(aid, label)
    }

    private func attributeCount(_ aid: hid_t, _ label: String) throws -> Int {
        let space = H5Aget_space(aid)
        guard space >= 0 else { throw IOError(file: path, key: label, "cannot read dataspace") }
        defer { H5Sclose(space) }
        return try spaceDims(space, label).reduce(1, *)
    }

    /// Creates (replacing) attribute `name` of `type` and element count; `body` writes it.
    private func createAttribute(_ name: String, at key: String, type: hid_t, count: Int, scalar: Bool,
                                 _ body: (hid_t, String) throws -> Void) throws {
        let label = attributeLabel(name, key)
        try checkWritable(label)
        let oid = try openObject(key)
        defer { H5Oclose(oid) }
        if H5Aexists(oid, name) > 0 {
            guard H5Adelete(oid, name) >= 0 else { throw IOError(file: path, key: label, "cannot replace") }
        }
        let space = scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, [hsize_t(count)], nil)
        guard space >= 0 else { throw IOError(file: path, key: label, "cannot create dataspace") }
        defer { H5Sclose(space) }
        let aid = H5Acreate2(oid, name, type, space, trainer_h5p_default(), trainer_h5p_default())
        guard aid >= 0 else { throw IOError(file: path, key: label, "cannot create attribute (too large?)") }
        defer { H5Aclose(aid) }
        try body(aid, label)
    }

    private func writeNumbers<T: HDF5Element>(_ name: String, _ values: [T], scalar: Bool, at key: String) throws {
        let type = T.hdf5Type.nativeType
        try createAttribute(name, at: key, type: type, count: values.count, scalar: scalar) { aid, label in
            if values.isEmpty { return }
            let rc = values.withUnsafeBytes { H5Awrite(aid, type, $0.baseAddress) }
            guard rc >= 0 else { throw IOError(file: path, key: label, "write failed") }
        }
    }

    private func writeStrings(_ name: String, _ values: [String], scalar: Bool, at key: String, fixedLength: Bool) throws {
        let type = H5Tcopy(trainer_h5t_c_s1())
        defer { H5Tclose(type) }
        H5Tset_cset(type, H5T_CSET_UTF8)
        if fixedLength {
            let size = max(1, values.map { $0.utf8.count }.max() ?? 1)
            H5Tset_size(type, size)
            H5Tset_strpad(type, H5T_STR_NULLPAD)
            var bytes = [UInt8](repeating: 0, count: size * values.count)
            for (i, v) in values.enumerated() { bytes.replaceSubrange((i * size)..<(i * size + v.utf8.count), with: v.utf8) }
            try createAttribute(name, at: key, type: type, count: values.count, scalar: scalar) { aid, label in
                if values.isEmpty { return }
                guard H5Awrite(aid, type, bytes) >= 0 else { throw IOError(file: path, key: label, "write failed") }
            }
        } else {
            H5Tset_size(type, trainer_h5t_variable())
            let cstrings = values.map { strdup($0) }
            defer { cstrings.forEach { free($0) } }
            try createAttribute(name, at: key, type: type, count: values.count, scalar: scalar) { aid, label in
                if values.isEmpty { return }
                let rc = cstrings.map { UnsafePointer($0) }.withUnsafeBufferPointer { H5Awrite(aid, type, $0.baseAddress) }
                guard rc >= 0 else { throw IOError(file: path, key: label, "write failed") }
            }
        }
    }
}
