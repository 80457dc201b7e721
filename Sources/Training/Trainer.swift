import Config
import Distributed
import Foundation
import IO
import Models
import NN
import TensorCore

/// The training run of DESIGN.md "How a training run flows": every rank builds the same model,
/// trains on its slice of each global batch, and takes the identical optimizer step.
public final class Trainer {
    public let config: RunConfig
    public let communicator: Communicator
    public let model: Model
    let optimizer: Optimizer
    let schedule: LRSchedule
    let sampler: EpochSampler
    let runner: StepRunner
    let trainLoader: BatchLoader
    let evaluator: Evaluator
    let checkpoints: CheckpointPolicy
    let runDirectory: RunDirectory
    let log: MetricsLog?
    /// "val" or "test": the split evaluated every epoch.
    let evalName: String
    /// This rank's share of the global batch (`train.batch_size` ÷ ranks), derived once.
    let localBatch: Int
    public private(set) var cursor: TrainingCursor
    var history: EvaluationHistory

    /// Reads the config, data and model on every rank, agreeing on every failure, and resumes
    /// from a checkpoint when one applies. `stop` is polled once per step (SIGTERM/SIGINT).
    public init(configPath: String, overrides: [String] = [], forceResume: Bool = false, communicator comm: Communicator) throws {
        // The config, the same on every rank; then the run directory, locked before anything reads or writes it.
        communicator = comm
        let config = try comm.agree("reading the config") { try RunConfig.load(path: configPath, overrides: overrides) }
        self.config = config
        try Trainer.checkSameConfig(config, comm)
        runDirectory = try RunDirectory(config: config, communicator: comm)

        // One worker pool per rank; BLAS runs single-threaded inside its workers.
        BLAS.threads = 1
        let pool = WorkerPool(threads: config.train.threads ?? defaultBLASThreads(localSize: comm.localSize))
        comm.collectiveTimeout = config.train.collectiveTimeout

        let t = config.train
        localBatch = try Trainer.localBatch(config, comm)
        // The data: trained samples and the split evaluated each epoch; then the model, rank 0's on every rank.
        let data = try TrainingData.open(config, comm)
        let train = data.train
        evalName = data.evalName
        let numClasses = config.model.numClasses ?? Swift.max(train.numClasses, data.eval.numClasses)
        let imageShape = [train.channels, train.height, train.width]
        model = try Trainer.buildModel(config, imageShape: imageShape, numClasses: numClasses, comm)
        comm.broadcast(model.store.values, root: 0)
        comm.broadcast(model.store.bufferValues, root: 0)

        // The loop's parts: optimizer, order of samples, schedule, step, loaders and evaluation.
        optimizer = OptimizerFactory.optimizer(config.optimizer)
        sampler = EpochSampler(datasetSize: data.trainCount, globalBatch: t.batchSize, worldSize: comm.size,
                               seed: t.seed, shuffle: config.data.shuffle, samples: data.trainSamples)
        schedule = OptimizerFactory.schedule(config.schedule, lr: config.optimizer.lr, epochs: t.epochs,
                                             stepsPerEpoch: sampler.stepsPerEpoch)
        runner = StepRunner(model: model, optimizer: optimizer, labelSmoothing: Float(t.labelSmoothing),
                            communicator: comm, accumulate: t.accumulate, syncBN: t.syncBN, seed: t.seed)
        let (mean, std) = Trainer.normalisation(config.data, train)
        let augmentation = Augmentation(cropPadding: config.data.augment.cropPadding, flip: config.data.augment.flip,
                                        mean: mean, std: std)
        let evalBatch = Swift.max(localBatch, 64)
        let placed = try SplitResidency.place(data, config: config, comm: comm, trainBatch: localBatch / t.accumulate, evalBatch: evalBatch)
        trainLoader = BatchLoader(dataset: train, source: placed.train, augmentation: augmentation, maxBatch: localBatch / t.accumulate)
        evaluator = Evaluator(model: model, loader: BatchLoader(dataset: data.eval, source: placed.eval, augmentation: augmentation, maxBatch: evalBatch),
                              communicator: comm, batch: evalBatch, samples: data.evalSamples)
        runner.context.pool = pool
        evaluator.context.pool = pool

        // Resume, then the run's record: config.yaml, metrics files, TensorBoard events.
        cursor = TrainingCursor(stepsPerEpoch: sampler.stepsPerEpoch, globalBatch: t.batchSize)
        history = EvaluationHistory(config: config)
        checkpoints = CheckpointPolicy(config: config, communicator: comm, forceResume: forceResume,
                                       datasetIdentity: "\((config.data.path as NSString).lastPathComponent) (\(train.count) train images \(Shape.format(imageShape)))")
        try Trainer.checkOutputFolders(config, comm)
        let resumed = try checkpoints.resume(model: model, optimizer: optimizer, runner: runner, cursor: &cursor, history: &history)
        try runDirectory.writeConfig(config, comm)
        // A run with nothing left to do (rerun after it finished) adds no event file.
        let complete = resumed && (cursor.globalStep >= t.epochs * sampler.stepsPerEpoch || Trainer.earlyStopReached(config, history))
        log = try Trainer.openLog(config, comm, resumeStep: resumed ? cursor.globalStep : nil, events: !complete)

        announce(data: data, residency: placed, threads: pool.threads, resumed: resumed)
    }

