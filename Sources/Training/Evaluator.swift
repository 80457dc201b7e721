import Config
import Distributed
import IO
import Models
import NN
import TensorCore

/// Eval-mode loss and accuracy over a whole split (or the listed samples of it), sharded: rank
/// r evaluates a contiguous 1/N of them and the sums are all-reduced, so every sample counts
/// exactly once.
public final class Evaluator {
    let model: Model
    let loader: BatchLoader
    let communicator: Communicator
    let batch: Int
    /// Indices of the split to evaluate (a validation hold-out); nil: all of it.
    let samples: [Int]?
    private let loss = CrossEntropyLoss()
    let context = ForwardContext(training: false)

    init(model: Model, loader: BatchLoader, communicator: Communicator, batch: Int, samples: [Int]? = nil) {
        self.model = model; self.loader = loader; self.communicator = communicator; self.batch = batch
        self.samples = samples
    }

    public struct Result: Sendable { public var loss: Double; public var accuracy: Double; public var samples: Int }

    func run() throws -> Result {
        let shard = evaluationShard(count: samples?.count ?? loader.dataset.count, rank: communicator.rank,
                                    worldSize: communicator.size)
        var sums = [0.0, 0.0, 0.0]   // Σ loss, Σ correct, samples
        var start = shard.lowerBound
        while start < shard.upperBound {
            let end = Swift.min(start + batch, shard.upperBound)
            if let samples { try loader.load(samples[start..<end], augment: false, seed: 0, epoch: 0) }
            else { try loader.load(start..<end, augment: false, seed: 0, epoch: 0) }
            let after = Swift.min(end + batch, shard.upperBound)
            if after > end {
                if let samples { loader.prefetch(samples[end..<after]) } else { loader.prefetch(end..<after) }
            }
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

extension Evaluator {
    /// Eval-mode loss and accuracy of `model` on `samples` of `dataset` (all when nil),
    /// normalised as training normalises it (`Trainer.normalisation`), sharded over the ranks.
    public static func evaluate(_ model: Model, on dataset: ImageDataset, samples: [Int]?, data: DataConfig,
                                communicator: Communicator, batch: Int = 128) throws -> Result {
        let (mean, std) = Trainer.normalisation(data, dataset)
        let loader = BatchLoader(dataset: dataset, augmentation: Augmentation(cropPadding: 0, flip: false, mean: mean, std: std),
                                 maxBatch: batch)
        return try Evaluator(model: model, loader: loader, communicator: communicator, batch: batch, samples: samples).run()
    }
}
