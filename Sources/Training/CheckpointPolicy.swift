import Config
import Distributed
import Foundation
import IO
import Models
import NN
import TensorCore

/// When checkpoints are written and how a run resumes from one.
///
/// Rank 0 writes (atomically, through IO's CheckpointDirectory) and prunes; every rank agrees
/// on the outcome, so a failed write stops the whole job with one line and leaves the earlier
/// checkpoints intact. On resume rank 0 reads and checks the checkpoint and broadcasts weights,
/// buffers, optimizer state and the cursor, so every rank continues from the same global sample
/// whatever the number of ranks that wrote it.
final class CheckpointPolicy {
    let config: RunConfig
    let communicator: Communicator
    let directory: CheckpointDirectory
    /// Accept a checkpoint of another global batch, model or dataset (`trainer train --force-resume`).
    let force: Bool
    /// Identity of the run's data, stored in the checkpoint so a resume on other data is refused.
    let datasetIdentity: String

    init(config: RunConfig, communicator: Communicator, forceResume force: Bool, datasetIdentity: String) {
        self.config = config; self.communicator = communicator; self.force = force
        self.datasetIdentity = datasetIdentity
        directory = CheckpointDirectory(config.checkpoint.dir)
    }

    func isDue(cursor: TrainingCursor, finished: Bool) -> Bool {
        let c = config.checkpoint
        if finished { return true }
        if c.everySteps > 0 && cursor.globalStep % c.everySteps == 0 { return true }
        return c.everyEpochs > 0 && cursor.atEpochEnd && cursor.epoch % c.everyEpochs == 0
    }

    // MARK: Saving

    /// Writes `ckpt-<step>.h5` (when `regular`) and/or `best.h5` (when `best`: the evaluation
    /// just recorded in `history` is the best by checkpoint.best) from one snapshot.
    func save(model: Model, optimizer: Optimizer, runner: StepRunner, cursor: TrainingCursor,
              history: EvaluationHistory, regular: Bool = true, best: Bool = false) throws {
        // The interval's loss sums travel in the checkpoint so the first progress row after a
        // resume equals the uninterrupted run's: rank 0 keeps the global sums, the others restart.
        let mine = runner.takeInterval()
        var sums = [mine.loss, mine.correct, mine.samples]
        sums.withUnsafeMutableBufferPointer { communicator.allReduceSum($0) }
        if communicator.isRoot { runner.restoreInterval(loss: sums[0], correct: sums[1], samples: sums[2]) }
        try communicator.agree("writing a checkpoint") {
            guard communicator.isRoot else { return }
            let checkpoint = snapshot(model: model, optimizer: optimizer, cursor: cursor, interval: sums,
                                      skipped: runner.skippedSteps, history: history)
            if best { try CheckpointFile.write(checkpoint, to: bestPath) }
            guard regular else { return }
            try directory.write(checkpoint)
            if config.checkpoint.keep > 0 { try directory.prune(keep: config.checkpoint.keep) }
        }
    }

    /// `best.h5` beside the numbered checkpoints; pruning and resuming only look at `ckpt-*.h5`.
    var bestPath: String { (config.checkpoint.dir as NSString).appendingPathComponent("best.h5") }

    private func snapshot(model: Model, optimizer: Optimizer, cursor: TrainingCursor, interval: [Double],
                          skipped: Int, history: EvaluationHistory) -> Checkpoint {
        var tensors: [NamedTensor] = [], counters: [String: Int64] = [:], slots: [NamedTensor] = []
        for (key, entry) in model.stateEntries {
            switch entry {
            case .counter(let c): counters[key] = c.value
            default: tensors.append(NamedTensor(name: key, shape: entry.shape, values: Array(entry.floats!)))
            }
        }
        for p in model.store.parameters {
            for (slot, values) in optimizer.state(for: p) {
                slots.append(NamedTensor(name: "\(p.name)/\(slot)", shape: p.shape, values: Array(values)))
            }
        }
        let metadata = CheckpointMetadata(
            step: cursor.globalStep, epoch: cursor.epoch, samplesSeen: cursor.samplesSeen,
            worldSize: communicator.size, globalBatch: cursor.globalBatch, seed: config.train.seed,
            config: config.canonicalText,
            extraInts: ["optimizer_step": Int64(optimizer.stepCount), "skipped_steps": Int64(skipped)],
            extraDoubles: history.attributes.merging(
                ["interval_loss_sum": interval[0], "interval_correct": interval[1], "interval_samples": interval[2]]) { a, _ in a },
            extraStrings: ["model": model.name, "optimizer": optimizer.kind, "dataset": datasetIdentity])
        return Checkpoint(metadata: metadata, model: tensors, counters: counters, optimizer: slots)
    }