    /// Trains to the end of `train.epochs` (or until early stopping ends it), or until
    /// `stopRequested` (polled every step and agreed across ranks) asks for a checkpoint and an
    /// early exit. Returns true when the run is complete. Ends with the summary line.
    @discardableResult
    public func run(stopRequested: () -> Bool = { false }) throws -> Bool {
        let t = config.train
        let totalSteps = t.epochs * sampler.stepsPerEpoch
        if let done = completion(totalSteps: totalSteps) {
            log?.say(done); summarize()
            return true
        }
        var orders = EpochOrders(sampler: sampler, epoch: cursor.epoch)
        var interval = IntervalClock(startStep: cursor.globalStep)
        runner.bucketer.resetTimers()
        if cursor.globalStep < totalSteps { trainLoader.prefetch(runner.microBatch(orders.indices(cursor, rank: communicator.rank), 0)) }
        _ = try communicator.stopTogether(requested: false, failure: trainLoader.source.settle())
        while cursor.globalStep < totalSteps {
            orders.advance(to: cursor.epoch)
            let epoch = cursor.epoch
            let indices = orders.indices(cursor, rank: communicator.rank)
            let next = cursor.globalStep + 1 < totalSteps ? orders.indices(cursor.advanced(by: 1), rank: communicator.rank) : nil
            let rate = schedule.rate(step: cursor.globalStep)
            let outcome = try runner.step(indices: indices, next: next, loader: trainLoader, epoch: epoch, globalStep: cursor.globalStep,
                                          lr: Float(rate), skipNonfinite: t.skipNonfinite)
            if case .skipped(let why) = outcome { log?.say("skipped step: \(why)") }
            cursor.globalStep += 1
            interval.images += t.batchSize

            let epochEnd = cursor.stepInEpoch == 0
            if cursor.globalStep % config.log.everySteps == 0 || epochEnd {
                report(&interval, epoch: epoch, rate: rate, totalSteps: totalSteps)
            }
            var improved = false
            if epochEnd {
                improved = try evaluate(epoch: epoch, rate: rate)
                interval.restart()
            }
            let stoppedEarly = epochEnd && earlyStopReached
            let stop = try communicator.stopTogether(requested: stopRequested(), failure: trainLoader.source.settle())
            let finished = cursor.globalStep == totalSteps || stoppedEarly
            let regular = checkpoints.isDue(cursor: cursor, finished: finished) || stop
            if regular || improved {
                try checkpoints.save(model: model, optimizer: optimizer, runner: runner, cursor: cursor, history: history,
                                     regular: regular, best: improved)
            }
            if stoppedEarly {
                log?.say("early stop: \(earlyStopReason); stopping after epoch \(epoch + 1) of \(t.epochs)")
                break
            }
            if stop && !finished {
                log?.say("stopped at step \(cursor.globalStep) on request; checkpoint written, resume with the same command")
                summarize()
                return false
            }
        }
        summarize()
        return true
    }

    /// This rank's share of the global batch, which must split evenly over the ranks and micro-batches.
    private static func localBatch(_ config: RunConfig, _ comm: Communicator) throws -> Int {
        let t = config.train
        guard t.batchSize % (comm.size * t.accumulate) == 0 else {
            throw CollectiveStop("\(config.file): train.batch_size \(t.batchSize) is not divisible by \(comm.size) rank(s) × train.accumulate \(t.accumulate)")
        }
        return t.batchSize / comm.size
    }

