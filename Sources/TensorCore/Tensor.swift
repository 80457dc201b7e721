import Foundation

/// A float32 tensor with contiguous row-major (NCHW) storage.
///
/// Reference semantics on purpose: layers keep their output and workspace tensors between
/// steps and `resize` them in place, so a training step allocates nothing after the first.
public final class Tensor: @unchecked Sendable {
    /// Dimensions, outermost first: (N, C, H, W) for images, (N, F) for features.
    public private(set) var shape: [Int]
    /// Number of elements, the product of `shape`.
    public private(set) var count: Int
    /// Elements the storage can hold without reallocating.
    public private(set) var capacity: Int
    /// 64-byte aligned storage of `capacity` floats.
    public private(set) var data: UnsafeMutablePointer<Float>

    public init(shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor: negative dimension in shape \(shape)")
        self.shape = shape
        self.count = shape.reduce(1, *)
        self.capacity = Swift.max(count, 1)
        self.data = Tensor.allocate(capacity)
        data.initialize(repeating: 0, count: capacity)
    }

    public convenience init(shape: [Int], values: [Float]) {
        self.init(shape: shape)
        precondition(values.count == count, "Tensor: \(values.count) values for shape \(shape)")
        values.withUnsafeBufferPointer { data.update(from: $0.baseAddress!, count: count) }
    }

    public convenience init(shape: [Int], repeating value: Float) {
        self.init(shape: shape)
        data.update(repeating: value, count: count)
    }

    deinit { free(data) }

    /// The elements as a buffer pointer over exactly `count` floats.
    @inlinable public var buffer: UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: data, count: count)
    }

    /// The elements copied into an array (tests and I/O; never on the hot path).
    public var array: [Float] { Array(buffer) }

    /// Changes the shape in place, reallocating only when the storage is too small.
    /// The contents are unspecified afterwards unless the element count is unchanged.
    public func resize(_ newShape: [Int]) {
        if newShape == shape { return }
        let n = newShape.reduce(1, *)
        if n > capacity {
            free(data)
            capacity = n
            data = Tensor.allocate(n)
            data.initialize(repeating: 0, count: n)
        }
        shape = newShape
        count = n
    }

    /// Reinterprets the same elements with another shape of equal element count.
    public func reshape(_ newShape: [Int]) {
        let n = newShape.reduce(1, *)
        precondition(n == count, "Tensor.reshape: \(shape) has \(count) elements, \(newShape) needs \(n)")
        shape = newShape
    }

    public func zero() { data.update(repeating: 0, count: count) }

    public func copy(from other: Tensor) {
        resize(other.shape)
        data.update(from: other.data, count: count)
    }

    /// Size of dimension `i`; negative `i` counts from the end.
    @inlinable public func dim(_ i: Int) -> Int { i >= 0 ? shape[i] : shape[shape.count + i] }

    /// Elements per item of the leading (batch) dimension.
    public var itemCount: Int { shape.isEmpty ? 1 : shape.dropFirst().reduce(1, *) }

    static func allocate(_ n: Int) -> UnsafeMutablePointer<Float> {
        var raw: UnsafeMutableRawPointer?
        let rc = posix_memalign(&raw, 64, Swift.max(n, 1) * MemoryLayout<Float>.stride)
        precondition(rc == 0 && raw != nil, "Tensor: cannot allocate \(n) floats")
        return raw!.bindMemory(to: Float.self, capacity: Swift.max(n, 1))
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String { "Tensor\(shape)" }
}
