import Foundation

/// Learning rate as a pure function of the global optimizer step `s` (0 for the first update),
/// so every rank, and a run resumed on any number of ranks, gets the same rate.
///
///     lr(s) = warm(s) · main(s)
///     warm(s) = (s + 1) / W  for s < W,  1 afterwards       (linear warmup over W steps: from lr/W
///                                                            up to lr at step W − 1; PyTorch
///                                                            LinearLR(start_factor = 1/W, total_iters = W − 1))
///     main(s):
///       constant                  base
///       step(size, γ)             base · γ^⌊s / size⌋                          (StepLR)
///       multistep(milestones, γ)  base · γ^#{m ∈ milestones : m ≤ s}         (MultiStepLR)
///       cosine(T, min)            min + (base − min) · (1 + cos(π · s' / T')) / 2,
///                                 s' = max(s − W, 0), T' = T − W, min once s' ≥ T'
///                                 (CosineAnnealingLR(T_max = T − W) started after the warmup)
///
/// Step and multistep milestones count from step 0 (absolute epochs, as in He et al. and
/// Goyal et al.); the cosine spans the steps after the warmup.
public struct LRSchedule: Sendable, Equatable {
    /// The decay rule, in optimizer steps.
    public enum Kind: Sendable, Equatable {
        case constant
        case step(stepSize: Int, gamma: Double)
        case multistep(milestones: [Int], gamma: Double)
        /// `totalSteps` is the whole run (epochs × steps per epoch), warmup included.
        case cosine(totalSteps: Int, minLR: Double)
    }

    /// The decay rule in epochs (what a config holds); fractional epochs are allowed.
    public enum EpochKind: Sendable, Equatable {
        case constant
        case step(everyEpochs: Double, gamma: Double)
        case multistep(milestoneEpochs: [Double], gamma: Double)
        /// Cosine to `minLR` at the end of the run.
        case cosine(minLR: Double)
    }

    public let baseLR: Double
    public let kind: Kind
    public let warmupSteps: Int

    public init(baseLR: Double, kind: Kind = .constant, warmupSteps: Int = 0) {
        precondition(baseLR >= 0, "LRSchedule: base learning rate must be >= 0, got \(baseLR)")
        precondition(warmupSteps >= 0, "LRSchedule: warmup steps must be >= 0, got \(warmupSteps)")
        switch kind {
        case .constant: break
        case .step(let size, _): precondition(size >= 1, "LRSchedule: step size must be >= 1 step, got \(size)")
        case .multistep(let ms, _):
            precondition(zip(ms, ms.dropFirst()).allSatisfy { $0 <= $1 }, "LRSchedule: milestones must be increasing, got \(ms)")
        case .cosine(let total, _): precondition(total >= 1, "LRSchedule: cosine needs >= 1 total step, got \(total)")
        }
        self.baseLR = baseLR; self.kind = kind; self.warmupSteps = warmupSteps
    }

    /// Converts epochs to steps with `stepsPerEpoch` (optimizer steps per epoch), rounding each
    /// milestone, step size and the warmup to the nearest step; the run has `epochs · stepsPerEpoch` steps.
    public init(baseLR: Double, epochKind: EpochKind, warmupEpochs: Double = 0, epochs: Int, stepsPerEpoch: Int) {
        precondition(stepsPerEpoch >= 1, "LRSchedule: steps per epoch must be >= 1, got \(stepsPerEpoch)")
        func steps(_ e: Double) -> Int { Int((e * Double(stepsPerEpoch)).rounded()) }
        let kind: Kind
        switch epochKind {
        case .constant: kind = .constant
        case .step(let every, let gamma): kind = .step(stepSize: Swift.max(1, steps(every)), gamma: gamma)
        case .multistep(let ms, let gamma): kind = .multistep(milestones: ms.map(steps), gamma: gamma)
        case .cosine(let minLR): kind = .cosine(totalSteps: Swift.max(1, epochs * stepsPerEpoch), minLR: minLR)
        }
        self.init(baseLR: baseLR, kind: kind, warmupSteps: steps(warmupEpochs))
    }

    /// The rate for the update number `step` (0-based), in double precision.
    public func rate(step s: Int) -> Double {
        precondition(s >= 0, "LRSchedule: step must be >= 0, got \(s)")
        let w = warmupSteps
        let warm = s < w ? Double(s + 1) / Double(w) : 1
        let main: Double
        switch kind {
        case .constant: main = baseLR
        case .step(let size, let gamma): main = baseLR * pow(gamma, Double(s / size))
        case .multistep(let ms, let gamma): main = baseLR * pow(gamma, Double(ms.lazy.filter { $0 <= s }.count))
        case .cosine(let total, let minLR):
            let span = total - w, t = Swift.max(s - w, 0)
            main = s < w ? baseLR : t >= span ? minLR
                : minLR + (baseLR - minLR) * (1 + cos(Double.pi * Double(t) / Double(span))) / 2
        }
        return warm * main
    }

    /// The rate for the update number `step` (0-based), as the optimizers take it.
    public func lr(step: Int) -> Float { Float(rate(step: step)) }
}
