import Foundation

/// A value as it is written back out: one line, or the lines of a block list.
enum Rendered: Equatable {
    case inline(String)
    case block([String])
}

/// Every effective key in reading order, with its value and whether it came from a default:
/// the canonical text and the start-up listing are printed from it.
final class EffectiveLog {
    struct Item {
        let path: [String]
        let value: Rendered
        let defaulted: Bool
        /// What a default means when its value alone does not say (e.g. "from the dataset").
        let note: String?
    }
    private(set) var items: [Item] = []
    /// Problems that do not stop the run (a file key left unused by a `--set`), one line each.
    private(set) var warnings: [String] = []
    func warn(_ line: String) { warnings.append(line) }
    func record(_ path: [String], _ value: Rendered, defaulted: Bool, note: String? = nil) {
        items.append(Item(path: path, value: value, defaulted: defaulted, note: note))
    }
}

/// Reads one mapping of the config (a section, `data.augment`, a layer's fields): checks its
/// keys against the allowed ones, converts values with line-accurate errors, and records
/// what it read (with defaults) in the log.
final class MappingReader {
    let path: [String]
    let origin: ConfigOrigin
    private let entries: [ConfigNode.Entry]
    private var used = Set<String>()
    private let log: EffectiveLog?

    /// `node` nil or null reads as an empty mapping; `origin` is where the mapping is named
    /// (the section's line), which errors about absent keys point at.
    init(_ node: ConfigNode?, path: [String], origin: ConfigOrigin, allowed: [String], log: EffectiveLog?) throws {
        self.path = path; self.log = log
        self.origin = origin
        if let node, !node.isNull {
            guard case .mapping(let entries) = node.kind else {
                throw ConfigError(node.origin, key: path.joined(separator: "."), "expected a mapping of keys, got \(node.display)")
            }
            self.entries = entries
        } else {
            self.entries = []
        }
        for e in entries where !allowed.contains(e.key) {
            let hint = allowed.isEmpty ? " ('\(path.last ?? "")' takes no keys)" : Suggest.hint(e.key, in: allowed, listLabel: "valid keys")
            throw ConfigError(e.origin, key: keyPath(e.key), "unknown key" + hint)
        }
    }

    func keyPath(_ key: String) -> String { (path + [key]).joined(separator: ".") }

    /// The key's value node, nil when absent or null (null means "use the default").
    func node(_ key: String) -> ConfigNode? {
        used.insert(key)
        guard let e = entries.first(where: { $0.key == key }), !e.value.isNull else { return nil }
        return e.value
    }

    func isGiven(_ key: String) -> Bool { entries.contains { $0.key == key && !$0.value.isNull } }

    /// Where the key's value is, or the mapping itself when the key is absent.
    func origin(of key: String) -> ConfigOrigin {
        entries.first { $0.key == key }.map { $0.value.isNull ? $0.origin : $0.value.origin } ?? origin
    }

    func error(_ key: String, _ problem: String) -> ConfigError {
        ConfigError(origin(of: key), key: keyPath(key), problem)
    }

    /// Fails on the first of `keys` that is given: keys valid in the section but meaningless
    /// with the chosen settings (momentum with Adam, growth with a ResNet). When the setting
    /// that chose (`decidedBy`) came from a `--set` and the key from the file, the key is only
    /// a warning: switching from the command line (`--set schedule.name=constant`) leaves the
    /// file's keys of the old choice behind, and that is the point of the override.
    func forbid(_ keys: [String], because reason: String, decidedBy: String = "name") throws {
        let overridden: Bool
        if case .override = origin(of: decidedBy) { overridden = isGiven(decidedBy) } else { overridden = false }
        for e in entries where keys.contains(e.key) && !e.value.isNull {
            let error = ConfigError(e.origin, key: keyPath(e.key), "not used \(reason)")
            guard overridden, case .file = e.origin, let log else { throw error }
            log.warn("\(error) (chosen by --set \(keyPath(decidedBy))); ignored")
        }
        used.formUnion(keys)
    }

    /// Fails on any given key that nothing read (a key forgotten by `forbid`).
    func finish() throws {
        for e in entries where !used.contains(e.key) && !e.value.isNull {
            throw ConfigError(e.origin, key: keyPath(e.key), "not used with these settings")
        }
    }

    /// Reads `key` with `parse`, or takes `fallback` when absent; `check` returns a problem
    /// text for an out-of-range value. Records the result.
    func read<T>(_ key: String, default fallback: T?, note: String? = nil,
                 _ parse: (ConfigNode) throws -> T, render: (T) -> Rendered,
                 check: (T) -> String? = { _ in nil }) throws -> T? {
        if let n = node(key) {
            let v: T
            do { v = try parse(n) } catch let p as Problem { throw error(key, p.text) }
            if let problem = check(v) { throw error(key, problem) }
            log?.record(path + [key], render(v), defaulted: false)
            return v
        }
        log?.record(path + [key], fallback.map(render) ?? .inline("null"), defaulted: true, note: note)
        return fallback
    }

    /// As `read` for a key with a default (or a required one, `fallback` nil ⇒ error when absent).
    func value<T>(_ key: String, default fallback: T?, note: String? = nil,
                  _ parse: (ConfigNode) throws -> T, render: (T) -> Rendered,
                  check: (T) -> String? = { _ in nil }) throws -> T {
        if fallback == nil && node(key) == nil { throw error(key, "missing (required)") }
        return try read(key, default: fallback, note: note, parse, render: render, check: check)!
    }