    /// Rank 0's metrics files (continuing after `resumeStep`), and its TensorBoard events unless `events` is false.
    private static func openLog(_ config: RunConfig, _ comm: Communicator, resumeStep: Int?, events: Bool) throws -> MetricsLog? {
        try comm.agree("opening the metrics log") {
            comm.isRoot ? try MetricsLog(directory: config.log.dir, resumeStep: resumeStep, printsProgress: config.log.progress,
                                         tensorboard: config.log.tensorboard && events, host: comm.hostname) : nil
        }
    }

    /// The model of the config at the data's image shape, on every rank; errors name the config.
    private static func buildModel(_ config: RunConfig, imageShape: [Int], numClasses: Int, _ comm: Communicator) throws -> Model {
        let model = try comm.agree("building the model") {
            do { return try ModelFactory.build(config.model, imageShape: imageShape, numClasses: numClasses, seed: config.train.seed) } catch {
                // Name the config (the model's own message names the layer) and where an implied class count came from.
                let implied = config.model.numClasses == nil && error is ClassCountError
                    ? " (num_classes \(numClasses) comes from the labels of \(config.data.path); set model.num_classes to choose)" : ""
                throw TrainingError("\(config.file): model: \(error)\(implied)")
            }
        }
        guard model.inputShape == imageShape else {
            throw CollectiveStop("\(config.data.path): images are \(Shape.format(imageShape)) (C, H, W) but model '\(config.model.name)' takes \(Shape.format(model.inputShape))")
        }
        return model
    }

    /// An unwritable output folder stops the run now, not at the first checkpoint an epoch later.
    private static func checkOutputFolders(_ config: RunConfig, _ comm: Communicator) throws {
        try comm.agree("checking the output folders") {
            guard comm.isRoot else { return }
            for (key, dir) in [("checkpoint.dir", config.checkpoint.dir), ("log.dir", config.log.dir)] {
                do { try FileSystem.ensureWritableFolder(dir) } catch { throw TrainingError("\(config.file): \(key): \(error)") }
            }
        }
    }

    /// Global mean loss and accuracy of the steps since the last report, the ranks' mean
    /// seconds in GradientBucketer.finish (the all-reduce plus waiting for the slowest rank;
    /// rank 0's own figure would read 0% whenever rank 0 is the slow one) and their mean seconds
    /// waiting for the training data. One small all-reduce.
    func reduceInterval() -> (loss: Double, accuracy: Double, waitSeconds: Double, dataWaitSeconds: Double) {
        let mine = runner.takeInterval()
        var sums = [mine.loss, mine.correct, mine.samples, runner.bucketer.totalWaitSeconds, trainLoader.source.takeWaitSeconds()]
        sums.withUnsafeMutableBufferPointer { communicator.allReduceSum($0) }
        let n = Swift.max(sums[2], 1), ranks = Double(communicator.size)
        return (sums[0] / n, sums[1] / n, sums[3] / ranks, sums[4] / ranks)
    }

    /// Every rank must run the same configuration: rank 0's SHA-256 of the canonical text is
    /// compared with each rank's own.
    static func checkSameConfig(_ config: RunConfig, _ comm: Communicator) throws {
        let all = comm.allGather(string: SHA256.hex(config.canonicalText))
        if let bad = all.firstIndex(where: { $0 != all[0] }) {
            throw CollectiveStop("\(config.file): rank \(bad) read a different configuration than rank 0 (SHA-256 \(all[bad].prefix(12)) vs \(all[0].prefix(12))); every rank must see the same file and --set options")
        }
    }

    /// Mean and std per channel: the config's, else the dataset's attributes, else 0 / 1
    /// (pixels in [0, 1], torchvision's ToTensor alone).
    public static func normalisation(_ data: DataConfig, _ set: ImageDataset) -> ([Float], [Float]) {
        let c = set.channels
        let mean = data.mean ?? set.mean ?? Array(repeating: 0, count: c)
        let std = data.std ?? set.std ?? Array(repeating: 1, count: c)
        return (mean.map(Float.init), std.map(Float.init))
    }

    /// "node1 (2 ranks), node2 (2 ranks)".
    static func describeHosts(_ hosts: [String]) -> String {
        var order: [String] = [], counts: [String: Int] = [:]
        for h in hosts { if counts[h] == nil { order.append(h) }; counts[h, default: 0] += 1 }
        return order.map { "\($0) (\(counts[$0]!) rank\(counts[$0]! == 1 ? "" : "s"))" }.joined(separator: ", ")
    }
}
