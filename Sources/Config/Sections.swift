/// `data:` — the HDF5 dataset (DESIGN.md layout) and its input pipeline.
///
///     path       required; relative paths are relative to the working directory
///     mean, std  per-channel normalisation in 0..1 pixel units; default: the file's
///                `mean`/`std` attributes, else none (mean 0, std 1)
///     shuffle    true: a new global permutation every epoch, from (seed, epoch)
///     augment    {crop_padding: 0, flip: false}: random crop after zero padding by
///                crop_padding pixels, random horizontal flip (training only). Default: none
///     val_split  none: the file's /val split when present, else no validation; or a fraction in
///                (0, 1) of /train held out (chosen from train.seed, the same on any number of ranks)
///     residency  auto: where the images live while a run reads them (`DataResidency`)
public struct DataConfig: Equatable, Sendable {
    public struct Augment: Equatable, Sendable {
        public var cropPadding: Int
        public var flip: Bool
    }
    public var path: String
    public var mean: [Double]?
    public var std: [Double]?
    public var shuffle: Bool
    public var augment: Augment
    /// Fraction of /train held out for validation; nil: /val of the file if any.
    public var valSplit: Double?
    public var residency: DataResidency = .auto

    static func read(_ node: ConfigNode?, origin: ConfigOrigin, log: EffectiveLog) throws -> DataConfig {
        let r = try MappingReader(node, path: ["data"], origin: origin,
                                  allowed: ["path", "mean", "std", "shuffle", "augment", "val_split", "residency"], log: log)
        let path = try r.string("path", default: nil)
        let mean = try r.read("mean", default: nil, note: "from the dataset", Scalar.doubleList, render: Scalar.render,
                              check: { $0.isEmpty ? "must not be empty" : nil })
        let std = try r.read("std", default: nil, note: "from the dataset", Scalar.doubleList, render: Scalar.render,
                             check: { $0.isEmpty || $0.contains { $0 <= 0 } ? "every entry must be > 0, got \(Scalar.format($0))" : nil })
        if let mean, let std, mean.count != std.count {
            throw r.error("std", "has \(std.count) entries but data.mean has \(mean.count)")
        }
        let shuffle = try r.bool("shuffle", default: true)
        let a = try MappingReader(r.node("augment"), path: ["data", "augment"], origin: r.origin(of: "augment"),
                                  allowed: ["crop_padding", "flip"], log: log)
        let augment = Augment(cropPadding: try a.int("crop_padding", default: 0, min: 0), flip: try a.bool("flip", default: false))
        let valSplit = try r.read("val_split", default: nil, note: "/val of the file if present, else none", Scalar.double,
                                  render: Scalar.render, check: { $0 <= 0 || $0 >= 1 ? "must lie in (0, 1), got \(Scalar.format($0))" : nil })
        let residency = try r.choice("residency", default: DataResidency.auto, what: "residency")
        return DataConfig(path: path, mean: mean, std: std, shuffle: shuffle, augment: augment, valSplit: valSplit,
                          residency: residency)
    }
}

/// `data.residency`: where a split's images live while a run reads them. Every choice trains the
/// same bits (order and augmentation are keyed by sample index, not by where the bytes are).
///
///     memory  a copy per rank (the fastest to read; ranks × split bytes per node)
///     shared  one copy per node in shared memory, filled once by the node's ranks together
///     stream  images stay in the file; a prefetch thread reads the next batch during the step
///     auto    shared when the node's copy fits in half of its available memory, else stream
public enum DataResidency: String, CaseIterable, Sendable {
    case auto, memory, shared, stream
}

/// `train:` — the loop.
///
///     epochs              required, >= 1
///     batch_size          128: global samples per forward/backward pass, split evenly over ranks
///     accumulate          1: micro-batches per optimizer step (gradient accumulation): each rank's
///                         share of batch_size goes through forward/backward in `accumulate`
///                         passes, so an update still sees batch_size samples with less memory
///     seed                0: keys initialisation, shuffling, augmentation and dropout
///     label_smoothing     0, in [0, 1)
///     sync_bn             false: BatchNorm statistics per rank; true: summed across ranks
///     threads             auto (null): worker threads per rank (layers split the batch over
///                         them; BLAS runs one thread per worker): cores ÷ ranks on the node, or >= 1
///     blas_threads        the former name of `threads`, still accepted (both given must agree)
///     collective_timeout  600 seconds a rank waits in a collective before aborting the run (0: forever)
///     skip_nonfinite      false: a non-finite loss or gradient stops the run; true: that step is skipped
///     early_stop          none; {metric: val_loss, patience: 5, min_delta: 0}: stop when the metric has
///                         not improved by more than min_delta for `patience` evaluations in a row
public struct TrainConfig: Equatable, Sendable {
    public var epochs: Int
    public var batchSize: Int
    public var accumulate: Int
    public var seed: UInt64
    public var labelSmoothing: Double
    public var syncBN: Bool
    /// Worker threads per rank; nil: automatic (cores ÷ local ranks).
    public var threads: Int?
    /// The former name of `threads`.
    public var blasThreads: Int? { threads }
    public var collectiveTimeout: Double
    public var skipNonfinite: Bool
    public var earlyStop: EarlyStop?

