import TensorCore
import Foundation

/// Wall time per layer and pass, for `trainer-bench models --profile`. Containers route their
/// children's calls through `ForwardContext.forward/backward/timed`; with no profiler set those
/// are plain calls. Time is exclusive: a container's own row holds only what it does between
/// its children (the residual join, the dense block's copies), so rows add up to the step.
public final class LayerProfiler {
    public enum Pass { case forward, backward }

    /// Exclusive seconds of one layer, summed over every call since the last `reset`.
    public struct Row {
        public let layer: Layer
        public var forward = 0.0, backward = 0.0
    }

    public private(set) var rows: [Row] = []
    private var index: [ObjectIdentifier: Int] = [:]
    private var childTime: [Double] = []   // one per open call: time its children took so far

    /// `threadCPU`: the calling thread's CPU time instead of wall time (one thread, shared machines).
    public let threadCPU: Bool

    public init(threadCPU: Bool = false) { self.threadCPU = threadCPU }

    public func reset() {
        for i in rows.indices { rows[i].forward = 0; rows[i].backward = 0 }
    }

    /// Runs `body`, charging its time minus its nested measured calls to `layer`'s `pass`.
    @inline(__always)
    public func measure<T>(_ layer: Layer, _ pass: Pass, _ body: () -> T) -> T {
        childTime.append(0)
        let start = now()
        let result = body()
        let elapsed = now() - start
        let own = elapsed - childTime.removeLast()
        if !childTime.isEmpty { childTime[childTime.count - 1] += elapsed }
        let id = ObjectIdentifier(layer)
        let i = index[id] ?? { rows.append(Row(layer: layer)); index[id] = rows.count - 1; return rows.count - 1 }()
        if pass == .forward { rows[i].forward += own } else { rows[i].backward += own }
        return result
    }

    /// Seconds on this profiler's clock.
    public func now() -> Double {
        var t = timespec()
        clock_gettime(threadCPU ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }
}

extension ForwardContext {
    /// `layer.forward(x, self)`, timed when a profiler is set.
    @inline(__always)
    public func forward(_ layer: Layer, _ x: Tensor) -> Tensor {
        guard let profiler else { return layer.forward(x, self) }
        return profiler.measure(layer, .forward) { layer.forward(x, self) }
    }

    /// `layer.backward(gy, self)`, timed when a profiler is set.
    @inline(__always)
    public func backward(_ layer: Layer, _ gy: Tensor) -> Tensor {
        guard let profiler else { return layer.backward(gy, self) }
        return profiler.measure(layer, .backward) { layer.backward(gy, self) }
    }

    /// `body()`, charged to `layer`'s `pass` when a profiler is set (calls other than forward/backward).
    @inline(__always)
    public func timed<T>(_ layer: Layer, _ pass: LayerProfiler.Pass, _ body: () -> T) -> T {
        guard let profiler else { return body() }
        return profiler.measure(layer, pass, body)
    }
}
