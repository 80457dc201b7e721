import Config
import Distributed
import Foundation
import IO

/// The run directory (checkpoint.dir) as a job sees it: locked by rank 0 for the job's life
/// (one job per directory), and given the run's effective config as `config.yaml`.
final class RunDirectory {
    let path: String
    /// Rank 0's lock; nil on the other ranks.
    private let lock: RunDirectoryLock?

    /// Takes the lock on rank 0, creating the folder; every rank learns whether that worked.
    init(config: RunConfig, communicator comm: Communicator) throws {
        path = config.checkpoint.dir
        let host = comm.hostname
        lock = try comm.agree("locking the run directory") { () -> RunDirectoryLock? in
            guard comm.isRoot else { return nil }
            let lock: RunDirectoryLock
            do { lock = try RunDirectoryLock(folder: config.checkpoint.dir, host: host) } catch let e as IOError {
                throw TrainingError("\(config.file): checkpoint.dir: \(e)")
            }
            if let stale = lock.staleHolder {
                print("note: \(lock.path): taking over the stale lock of \(stale), which is no longer running"); fflush(nil)
            }
            return lock
        }
    }

    /// Writes the effective config (defaults filled in, every key) as `config.yaml`, atomically,
    /// on rank 0; every rank learns whether that worked. `trainer train <dir>/config.yaml` reruns the run.
    func writeConfig(_ config: RunConfig, _ comm: Communicator) throws {
        let file = (path as NSString).appendingPathComponent("config.yaml")
        let text = "# Effective config of this run (every key, defaults filled in), written at its start.\n" + config.canonicalText
        try comm.agree("writing config.yaml") {
            guard lock != nil else { return }
            do { try text.write(toFile: file, atomically: true, encoding: .utf8) } catch {
                throw TrainingError("\(file): cannot write the run's config: \(error.localizedDescription)")
            }
        }
    }

    /// Drops the lock and removes the lock file (also when the job object goes away).
    func release() { lock?.release() }
}
