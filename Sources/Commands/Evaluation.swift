import Config
import Distributed
import Foundation
import IO
import Models
import Training

/// `trainer eval`: loss and accuracy of a checkpoint on the test split (or, with `--split val`,
/// on the run's validation samples: data.val_split's hold-out or /val), sharded over the ranks.
public enum Evaluation {
    public enum Split: String, CaseIterable, Sendable { case test, val }

    public struct Report: Sendable {
        public let checkpoint: String
        public let step: Int
        public let split: Split
        public let loss: Double
        public let accuracy: Double
        public let samples: Int
        /// One JSON object on one line: checkpoint, step, <split>_loss, <split>_accuracy, samples.
        public var json: String { JSONText.encode(JSONDocument(report: self), pretty: false) }
        public var text: String {
            String(format: "%@ (step %d): %@ loss %.4f, %@ accuracy %.2f%% over %d images", checkpoint, step, split.rawValue, loss,
                   split.rawValue, 100 * accuracy, samples)
        }
    }

    /// Evaluates `checkpoint` (default: the newest valid one in the config's checkpoint.dir).
    public static func run(configPath: String, overrides: [String], checkpoint: String?, split: Split = .test,
                           communicator comm: Communicator) throws -> Report {
        let config = try comm.agree("reading the config") { try RunConfig.load(path: configPath, overrides: overrides) }
        let (test, samples) = try comm.agree("opening the dataset") { () -> (ImageDataset, [Int]?) in
            guard split == .val else { return (try ImageDataset(path: config.data.path, split: "test", numClasses: config.model.numClasses), nil) }
            guard let (set, samples, _) = try TrainingData.validation(config, train: nil) else {
                throw TrainingError("\(config.file): --split val: the run has no validation split (set data.val_split, or add /val to \(config.data.path))")
            }
            return (set, samples)
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
        let result = try Evaluator.evaluate(model, on: test, samples: samples, data: config.data, communicator: comm)
        return Report(checkpoint: path, step: step, split: split, loss: result.loss, accuracy: result.accuracy, samples: result.samples)
    }
}

/// The eval report as JSON, its loss and accuracy keys named after the split ("test_loss").
private struct JSONDocument: Encodable {
    let report: Evaluation.Report

    private struct Key: CodingKey {
        let stringValue: String
        init(_ name: String) { stringValue = name }
        init?(stringValue: String) { self.stringValue = stringValue }
        var intValue: Int? { nil }
        init?(intValue: Int) { nil }
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        let split = report.split.rawValue
        try c.encode(report.checkpoint, forKey: Key("checkpoint"))
        try c.encode(report.step, forKey: Key("step"))
        try c.encode(report.loss, forKey: Key("\(split)_loss"))
        try c.encode(report.accuracy, forKey: Key("\(split)_accuracy"))
        try c.encode(report.samples, forKey: Key("samples"))
    }
}
