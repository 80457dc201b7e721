import CHDF5

/// The numeric element types the wrapper reads and writes. HDF5 converts between the stored
/// type and this memory type on read (e.g. uint8 labels read as Int64), so callers pick the
/// type they want to compute with, not the one that happens to be in the file.
public enum HDF5NumericType: Sendable {
    case float32, float64, int64, int32, uint8

    /// The native HDF5 type (a library-owned id; never closed).
    var nativeType: hid_t {
        switch self {
        case .float32: return trainer_h5t_native_float()
        case .float64: return trainer_h5t_native_double()
        case .int64: return trainer_h5t_native_int64()
        case .int32: return trainer_h5t_native_int32()
        case .uint8: return trainer_h5t_native_uint8()
        }
    }
}

/// A Swift scalar that maps onto one `HDF5NumericType`.
public protocol HDF5Element {
    static var hdf5Type: HDF5NumericType { get }
    init()
}

extension Float: HDF5Element { public static var hdf5Type: HDF5NumericType { .float32 } }
extension Double: HDF5Element { public static var hdf5Type: HDF5NumericType { .float64 } }
extension Int64: HDF5Element { public static var hdf5Type: HDF5NumericType { .int64 } }
extension Int32: HDF5Element { public static var hdf5Type: HDF5NumericType { .int32 } }
extension UInt8: HDF5Element { public static var hdf5Type: HDF5NumericType { .uint8 } }

/// What a dataset or attribute stores, as far as callers need to validate it
/// ("labels must be an integer type", "images must be uint8").
public struct HDF5StoredType: Equatable, CustomStringConvertible, Sendable {
    public enum Kind: Sendable { case integer, float, string, other }
    public let kind: Kind
    /// Bytes per element (for variable-length strings: the size of the pointer).
    public let size: Int
    /// Signedness of an integer type (false for everything else).
    public let signed: Bool

    public init(kind: Kind, size: Int, signed: Bool) {
        self.kind = kind; self.size = size; self.signed = signed
    }

    public static let uint8 = HDF5StoredType(kind: .integer, size: 1, signed: false)
    public static let int32 = HDF5StoredType(kind: .integer, size: 4, signed: true)
    public static let int64 = HDF5StoredType(kind: .integer, size: 8, signed: true)
    public static let float32 = HDF5StoredType(kind: .float, size: 4, signed: false)
    public static let float64 = HDF5StoredType(kind: .float, size: 8, signed: false)

    /// numpy-style name: "uint8", "int64", "float32", "string", "other".
    public var description: String {
        switch kind {
        case .integer: return (signed ? "int" : "uint") + String(size * 8)
        case .float: return "float" + String(size * 8)
        case .string: return "string"
        case .other: return "other"
        }
    }

    /// Classifies an HDF5 datatype id.
    init(typeID t: hid_t) {
        let cls = H5Tget_class(t)
        let size = Int(H5Tget_size(t))
        switch cls {
        case H5T_INTEGER: self.init(kind: .integer, size: size, signed: H5Tget_sign(t) == H5T_SGN_2)
        case H5T_FLOAT: self.init(kind: .float, size: size, signed: false)
        case H5T_STRING: self.init(kind: .string, size: size, signed: false)
        default: self.init(kind: .other, size: size, signed: false)
        }
    }
}
