import TensorCore
/// Where a config value came from: a line of a file, or a `--set` override.
public enum ConfigOrigin: Sendable, Equatable {
    case file(String, line: Int)
    /// `--set section.key=value`; the associated value is `section.key`.
    case override(String)
}

/// A bad config, as one line a user can act on:
///
///     configs/x.cfg:7: optimizer.lrr: unknown key (did you mean 'lr'?)
///     --set train.epochs: expected an integer, got 'abc'
public struct ConfigError: Error, CustomStringConvertible, Equatable, Sendable {
    public let origin: ConfigOrigin
    /// Dotted key path ("optimizer.lr", "model.layers[2].conv.kernel"); empty for whole-file problems.
    public let key: String
    public let problem: String

    public init(_ origin: ConfigOrigin, key: String, _ problem: String) {
        self.origin = origin; self.key = key; self.problem = problem
    }

    /// The file name, or "--set" for an override.
    public var file: String {
        if case .file(let f, _) = origin { return f }
        return "--set"
    }

    /// The 1-based line, nil for an override.
    public var line: Int? {
        if case .file(_, let l) = origin { return l }
        return nil
    }

    public var description: String {
        switch origin {
        case .file(let f, let line):
            let at = line > 0 ? "\(f):\(line)" : f
            return key.isEmpty ? "\(at): \(problem)" : "\(at): \(key): \(problem)"
        case .override(let path): return "--set \(key.isEmpty ? path : key): \(problem)"
        }
    }
}

/// Nearest-name suggestions for misspelt keys and values.
enum Suggest {
    /// The candidate closest to `word` when it is close enough to be a likely typo
    /// (distance ≤ max(2, length / 3)), or one that `word` is a prefix of.
    static func nearest(_ word: String, in candidates: [String]) -> String? {
        let w = word.lowercased()
        let scored = candidates.map { (c: $0, d: editDistance(w, $0)) }
        guard let best = scored.min(by: { $0.d < $1.d }) else { return nil }
        if best.d <= Swift.max(2, w.count / 3) { return best.c }
        return candidates.first { w.count >= 3 && $0.lowercased().hasPrefix(w) }
    }

    /// " (did you mean 'x'?)" or " (expected one of: a, b, c)".
    static func hint(_ word: String, in candidates: [String], listLabel: String = "expected one of") -> String {
        if let n = nearest(word, in: candidates) { return " (did you mean '\(n)'?)" }
        return " (\(listLabel): \(candidates.joined(separator: ", ")))"
    }
}
