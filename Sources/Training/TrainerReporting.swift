import Config
import Foundation
import TensorCore

/// What the loop reports: progress rows per log interval, the evaluation per epoch, early
/// stopping, and the lines that end a run.
extension Trainer {
    /// Rank 0's start-up lines: ranks and hosts, the effective config, model and data, validation,
    /// steps, and where a resume continues. (The host list is gathered on every rank.)
    func announce(data: TrainingData, residency: SplitResidency, threads: Int, resumed: Bool) {
        let hosts = communicator.allGather(string: communicator.hostname)
        guard let log else { return }
        let t = config.train
        log.say("trainer: \(communicator.size) rank(s) on \(Trainer.describeHosts(hosts)), \(threads) thread(s) per rank")
        log.say(config.effectiveDescription)
        for w in config.warnings { printError("trainer: warning: \(w)") }
        log.say("model \(model.name): \(model.store.parameterCount) parameters; data \(config.data.path) (source: \(data.train.source ?? "unknown")): \(data.trainCount) train / \(data.evalCount) \(evalName) images \(Shape.format(model.inputShape)), \(model.numClasses) classes")
        for note in residency.notes { log.say(note) }
        log.say(data.validationNote.map { "validation: \($0); /test is left for trainer eval" }
                ?? "validation: none (set data.val_split or add /val to the file); evaluating /test every epoch")
        log.say("\(sampler.stepsPerEpoch) steps per epoch of \(t.batchSize) (\(localBatch) per rank); \(t.epochs) epoch\(t.epochs == 1 ? "" : "s")")
        if resumed { log.say("resumed at epoch \(cursor.epoch), step \(cursor.globalStep), \(cursor.samplesSeen) samples seen") }
    }

    /// Start and images of the open log interval.
    struct IntervalClock {
        let runStart = Date()
        let startStep: Int
        var start = Date(), images = 0
        mutating func restart() { start = Date(); images = 0 }
    }

    /// The interval's progress line, metrics row and TensorBoard scalars (rank 0), after the
    /// interval's all-reduce (every rank).
    func report(_ interval: inout IntervalClock, epoch: Int, rate: Double, totalSteps: Int) {
        let sums = reduceInterval()
        if let log {
            let t = config.train
            let elapsed = Date().timeIntervalSince(interval.start)
            let speed = Double(interval.images) / Swift.max(elapsed, 1e-9)
            let done = cursor.globalStep - interval.startStep
            let eta = Date().timeIntervalSince(interval.runStart) / Double(Swift.max(done, 1)) * Double(totalSteps - cursor.globalStep)
            let wait = sums.waitSeconds / Swift.max(elapsed, 1e-9)
            let dataWait = sums.dataWaitSeconds / Swift.max(elapsed, 1e-9)
            let dataNote = dataWait > 0 ? String(format: "  data wait %.1f%%", 100 * dataWait) : ""
            log.say(String(format: "epoch %d/%d  step %d/%d  loss %.4f  acc %.2f%%  lr %.5g  %.0f img/s  comm wait %.0f%%%@  ETA %@",
                           epoch + 1, t.epochs, cursor.stepInEpoch == 0 ? sampler.stepsPerEpoch : cursor.stepInEpoch,
                           sampler.stepsPerEpoch, sums.loss, 100 * sums.accuracy, rate, speed, 100 * wait, dataNote, formatDuration(eta)))
            log.row(MetricsRow(epoch: epoch, step: cursor.globalStep, samples: cursor.samplesSeen, lr: rate,
                               trainLoss: sums.loss, trainAccuracy: sums.accuracy, skipped: runner.skippedSteps))
            log.scalars([("train/loss", sums.loss), ("train/acc", sums.accuracy), ("lr", rate),
                         ("perf/images_per_second", speed), ("perf/comm_wait_share", wait), ("perf/data_wait_share", dataWait)], step: cursor.globalStep)
        }
        interval.restart()
        runner.bucketer.resetTimers()
    }