    // MARK: Resuming

    /// Loads the checkpoint `checkpoint.resume` selects, if any, into every rank; otherwise the
    /// weights of `model.init_from`, if set. Returns true when a run was resumed.
    func resume(model: Model, optimizer: Optimizer, runner: StepRunner, cursor: inout TrainingCursor,
                history: inout EvaluationHistory) throws -> Bool {
        // Rank 0 picks and reads; every rank learns whether it worked.
        let loaded: Checkpoint? = try communicator.agree("reading the checkpoint") {
            guard communicator.isRoot else { return nil }
            guard let path = try selectCheckpoint() else { return nil }
            let c = try CheckpointFile.read(path)
            try checkCompatible(c, path: path, model: model, cursor: cursor)
            try StateLoader.load(c, into: model, file: path)
            try loadOptimizer(c, optimizer, model, path)
            return c
        }
        var header = [0.0, 0, 0, 0]   // found (0/1), global step, optimizer step count, skipped steps
        var interval = [0.0, 0, 0]    // rank 0 only: Σ loss, Σ correct, samples of the open log interval
        if let c = loaded {
            header = [1, Double(c.metadata.step), Double(c.metadata.extraInts["optimizer_step"] ?? 0),
                      Double(c.metadata.extraInts["skipped_steps"] ?? 0)]
            interval = [c.metadata.extraDoubles["interval_loss_sum"] ?? 0, c.metadata.extraDoubles["interval_correct"] ?? 0,
                        c.metadata.extraDoubles["interval_samples"] ?? 0]
            if communicator.isRoot { say("resuming from \(c.metadata.step == 0 ? "the start" : "step \(c.metadata.step)") of \(c.metadata.worldSize)-rank checkpoint") }
        }
        header.withUnsafeMutableBufferPointer { broadcastDoubles($0) }
        guard header[0] == 1 else {
            try initFrom(model: model)
            return false
        }
        // Missing attributes (a checkpoint from before a tracker was configured) travel as +inf.
        var evaluations = EvaluationHistory.attributeOrder.map { loaded?.metadata.extraDoubles[$0] ?? .infinity }
        evaluations.withUnsafeMutableBufferPointer { broadcastDoubles($0) }
        history.restore(Dictionary(uniqueKeysWithValues: zip(EvaluationHistory.attributeOrder, evaluations).filter { $0.1 != .infinity }))
        broadcastState(model: model, optimizer: optimizer)
        cursor.globalStep = Int(header[1])
        optimizer.stepCount = Int(header[2])
        runner.restoreSkipped(Int(header[3]))
        if communicator.isRoot { runner.restoreInterval(loss: interval[0], correct: interval[1], samples: interval[2]) }
        return true
    }

    /// The checkpoint file to resume from, or nil to start fresh.
    private func selectCheckpoint() throws -> String? {
        switch config.checkpoint.resume {
        case .never: return nil
        case .path(let p):
            guard FileManager.default.fileExists(atPath: p) else {
                throw TrainingError("\(config.file): checkpoint.resume: \(p): no such checkpoint file")
            }
            return p
        case .auto:
            return try directory.latestValid(warn: { self.say($0) })?.path
        }
    }

