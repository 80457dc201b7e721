import Foundation
import TensorCore

/// Checkpoint files in the DESIGN.md layout, readable with plain h5py:
///
///     /model/<state_dict key>          float32 (N-d), or int64 scalar for num_batches_tracked
///     /optimizer/<state_dict key>/<slot>   float32 (momentum_buffer, exp_avg, exp_avg_sq)
///     root attributes: format = "trainer-checkpoint", version, step, epoch, samples_seen,
///                      world_size, global_batch, seed, config, config_sha256, checksum,
///                      complete = 1, created (ISO 8601), plus the metadata's extras
///
/// `checksum` = "sha256:" + hex SHA-256 over every dataset under /model and /optimizer, in
/// order of their path without the leading slash ("model/fc.weight",
/// "optimizer/fc.weight/momentum_buffer") compared as UTF-8 bytes; for each: the path bytes, one
/// zero byte, then the element bytes as stored (little-endian float32 or int64). In Python:
///     for k in sorted(keys, key=str.encode): h.update(k.encode() + b"\0" + f[k][()].tobytes())
///
/// Writing is atomic: `<path>.tmp` is written and closed, fsynced, renamed to `<path>`, and the
/// directory fsynced; `complete = 1` is the last attribute written. A checkpoint is valid only
/// if it opens, carries the format, complete = 1 and a matching checksum.
public enum CheckpointFile {
    public static let format = "trainer-checkpoint"
    public static let version: Int64 = 1
    static let reserved: Set<String> = ["format", "version", "step", "epoch", "samples_seen", "world_size",
                                        "global_batch", "seed", "config", "config_sha256", "checksum",
                                        "complete", "created"]

    /// Writes `checkpoint` atomically to `path`. On any failure the temporary file is removed
    /// and one line naming the file and the problem is thrown.
    public static func write(_ checkpoint: Checkpoint, to path: String) throws {
        let tmp = path + ".tmp"
        do {
            try writeUnsafely(checkpoint, to: tmp)
            try FileSystem.replace(tmp, with: path)
        } catch {
            try? FileManager.default.removeItem(atPath: tmp)
            if let e = error as? IOError {
                let inner = e.message.hasPrefix(tmp + ": ") ? String(e.message.dropFirst(tmp.count + 2)) : e.message
                throw IOError(file: path, "cannot write checkpoint: \(inner)")
            }
            throw IOError(file: path, "cannot write checkpoint: \(error)")
        }
    }

    private static func writeUnsafely(_ c: Checkpoint, to path: String) throws {
        var seen = Set<String>()
        for t in c.model { guard seen.insert(t.name).inserted else { throw IOError(file: path, key: t.name, "duplicate model key") } }
        for k in c.counters.keys { guard seen.insert(k).inserted else { throw IOError(file: path, key: k, "duplicate model key") } }
        for t in c.optimizer {
            let parts = t.name.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw IOError(file: path, key: t.name, "optimizer slot names must be \"<key>/<slot>\"")
            }
        }
        for name in c.model.map(\.name) + Array(c.counters.keys) where name.isEmpty || name.contains("/") || name == "." {
            throw IOError(file: path, key: name, "model keys must be non-empty and contain no '/'")
        }

        let f = try HDF5File.create(path)
        try f.createGroup("model")
        try f.createGroup("optimizer")
        for t in c.model { try f.write("model/\(t.name)", t.values, shape: t.shape) }
        for (k, v) in c.counters { try f.writeScalar("model/\(k)", v) }
        for t in c.optimizer { try f.write("optimizer/\(t.name)", t.values, shape: t.shape) }

