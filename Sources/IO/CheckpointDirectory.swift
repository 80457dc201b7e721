import Foundation
import TensorCore

/// The checkpoint folder of a run: `ckpt-<step>.h5` files (plus at most one `.tmp` being
/// written). Finds the latest valid checkpoint for resuming and prunes old ones.
public struct CheckpointDirectory: Sendable {
    public let path: String

    public init(_ path: String) { self.path = path }

    public static func fileName(step: Int) -> String { "ckpt-\(step).h5" }

    public func filePath(step: Int) -> String { (path as NSString).appendingPathComponent(Self.fileName(step: step)) }

    /// `ckpt-<step>.h5` files (not `.tmp`), sorted by step ascending. A missing folder is empty.
    public func list() throws -> [(step: Int, path: String)] {
        guard FileManager.default.fileExists(atPath: path) else { return [] }
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: path) } catch {
            throw IOError(file: path, "cannot list checkpoint folder")
        }
        return names.compactMap { name -> (Int, String)? in
            guard name.hasPrefix("ckpt-"), name.hasSuffix(".h5"),
                  let step = Int(name.dropFirst(5).dropLast(3)), step >= 0 else { return nil }
            return (step, (path as NSString).appendingPathComponent(name))
        }.sorted { $0.0 < $1.0 }
    }

    /// Writes `checkpoint` atomically as `ckpt-<metadata.step>.h5` (creating the folder) and
    /// returns its path. Pruning is separate, so it happens only after this one is complete.
    @discardableResult
    public func write(_ checkpoint: Checkpoint) throws -> String {
        do { try FileSystem.makeFolders(path) } catch {
            throw IOError(file: path, "cannot create checkpoint folder (\(error))")
        }
        let p = filePath(step: checkpoint.metadata.step)
        try CheckpointFile.write(checkpoint, to: p)
        return p
    }

    /// The newest checkpoint that fully validates (opens, complete = 1, checksum). Each newer
    /// invalid one is reported through `warn` in one line and skipped. Nil when none is valid.
    public func latestValid(warn: (String) -> Void = printError) throws -> (step: Int, path: String)? {
        for entry in try list().reversed() {
            do {
                try CheckpointFile.validate(entry.path)
                return entry
            } catch {
                warn("warning: skipping invalid checkpoint \(error)")
            }
        }
        return nil
    }

    /// Deletes old checkpoints so that the newest `keep` complete ones remain: every
    /// `ckpt-*.h5` (and stale `.tmp`) older than the oldest kept one is removed. Files newer than
    /// the newest complete one are never touched, so nothing is deleted before its successor is
    /// complete. Completeness here is the `complete = 1` attribute (cheap: no checksum pass).
    /// Returns the removed paths.
    @discardableResult
    public func prune(keep: Int) throws -> [String] {
        precondition(keep >= 1, "CheckpointDirectory.prune: keep must be >= 1, got \(keep)")
        let all = try list()
        let complete = all.filter { (try? CheckpointFile.readMetadata($0.path, requireComplete: true)) != nil }
        guard complete.count > keep else { return [] }
        let oldestKept = complete[complete.count - keep].step
        var removed: [String] = []
        for entry in all where entry.step < oldestKept {
            do { try FileManager.default.removeItem(atPath: entry.path) } catch {
                throw IOError(file: entry.path, "cannot delete old checkpoint")
            }
            removed.append(entry.path)
        }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        for name in names where name.hasPrefix("ckpt-") && name.hasSuffix(".h5.tmp") {
            if let step = Int(name.dropFirst(5).dropLast(7)), step < oldestKept {
                let p = (path as NSString).appendingPathComponent(name)
                try? FileManager.default.removeItem(atPath: p)
                removed.append(p)
            }
        }
        return removed
    }
}