    private func loadOptimizer(_ c: Checkpoint, _ optimizer: Optimizer, _ model: Model, _ path: String) throws {
        optimizer.prepare(for: model.store)
        guard c.metadata.extraStrings["optimizer"] == optimizer.kind else {
            if !c.optimizer.isEmpty { say("note: \(path) holds \(c.metadata.extraStrings["optimizer"] ?? "another") optimizer state; starting \(optimizer.kind) state fresh") }
            return
        }
        let slots = Dictionary(c.optimizer.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        for p in model.store.parameters {
            for (slot, values) in optimizer.state(for: p) {
                guard let t = slots["\(p.name)/\(slot)"] else {
                    throw TrainingError("\(path): /optimizer/\(p.name)/\(slot): missing")
                }
                guard t.values.count == values.count else {
                    throw TrainingError("\(path): /optimizer/\(p.name)/\(slot): \(t.values.count) values, expected \(values.count)")
                }
                t.values.withUnsafeBufferPointer { values.baseAddress!.update(from: $0.baseAddress!, count: values.count) }
            }
        }
    }

    /// Rank 0's weights, buffers, counters and optimizer state on every rank.
    private func broadcastState(model: Model, optimizer: Optimizer) {
        guard communicator.size > 1 else { return }
        optimizer.prepare(for: model.store)
        communicator.broadcast(model.store.values, root: 0)
        communicator.broadcast(model.store.bufferValues, root: 0)
        for (_, values) in optimizer.flatState { communicator.broadcast(values, root: 0) }
        var counts = model.store.counters.map { Double($0.value) }
        counts.withUnsafeMutableBufferPointer { broadcastDoubles($0) }
        for (c, v) in zip(model.store.counters, counts) { c.value = Int64(v) }
    }

    /// `model.init_from`: weights (and BN buffers) by name from a checkpoint, e.g. one written
    /// by Launch/from_torch.py; the optimizer and the cursor start fresh.
    private func initFrom(model: Model) throws {
        guard let spec = config.model.initFrom else { return }
        try communicator.agree("loading model.init_from") {
            guard communicator.isRoot else { return }
            let lines: [String]
            do { lines = try InitFromLoader.load(spec, into: model) } catch {
                throw TrainingError("\(config.file): model.init_from: \(error)")
            }
            lines.forEach(say)
        }
        communicator.broadcast(model.store.values, root: 0)
        communicator.broadcast(model.store.bufferValues, root: 0)
    }

    private func broadcastDoubles(_ values: UnsafeMutableBufferPointer<Double>) {
        guard communicator.size > 1 else { return }
        var bytes = Array(UnsafeRawBufferPointer(values))
        communicator.broadcast(bytes: &bytes, root: 0)
        bytes.withUnsafeBytes { UnsafeMutableRawBufferPointer(values).copyMemory(from: $0) }
    }

    func say(_ line: String) {
        if communicator.isRoot { print(line); fflush(nil) }
    }
}

/// Copies a checkpoint's model state into a model, by state_dict key, strictly: every key of
/// the model must be in the checkpoint with the same shape, and the checkpoint may hold no
/// other model key (PyTorch's load_state_dict(strict=True)).
public enum StateLoader {
    public static func load(_ c: Checkpoint, into model: Model, file: String) throws {
        let index = model.stateIndex
        let stored = Set(c.model.map(\.name)).union(c.counters.keys)
        let missing = model.store.stateKeys.filter { !stored.contains($0) }
        let unexpected = stored.filter { index[$0] == nil }.sorted()
        if !missing.isEmpty || !unexpected.isEmpty {
            if c.metadata.extraInts["folded_bn"] == 1 {
                throw TrainingError("\(file): a BN-folded inference checkpoint (trainer fold-bn) for trainer predict or eval only; train from the checkpoint it was folded from (\(c.metadata.extraStrings["folded_from"] ?? "unknown"))")
            }
            var parts: [String] = []
            if !missing.isEmpty { parts.append("missing \(missing.count) key(s) of model '\(model.name)' (first: \(missing.prefix(3).joined(separator: ", ")))") }
            if !unexpected.isEmpty { parts.append("\(unexpected.count) unexpected key(s) (first: \(unexpected.prefix(3).joined(separator: ", ")))") }
            throw TrainingError("\(file): not a checkpoint of this model: \(parts.joined(separator: "; "))")
        }
        for t in c.model {
            guard let entry = index[t.name], let dst = entry.floats else {
                throw TrainingError("\(file): /model/\(t.name): float tensor where the model has an integer counter")
            }
            guard t.shape == entry.shape else {
                throw TrainingError("\(file): /model/\(t.name): shape \(Shape.format(t.shape)), model '\(model.name)' has \(Shape.format(entry.shape))")
            }
            t.values.withUnsafeBufferPointer { dst.baseAddress!.update(from: $0.baseAddress!, count: dst.count) }
        }
        for (key, value) in c.counters {
            guard case .counter(let counter) = index[key] else {
                throw TrainingError("\(file): /model/\(key): integer where the model has a float tensor")
            }
            counter.value = value
        }
    }
}