    static func read(_ node: ConfigNode?, origin: ConfigOrigin, log: EffectiveLog) throws -> TrainConfig {
        let r = try MappingReader(node, path: ["train"], origin: origin,
                                  allowed: ["epochs", "batch_size", "accumulate", "seed", "label_smoothing", "sync_bn",
                                            "threads", "blas_threads", "collective_timeout", "skip_nonfinite", "early_stop"], log: log)
        let epochs = try r.int("epochs", default: nil, min: 1)
        let batchSize = try r.int("batch_size", default: 128, min: 1)
        let accumulate = try r.int("accumulate", default: 1, min: 1)
        let seed = try r.int("seed", default: 0, min: 0)
        let smoothing = try r.double("label_smoothing", default: 0) {
            $0 < 0 || $0 >= 1 ? "must lie in [0, 1), got \(Scalar.format($0))" : nil
        }
        let syncBN = try r.bool("sync_bn", default: false)
        let threads = try readThreads(r, key: "threads")
        let blas = r.isGiven("blas_threads") ? try readThreads(r, key: "blas_threads") : nil
        if let a = threads, let b = blas, a != b {
            throw r.error("blas_threads", "is the former name of train.threads; they disagree (\(b) vs \(a)): give only train.threads")
        }
        let timeout = try r.double("collective_timeout", default: 600) { $0 < 0 ? "must be >= 0 seconds, got \(Scalar.format($0))" : nil }
        let skip = try r.bool("skip_nonfinite", default: false)
        let earlyStop = try EarlyStop.read(r, log: log)
        return TrainConfig(epochs: epochs, batchSize: batchSize, accumulate: accumulate, seed: UInt64(seed),
                           labelSmoothing: smoothing, syncBN: syncBN, threads: threads ?? blas,
                           collectiveTimeout: timeout, skipNonfinite: skip, earlyStop: earlyStop)
    }
}

/// A thread count key: an integer >= 1, or auto/null (nil).
private func readThreads(_ r: MappingReader, key: String) throws -> Int? {
    let v = try r.read(key, default: Int??.some(nil), note: "cores ÷ ranks per node", { n -> Int? in
        if case .scalar("auto", _) = n.kind { return nil }
        do { return try Scalar.int(n) } catch { throw Problem("expected an integer or 'auto', got \(n.display)") }
    }, render: { $0.map(Scalar.render) ?? .inline("auto") }, check: { v in v.flatMap { $0 < 1 ? "must be >= 1, got \($0)" : nil } })
    return v ?? nil
}

/// `optimizer:` — torch.optim's rules and defaults.
///
///     name          sgd | adam | adamw (default sgd)
///     lr            0.001 (torch's default), >= 0; the schedule's base rate
///     weight_decay  0 (sgd, adam: L2 added to the gradient), 0.01 (adamw: decoupled)
///     sgd:          momentum 0 in [0, 1), dampening 0 in [0, 1], nesterov false (needs momentum > 0, dampening 0)
///     adam, adamw:  betas [0.9, 0.999] each in [0, 1), eps 1e-8 (> 0), amsgrad false
/// Keys of the other optimizers are errors, so a setting is never silently ignored.
public struct OptimizerConfig: Equatable, Sendable {
    public enum Name: String, CaseIterable, Sendable { case sgd, adam, adamw }
    public var name: Name
    public var lr: Double
    public var weightDecay: Double
    public var momentum: Double
    public var dampening: Double
    public var nesterov: Bool
    public var beta1: Double
    public var beta2: Double
    public var eps: Double
    public var amsgrad: Bool

    static let sgdKeys = ["momentum", "dampening", "nesterov"]
    static let adamKeys = ["betas", "eps", "amsgrad"]

