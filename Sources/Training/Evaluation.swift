import Config
import Distributed
import Foundation
import IO
import Models

/// `trainer eval`: test-split loss and accuracy of a checkpoint, sharded over the ranks.
public enum Evaluation {
    public struct Report: Sendable {
        public let checkpoint: String
        public let step: Int
        public let loss: Double
        public let accuracy: Double
        public let samples: Int
        /// One JSON object: checkpoint, step, test_loss, test_accuracy, samples (JSONEncoder).
        public var json: String {
            struct Document: Encodable { let checkpoint: String, step: Int, test_loss: Double, test_accuracy: Double, samples: Int }
            return JSONText.encode(Document(checkpoint: checkpoint, step: step, test_loss: loss, test_accuracy: accuracy, samples: samples))
        }
        public var text: String {
            String(format: "%@ (step %d): test loss %.4f, test accuracy %.2f%% over %d images", checkpoint, step, loss, 100 * accuracy, samples)
        }
    }

    /// Evaluates `checkpoint` (default: the newest valid one in the config's checkpoint.dir).
    public static func run(configPath: String, overrides: [String], checkpoint: String?, communicator comm: Communicator) throws -> Report {
        let config = try comm.agree("reading the config") { try RunConfig.load(path: configPath, overrides: overrides) }
        let test = try comm.agree("opening the dataset") {
            try ImageDataset(path: config.data.path, split: DatasetFile.evaluationSplit(in: config.data.path),
                             numClasses: config.model.numClasses)
        }
        let path = try comm.agree("finding the checkpoint") { () -> String in
            if let checkpoint { return checkpoint }
            guard let found = try CheckpointDirectory(config.checkpoint.dir).latestValid()?.path else {
                throw TrainingError("\(config.checkpoint.dir): no valid checkpoint to evaluate (give one with --checkpoint)")
            }
            return found
        }
        let imageShape = [test.channels, test.height, test.width]
        // Built at the checkpoint's class count and BN-folded first when the checkpoint is (fold-bn).
        let (model, step) = try comm.agree("reading the checkpoint") { () -> (Model, Int) in
            let c = try CheckpointFile.read(path)
            return (try Prediction.loadModel(config: config, checkpoint: c, path: path, imageShape: imageShape), c.metadata.step)
        }
        let (mean, std) = Trainer.normalisation(config.data, test)
        let batch = 128
        let loader = BatchLoader(dataset: test, augmentation: Augmentation(cropPadding: 0, flip: false, mean: mean, std: std),
                                 maxBatch: batch)
        let result = try Evaluator(model: model, loader: loader, communicator: comm, batch: batch).run()
        return Report(checkpoint: path, step: step, loss: result.loss, accuracy: result.accuracy, samples: result.samples)
    }
}
