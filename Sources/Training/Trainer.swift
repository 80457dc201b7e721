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
    let log: MetricsLog?
    public private(set) var cursor: TrainingCursor

    /// Reads the config, data and model on every rank, agreeing on every failure, and resumes
    /// from a checkpoint when one applies. `stop` is polled once per step (SIGTERM/SIGINT).
    public init(configPath: String, overrides: [String] = [], forceResume: Bool = false, communicator comm: Communicator) throws {
        communicator = comm
        let config = try comm.agree("reading the config") { try RunConfig.load(path: configPath, overrides: overrides) }
        self.config = config
        try Trainer.checkSameConfig(config, comm)

        // One worker pool per rank; BLAS runs single-threaded inside its workers.
        BLAS.threads = 1
        let pool = WorkerPool(threads: config.train.threads ?? defaultBLASThreads(localSize: comm.localSize))
        (comm as? MPICommunicator)?.collectiveTimeout = config.train.collectiveTimeout

        let t = config.train
        let perStep = comm.size * t.accumulate
        guard t.batchSize % perStep == 0 else {
            throw CollectiveStop("\(config.file): train.batch_size \(t.batchSize) is not divisible by \(comm.size) rank(s) × train.accumulate \(t.accumulate)")
        }
        let data = try comm.agree("opening the dataset") { () -> (ImageDataset, ImageDataset) in
            guard FileManager.default.fileExists(atPath: config.data.path) else {
                throw TrainingError("\(config.file): data.path: \(config.data.path): no such file (relative paths start in the working directory)")
            }
            let classes = config.model.numClasses
            return (try ImageDataset(path: config.data.path, split: "train", numClasses: classes),
                    try ImageDataset(path: config.data.path, split: "test", numClasses: classes))
        }
        let (train, test) = data
        guard train.count >= t.batchSize else {
            throw CollectiveStop("\(config.data.path): /train has \(train.count) samples, fewer than train.batch_size \(t.batchSize)")
        }
        guard test.count >= comm.size else {
            throw CollectiveStop("\(config.data.path): /test has \(test.count) samples, fewer than the \(comm.size) ranks")
        }
        if let mean = config.data.mean, mean.count != train.channels {
            throw CollectiveStop("\(config.file): data.mean has \(mean.count) entries but the images of \(config.data.path) have \(train.channels) channel(s)")
        }
        let numClasses = config.model.numClasses ?? Swift.max(train.numClasses, test.numClasses)
        let imageShape = [train.channels, train.height, train.width]
        let model = try comm.agree("building the model") {
            do { return try ModelFactory.build(config.model, imageShape: imageShape, numClasses: numClasses, seed: t.seed) } catch {
                // Name the config (the model's own message names the layer) and where an implied class count came from.
                let implied = config.model.numClasses == nil && "\(error)".contains("num_classes")
                    ? " (num_classes \(numClasses) comes from the labels of \(config.data.path); set model.num_classes to choose)" : ""
                throw TrainingError("\(config.file): model: \(error)\(implied)")
            }
        }
        guard model.inputShape == imageShape else {
            throw CollectiveStop("\(config.data.path): images are \(Shape.format(imageShape)) (C, H, W) but model '\(config.model.name)' takes \(Shape.format(model.inputShape))")
        }
        self.model = model
        // Rank 0's initial state on every rank, so ranks cannot drift even if initialisation did.
        comm.broadcast(model.store.values, root: 0)
        comm.broadcast(model.store.bufferValues, root: 0)

        optimizer = OptimizerFactory.optimizer(config.optimizer)
        sampler = EpochSampler(datasetSize: train.count, globalBatch: t.batchSize, worldSize: comm.size,
                               seed: t.seed, shuffle: config.data.shuffle)
        schedule = OptimizerFactory.schedule(config.schedule, lr: config.optimizer.lr, epochs: t.epochs,
                                             stepsPerEpoch: sampler.stepsPerEpoch)
        runner = StepRunner(model: model, optimizer: optimizer, labelSmoothing: Float(t.labelSmoothing),
                            communicator: comm, accumulate: t.accumulate, syncBN: t.syncBN, seed: t.seed)

        let (mean, std) = Trainer.normalisation(config.data, train)
        let augmentation = Augmentation(cropPadding: config.data.augment.cropPadding, flip: config.data.augment.flip,
                                        mean: mean, std: std)
        let local = t.batchSize / comm.size
        trainLoader = BatchLoader(dataset: train, augmentation: augmentation, maxBatch: local / t.accumulate)
        let evalBatch = Swift.max(local, 64)
        evaluator = Evaluator(model: model, loader: BatchLoader(dataset: test, augmentation: augmentation, maxBatch: evalBatch),
                              communicator: comm, batch: evalBatch)
        runner.context.pool = pool
        evaluator.context.pool = pool

        cursor = TrainingCursor(stepsPerEpoch: sampler.stepsPerEpoch, globalBatch: t.batchSize)
        checkpoints = CheckpointPolicy(config: config, communicator: comm, forceResume: forceResume,
                                       datasetIdentity: "\((config.data.path as NSString).lastPathComponent) (\(train.count) train images \(Shape.format(imageShape)))")
        // An unwritable output folder stops the run now, not at the first checkpoint an epoch later.
        try comm.agree("checking the output folders") {
            guard comm.isRoot else { return }
            for (key, dir) in [("checkpoint.dir", config.checkpoint.dir), ("log.dir", config.log.dir)] {
                do { try FileSystem.ensureWritableFolder(dir) } catch { throw TrainingError("\(config.file): \(key): \(error)") }
            }
        }
        let resumed = try checkpoints.resume(model: model, optimizer: optimizer, runner: runner, cursor: &cursor)
        let resumeStep = resumed ? cursor.globalStep : nil
        log = try comm.agree("opening the metrics log") {
            comm.isRoot ? try MetricsLog(directory: config.log.dir, resumeStep: resumeStep, printsProgress: config.log.progress) : nil
        }

        let hosts = comm.allGather(string: comm.hostname)
        if let log {
            log.say("trainer: \(comm.size) rank(s) on \(Trainer.describeHosts(hosts)), \(pool.threads) thread(s) per rank")
            log.say(config.effectiveDescription)
            log.say("model \(model.name): \(model.store.parameterCount) parameters; data \(config.data.path): \(train.count) train / \(test.count) test images \(Shape.format(imageShape)), \(numClasses) classes")
            log.say("\(sampler.stepsPerEpoch) steps per epoch of \(t.batchSize) (\(local) per rank); \(t.epochs) epochs")
            if resumed { log.say("resumed at epoch \(cursor.epoch), step \(cursor.globalStep), \(cursor.samplesSeen) samples seen") }
        }
    }

    /// Trains to the end of `train.epochs`, or until `stopRequested` (polled every step and
    /// agreed across ranks) asks for a checkpoint and an early exit. Returns true when finished.
    @discardableResult
    public func run(stopRequested: () -> Bool = { false }) throws -> Bool {
        let t = config.train
        let totalSteps = t.epochs * sampler.stepsPerEpoch
        var order = sampler.permutation(epoch: cursor.epoch)
        var orderEpoch = cursor.epoch
        var intervalStart = Date(), intervalImages = 0
        let runStart = Date(), startStep = cursor.globalStep
        runner.bucketer.resetTimers()
        while cursor.globalStep < totalSteps {
            if orderEpoch != cursor.epoch { order = sampler.permutation(epoch: cursor.epoch); orderEpoch = cursor.epoch }
            let epoch = cursor.epoch
            let indices = sampler.indices(order: order, step: cursor.stepInEpoch, rank: communicator.rank)
            let rate = schedule.rate(step: cursor.globalStep)
            let outcome = try runner.step(indices: indices, loader: trainLoader, epoch: epoch, globalStep: cursor.globalStep,
                                          lr: Float(rate), skipNonfinite: t.skipNonfinite)
            if case .skipped(let why) = outcome { log?.say("skipped step: \(why)") }
            cursor.globalStep += 1
            intervalImages += t.batchSize

            let epochEnd = cursor.stepInEpoch == 0
            if cursor.globalStep % config.log.everySteps == 0 || epochEnd {
                let sums = reduceInterval()
                if let log {
                    let elapsed = Date().timeIntervalSince(intervalStart)
                    let speed = Double(intervalImages) / Swift.max(elapsed, 1e-9)
                    let done = cursor.globalStep - startStep
                    let eta = Date().timeIntervalSince(runStart) / Double(Swift.max(done, 1)) * Double(totalSteps - cursor.globalStep)
                    let wait = sums.waitSeconds / Swift.max(elapsed, 1e-9)
                    log.say(String(format: "epoch %d/%d  step %d/%d  loss %.4f  acc %.2f%%  lr %.5g  %.0f img/s  comm wait %.0f%%  ETA %@",
                                   epoch + 1, t.epochs, cursor.stepInEpoch == 0 ? sampler.stepsPerEpoch : cursor.stepInEpoch,
                                   sampler.stepsPerEpoch, sums.loss, 100 * sums.accuracy, rate, speed, 100 * wait, formatDuration(eta)))
                    log.row(epoch: epoch, step: cursor.globalStep, samples: cursor.samplesSeen, lr: rate,
                            trainLoss: sums.loss, trainAccuracy: sums.accuracy, testLoss: nil, testAccuracy: nil,
                            skipped: runner.skippedSteps)
                }
                intervalStart = Date(); intervalImages = 0
                runner.bucketer.resetTimers()
            }
            if epochEnd {
                // Without sync BN each rank's running statistics follow its own slices; evaluate
                // (and checkpoint) rank 0's on every rank, as DDP's broadcast_buffers does.
                if !t.syncBN { communicator.broadcast(model.store.bufferValues, root: 0) }
                let result = try evaluator.run()
                log?.say(String(format: "epoch %d/%d  test loss %.4f  test acc %.2f%%  (%d images)",
                                epoch + 1, t.epochs, result.loss, 100 * result.accuracy, result.samples))
                log?.row(epoch: epoch, step: cursor.globalStep, samples: cursor.samplesSeen, lr: rate, trainLoss: nil,
                         trainAccuracy: nil, testLoss: result.loss, testAccuracy: result.accuracy, skipped: runner.skippedSteps)
                intervalStart = Date()
            }
            let stop = communicator.any(stopRequested())
            let finished = cursor.globalStep == totalSteps
            if checkpoints.isDue(cursor: cursor, finished: finished) || stop {
                try checkpoints.save(model: model, optimizer: optimizer, runner: runner, cursor: cursor)
            }
            if stop && !finished {
                log?.say("stopped at step \(cursor.globalStep) on request; checkpoint written, resume with the same command")
                return false
            }
        }
        return true
    }

    /// Global mean loss and accuracy of the steps since the last report, and the ranks' mean
    /// seconds in GradientBucketer.finish (the all-reduce plus waiting for the slowest rank;
    /// rank 0's own figure would read 0% whenever rank 0 is the slow one). One small all-reduce.
    private func reduceInterval() -> (loss: Double, accuracy: Double, waitSeconds: Double) {
        let mine = runner.takeInterval()
        var sums = [mine.loss, mine.correct, mine.samples, runner.bucketer.totalWaitSeconds]
        sums.withUnsafeMutableBufferPointer { communicator.allReduceSum($0) }
        let n = Swift.max(sums[2], 1)
        return (sums[0] / n, sums[1] / n, sums[3] / Double(communicator.size))
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
    static func normalisation(_ data: DataConfig, _ set: ImageDataset) -> ([Float], [Float]) {
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
