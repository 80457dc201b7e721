import Foundation
import IO
import TensorCore

/// Where the PyTorch reference fixtures live and how to open them.
///
/// Looks in `$TRAINER_FIXTURES` first, else `<repo>/../shared/fixtures` (the repo root is found
/// from this source file's path, so tests work from any working directory).
public enum Fixtures {
    /// The fixtures folder (it may not exist; opening a file then fails with a clear message).
    public static var directory: URL {
        if let env = ProcessInfo.processInfo.environment["TRAINER_FIXTURES"], !env.isEmpty {
            return URL(fileURLWithPath: env, isDirectory: true)
        }
        return repoRoot.deletingLastPathComponent().appendingPathComponent("shared/fixtures", isDirectory: true)
    }

    /// The repository root: this file is <root>/Tests/TestSupport/Fixtures.swift.
    public static var repoRoot: URL {
        URL(fileURLWithPath: #filePath).resolvingSymlinksInPath().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    public static func url(_ name: String) -> URL { directory.appendingPathComponent(name) }

    /// ops.h5: one group per op case (x, y, gy, gx, parameters, g<param>, f32err/...).
    public static func ops() throws -> HDF5File { try HDF5File.open(url("ops.h5").path) }

    /// models.h5: one group per model (init, batches, logits, grads, optimizer runs, f32err/...).
    public static func models() throws -> HDF5File { try HDF5File.open(url("models.h5").path) }

    /// catalog.json decoded as a dictionary.
    public static func catalog() throws -> [String: Any] {
        let data = try Data(contentsOf: url("catalog.json"))
        return (try JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
    }

    /// `<group>/f32err/<name>`: PyTorch's own float32 error on that check, nil when absent.
    public static func f32err(_ file: HDF5File, group: String, name: String) -> Double? {
        let key = group + "/f32err/" + name
        guard file.contains(key) else { return nil }
        return try? file.readScalar(key, as: Double.self)
    }
}

/// ‖a − b‖ / ‖b‖ computed in Double (‖a − b‖ when b is zero). Counts must match.
public func relativeError(_ a: [Float], _ b: [Float]) -> Double {
    a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in relativeError(pa, pb) } }
}

/// Same for a tensor's elements against a reference array.
public func relativeError(_ a: Tensor, _ b: [Float]) -> Double {
    b.withUnsafeBufferPointer { relativeError(UnsafeBufferPointer(a.buffer), $0) }
}

public func relativeError(_ a: UnsafeBufferPointer<Float>, _ b: UnsafeBufferPointer<Float>) -> Double {
    precondition(a.count == b.count, "relativeError: \(a.count) vs \(b.count) elements")
    var diff = 0.0, ref = 0.0
    for i in 0..<a.count {
        let d = Double(a[i]) - Double(b[i])
        diff += d * d
        ref += Double(b[i]) * Double(b[i])
    }
    return ref > 0 ? (diff / ref).squareRoot() : diff.squareRoot()
}

/// The pass threshold of DESIGN.md: max(base tolerance, 10 × PyTorch's own float32 error).
public func tolerance(base: Double, f32err: Double?) -> Double {
    max(base, 10 * (f32err ?? 0))
}
