import XCTest
import Models
import NN
import TensorCore

/// `train.threads` promises the same bits every run for a given thread count: whole models
/// (convolutions on every path, BatchNorm, pooling, residual joins, dense blocks, the loss and
/// SGD) trained a few steps twice on the same worker count end with bitwise-equal parameters.
/// Other thread counts split the partial sums differently and agree within float32 rounding.
final class ThreadDeterminismTests: XCTestCase {
    func testSameThreadCountTrainsTheSameBits() throws {
        for name in ["cifar_cnn", "resnet20", "densenet_bc_40_k12"] {
            let one = try train(name, threads: 1)
            for threads in [2, 3] {
                let first = try train(name, threads: threads)
                let again = try train(name, threads: threads)
                let differing = zip(first, again).filter { $0.bitPattern != $1.bitPattern }.count
                XCTAssertEqual(differing, 0, "\(name), \(threads) threads: two runs differ in \(differing) of \(first.count) parameters")
                let worst = zip(first, one).map { abs(Double($0) - Double($1)) / max(1, abs(Double($1))) }.max() ?? 0
                XCTAssertLessThan(worst, 1e-4, "\(name): \(threads) threads against 1")
            }
        }
    }

    /// The parameters after three SGD-momentum steps on a fixed random batch of 8 16×16 images.
    private func train(_ name: String, threads: Int) throws -> [Float] {
        let model = try ModelZoo.build(name: name, numClasses: 10, inChannels: 3, inputShape: [3, 16, 16], seed: 1)
        var rng = Philox(seed: 2)
        let x = Tensor(shape: [8, 3, 16, 16])
        for i in 0..<x.count { x.data[i] = rng.normal() }
        let labels = (0..<8).map { _ in Int32(rng.below(10)) }
        let ctx = ForwardContext(training: true, seed: 1, sampleIndices: Array(0..<8))
        ctx.pool = WorkerPool(threads: threads)
        let loss = CrossEntropyLoss()
        let sgd = SGD(momentum: 0.9, nesterov: false, weightDecay: 5e-4, dampening: 0)
        sgd.prepare(for: model.store)
        for _ in 0..<3 {
            model.store.zeroGrads()
            let logits = model.forward(x, ctx)
            labels.withUnsafeBufferPointer { _ = loss.forward(logits, labels: $0) }
            model.backward(loss.backward(), ctx)
            sgd.step(store: model.store, lr: 0.05)
        }
        return Array(model.store.values)
    }
}
