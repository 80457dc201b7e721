/// An update rule over the store's flat parameter and gradient buffers, with the exact
/// arithmetic of its torch.optim counterpart (float32 element math, scalars in double).
///
/// State lives in flat buffers with the same layout as `store.values`, one per slot, so the
/// update is a single loop and a checkpoint or broadcast moves one buffer per slot. Slot names
/// are PyTorch's optimizer state_dict names (momentum_buffer, exp_avg, exp_avg_sq, ...);
/// `state(for:)` gives one parameter's views for `/optimizer/<key>/<slot>` in a checkpoint.
///
/// Every hyperparameter applies to every parameter (one PyTorch param group). The learning
/// rate is given per step so a schedule can drive it.
public protocol Optimizer: AnyObject {
    /// torch.optim class in lower case: "sgd", "adam", "adamw".
    var kind: String { get }
    /// State slots per parameter in PyTorch's naming; empty when the rule keeps none
    /// (SGD without momentum).
    var stateNames: [String] { get }
    /// Updates done so far (PyTorch's per-parameter `step`, identical for all parameters).
    /// SGD treats `stepCount == 0` as "no momentum buffer yet"; Adam's bias corrections use
    /// it. Set it when loading state from a checkpoint.
    var stepCount: Int { get set }
    /// Allocates zeroed state for `store` (idempotent); `step` calls it, a resume calls it
    /// before filling the state from a checkpoint.
    func prepare(for store: ParameterStore)
    /// One update of every parameter from `store.grads`, then `stepCount += 1`.
    func step(store: ParameterStore, lr: Float)
    /// One parameter's state views, in `stateNames` order. Requires `prepare(for:)`.
    func state(for parameter: Parameter) -> [(slot: String, values: UnsafeMutableBufferPointer<Float>)]
    /// Each slot over all parameters (layout of `store.values`). Empty before `prepare(for:)`.
    var flatState: [(slot: String, values: UnsafeMutableBufferPointer<Float>)] { get }
}

/// What every optimizer here keeps the same way: its state as named flat slots, and the step count.
public class FlatStateOptimizer {
    public var stepCount = 0
    let state: OptimizerState

    init(slots: [String]) { state = OptimizerState(names: slots) }

    public var stateNames: [String] { state.names }
    public var flatState: [(slot: String, values: UnsafeMutableBufferPointer<Float>)] { state.flat }
    public func prepare(for store: ParameterStore) { state.allocate(count: store.parameterCount) }
    public func state(for parameter: Parameter) -> [(slot: String, values: UnsafeMutableBufferPointer<Float>)] {
        state.views(for: parameter)
    }
}

/// Named flat buffers shared by the optimizers: allocated once, zeroed, freed on deinit.
final class OptimizerState {
    let names: [String]
    private(set) var buffers: [UnsafeMutableBufferPointer<Float>] = []
    private(set) var count = -1

    init(names: [String]) { self.names = names }

    deinit { for b in buffers { b.deallocate() } }

    var isAllocated: Bool { count >= 0 }

    /// Allocates `count` zeroed floats per slot on first call; later calls must agree on `count`.
    func allocate(count: Int) {
        if isAllocated {
            precondition(self.count == count,
                         "Optimizer: state was allocated for \(self.count) parameters, store now has \(count)")
            return
        }
        self.count = count
        buffers = names.map { _ in
            let b = UnsafeMutableBufferPointer<Float>.allocate(capacity: count)
            b.initialize(repeating: 0)
            return b
        }
    }

    /// Base pointer of slot `i` (valid after `allocate`).
    func pointer(_ i: Int) -> UnsafeMutablePointer<Float> { buffers[i].baseAddress! }

    var flat: [(slot: String, values: UnsafeMutableBufferPointer<Float>)] {
        zip(names, buffers).map { (slot: $0, values: $1) }
    }

    func views(for p: Parameter) -> [(slot: String, values: UnsafeMutableBufferPointer<Float>)] {
        precondition(isAllocated, "Optimizer: state of '\(p.name)' requested before prepare(for:) or step")
        precondition(p.offset + p.count <= count, "Optimizer: parameter '\(p.name)' lies outside the state buffers")
        return zip(names, buffers).map {
            (slot: $0, values: UnsafeMutableBufferPointer(start: $1.baseAddress! + p.offset, count: p.count))
        }
    }
}

/// The double a float hyperparameter was written as: Float(0.999) reads back as 0.999, not
/// 0.99900001287, so float call sites compute the same scalars as PyTorch's Python floats.
func decimalDouble(_ v: Float) -> Double { Double("\(v)") ?? Double(v) }
