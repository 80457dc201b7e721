import TensorCore

/// How a parameter or buffer is filled at initialisation (PyTorch's defaults per layer type).
public enum Initializer: Sendable, Equatable {
    /// Every element equal to the value (BN weight 1, BN bias 0, running_var 1, ...).
    case constant(Float)
    /// U(−bound, bound): PyTorch's default for Conv2d and Linear weights and biases,
    /// kaiming_uniform(a = √5) ⇒ bound = 1/√fan_in.
    case uniform(bound: Float)
    /// N(0, std²), e.g. kaiming_normal(fan_out, relu) ⇒ std = √(2/fan_out).
    case normal(std: Float)
}

/// A named float tensor of the model state: a view into one of the store's flat allocations.
public class StateTensor {
    /// PyTorch state_dict key, e.g. "layer1.0.conv1.weight".
    public let name: String
    public let shape: [Int]
    public let count: Int
    public let initializer: Initializer
    /// Position of the first element in the store's flat buffer.
    public internal(set) var offset = 0
    public internal(set) var value: UnsafeMutablePointer<Float>!

    init(name: String, shape: [Int], initializer: Initializer) {
        self.name = name; self.shape = shape; self.count = shape.reduce(1, *); self.initializer = initializer
    }
    public var values: UnsafeMutableBufferPointer<Float> { .init(start: value, count: count) }
}

/// A trainable tensor: a view into the store's parameter allocation and, at the same offset,
/// into its gradient allocation.
public final class Parameter: StateTensor {
    public internal(set) var grad: UnsafeMutablePointer<Float>!
    public var grads: UnsafeMutableBufferPointer<Float> { .init(start: grad, count: count) }
}

/// A non-trained float tensor that is part of the model state (BN running_mean / running_var).
public final class StateBuffer: StateTensor {}

/// An int64 counter in the model state (BN num_batches_tracked).
public final class Counter {
    public let name: String
    public var value: Int64 = 0
    init(name: String) { self.name = name }
}

/// All model state in three flat allocations: parameters, their gradients (same layout, so the
/// gradient all-reduce is one buffer), and float buffers; plus int64 counters.
///
/// Layers `declare…` their tensors while the model is built; `finalize()` then allocates once
/// and binds every view. Declaration order is forward order, so backward finishes gradients
/// from the end of the flat buffer towards its start (what bucketed all-reduce relies on).
public final class ParameterStore {
    public private(set) var parameters: [Parameter] = []
    public private(set) var buffers: [StateBuffer] = []
    public private(set) var counters: [Counter] = []
    /// Every state_dict key in declaration order (parameters, buffers and counters interleaved).
    public private(set) var stateKeys: [String] = []
    public private(set) var values = UnsafeMutableBufferPointer<Float>(start: nil, count: 0)
    public private(set) var grads = UnsafeMutableBufferPointer<Float>(start: nil, count: 0)
    public private(set) var bufferValues = UnsafeMutableBufferPointer<Float>(start: nil, count: 0)
    public private(set) var isFinalized = false
    private var names = Set<String>()

    public init() {}

    deinit {
        values.deallocate(); grads.deallocate(); bufferValues.deallocate()
    }

    public var parameterCount: Int { values.count }
    public var bufferCount: Int { bufferValues.count }

    public func declare(_ name: String, shape: [Int], initializer: Initializer) -> Parameter {
        register(name)
        let p = Parameter(name: name, shape: shape, initializer: initializer)
        parameters.append(p)
        return p
    }

    public func declareBuffer(_ name: String, shape: [Int], initializer: Initializer) -> StateBuffer {
        register(name)
        let b = StateBuffer(name: name, shape: shape, initializer: initializer)
        buffers.append(b)
        return b
    }

    public func declareCounter(_ name: String) -> Counter {
        register(name)
        let c = Counter(name: name)
        counters.append(c)
        return c
    }

    private func register(_ name: String) {
        precondition(!isFinalized, "ParameterStore: '\(name)' declared after finalize()")
        precondition(names.insert(name).inserted, "ParameterStore: duplicate state key '\(name)'")
        stateKeys.append(name)
    }

    /// Allocates the flat buffers, binds every view and fills them from their initializers
    /// with a Philox stream per tensor keyed by (seed, tensor index).
    public func finalize(seed: UInt64 = 0) {
        precondition(!isFinalized, "ParameterStore.finalize() called twice")
        isFinalized = true
        let total = parameters.reduce(0) { $0 + $1.count }
        let totalBuffers = buffers.reduce(0) { $0 + $1.count }
        values = .allocate(capacity: total); values.initialize(repeating: 0)
        grads = .allocate(capacity: total); grads.initialize(repeating: 0)
        bufferValues = .allocate(capacity: totalBuffers); bufferValues.initialize(repeating: 0)
        var offset = 0
        for p in parameters {
            p.offset = offset; p.value = values.baseAddress! + offset; p.grad = grads.baseAddress! + offset
            offset += p.count
        }
        offset = 0
        for b in buffers {
            b.offset = offset; b.value = bufferValues.baseAddress! + offset
            offset += b.count
        }
        initialize(seed: seed)
    }

    /// Refills every parameter and buffer from its initializer; counters restart at 0.
    public func initialize(seed: UInt64) {
        for (i, p) in parameters.enumerated() { fill(p.values, p.initializer, seed: seed, index: UInt32(i)) }
        for b in buffers { fill(b.values, b.initializer, seed: seed, index: 0) }
        for c in counters { c.value = 0 }
    }

    private func fill(_ out: UnsafeMutableBufferPointer<Float>, _ initializer: Initializer, seed: UInt64, index: UInt32) {
        var rng = Philox(seed: seed, 0x1417, index)
        switch initializer {
        case .constant(let v): out.update(repeating: v)
        case .uniform(let bound): for i in out.indices { out[i] = rng.uniform(-bound, bound) }
        case .normal(let std): for i in out.indices { out[i] = std * rng.normal() }
        }
    }

    public func zeroGrads() { grads.update(repeating: 0) }

    public func parameter(named name: String) -> Parameter? { parameters.first { $0.name == name } }
    public func buffer(named name: String) -> StateBuffer? { buffers.first { $0.name == name } }
    public func counter(named name: String) -> Counter? { counters.first { $0.name == name } }
}
