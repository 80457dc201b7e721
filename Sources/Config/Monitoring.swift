/// A metric of the per-epoch evaluation that a run watches: for `checkpoint.best` and
/// `train.early_stop`. Evaluation is on the validation split (data.val_split or the file's /val);
/// a run without one evaluates, and therefore watches, the test split.
public enum MonitoredMetric: String, CaseIterable, Equatable, Sendable {
    case valAcc = "val_acc"
    case valLoss = "val_loss"

    /// Accuracy improves upwards, loss downwards.
    public var higherIsBetter: Bool { self == .valAcc }
}

/// `train.early_stop: {metric, patience, min_delta}` — Keras' and Lightning's EarlyStopping:
/// an evaluation improves on the best so far when it is better by more than `minDelta`; the run
/// ends, with a checkpoint, after `patience` evaluations in a row without improvement.
///
///     metric     val_loss | val_acc (val_loss)
///     patience   5 evaluations (>= 0; 0 stops at the first evaluation that does not improve)
///     min_delta  0 (>= 0), in the metric's units (accuracy as a fraction)
public struct EarlyStop: Equatable, Sendable {
    public var metric: MonitoredMetric
    public var patience: Int
    public var minDelta: Double

    public init(metric: MonitoredMetric, patience: Int, minDelta: Double) {
        self.metric = metric; self.patience = patience; self.minDelta = minDelta
    }

    /// Reads `early_stop` of the train section `r`; absent or null: off.
    static func read(_ r: MappingReader, log: EffectiveLog) throws -> EarlyStop? {
        guard let node = r.node("early_stop") else {
            log.record(r.path + ["early_stop"], .inline("null"), defaulted: true, note: "off")
            return nil
        }
        let e = try MappingReader(node, path: r.path + ["early_stop"], origin: r.origin(of: "early_stop"),
                                  allowed: ["metric", "patience", "min_delta"], log: log)
        let metric = try e.choice("metric", default: MonitoredMetric.valLoss, what: "metric")
        let patience = try e.int("patience", default: 5, min: 0)
        let minDelta = try e.double("min_delta", default: 0) { $0 < 0 ? "must be >= 0, got \(Scalar.format($0))" : nil }
        return EarlyStop(metric: metric, patience: patience, minDelta: minDelta)
    }
}
