import Config
import Distributed
import Foundation
import IO
import TensorCore

/// The samples a run trains on and the split it evaluates every epoch.
///
/// Validation, when there is one, is `data.val_split` of /train (see `ValidationSplit`) or else
/// the file's /val; the test split is then left alone (for `trainer eval`). Without validation
/// the per-epoch evaluation is on /test, as before, and checkpoint.best / early stopping follow it.
public struct TrainingData {
    let train: ImageDataset
    /// Indices of /train that are trained on; nil: all of them.
    let trainSamples: [Int]?
    let eval: ImageDataset
    /// Indices of `eval` that are evaluated; nil: all of them.
    let evalSamples: [Int]?
    /// "val" or "test": the metrics.csv columns and TensorBoard tags of the evaluation.
    let evalName: String
    /// Where validation came from, for the start-up line; nil when there is none.
    let validationNote: String?

    var trainCount: Int { trainSamples?.count ?? train.count }
    var evalCount: Int { evalSamples?.count ?? eval.count }

    /// Opens the splits on every rank, agreeing on failures, and checks they fit the run.
    static func open(_ config: RunConfig, _ comm: Communicator) throws -> TrainingData {
        let data = try comm.agree("opening the dataset") { () -> TrainingData in
            guard FileManager.default.fileExists(atPath: config.data.path) else {
                throw TrainingError("\(config.file): data.path: \(config.data.path): no such file (relative paths start in the working directory)")
            }
            return try read(config)
        }
        try data.check(config, comm)
        return data
    }

    /// The validation samples `config` asks for: (split, indices or nil for all, note), or nil without validation.
    /// `residency`: how a split this opens holds its images (the trainer's sources hold them: `.labelsOnly`).
    public static func validation(_ config: RunConfig, train: ImageDataset?,
                                  residency: ImageDataset.Residency = .memory) throws -> (ImageDataset, [Int]?, String)? {
        let path = config.data.path, classes = config.model.numClasses
        if let fraction = config.data.valSplit {
            let train = try train ?? ImageDataset(path: path, split: "train", numClasses: classes, residency: residency)
            guard train.count >= 2 else { throw TrainingError("\(path): /train has \(train.count) sample(s), too few for data.val_split") }
            let held = ValidationSplit.holdOut(count: train.count, fraction: fraction, seed: config.train.seed).val
            return (train, held, "data.val_split \(fraction): \(held.count) of \(train.count) /train images held out (indices \(ValidationSplit.fingerprint(held)))")
        }
        guard try DatasetFile.splits(in: path).contains("val") else { return nil }
        let val = try ImageDataset(path: path, split: "val", numClasses: classes, residency: residency)
        return (val, nil, "/val of \(path): \(val.count) images")
    }

    /// The splits' metadata and labels; their images are placed by `SplitResidency`.
    private static func read(_ config: RunConfig) throws -> TrainingData {
        let classes = config.model.numClasses
        let train = try ImageDataset(path: config.data.path, split: "train", numClasses: classes, residency: .labelsOnly)
        if let (val, held, note) = try validation(config, train: train, residency: .labelsOnly) {
            let kept = config.data.valSplit.map { ValidationSplit.holdOut(count: train.count, fraction: $0, seed: config.train.seed).train }
            return TrainingData(train: train, trainSamples: kept, eval: val, evalSamples: held, evalName: "val", validationNote: note)
        }
        let test = try ImageDataset(path: config.data.path, split: "test", numClasses: classes, residency: .labelsOnly)
        return TrainingData(train: train, trainSamples: nil, eval: test, evalSamples: nil, evalName: "test", validationNote: nil)
    }

    private func check(_ config: RunConfig, _ comm: Communicator) throws {
        let t = config.train
        guard trainCount >= t.batchSize else {
            let what = trainSamples == nil ? "/train has \(trainCount) samples" : "/train has \(trainCount) samples left after data.val_split"
            throw CollectiveStop("\(config.data.path): \(what), fewer than train.batch_size \(t.batchSize)")
        }
        guard evalCount >= comm.size else {
            let what = evalName == "test" ? "/test" : evalSamples == nil ? "/val" : "the data.val_split hold-out"
            throw CollectiveStop("\(config.data.path): \(what) has \(evalCount) samples, fewer than the \(comm.size) ranks")
        }
        if let mean = config.data.mean, mean.count != train.channels {
            throw CollectiveStop("\(config.file): data.mean has \(mean.count) entries but the images of \(config.data.path) have \(train.channels) channel(s)")
        }
        guard [eval.channels, eval.height, eval.width] == [train.channels, train.height, train.width] else {
            throw CollectiveStop("\(config.data.path): /\(evalName) images are \(Shape.format(eval.sampleShape)) but /train's are \(Shape.format(train.sampleShape)) (H, W, C)")
        }
    }
}
