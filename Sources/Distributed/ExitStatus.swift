/// Every exit status of the trainer's processes, in one table (the README's "Exit status" lists
/// the same). Scripts and `Launch/train --max-restarts` decide from these numbers.
public enum ExitStatus {
    /// The run finished, or the command did what it was asked.
    public static let success: Int32 = 0
    /// Bad input, an I/O error or any other failure on some rank, reported in one line.
    public static let failure: Int32 = 1
    /// MPI could not be started (not installed, or the launcher's environment is broken).
    public static let mpiUnavailable: Int32 = 2
    /// A non-finite loss or gradient stopped the run; no checkpoint holds that state.
    public static let nonFinite: Int32 = 3
    /// A blocking collective stayed open past `train.collective_timeout` (a rank died or hung).
    public static let collectiveTimeout: Int32 = 4
    /// An MPI call returned an error.
    public static let mpiError: Int32 = 5
    /// Stopped on request by `signal` (SIGTERM 143, SIGINT 130, SIGUSR1 138) after writing a
    /// checkpoint, as shells report a process ended by that signal.
    public static func stopped(by signal: Int32) -> Int32 { 128 + signal }
}