    /// The end-of-epoch evaluation (validation, else test): logged, and recorded in the history.
    /// Returns true when it is the best so far by checkpoint.best (best.h5 is rewritten).
    func evaluate(epoch: Int, rate: Double) throws -> Bool {
        // Without sync BN each rank's running statistics follow its own slices; evaluate
        // (and checkpoint) rank 0's on every rank, as DDP's broadcast_buffers does.
        if !config.train.syncBN { communicator.broadcast(model.store.bufferValues, root: 0) }
        let result = try evaluator.run()
        if let log {
            log.say(String(format: "epoch %d/%d  %@ loss %.4f  %@ acc %.2f%%  (%d images)", epoch + 1, config.train.epochs,
                           evalName, result.loss, evalName, 100 * result.accuracy, result.samples))
            var row = MetricsRow(epoch: epoch, step: cursor.globalStep, samples: cursor.samplesSeen, lr: rate, skipped: runner.skippedSteps)
            if evalName == "val" { row.valLoss = result.loss; row.valAccuracy = result.accuracy }
            else { row.testLoss = result.loss; row.testAccuracy = result.accuracy }
            log.row(row)
            log.scalars([("\(evalName)/loss", result.loss), ("\(evalName)/acc", result.accuracy)], step: cursor.globalStep)
        }
        return history.record(loss: result.loss, accuracy: result.accuracy, epoch: epoch + 1)
    }

    /// train.early_stop's patience has run out (the same on every rank: the history is).
    var earlyStopReached: Bool { Trainer.earlyStopReached(config, history) }

    static func earlyStopReached(_ config: RunConfig, _ history: EvaluationHistory) -> Bool {
        guard let rule = config.train.earlyStop, let tracker = history.earlyStop else { return false }
        return tracker.exhausted(patience: rule.patience)
    }

    /// "val_loss has not improved by more than 0 for 3 evaluations (best 0.4123 at epoch 2)".
    var earlyStopReason: String {
        guard let rule = config.train.earlyStop, let tracker = history.earlyStop else { return "" }
        return String(format: "%@ has not improved by more than %@ for %d evaluation(s) (best %.4f at epoch %d)",
                      rule.metric.rawValue, "\(rule.minDelta)", tracker.sinceBest, tracker.best ?? .nan, tracker.bestEpoch)
    }

    /// The line for a run that has nothing left to do, or nil.
    func completion(totalSteps: Int) -> String? {
        if cursor.globalStep >= totalSteps {
            return "complete at epoch \(cursor.epoch); raise train.epochs to continue"
        }
        if earlyStopReached {
            return "complete: stopped early at epoch \(history.lastEpoch) (\(earlyStopReason)); raise train.early_stop.patience to continue"
        }
        return nil
    }

    /// The last line of every run (rank 0): last and best evaluation, where the checkpoints
    /// are, how to look at the curves.
    func summarize() {
        guard let log else { return }
        let h = history, e = evalName
        let results = h.lastEpoch == 0 ? "no evaluation yet" : String(
            format: "%@ acc %.2f%% at epoch %d (last), best %.2f%% at epoch %d", e, 100 * h.lastAccuracy, h.lastEpoch,
            100 * (h.accuracy.best ?? .nan), h.accuracy.bestEpoch)
        var files: [String] = []
        if let newest = try? checkpoints.directory.list().last { files.append("newest \((newest.path as NSString).lastPathComponent)") }
        if let best = h.best, best.bestEpoch > 0, FileManager.default.fileExists(atPath: checkpoints.bestPath) {
            files.append("best.h5 from epoch \(best.bestEpoch) by \(best.metric.rawValue)")
        }
        let saved = "checkpoints in \(config.checkpoint.dir)" + (files.isEmpty ? "" : " (" + files.joined(separator: ", ") + ")")
        let curves = "curves: Launch/plot \(log.path)" + (log.eventFile != nil ? ", tensorboard --logdir \(config.log.dir)" : "")
        log.say("summary: epoch \(cursor.epoch) of \(config.train.epochs), step \(cursor.globalStep); \(results); \(saved); \(curves)")
    }
}
