import Foundation
import Yams

/// The YAML document as a small tree that remembers where each node came from, so overrides
/// can replace nodes and every error can still name a file line or a `--set`.
struct ConfigNode {
    struct Entry {
        var key: String
        var origin: ConfigOrigin
        var value: ConfigNode
    }

    enum Kind {
        /// `plain`: unquoted, so it may be read as a number, bool or null.
        case scalar(String, plain: Bool)
        case sequence([ConfigNode])
        case mapping([Entry])
    }

    var kind: Kind
    var origin: ConfigOrigin

    /// YAML null: an empty value, `~` or `null`.
    var isNull: Bool {
        if case .scalar(let s, true) = kind { return ["", "~", "null", "Null", "NULL"].contains(s) }
        return false
    }

    /// Short text of the node for messages: the scalar itself, or its kind.
    var display: String {
        switch kind {
        case .scalar(let s, _): return "'\(s)'"
        case .sequence: return "a list"
        case .mapping: return "a mapping"
        }
    }

    static func emptyMapping(_ origin: ConfigOrigin) -> ConfigNode { ConfigNode(kind: .mapping([]), origin: origin) }
}

// MARK: - From YAML text

extension ConfigNode {
    /// Parses `text` (named `file` in errors); an empty document is an empty mapping.
    static func parse(text: String, file: String) throws -> ConfigNode {
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw yamlError(error, text: text, origin: { .file(file, line: $0) })
        }
        guard let node else { return emptyMapping(.file(file, line: 1)) }
        return try convert(node) { .file(file, line: $0) }
    }

    /// Parses the value of a `--set path=value` as YAML (a scalar or a flow list/mapping).
    static func parseOverrideValue(_ text: String, path: String) throws -> ConfigNode {
        let origin = ConfigOrigin.override(path)
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            var problem = "\(error)"
            switch error {
            case .scanner(_, let p, _, _), .parser(_, let p, _, _), .composer(_, let p, _, _): problem = p
            default: break
            }
            throw ConfigError(origin, key: path, "cannot parse value '\(text)' as YAML: \(problem)")
        }
        guard let node else { return ConfigNode(kind: .scalar("", plain: true), origin: origin) }
        return try convert(node) { _ in origin }
    }

    private static func convert(_ node: Node, origin at: (Int) -> ConfigOrigin) throws -> ConfigNode {
        let origin = at(node.mark?.line ?? 1)
        switch node {
        case .scalar(let s):
            return ConfigNode(kind: .scalar(s.string, plain: s.style == .plain || s.style == .any), origin: origin)
        case .sequence(let seq):
            return ConfigNode(kind: .sequence(try seq.map { try convert($0, origin: at) }), origin: origin)
        case .mapping(let map):
            var entries: [Entry] = []
            for (k, v) in map {
                guard case .scalar(let ks) = k else {
                    throw ConfigError(at(k.mark?.line ?? 1), key: "", "mapping keys must be plain names")
                }
                entries.append(Entry(key: ks.string, origin: at(k.mark?.line ?? 1), value: try convert(v, origin: at)))
            }
            return ConfigNode(kind: .mapping(entries), origin: origin)
        case .alias:
            throw ConfigError(origin, key: "", "YAML aliases are not supported in configs")
        }
    }

    /// One-line ConfigError for a Yams error, at the line libyaml reports.
    private static func yamlError(_ error: YamlError, text: String, origin: (Int) -> ConfigOrigin) -> ConfigError {
        func context(_ c: YamlError.Context?) -> String { c.map { " (\($0.text) at line \($0.mark.line))" } ?? "" }
        switch error {
        case .scanner(let c, let problem, let mark, _), .parser(let c, let problem, let mark, _),
             .composer(let c, let problem, let mark, _):
            return ConfigError(origin(mark.line), key: "", "YAML syntax error: \(problem)\(context(c))")
        case .reader(let problem, let offset, _, _):
            let line = offset.map { o in text.prefix(o).reduce(1) { $1 == "\n" ? $0 + 1 : $0 } } ?? 1
            return ConfigError(origin(line), key: "", "cannot read the file: \(problem)")
        case .duplicatedKeysInMapping(let duplicates, let c):
            let key = duplicates.first ?? "?"
            let line = repeatLine(of: key, after: c.mark, in: text) ?? c.mark.line
            return ConfigError(origin(line), key: "", "duplicate key '\(key)' (first given on line \(c.mark.line))")
        default:
            return ConfigError(origin(1), key: "", "YAML error: \(error)")
        }
    }

    /// The line of the second `key:` at the column of its first occurrence.
    private static func repeatLine(of key: String, after mark: Mark, in text: String) -> Int? {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard mark.line >= 1, mark.line <= lines.count else { return nil }
        let indent = String(repeating: " ", count: Swift.max(mark.column - 1, 0))
        for (i, line) in lines.enumerated().dropFirst(mark.line) {
            if line.hasPrefix(indent + key) && line.dropFirst(indent.count + key.count).drop(while: { $0 == " " }).hasPrefix(":") {
                return i + 1
            }
        }
        return nil
    }
}

// MARK: - Overrides

extension ConfigNode {
    /// Applies `section.key[.subkey]=value`: replaces or adds the node at that path, creating
    /// mappings on the way (a null section becomes a mapping).
    mutating func apply(override assignment: String) throws {
        guard let eq = assignment.firstIndex(of: "=") else {
            throw ConfigError(.override(assignment), key: assignment, "expected section.key=value")
        }
        let path = assignment[..<eq].trimmingCharacters(in: .whitespaces)
        let valueText = String(assignment[assignment.index(after: eq)...])
        let parts = path.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.count >= 2, parts.allSatisfy({ !$0.isEmpty }) else {
            throw ConfigError(.override(path), key: path, "expected section.key=value")
        }
        let value = try ConfigNode.parseOverrideValue(valueText, path: path)
        try set(parts[...], value, origin: .override(path), path: path)
    }

    private mutating func set(_ parts: ArraySlice<String>, _ value: ConfigNode, origin: ConfigOrigin, path: String) throws {
        if isNull { self = .emptyMapping(origin) }
        guard case .mapping(var entries) = kind else {
            throw ConfigError(origin, key: path, "cannot set a key inside \(display), which is not a mapping")
        }
        let key = parts.first!
        let index = entries.firstIndex { $0.key == key }
        if parts.count == 1 {
            if let index { entries[index].value = value; entries[index].origin = origin }
            else { entries.append(Entry(key: key, origin: origin, value: value)) }
        } else {
            var child = index.map { entries[$0].value } ?? .emptyMapping(origin)
            try child.set(parts.dropFirst(), value, origin: origin, path: path)
            if let index { entries[index].value = child } else { entries.append(Entry(key: key, origin: origin, value: child)) }
        }
        kind = .mapping(entries)
    }
}

