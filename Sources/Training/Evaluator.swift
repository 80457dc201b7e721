import Distributed
import Models
import NN
import TensorCore

/// Eval-mode loss and accuracy over a whole split, sharded: rank r evaluates a contiguous
/// 1/N of the samples and the sums are all-reduced, so every sample counts exactly once.
final class Evaluator {
    let model: Model
    let loader: BatchLoader
    let communicator: Communicator
    let batch: Int
    private let loss = CrossEntropyLoss()
    let context = ForwardContext(training: false)

    init(model: Model, loader: BatchLoader, communicator: Communicator, batch: Int) {
        self.model = model; self.loader = loader; self.communicator = communicator; self.batch = batch
    }

    struct Result { var loss: Double; var accuracy: Double; var samples: Int }

    func run() throws -> Result {
        let shard = evaluationShard(count: loader.dataset.count, rank: communicator.rank, worldSize: communicator.size)
        var sums = [0.0, 0.0, 0.0]   // Σ loss, Σ correct, samples
        var start = shard.lowerBound
        while start < shard.upperBound {
            let end = Swift.min(start + batch, shard.upperBound)
            try loader.load(start..<end, augment: false, seed: 0, epoch: 0)
            let logits = model.forward(loader.input, context)
            loss.forward(logits, labels: loader.labels(count: end - start))
            sums[0] += loss.lossSum; sums[1] += Double(loss.correct); sums[2] += Double(end - start)
            start = end
        }
        sums.withUnsafeMutableBufferPointer { communicator.allReduceSum($0) }
        let n = Swift.max(sums[2], 1)
        return Result(loss: sums[0] / n, accuracy: sums[1] / n, samples: Int(sums[2]))
    }
}
