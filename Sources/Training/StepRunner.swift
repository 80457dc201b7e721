import Distributed
import Models
import NN
import TensorCore

/// One data-parallel optimizer step: forward and backward over the rank's slice (in
/// `accumulate` micro-batches), gradients summed across ranks in buckets while backward runs,
/// averaged, checked for non-finite values, then the identical optimizer update on every rank.
final class StepRunner {
    let model: Model
    let optimizer: Optimizer
    let loss: CrossEntropyLoss
    let communicator: Communicator
    let bucketer: GradientBucketer
    let context: ForwardContext
    let accumulate: Int

    /// Σ loss, Σ correct and samples since the last `takeInterval()` (this rank only).
    private(set) var intervalLoss = 0.0, intervalCorrect = 0.0, intervalSamples = 0.0
    /// Steps skipped for non-finite values (train.skip_nonfinite) since the start of the run.
    private(set) var skippedSteps = 0
    /// BatchNorm running statistics and counters as they were before the step, put back when the
    /// step is skipped, so that a skipped step leaves no trace (its forward already updated them,
    /// possibly with NaN). Only with train.skip_nonfinite; filled in place after the first step.
    private var buffersBefore: [Float] = [], countersBefore: [Int64] = []

    init(model: Model, optimizer: Optimizer, labelSmoothing: Float, communicator: Communicator,
         accumulate: Int, syncBN: Bool, seed: UInt64) {
        self.model = model; self.optimizer = optimizer; self.communicator = communicator
        self.accumulate = accumulate
        loss = CrossEntropyLoss(labelSmoothing: labelSmoothing)
        bucketer = GradientBucketer(communicator: communicator, gradients: model.store.grads)
        context = ForwardContext(training: true, seed: seed,
                                 statisticsReducer: syncBN && communicator.size > 1 ? CommunicatorReducer(communicator) : nil)
        optimizer.prepare(for: model.store)
    }

    /// Outcome of a step whose gradients were not finite.
    enum Anomaly { case none, skipped(String) }

    /// Runs one step on `indices` (this rank's slice of the global batch) at learning rate `lr`.
    /// Throws `CollectiveStop` when the gradients are not finite and skipping is off: every rank
    /// sees the same summed gradients, so every rank stops at the same step, before the update.
    /// `next`: the next step's slice, whose first micro-batch the loader may start reading.
    func step(indices: ArraySlice<Int>, next: ArraySlice<Int>?, loader: BatchLoader, epoch: Int, globalStep: Int,
              lr: Float, skipNonfinite: Bool) throws -> Anomaly {
        communicator.activity = "step \(globalStep)"
        if skipNonfinite { saveBuffers() }
        context.training = true
        context.epoch = epoch
        model.store.zeroGrads()
        bucketer.reset()
        let micro = indices.count / accumulate
        var localLossFinite = true
        for m in 0..<accumulate {
            let part = microBatch(indices, m)
            try loader.load(part, augment: true, seed: context.seed, epoch: epoch)
            if m + 1 < accumulate { loader.prefetch(microBatch(indices, m + 1)) } else if let next { loader.prefetch(microBatch(next, 0)) }
            if m == 0, FaultInjection.pending != nil {
                try FaultInjection.atStep(globalStep, rank: communicator.rank, input: loader.input, dataPath: loader.dataset.path)
            }
            context.sampleIndices.removeAll(keepingCapacity: true)
            context.sampleIndices.append(contentsOf: part)
            let last = m == accumulate - 1
            context.gradientsReady = last ? { [bucketer] in bucketer.gradientsReady(below: $0) } : nil
            let logits = model.forward(loader.input, context)
            let value = loss.forward(logits, labels: loader.labels(count: micro), meanOver: indices.count)
            if !value.isFinite {
                // Poison the gradient so that, after the sum, every rank sees a non-finite value and
                // takes the same decision without an extra collective. Element 0 belongs to the last
                // bucket to start (after the whole backward), so this write cannot race with it.
                localLossFinite = false
                model.store.grads[0] = .nan
            }
            intervalLoss += loss.lossSum; intervalCorrect += Double(loss.correct); intervalSamples += Double(micro)
            model.backward(loss.backward(), context)
        }
        bucketer.finish()
        if let bad = firstNonFiniteGradient() {
            // Rare path, taken by every rank together (same summed gradients): one extra
            // collective finds the lowest rank, if any, whose own loss was not finite.
            let what = if let lossRank = communicator.lowestRank(where: !localLossFinite) {
                "non-finite loss at step \(globalStep) on rank \(lossRank) (first non-finite gradient in \(bad))"
            } else {
                "non-finite gradient at step \(globalStep) (first in \(bad))"
            }
            guard skipNonfinite else {
                throw CollectiveStop(what + "; stopped without writing a checkpoint of this state (train.skip_nonfinite: true skips such steps)", code: ExitStatus.nonFinite)
            }
            skippedSteps += 1
            restoreBuffers()
            return .skipped(what)
        }
        optimizer.step(store: model.store, lr: lr)
        return .none
    }

    /// Micro-batch `m` of a rank's slice (`accumulate` equal parts).
    func microBatch(_ indices: ArraySlice<Int>, _ m: Int) -> ArraySlice<Int> {
        let micro = indices.count / accumulate
        return indices[(indices.startIndex + m * micro)..<(indices.startIndex + (m + 1) * micro)]
    }

    private func saveBuffers() {
        let b = model.store.bufferValues, counters = model.store.counters
        if buffersBefore.count != b.count { buffersBefore = Array(b) } else { for i in 0..<b.count { buffersBefore[i] = b[i] } }
        if countersBefore.count != counters.count { countersBefore = counters.map(\.value) } else {
            for (i, c) in counters.enumerated() { countersBefore[i] = c.value }
        }
    }

    private func restoreBuffers() {
        let b = model.store.bufferValues
        for i in 0..<b.count { b[i] = buffersBefore[i] }
        for (i, c) in model.store.counters.enumerated() { c.value = countersBefore[i] }
    }

    /// The first parameter, in forward order, whose summed gradient holds NaN or ±inf.
    private func firstNonFiniteGradient() -> String? {
        let g = model.store.grads
        var sum: Float = 0
        for i in 0..<g.count { sum += g[i] * 0 }   // NaN·0 and inf·0 are NaN; finite·0 is 0
        guard sum.isNaN else { return nil }
        for p in model.store.parameters {
            for i in 0..<p.count where !p.grad[i].isFinite { return p.name }
        }
        return nil
    }

    /// This rank's interval sums, reset afterwards.
    func takeInterval() -> (loss: Double, correct: Double, samples: Double) {
        defer { intervalLoss = 0; intervalCorrect = 0; intervalSamples = 0 }
        return (intervalLoss, intervalCorrect, intervalSamples)
    }

    /// Restores the skipped-step count saved in a checkpoint.
    func restoreSkipped(_ count: Int) { skippedSteps = count }

    /// Restores interval sums saved in a checkpoint (rank 0 holds the global sums then).
    func restoreInterval(loss: Double, correct: Double, samples: Double) {
        intervalLoss = loss; intervalCorrect = correct; intervalSamples = samples
    }
}
