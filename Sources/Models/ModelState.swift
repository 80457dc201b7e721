import NN

/// One state_dict entry of a model: a parameter, a float buffer (BN running stats) or an int64
/// counter (BN num_batches_tracked).
public enum StateEntry {
    case parameter(Parameter)
    case buffer(StateBuffer)
    case counter(Counter)

    public var shape: [Int] {
        switch self {
        case .parameter(let p): return p.shape
        case .buffer(let b): return b.shape
        case .counter: return []
        }
    }

    /// The float values (a view into the store), nil for a counter.
    public var floats: UnsafeMutableBufferPointer<Float>? {
        switch self {
        case .parameter(let p): return p.values
        case .buffer(let b): return b.values
        case .counter: return nil
        }
    }
}

extension Model {
    /// Every state_dict entry in PyTorch order (a checkpoint writes these; a loader matches
    /// them by key in both directions).
    public var stateEntries: [(key: String, entry: StateEntry)] {
        let index = stateIndex
        return store.stateKeys.map { ($0, index[$0]!) }
    }

    /// state_dict key → entry.
    public var stateIndex: [String: StateEntry] {
        var d: [String: StateEntry] = [:]
        for p in store.parameters { d[p.name] = .parameter(p) }
        for b in store.buffers { d[b.name] = .buffer(b) }
        for c in store.counters { d[c.name] = .counter(c) }
        return d
    }
}
