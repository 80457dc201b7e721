import Config

/// The best value so far of a watched evaluation metric, the epoch it came from, and the
/// evaluations since: what checkpoint.best, train.early_stop and the final summary need.
/// Lives in the checkpoint (see `EvaluationHistory`), so a resume continues the count exactly.
struct MetricTracker: Equatable {
    let metric: MonitoredMetric
    /// An evaluation improves only when better than the best by more than this.
    let minDelta: Double
    private(set) var best: Double?
    /// 1-based epoch of the best value; 0 before any.
    private(set) var bestEpoch = 0
    /// Evaluations since the best one.
    private(set) var sinceBest = 0

    init(_ metric: MonitoredMetric, minDelta: Double = 0) { self.metric = metric; self.minDelta = minDelta }

    /// Records an evaluation; true when it improved on the best.
    @discardableResult
    mutating func update(loss: Double, accuracy: Double, epoch: Int) -> Bool {
        let v = metric == .valAcc ? accuracy : loss
        let improved = best.map { metric.higherIsBetter ? v > $0 + minDelta : v < $0 - minDelta } ?? true
        if improved { best = v; bestEpoch = epoch; sinceBest = 0 } else { sinceBest += 1 }
        return improved
    }

    /// Early stopping's rule (Keras and Lightning): stop once `patience` evaluations in a row,
    /// and at least one, did not improve.
    func exhausted(patience: Int) -> Bool { sinceBest > 0 && sinceBest >= patience }

    /// [best (NaN: none), best epoch, evaluations since, metric (1 accuracy, 0 loss)]: the checkpoint's numbers.
    var state: [Double] { [best ?? .nan, Double(bestEpoch), Double(sinceBest), metric.higherIsBetter ? 1 : 0] }
    static let stateNames = ["value", "epoch", "since", "metric"]

    /// Takes a saved state of the same metric; one of another metric (the config changed it) is ignored.
    mutating func restore(_ s: [Double]) {
        guard s.count == 4, (s[3] == 1) == metric.higherIsBetter else { return }
        best = s[0].isNaN ? nil : s[0]; bestEpoch = Int(s[1]); sinceBest = Int(s[2])
    }
}

/// What the per-epoch evaluations have shown so far: the last result, the best accuracy (for
/// the summary line), and the trackers of checkpoint.best and train.early_stop. Every rank
/// holds the same copy (evaluations are all-reduced; a resume broadcasts rank 0's).
struct EvaluationHistory: Equatable {
    var lastLoss = Double.nan, lastAccuracy = Double.nan
    var lastEpoch = 0
    var accuracy = MetricTracker(.valAcc)
    var best: MetricTracker?
    var earlyStop: MetricTracker?

    init(config: RunConfig) {
        best = config.checkpoint.best.map { MetricTracker($0) }
        earlyStop = config.train.earlyStop.map { MetricTracker($0.metric, minDelta: $0.minDelta) }
    }

    /// Records the evaluation after `epoch` (1-based); true when best.h5 should be rewritten.
    mutating func record(loss: Double, accuracy acc: Double, epoch: Int) -> Bool {
        lastLoss = loss; lastAccuracy = acc; lastEpoch = epoch
        accuracy.update(loss: loss, accuracy: acc, epoch: epoch)
        earlyStop?.update(loss: loss, accuracy: acc, epoch: epoch)
        return best?.update(loss: loss, accuracy: acc, epoch: epoch) ?? false
    }

    /// Flat numbers for the checkpoint's root attributes, by name.
    var attributes: [String: Double] {
        var out = ["eval_last_loss": lastLoss, "eval_last_accuracy": lastAccuracy, "eval_last_epoch": Double(lastEpoch)]
        for (prefix, t) in [("eval_best_accuracy", accuracy), ("best_checkpoint", best), ("early_stop", earlyStop)] {
            guard let t else { continue }
            for (name, v) in zip(MetricTracker.stateNames, t.state) { out["\(prefix)_\(name)"] = v }
        }
        return out
    }

    /// The inverse of `attributes`; trackers the checkpoint lacks (a key newly configured) start fresh.
    mutating func restore(_ a: [String: Double]) {
        lastLoss = a["eval_last_loss"] ?? .nan; lastAccuracy = a["eval_last_accuracy"] ?? .nan
        lastEpoch = Int(a["eval_last_epoch"] ?? 0)
        func load(_ prefix: String, _ t: inout MetricTracker?) {
            let s = MetricTracker.stateNames.compactMap { a["\(prefix)_\($0)"] }
            t?.restore(s)
        }
        var acc: MetricTracker? = accuracy
        load("eval_best_accuracy", &acc); accuracy = acc!
        load("best_checkpoint", &best); load("early_stop", &earlyStop)
    }

    /// The attributes in a fixed order, for the broadcast from rank 0 on resume.
    static let attributeOrder = ["eval_last_loss", "eval_last_accuracy", "eval_last_epoch"]
        + ["eval_best_accuracy", "best_checkpoint", "early_stop"].flatMap { p in MetricTracker.stateNames.map { "\(p)_\($0)" } }
}
