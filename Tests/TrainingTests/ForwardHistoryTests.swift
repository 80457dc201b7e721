import XCTest
import Models
import NN
import TensorCore

/// A layer's output must depend only on its input and the model state, never on earlier calls
/// with other batch sizes or modes (layers reuse their buffers between calls).
final class ForwardHistoryTests: XCTestCase {
    private func batch(_ n: Int, seed: UInt64) -> Tensor {
        var rng = Philox(seed: seed)
        return Tensor(shape: [n, 3, 32, 32], values: (0..<(n * 3 * 32 * 32)).map { _ in rng.normal() })
    }

    func testEvalLogitsDoNotDependOnEarlierTrainingSteps() throws {
        for name in ["resnet20", "cifar_cnn", "densenet_bc_40_k12"] {
            let fresh = try ModelZoo.build(name: name, numClasses: 10, seed: 1)
            let used = try ModelZoo.build(name: name, numClasses: 10, seed: 1)
            let x = batch(24, seed: 7)
            let eval = ForwardContext(training: false)
            let expected = fresh.forward(x, eval).array
            // Train-mode forward/backward at another batch size, then restore the state.
            let saved = Array(used.store.values), savedBuffers = Array(used.store.bufferValues)
            let train = ForwardContext(training: true, sampleIndices: Array(0..<16))
            let logits = used.forward(batch(16, seed: 9), train)
            used.backward(Tensor(shape: logits.shape, repeating: 0.01), train)
            _ = used.forward(batch(5, seed: 3), eval)
            saved.withUnsafeBufferPointer { _ = used.store.values.update(fromContentsOf: $0) }
            savedBuffers.withUnsafeBufferPointer { _ = used.store.bufferValues.update(fromContentsOf: $0) }
            let got = used.forward(x, eval).array
            XCTAssertEqual(got, expected, "\(name): eval logits changed after a training step at another batch size")
        }
    }
}