    static func read(_ node: ConfigNode?, origin: ConfigOrigin, log: EffectiveLog) throws -> OptimizerConfig {
        let r = try MappingReader(node, path: ["optimizer"], origin: origin,
                                  allowed: ["name", "lr", "weight_decay"] + sgdKeys + adamKeys, log: log)
        let name = try r.choice("name", default: Name.sgd, what: "optimizer")
        let lr = try r.double("lr", default: 0.001) { $0 < 0 ? "must be >= 0, got \(Scalar.format($0))" : nil }
        let wd = try r.double("weight_decay", default: name == .adamw ? 0.01 : 0) {
            $0 < 0 ? "must be >= 0, got \(Scalar.format($0))" : nil
        }
        var c = OptimizerConfig(name: name, lr: lr, weightDecay: wd, momentum: 0, dampening: 0, nesterov: false,
                                beta1: 0.9, beta2: 0.999, eps: 1e-8, amsgrad: false)
        let unitOpen = { (v: Double) in v < 0 || v >= 1 ? "must lie in [0, 1), got \(Scalar.format(v))" : nil }
        switch name {
        case .sgd:
            try r.forbid(adamKeys, because: "by optimizer 'sgd'")
            c.momentum = try r.double("momentum", default: 0, check: unitOpen)
            c.dampening = try r.double("dampening", default: 0) { $0 < 0 || $0 > 1 ? "must lie in [0, 1], got \(Scalar.format($0))" : nil }
            c.nesterov = try r.bool("nesterov", default: false)
            if c.nesterov && (c.momentum == 0 || c.dampening != 0) {
                throw r.error("nesterov", "Nesterov momentum needs optimizer.momentum > 0 and dampening 0")
            }
        case .adam, .adamw:
            try r.forbid(sgdKeys, because: "by optimizer '\(name.rawValue)'")
            let betas = try r.value("betas", default: [0.9, 0.999], Scalar.doubleList, render: Scalar.render, check: { b in
                b.count != 2 ? "expected [beta1, beta2], got \(Scalar.format(b))"
                    : b.contains { $0 < 0 || $0 >= 1 } ? "each beta must lie in [0, 1), got \(Scalar.format(b))" : nil })
            c.beta1 = betas[0]; c.beta2 = betas[1]
            c.eps = try r.double("eps", default: 1e-8) { $0 <= 0 ? "must be > 0, got \(Scalar.format($0))" : nil }
            c.amsgrad = try r.bool("amsgrad", default: false)
        }
        try r.finish()
        return c
    }
}

/// `schedule:` — the learning rate over the run, in epochs (the trainer converts to steps
/// with LRSchedule(baseLR:epochKind:warmupEpochs:epochs:stepsPerEpoch:)).
///
///     name           constant | step | multistep | cosine (default constant)
///     step:          step_size (epochs, required), gamma 0.1
///     multistep:     milestones (required, increasing, >= 0; those past the run's end are never reached), gamma 0.1
///     cosine:        min_lr 0
///     warmup_epochs  0: linear warmup from lr/W to lr over the first W steps (any name)
/// Epoch values may be fractional, or a percentage of train.epochs written "50%".
public struct ScheduleConfig: Equatable, Sendable {
    public enum Name: String, CaseIterable, Sendable { case constant, step, multistep, cosine }
    public var name: Name
    /// Epochs at which the rate is multiplied by gamma (multistep).
    public var milestones: [Double]
    public var gamma: Double
    /// Epochs between multiplications by gamma (step).
    public var stepSize: Double
    /// Final rate of the cosine.
    public var minLR: Double
    public var warmupEpochs: Double

    static func read(_ node: ConfigNode?, origin: ConfigOrigin, epochs: Int, log: EffectiveLog) throws -> ScheduleConfig {
        let r = try MappingReader(node, path: ["schedule"], origin: origin,
                                  allowed: ["name", "milestones", "gamma", "step_size", "min_lr", "warmup_epochs"], log: log)
        /// A number of epochs, or "P%" of train.epochs.
        func epochValue(_ n: ConfigNode) throws -> Double {
            if case let (s, true)? = Scalar.text(n), s.hasSuffix("%"), let p = Double(s.dropLast()), p.isFinite {
                return p / 100 * Double(epochs)
            }
            do { return try Scalar.double(n) } catch { throw Problem("expected epochs (a number or a percentage like 50%), got \(n.display)") }
        }
        let inRun = { (v: Double) -> String? in
            v < 0 || v > Double(epochs) ? "must lie within the run's \(epochs) epoch\(epochs == 1 ? "" : "s"), got \(Scalar.format(v))" : nil
        }
        let name = try r.choice("name", default: Name.constant, what: "schedule")
        var c = ScheduleConfig(name: name, milestones: [], gamma: 0.1, stepSize: 0, minLR: 0, warmupEpochs: 0)
        let gamma = { try r.double("gamma", default: 0.1) { $0 <= 0 ? "must be > 0, got \(Scalar.format($0))" : nil } }
        switch name {
        case .constant:
            try r.forbid(["milestones", "gamma", "step_size", "min_lr"], because: "by schedule 'constant'")
        case .step:
            try r.forbid(["milestones", "min_lr"], because: "by schedule 'step'")
            c.stepSize = try r.value("step_size", default: nil, epochValue, render: Scalar.render,
                                     check: { $0 <= 0 ? "must be > 0 epochs, got \(Scalar.format($0))" : nil })
            c.gamma = try gamma()
        case .multistep:
            try r.forbid(["step_size", "min_lr"], because: "by schedule 'multistep'")
            c.milestones = try r.value("milestones", default: nil, { try Scalar.list($0, of: "epochs", epochValue) },
                                       render: Scalar.render, check: { m in
                m.isEmpty ? "must not be empty"
                    : zip(m, m.dropFirst()).contains { $0 > $1 } ? "must be increasing, got \(Scalar.format(m))"
                    : m.contains { $0 < 0 } ? "must be >= 0 epochs, got \(Scalar.format(m))" : nil })
            c.gamma = try gamma()
        case .cosine:
            try r.forbid(["milestones", "gamma", "step_size"], because: "by schedule 'cosine'")
            c.minLR = try r.double("min_lr", default: 0) { $0 < 0 ? "must be >= 0, got \(Scalar.format($0))" : nil }
        }
        c.warmupEpochs = try r.value("warmup_epochs", default: 0, epochValue, render: Scalar.render, check: inRun)
        try r.finish()
        return c
    }
}

