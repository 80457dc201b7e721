import Foundation
import Distributed
import IO
import TensorCore

/// Deliberate failures for the failure tests (Tests/TrainingTests/FailureTests.swift), so that
/// "one rank fails, the job still ends at once with one line" can be shown without waiting for
/// a real disk error or a real crash. Read from ONE environment variable, here and nowhere else:
///
///     TRAINER_FAULT="rank=1,step=3,kind=read"
///
/// At global step `step` (0-based: the step messages name), rank `rank` (every rank when left
/// out) does `kind` once, right after loading its slice of the batch:
///
///     read   throws the error a failed read of its shard would (an IOError naming the data file)
///     stall  stops making progress, so the other ranks wait in the step's gradient all-reduce
///            until train.collective_timeout (the watchdog case)
///     nan    writes a NaN into its input batch: a non-finite loss on that rank only
///     exit   exits with status 1 without telling MPI (a rank that silently disappears)
///     segv   raises SIGSEGV (a crash; FatalSignals names the rank)
///     trap   fatalError, the way a failed precondition ends a process
///
/// Unset, it costs one nil check per step. Users never need it.
public struct FaultInjection: Sendable, Equatable {
    public enum Kind: String, CaseIterable, Sendable { case read, stall, nan, exit, segv, trap }

    public static let variable = "TRAINER_FAULT"

    public let kind: Kind
    /// The failing rank; nil: every rank.
    public let rank: Int?
    /// The global step (0-based) at which it fails.
    public let step: Int

    public init(kind: Kind, rank: Int?, step: Int) {
        self.kind = kind; self.rank = rank; self.step = step
    }

    /// Parses "rank=1,step=3,kind=read" (any order; rank optional).
    public static func parse(_ text: String) throws -> FaultInjection {
        var kind: Kind?, rank: Int?, step: Int?
        for item in text.split(separator: ",") {
            let parts = item.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2 else { throw problem(text, "'\(item)' is not key=value") }
            switch parts[0] {
            case "kind":
                guard let k = Kind(rawValue: parts[1]) else {
                    throw problem(text, "kind '\(parts[1])' is not one of \(Kind.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                kind = k
            case "rank":
                guard let r = Int(parts[1]), r >= 0 else { throw problem(text, "rank '\(parts[1])' is not a rank number") }
                rank = r
            case "step":
                guard let s = Int(parts[1]), s >= 0 else { throw problem(text, "step '\(parts[1])' is not a step number") }
                step = s
            default:
                throw problem(text, "unknown key '\(parts[0])' (expected rank, step, kind)")
            }
        }
        guard let kind else { throw problem(text, "kind is missing") }
        guard let step else { throw problem(text, "step is missing") }
        return FaultInjection(kind: kind, rank: rank, step: step)
    }

    private static func problem(_ text: String, _ why: String) -> TrainingError {
        TrainingError("\(variable)=\(text): \(why) (expected e.g. rank=1,step=3,kind=read)")
    }

    /// The process's fault, from the environment once; nil when unset or empty.
    nonisolated(unsafe) private static var parsed: Result<FaultInjection?, TrainingError> = {
        guard let text = ProcessInfo.processInfo.environment[variable], !text.isEmpty else { return .success(nil) }
        do { return .success(try parse(text)) } catch { return .failure(error as! TrainingError) }
    }()
    nonisolated(unsafe) private static var fired = false

    /// Fails with one line when TRAINER_FAULT is set but malformed (checked at start-up).
    public static func checkEnvironment() throws { _ = try parsed.get() }

    /// The fault still to come in this process, if any.
    static var pending: FaultInjection? {
        guard !fired, case .success(let f?) = parsed else { return nil }
        return f
    }

    /// Called by StepRunner on every rank after the first micro-batch of `step` is loaded into
    /// `input` (B, C, H, W); does the fault when it is this rank's and this step's.
    static func atStep(_ step: Int, rank: Int, input: Tensor, dataPath: String) throws {
        guard let f = pending, f.step == step, f.rank == nil || f.rank == rank else { return }
        fired = true
        let origin = "injected by \(variable) at step \(step)"
        switch f.kind {
        case .read:
            throw IOError(file: dataPath, key: "/train/images", "cannot read this rank's samples (\(origin))")
        case .stall:
            while true { sleep(1) }   // never returns: the other ranks' watchdogs end the job
        case .nan:
            input.data[0] = .nan
        case .exit:
            printError("rank \(rank): exiting without MPI_Abort (\(origin))")
            exit(ExitStatus.failure)
        case .segv:
            raise(SIGSEGV)
        case .trap:
            fatalError("rank \(rank): failed precondition (\(origin))")
        }
    }
}