        let m = c.metadata
        try f.setAttribute("format", format)
        try f.setAttribute("version", version)
        try f.setAttribute("step", m.step)
        try f.setAttribute("epoch", m.epoch)
        try f.setAttribute("samples_seen", m.samplesSeen)
        try f.setAttribute("world_size", m.worldSize)
        try f.setAttribute("global_batch", m.globalBatch)
        try f.setAttribute("seed", Int64(bitPattern: m.seed))
        try f.setAttribute("config", m.config)
        try f.setAttribute("config_sha256", SHA256.hex(m.config))
        try f.setAttribute("created", ISO8601DateFormatter().string(from: Date()))
        for (k, v) in m.extraInts { try f.setAttribute(try extraName(k, path), v) }
        for (k, v) in m.extraDoubles { try f.setAttribute(try extraName(k, path), v) }
        for (k, v) in m.extraStrings { try f.setAttribute(try extraName(k, path), v) }
        try f.setAttribute("checksum", checksum(model: c.model, counters: c.counters, optimizer: c.optimizer))
        try f.flush()
        try f.setAttribute("complete", Int64(1))
        try f.close()
    }

    private static func extraName(_ k: String, _ path: String) throws -> String {
        guard !reserved.contains(k), !k.isEmpty else { throw IOError(file: path, key: "@" + k, "extra attribute name is reserved or empty") }
        return k
    }

    /// Reads a checkpoint; with `verify` (default) fails unless format, complete = 1 and the
    /// checksum match. Model tensors and optimizer slots come back in key order.
    public static func read(_ path: String, verify: Bool = true) throws -> Checkpoint {
        let f = try HDF5File.open(path)
        let metadata = try readMetadata(f, requireComplete: verify)
        var model: [NamedTensor] = [], counters: [String: Int64] = [:], optimizer: [NamedTensor] = []
        guard f.isGroup("model") else { throw IOError(file: path, key: "/model", "not found (not a trainer checkpoint?)") }
        for k in try f.keys("model") {
            let key = "model/\(k)"
            let t = try f.storedType(key)
            switch t.kind {
            case .float: model.append(NamedTensor(name: k, shape: try f.shape(key), values: try f.readFloats(key)))
            case .integer: counters[k] = try f.readScalar(key, as: Int64.self)
            default: throw IOError(file: path, key: "/" + key, "holds \(t), expected float32 or int64")
            }
        }
        if f.isGroup("optimizer") {
            for k in try f.keys("optimizer") {
                for s in try f.keys("optimizer/\(k)") {
                    let key = "optimizer/\(k)/\(s)"
                    optimizer.append(NamedTensor(name: "\(k)/\(s)", shape: try f.shape(key), values: try f.readFloats(key)))
                }
            }
        }
        if verify {
            let stored = try f.stringAttribute("checksum")
            let computed = checksum(model: model, counters: counters, optimizer: optimizer)
            guard stored == computed else {
                throw IOError(file: path, "checksum mismatch (stored \(stored.prefix(23))..., computed \(computed.prefix(23))...): corrupt checkpoint")
            }
        }
        return Checkpoint(metadata: metadata, model: model, counters: counters, optimizer: optimizer)
    }

    /// Only the root attributes (cheap: no tensor is read). Fails unless format and, with
    /// `requireComplete`, complete = 1 are present.
    public static func readMetadata(_ path: String, requireComplete: Bool = true) throws -> CheckpointMetadata {
        try readMetadata(HDF5File.open(path), requireComplete: requireComplete)
    }

    /// Full validation (opens, format, complete = 1, checksum); throws the reason as one line.
    public static func validate(_ path: String) throws { _ = try read(path, verify: true) }

    static func readMetadata(_ f: HDF5File, requireComplete: Bool) throws -> CheckpointMetadata {
        guard f.hasAttribute("format"), (try? f.stringAttribute("format")) == format else {
            throw IOError(file: f.path, "not a trainer checkpoint (root attribute format != \"\(format)\")")
        }
        let v = try f.intAttribute("version")
        guard v <= version else { throw IOError(file: f.path, key: "@version", "checkpoint version \(v) is newer than this trainer (\(version))") }
        if requireComplete {
            guard f.hasAttribute("complete"), (try? f.intAttribute("complete")) == 1 else {
                throw IOError(file: f.path, "incomplete checkpoint (no complete = 1): the writer was interrupted")
            }
        }
        var m = CheckpointMetadata()
        m.step = Int(try f.intAttribute("step"))
        m.epoch = Int(try f.intAttribute("epoch"))
        m.samplesSeen = Int(try f.intAttribute("samples_seen"))
        m.worldSize = Int(try f.intAttribute("world_size"))
        m.globalBatch = Int(try f.intAttribute("global_batch"))
        m.seed = UInt64(bitPattern: try f.intAttribute("seed"))
        m.config = try f.stringAttribute("config")
        m.configSHA256 = try f.stringAttribute("config_sha256")
        m.created = try f.stringAttribute("created")
        for name in try f.attributeNames() where !reserved.contains(name) {
            let t = try f.attributeType(name)
            switch t.kind {
            case .integer: m.extraInts[name] = try f.intAttribute(name)
            case .float: m.extraDoubles[name] = try f.doubleAttribute(name)
            case .string: m.extraStrings[name] = try f.stringAttribute(name)
            case .other: continue
            }
        }
        return m
    }

    /// "sha256:<hex>" over the tensors (see the type's documentation for the byte stream).
    public static func checksum(model: [NamedTensor], counters: [String: Int64], optimizer: [NamedTensor]) -> String {
        enum Item { case floats([Float]), int(Int64) }
        var items: [(key: [UInt8], item: Item)] = []
        for t in model { items.append((Array("model/\(t.name)".utf8), .floats(t.values))) }
        for (k, v) in counters { items.append((Array("model/\(k)".utf8), .int(v))) }
        for t in optimizer { items.append((Array("optimizer/\(t.name)".utf8), .floats(t.values))) }
        items.sort { $0.key.lexicographicallyPrecedes($1.key) }
        var h = SHA256()
        for (key, item) in items {
            h.update(key)
            h.update([0])
            switch item {
            case .floats(let v): v.withUnsafeBytes { h.update($0) }      // little-endian on every supported host
            case .int(let x): withUnsafeBytes(of: x.littleEndian) { h.update($0) }
            }
        }
        return "sha256:" + SHA256.hex(digest: h.finalize())
    }
}