/// `checkpoint:` — when and where the run is saved and how it resumes.
///
///     dir           runs/<config file name without extension>
///     every_epochs  1 (0: never at epoch ends)
///     every_steps   0 (off): also every N optimizer steps
///     keep          3 newest checkpoints kept (0: keep all)
///     resume        auto (newest valid checkpoint in dir, if any) | never | PATH of a checkpoint
///     best          none | val_acc | val_loss: also keep best.h5, the checkpoint of the best evaluation
///                   by that metric, never pruned
public struct CheckpointConfig: Equatable, Sendable {
    public enum Resume: Equatable, Sendable {
        case auto, never
        case path(String)
    }
    public var dir: String
    public var everyEpochs: Int
    public var everySteps: Int
    public var keep: Int
    public var resume: Resume
    /// The metric best.h5 follows; nil: no best.h5.
    public var best: MonitoredMetric?

    static func read(_ node: ConfigNode?, origin: ConfigOrigin, defaultDir: String, log: EffectiveLog) throws -> CheckpointConfig {
        let r = try MappingReader(node, path: ["checkpoint"], origin: origin,
                                  allowed: ["dir", "every_epochs", "every_steps", "keep", "resume", "best"], log: log)
        let dir = try r.string("dir", default: defaultDir)
        let everyEpochs = try r.int("every_epochs", default: 1, min: 0)
        let everySteps = try r.int("every_steps", default: 0, min: 0)
        let keep = try r.int("keep", default: 3, min: 0)
        let resume = try r.value("resume", default: Resume.auto, { n -> Resume in
            let s = try Scalar.string(n)
            switch s {
            case "auto": return .auto
            case "never": return .never
            case "": throw Problem("expected auto, never or a checkpoint path")
            default: return .path(s)
            }
        }, render: { v in
            switch v {
            case .auto: return .inline("auto")
            case .never: return .inline("never")
            case .path(let p): return Scalar.render(p)
            }
        })
        let best = try r.value("best", default: Best.none, { n -> Best in
            let s = try Scalar.string(n)
            guard let v = Best(rawValue: s) else { throw Problem("unknown metric '\(s)'" + Suggest.hint(s, in: Best.allCases.map(\.rawValue))) }
            return v
        }, render: { Scalar.render($0.rawValue) })
        return CheckpointConfig(dir: dir, everyEpochs: everyEpochs, everySteps: everySteps, keep: keep, resume: resume,
                                best: MonitoredMetric(rawValue: best.rawValue))
    }

    /// `best:` values: a monitored metric or none.
    private enum Best: String, CaseIterable { case none, val_acc, val_loss
    }
}

/// `log:` — what rank 0 reports.
///
///     dir          checkpoint.dir: metrics.csv is appended there
///     every_steps  50: one progress line (and metrics row) every N optimizer steps
///     progress     true: print progress lines to stdout (metrics.csv is written either way)
///     tensorboard  true: also write the scalars as a TensorBoard event file (events.out.tfevents.*)
public struct LogConfig: Equatable, Sendable {
    public var dir: String
    public var everySteps: Int
    public var progress: Bool
    public var tensorboard: Bool

    static func read(_ node: ConfigNode?, origin: ConfigOrigin, defaultDir: String, log: EffectiveLog) throws -> LogConfig {
        let r = try MappingReader(node, path: ["log"], origin: origin, allowed: ["dir", "every_steps", "progress", "tensorboard"], log: log)
        return LogConfig(dir: try r.string("dir", default: defaultDir), everySteps: try r.int("every_steps", default: 50, min: 1),
                         progress: try r.bool("progress", default: true), tensorboard: try r.bool("tensorboard", default: true))
    }
}
