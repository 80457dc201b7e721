import TensorCore

/// Per-step information every layer may need besides its input.
public final class ForwardContext {
    /// Training mode: batch statistics in BN, dropout active.
    public var training: Bool
    /// Seed of the run; with `epoch` and `sampleIndices` it keys every random draw of a sample.
    public var seed: UInt64
    public var epoch: Int
    /// Global dataset index of each row of the batch, so dropout masks do not depend on
    /// which rank or which position a sample lands on.
    public var sampleIndices: [Int]
    /// When set, BatchNorm sums its batch statistics across ranks (sync BN).
    public var statisticsReducer: StatisticsReducer?
    /// Called after each top-level layer's backward with the lowest parameter offset whose
    /// gradient is now final (gradients finish from the end of the flat buffer to its start).
    public var gradientsReady: ((Int) -> Void)?
    /// When set, containers charge each child's time to it (`trainer-bench models --profile`).
    public var profiler: LayerProfiler?
    /// The rank's worker threads (one pool per process, made by whoever runs the model: the
    /// Trainer from `train.threads`); layers split their batch over it. Serial by default.
    public var pool: WorkerPool = .serial

    public init(training: Bool = true, seed: UInt64 = 0, epoch: Int = 0, sampleIndices: [Int] = [],
                statisticsReducer: StatisticsReducer? = nil) {
        self.training = training; self.seed = seed; self.epoch = epoch
        self.sampleIndices = sampleIndices; self.statisticsReducer = statisticsReducer
    }
}

/// Sums small float vectors across ranks (sync BN). NN knows nothing of MPI: the
/// Distributed side provides the implementation.
public protocol StatisticsReducer: AnyObject {
    func sumInPlace(_ values: UnsafeMutableBufferPointer<Float>)
}

/// Thrown when a layer is built on an input it cannot take (darknet style: at build time).
public struct ShapeError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// One node of a network. Shapes are per sample (C, H, W) or (F), fixed when the layer is built;
/// tensors passed to forward and backward carry the batch dimension in front.
///
/// A layer owns its output and input-gradient tensors and reuses them every step; it keeps a
/// reference to what backward needs from forward. `backward` returns ∂L/∂input and *adds*
/// parameter gradients into the store (so gradient accumulation is free; the trainer zeroes).
public protocol Layer: AnyObject {
    /// State-dict prefix of the layer ("layer1.0.conv1"); a descriptive kind for parameter-free layers.
    var name: String { get }
    var inputShape: [Int] { get }
    var outputShape: [Int] { get }
    /// Multiply-accumulates of one sample's forward pass (conv and linear only, as catalog.json counts).
    var macsPerSample: Int { get }
    /// Sub-layers, for summaries; empty for leaf layers.
    var children: [Layer] { get }
    func forward(_ x: Tensor, _ ctx: ForwardContext) -> Tensor
    func backward(_ gy: Tensor, _ ctx: ForwardContext) -> Tensor
}

extension Layer {
    public var macsPerSample: Int { children.reduce(0) { $0 + $1.macsPerSample } }
    public var children: [Layer] { [] }

    /// Stops with a message naming the layer and both shapes when `x` is not (N, inputShape...).
    @inlinable
    public func checkInput(_ x: Tensor, kind: String) {
        if let message = inputMismatch(x.shape, kind: kind) { preconditionFailure(message) }
    }

    /// The message `checkInput` stops with, or nil when `shape` fits; testable without crashing.
    public func inputMismatch(_ shape: [Int], kind: String) -> String? {
        if shape.count == inputShape.count + 1 && Array(shape.dropFirst()) == inputShape { return nil }
        let label = name.isEmpty ? kind : "\(kind) '\(name)'"
        return "\(label): expected input (N, \(inputShape.map(String.init).joined(separator: ", "))), got \(Shape.format(shape))"
    }
}
