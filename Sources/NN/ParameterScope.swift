/// Where a layer sits in the module tree: the store it declares into and its state_dict
/// prefix. A container hands each child `scope.scope("conv1")` (or an nn.Sequential index), so
/// a key follows from structure, `layer1.0.conv1.weight`, as mlx-swift derives keys from the
/// module tree. `key(_:)` is the one place a key is joined.
public struct ParameterScope {
    public let store: ParameterStore
    /// Dotted path from the root; "" for the root itself.
    public let path: String

    init(store: ParameterStore, path: String) { self.store = store; self.path = path }

    /// The scope of the child called `name` (a module attribute or an nn.Sequential index).
    public func scope(_ name: String) -> ParameterScope {
        precondition(!name.isEmpty, "ParameterScope '\(path)': a child needs a name")
        return ParameterScope(store: store, path: key(name))
    }

    public func scope(_ index: Int) -> ParameterScope { scope(String(index)) }

    /// The full name of `leaf` here: "layer1.0.conv1" + "weight" → "layer1.0.conv1.weight".
    public func key(_ leaf: String) -> String { path.isEmpty ? leaf : "\(path).\(leaf)" }

    public func declare(_ leaf: String, shape: [Int], initializer: Initializer) -> Parameter {
        store.declare(key(leaf), shape: shape, initializer: initializer)
    }

    public func declareBuffer(_ leaf: String, shape: [Int], initializer: Initializer) -> StateBuffer {
        store.declareBuffer(key(leaf), shape: shape, initializer: initializer)
    }

    public func declareCounter(_ leaf: String) -> Counter { store.declareCounter(key(leaf)) }
}

extension ParameterStore {
    /// The root scope: keys without a prefix, as a PyTorch module's own parameters.
    public var root: ParameterScope { ParameterScope(store: self, path: "") }

    /// The scope at a dotted path, e.g. an existing layer's name when a model is rebuilt from another.
    public func scope(_ path: String) -> ParameterScope { ParameterScope(store: self, path: path) }
}
