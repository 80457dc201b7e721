import Foundation
import IO
import TensorCore

/// Where the PyTorch reference fixtures live and how to open them.
///
/// The fixtures are generated from the project's own reference (Tests/Reference: the PyTorch
/// models and make_fixtures.py) into `<repo>/.fixtures`, an ignored cache that `Launch/test`
/// refreshes whenever the generator or the torch version changes. `$TRAINER_FIXTURES` names
/// another folder instead. The repo root is found from this source file's path, so tests work
/// from any working directory.
public enum Fixtures {
    /// The fixtures folder (it may not exist; opening a file then fails saying how to make it).
    public static var directory: URL {
        if let env = ProcessInfo.processInfo.environment["TRAINER_FIXTURES"], !env.isEmpty {
            return URL(fileURLWithPath: env, isDirectory: true)
        }
        return repoRoot.appendingPathComponent(".fixtures", isDirectory: true)
    }

    /// The repository root: this file is <root>/Tests/TestSupport/Fixtures.swift.
    public static var repoRoot: URL {
        URL(fileURLWithPath: #filePath).resolvingSymlinksInPath().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// Tests/Reference: the PyTorch reference models (models.py) and the fixture generator.
    public static var referenceDirectory: URL { repoRoot.appendingPathComponent("Tests/Reference", isDirectory: true) }

    /// The path of fixture file `name`; throws, saying how to generate the fixtures, when absent.
    public static func url(_ name: String) throws -> URL {
        let url = directory.appendingPathComponent(name)
        guard FileManager.default.fileExists(atPath: url.path) else { throw MissingFixtures(path: url.path) }
        return url
    }

    public struct MissingFixtures: Error, CustomStringConvertible {
        public let path: String
        public var description: String {
            "\(path): fixture not found; generate the fixtures with `python3 Tests/Reference/make_fixtures.py` "
                + "(Launch/test does it when they are missing or stale) or point TRAINER_FIXTURES at a folder holding them"
        }
    }

    /// ops.h5: one group per op case (x, y, gy, gx, parameters, g<param>, f32err/...).
    public static func ops() throws -> HDF5File { try HDF5File.open(try url("ops.h5").path) }

    /// models.h5: one group per model (init, batches, logits, grads, optimizer runs, f32err/, spread/).
    public static func models() throws -> HDF5File { try HDF5File.open(try url("models.h5").path) }

    /// catalog.json decoded as a dictionary.
    public static func catalog() throws -> [String: Any] {
        let data = try Data(contentsOf: try url("catalog.json"))
        return (try JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
    }

    /// `<group>/f32err/<name>`: PyTorch's own float32 error on that check, nil when absent.
    public static func f32err(_ file: HDF5File, group: String, name: String) -> Double? {
        scalar(file, group + "/f32err/" + name)
    }

    /// `<group>/spread/<name>`: the largest error among PyTorch float32 runs in several valid
    /// summation orders (models.h5; see Tests/Reference/model_cases.py), nil when absent.
    public static func spread(_ file: HDF5File, group: String, name: String) -> Double? {
        scalar(file, group + "/spread/" + name)
    }

    private static func scalar(_ file: HDF5File, _ key: String) -> Double? {
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

/// ‖a − b‖ / ‖b‖ over whole states (every tensor of `b`, matched by name in `a`, taken
/// together), plus the tensor with the largest own error. A tensor missing from `a` or of
/// another size gives an infinite error naming it.
public func relativeError(_ a: [NamedTensor], _ b: [NamedTensor]) -> (error: Double, worst: String, worstError: Double) {
    var diff = 0.0, norm = 0.0, worst = "", worstError = -1.0
    let index = Dictionary(a.map { ($0.name, $0) }, uniquingKeysWith: { x, _ in x })
    guard index.count == b.count else { return (.infinity, "tensor names differ", .infinity) }
    for t in b {
        guard let other = index[t.name], other.shape == t.shape else { return (.infinity, t.name, .infinity) }
        var d = 0.0, n = 0.0
        for (x, y) in zip(other.values, t.values) {
            d += Double(x - y) * Double(x - y); n += Double(y) * Double(y)
        }
        diff += d; norm += n
        let own = (d / Swift.max(n, 1e-30)).squareRoot()
        if own > worstError { worstError = own; worst = t.name }
    }
    return ((diff / Swift.max(norm, 1e-30)).squareRoot(), worst, worstError)
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

/// The factor k of the spread rule: a check passes within k × the spread of PyTorch's own
/// float32 runs over valid summation orders. 10, like DESIGN.md's factor on f32err: a float32
/// implementation in yet another order (ours) may land anywhere in that spread, and an order of
/// magnitude above it is still far below what a wrong formula produces.
public let spreadFactor = 10.0

/// The pass threshold: max(DESIGN.md tolerance, 10 × PyTorch's own float32 error, k × spread).
/// The model fixtures are chosen so that the spread term rarely decides (see the spread table
/// printed by make_fixtures.py).
public func tolerance(base: Double, f32err: Double?, spread: Double? = nil) -> Double {
    max(base, 10 * (f32err ?? 0), spreadFactor * (spread ?? 0))
}