    // Typed shorthands.
    func int(_ key: String, default d: Int?, min: Int? = nil, note: String? = nil) throws -> Int {
        try value(key, default: d, note: note, Scalar.int, render: Scalar.render, check: { v in
            min.flatMap { v < $0 ? "must be >= \($0), got \(v)" : nil } })
    }
    func double(_ key: String, default d: Double?, check: @escaping (Double) -> String? = { _ in nil }) throws -> Double {
        try value(key, default: d, Scalar.double, render: Scalar.render, check: check)
    }
    func bool(_ key: String, default d: Bool) throws -> Bool {
        try value(key, default: d, Scalar.bool, render: Scalar.render)
    }
    func string(_ key: String, default d: String?, note: String? = nil) throws -> String {
        try value(key, default: d, note: note, Scalar.string, render: Scalar.render, check: { $0.isEmpty ? "must not be empty" : nil })
    }
    /// One of `E`'s raw values; a misspelling gets the nearest valid one suggested.
    func choice<E: RawRepresentable & CaseIterable>(_ key: String, default d: E?, what: String) throws -> E where E.RawValue == String {
        try value(key, default: d, { n in
            let s = try Scalar.string(n)
            guard let v = E(rawValue: s) else {
                throw Problem("unknown \(what) '\(s)'" + Suggest.hint(s, in: E.allCases.map(\.rawValue)))
            }
            return v
        }, render: { Scalar.render($0.rawValue) })
    }
}

/// A conversion problem without its location; the reader adds file, line and key.
struct Problem: Error {
    let text: String
    init(_ text: String) { self.text = text }
}

/// Scalar conversions and their canonical rendering.
enum Scalar {
    static func text(_ n: ConfigNode) -> (String, plain: Bool)? {
        if case .scalar(let s, let plain) = n.kind { return (s, plain) }
        return nil
    }

    static func int(_ n: ConfigNode) throws -> Int {
        guard case let (s, plain)? = text(n), plain, let v = Int(s.replacingOccurrences(of: "_", with: "")) else {
            throw Problem("expected an integer, got \(n.display)")
        }
        return v
    }

    static func double(_ n: ConfigNode) throws -> Double {
        guard case let (s, plain)? = text(n), plain, let v = Double(s.replacingOccurrences(of: "_", with: "")), v.isFinite else {
            throw Problem("expected a number, got \(n.display)")
        }
        return v
    }

    static func bool(_ n: ConfigNode) throws -> Bool {
        if case let (s, true)? = text(n) {
            switch s.lowercased() {
            case "true", "yes", "on": return true
            case "false", "no", "off": return false
            default: break
            }
        }
        throw Problem("expected true or false, got \(n.display)")
    }

    static func string(_ n: ConfigNode) throws -> String {
        guard case let (s, _)? = text(n) else { throw Problem("expected a string, got \(n.display)") }
        return s
    }

    static func list<T>(_ n: ConfigNode, of what: String, _ element: (ConfigNode) throws -> T) throws -> [T] {
        guard case .sequence(let items) = n.kind else { throw Problem("expected a list of \(what), got \(n.display)") }
        return try items.enumerated().map { i, item in
            do { return try element(item) } catch { throw Problem("expected a list of \(what), got \(item.display) at position \(i)") }
        }
    }

    static func intList(_ n: ConfigNode) throws -> [Int] { try list(n, of: "integers", int) }
    static func doubleList(_ n: ConfigNode) throws -> [Double] { try list(n, of: "numbers", double) }
    static func stringList(_ n: ConfigNode) throws -> [String] { try list(n, of: "strings", string) }

    static func render(_ v: Int) -> Rendered { .inline(String(v)) }
    static func render(_ v: Bool) -> Rendered { .inline(v ? "true" : "false") }
    static func render(_ v: Double) -> Rendered { .inline(format(v)) }
    static func render(_ v: String) -> Rendered { .inline(quote(v)) }
    static func render(_ v: [Int]) -> Rendered { .inline("[" + v.map(String.init).joined(separator: ", ") + "]") }
    static func render(_ v: [Double]) -> Rendered { .inline("[" + v.map(format).joined(separator: ", ") + "]") }
    static func render(_ v: [String]) -> Rendered { .inline("[" + v.map(quote).joined(separator: ", ") + "]") }

    /// "[0.9, 0.999]"
    static func format(_ v: [Double]) -> String { "[" + v.map(format).joined(separator: ", ") + "]" }

    /// Shortest text that reads back to the same double ("0.1", "0.0005", "1e-08", "164.0").
    static func format(_ v: Double) -> String { "\(v)" }

    /// The string plain when YAML would read it back as the same string, double-quoted otherwise.
    static func quote(_ s: String) -> String {
        let safe = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./-+")
        let reserved = ["", "~", "null", "Null", "NULL", "true", "false", "yes", "no", "on", "off",
                        "True", "False", "Yes", "No", "On", "Off", "TRUE", "FALSE", "YES", "NO", "ON", "OFF"]
        let looksNumeric = Double(s) != nil || Int(s) != nil || s.first == "-" || s.first == "."
        if s.unicodeScalars.allSatisfy(safe.contains) && !reserved.contains(s) && !looksNumeric { return s }
        let escaped = s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        return "\"\(escaped)\""
    }
}
