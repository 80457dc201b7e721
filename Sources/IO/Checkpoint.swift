/// A float32 tensor by name, e.g. a PyTorch state_dict entry ("layer1.0.conv1.weight").
public struct NamedTensor: Sendable, Equatable {
    public var name: String
    public var shape: [Int]
    public var values: [Float]          // row-major, product(shape) elements

    public init(name: String, shape: [Int], values: [Float]) {
        precondition(values.count == shape.reduce(1, *),
                     "NamedTensor '\(name)': \(values.count) values for shape \(shape)")
        self.name = name; self.shape = shape; self.values = values
    }
}

/// The training cursor and provenance stored as root attributes of a checkpoint.
public struct CheckpointMetadata: Sendable, Equatable {
    public var step = 0
    public var epoch = 0
    /// Global samples consumed so far (the cursor a resume continues from on any world size).
    public var samplesSeen = 0
    public var worldSize = 1
    public var globalBatch = 0
    public var seed: UInt64 = 0
    /// Full effective config text, and its SHA-256 hex (computed by the writer).
    public var config = ""
    public internal(set) var configSHA256 = ""
    /// ISO 8601 creation time (set by the writer).
    public internal(set) var created = ""
    /// Any further root attributes the trainer wants (optimizer name, its step count, ...).
    public var extraInts: [String: Int64] = [:]
    public var extraDoubles: [String: Double] = [:]
    public var extraStrings: [String: String] = [:]

    public init(step: Int = 0, epoch: Int = 0, samplesSeen: Int = 0, worldSize: Int = 1, globalBatch: Int = 0,
                seed: UInt64 = 0, config: String = "", extraInts: [String: Int64] = [:],
                extraDoubles: [String: Double] = [:], extraStrings: [String: String] = [:]) {
        self.step = step; self.epoch = epoch; self.samplesSeen = samplesSeen; self.worldSize = worldSize
        self.globalBatch = globalBatch; self.seed = seed; self.config = config
        self.extraInts = extraInts; self.extraDoubles = extraDoubles; self.extraStrings = extraStrings
    }
}

/// Everything a checkpoint holds, as plain named tensors: IO knows nothing about layers.
public struct Checkpoint: Sendable {
    public var metadata: CheckpointMetadata
    /// float32 state: parameters and float buffers (running_mean, running_var), by state_dict key.
    public var model: [NamedTensor]
    /// int64 scalars of the state dict (BatchNorm `num_batches_tracked`), by key.
    public var counters: [String: Int64]
    /// Optimizer slots, named "<state_dict key>/<slot>" (e.g. "fc.weight/momentum_buffer").
    public var optimizer: [NamedTensor]

    public init(metadata: CheckpointMetadata, model: [NamedTensor], counters: [String: Int64] = [:],
                optimizer: [NamedTensor] = []) {
        self.metadata = metadata; self.model = model; self.counters = counters; self.optimizer = optimizer
    }

    /// A model tensor by name.
    public func tensor(_ name: String) -> NamedTensor? { model.first { $0.name == name } }

    /// An optimizer slot by parameter name and slot name.
    public func slot(_ name: String, _ slot: String) -> NamedTensor? {
        optimizer.first { $0.name == name + "/" + slot }
    }
}
