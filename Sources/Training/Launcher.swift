import Distributed
import Foundation
import TensorCore

/// Top-level plumbing of a training process: MPI start-up, stop signals, and the rule that any
/// failure on any rank ends the whole job with one line and a non-zero status.
public enum Launcher {
    /// Runs a training job on this rank and returns the process exit status (`ExitStatus`).
    /// `stopAtStep` stops like SIGTERM after that global step (tests of exact resume use it).
    public static func runTraining(configPath: String, overrides: [String], forceResume: Bool = false,
                                   stopAtStep: Int? = nil) -> Int32 {
        StopSignal.install()
        return runCollective { comm in
            try FaultInjection.checkEnvironment()
            let trainer = try Trainer(configPath: configPath, overrides: overrides, forceResume: forceResume,
                                      communicator: comm)
            let finished = try trainer.run(stopRequested: {
                StopSignal.received != 0 || stopAtStep.map { trainer.cursor.globalStep >= $0 } == true
            })
            if finished { return ExitStatus.success }
            return StopSignal.received != 0 ? ExitStatus.stopped(by: StopSignal.received) : ExitStatus.success
        }
    }

    /// Runs `body` on every rank of an MPI job and returns the process exit status (`body`'s on
    /// success): a `CollectiveStop` is reported once and every rank exits cleanly; any other
    /// error aborts the whole job, naming this rank.
    public static func runCollective(_ body: (Communicator) throws -> Int32) -> Int32 {
        let comm = jobCommunicator()
        FatalSignals.install(rank: comm.rank)
        do {
            let status = try body(comm)
            comm.shutdown()
            return status
        } catch let stop as CollectiveStop {
            if comm.rank == stop.reporter { printError("trainer: \(stop.description)") }
            comm.shutdown()
            return stop.code
        } catch {
            comm.abort(code: ExitStatus.failure, message: "\(error)")
        }
    }

    /// Runs a single-process command body: an error becomes one line on stderr and exit 1.
    public static func guarded<T>(_ body: () throws -> T) rethrows -> T {
        do { return try body() } catch {
            printError("trainer: \(error)")
            exit(ExitStatus.failure)
        }
    }
}

/// SIGTERM / SIGINT / SIGUSR1: recorded here, acted on at the next step boundary by every rank
/// together (checkpoint, then `ExitStatus.stopped(by:)`). What mpirun and Slurm do with each
/// signal is in docs/stopping.md.
public enum StopSignal {
    nonisolated(unsafe) private static var value: Int32 = 0

    public static var received: Int32 { value }

    public static func install() {
        signal(SIGTERM) { StopSignal.value = $0 }
        signal(SIGINT) { StopSignal.value = $0 }
        signal(SIGUSR1) { StopSignal.value = $0 }
    }
}
