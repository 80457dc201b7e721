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

/// SIGTERM / SIGINT / SIGUSR1 (Slurm preemption, Ctrl-C, a scheduler's warning): recorded,
/// then acted on at the next step boundary by every rank together (finish the step, write a
/// checkpoint, exit 128+signal: 143, 130, 138).
///
/// Under Open MPI's mpirun (4.1.4, measured in Tests/TrainingTests/ResumeTests): SIGUSR1 sent
/// to mpirun is forwarded to every rank at once — they stop as above and exit 138, and so does
/// mpirun: the way to stop an mpirun job. A SIGTERM or SIGINT sent to mpirun instead starts its
/// teardown: it stops forwarding the ranks' output, sends them SIGCONT, sends SIGTERM only
/// `odls_base_sigkill_timeout` seconds later (default 1), and SIGKILL as long after that; mpirun
/// exits 1. With the default the ranks have 1 s — too little for a step and a checkpoint — so
/// raise it to more than a step plus a checkpoint write (`mpirun --mca odls_base_sigkill_timeout
/// 120`, or OMPI_MCA_odls_base_sigkill_timeout=120 in mpirun's environment) or use SIGUSR1.
/// Slurm: with `srun` as the launcher every rank receives the SIGTERM itself (scancel, time
/// limit) and has KillWait (30 s by default) to stop; `#SBATCH --signal=USR1@300` sends SIGUSR1
/// to the ranks 5 minutes before the time limit. With mpirun inside a batch script, ask for the
/// warning on the batch shell and forward it to mpirun:
/// `#SBATCH --signal=B:USR1@300`, then `mpirun ... & pid=$!; trap 'kill -USR1 $pid' USR1;
/// wait $pid; wait $pid` (the first wait returns when the trap fires).
public enum StopSignal {
    nonisolated(unsafe) private static var value: Int32 = 0

    public static var received: Int32 { value }

    public static func install() {
        signal(SIGTERM) { StopSignal.value = $0 }
        signal(SIGINT) { StopSignal.value = $0 }
        signal(SIGUSR1) { StopSignal.value = $0 }
    }
}
