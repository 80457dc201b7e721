import Models
import NN
import TensorCore

/// One model's training step as the trainer runs it on a rank: forward in train mode,
/// softmax cross-entropy, backward into the flat gradient buffer, SGD-momentum update, on a
/// random (N, 3, 32, 32) batch with random labels.
final class Workload {
    let model: Model
    let batch: Int
    let ctx: ForwardContext
    private let x: Tensor
    private let labels: [Int32]
    private let loss = CrossEntropyLoss()
    private let sgd = SGD(momentum: 0.9, nesterov: false, weightDecay: 5e-4, dampening: 0)

    init(_ name: String, batch: Int, algorithm: ConvAlgorithm) throws {
        model = try ModelZoo.build(name: name, numClasses: 10, inChannels: 3, inputShape: [3, 32, 32], seed: 1)
        model.setConvAlgorithm(algorithm)
        self.batch = batch
        var rng = Philox(seed: 2)
        x = Tensor(shape: [batch, 3, 32, 32], values: (0..<(batch * 3 * 32 * 32)).map { _ in rng.normal() })
        labels = (0..<batch).map { _ in Int32(rng.below(10)) }
        ctx = ForwardContext(training: true, seed: 1, sampleIndices: Array(0..<batch))
        ctx.pool = ConvBenchmark.pool
        sgd.prepare(for: model.store)
    }

    /// Seconds spent outside the layers in the last `step` (loss; zeroing and optimizer),
    /// measured when `ctx.profiler` is set.
    private(set) var lossSeconds = 0.0, optimizerSeconds = 0.0

    func step() {
        let clock = ctx.profiler
        var t0 = clock?.now() ?? 0
        model.store.zeroGrads()
        optimizerSeconds = (clock?.now() ?? 0) - t0
        let logits = model.forward(x, ctx)
        t0 = clock?.now() ?? 0
        labels.withUnsafeBufferPointer { _ = loss.forward(logits, labels: $0) }
        let g = loss.backward()
        lossSeconds = (clock?.now() ?? 0) - t0
        model.backward(g, ctx)
        t0 = clock?.now() ?? 0
        sgd.step(store: model.store, lr: 0.01)
        optimizerSeconds += (clock?.now() ?? 0) - t0
    }
}
