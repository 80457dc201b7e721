/// Case-insensitive Levenshtein distance: how far a misspelt key, model or layer name is from a
/// valid one, for "did you mean ...?" hints wherever names are checked.
public func editDistance(_ a: String, _ b: String) -> Int {
    let s = Array(a.lowercased()), t = Array(b.lowercased())
    if s.isEmpty { return t.count }
    var row = Array(0...t.count)
    for i in 1...s.count {
        var diagonal = row[0]
        row[0] = i
        for j in stride(from: 1, through: t.count, by: 1) {
            let above = row[j]
            row[j] = Swift.min(row[j] + 1, row[j - 1] + 1, diagonal + (s[i - 1] == t[j - 1] ? 0 : 1))
            diagonal = above
        }
    }
    return row[t.count]
}
