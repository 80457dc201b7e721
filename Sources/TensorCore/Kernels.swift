/// Small element-wise kernels and reductions shared by several layers (residual adds, bias
/// terms, gradient sums). Plain loops over raw pointers: the compiler vectorises them, and
/// they are memory bound anyway.
public enum Kernels {
    /// y[i] += alpha · x[i] for i in 0..<n.
    @inlinable
    public static func axpy(_ n: Int, _ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        if alpha == 1 { for i in 0..<n { y[i] += x[i] } } else { for i in 0..<n { y[i] += alpha * x[i] } }
    }

    /// x[i] *= alpha for i in 0..<n.
    @inlinable
    public static func scale(_ n: Int, _ alpha: Float, _ x: UnsafeMutablePointer<Float>) {
        for i in 0..<n { x[i] *= alpha }
    }

    /// out = a + b element-wise (the residual join); `out` is resized to a's shape and may be `a` or `b`.
    public static func add(_ a: Tensor, _ b: Tensor, into out: Tensor) {
        precondition(a.shape == b.shape, "Kernels.add: shapes differ, \(Shape.format(a.shape)) vs \(Shape.format(b.shape))")
        out.resize(a.shape)
        let pa = a.data, pb = b.data, po = out.data
        for i in 0..<a.count { po[i] = pa[i] + pb[i] }
    }

    /// y += x element-wise (accumulating a gradient that arrives along two paths).
    public static func addInPlace(_ x: Tensor, into y: Tensor) {
        precondition(x.count == y.count, "Kernels.addInPlace: \(Shape.format(x.shape)) into \(Shape.format(y.shape))")
        axpy(x.count, 1, x.data, y.data)
    }

    /// Σ x[i]. Eight float lanes over blocks of 1024 elements (each lane adds ≤ 128 terms),
    /// blocks added in double: vector speed with near-double accuracy.
    @inlinable
    public static func sum(_ n: Int, _ x: UnsafePointer<Float>) -> Double {
        blockReduce(n, { load(x, $0) }, { x[$0] })
    }

    /// Σ (x[i] − shift).
    @inlinable
    public static func sum(_ n: Int, _ x: UnsafePointer<Float>, minus shift: Float) -> Double {
        let m = SIMD8<Float>(repeating: shift)
        return blockReduce(n, { load(x, $0) - m }, { x[$0] - shift })
    }

    /// Σ (x[i] − shift)², the centred sum of squares of a variance.
    @inlinable
    public static func sumOfSquares(_ n: Int, _ x: UnsafePointer<Float>, minus shift: Float = 0) -> Double {
        let m = SIMD8<Float>(repeating: shift)
        return blockReduce(n, { let d = load(x, $0) - m; return d * d }, { let d = x[$0] - shift; return d * d })
    }

    /// Σ x[i]·y[i].
    @inlinable
    public static func dot(_ n: Int, _ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>) -> Double {
        blockReduce(n, { load(x, $0) * load(y, $0) }, { x[$0] * y[$0] })
    }

    /// Σ g[i]·(x[i] − shift): BatchNorm's Σ gy·x̂ without the cancellation of Σgy·x − shift·Σgy.
    @inlinable
    public static func dot(_ n: Int, _ g: UnsafePointer<Float>, _ x: UnsafePointer<Float>, minus shift: Float) -> Double {
        let m = SIMD8<Float>(repeating: shift)
        return blockReduce(n, { load(g, $0) * (load(x, $0) - m) }, { g[$0] * (x[$0] - shift) })
    }

    @inlinable @inline(__always)
    static func load(_ p: UnsafePointer<Float>, _ i: Int) -> SIMD8<Float> {
        UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self)
    }

    /// Σ of per-element terms: `vector(i)` gives the terms of elements i ..< i+8, `scalar(i)` one term.
    @inlinable @inline(__always)
    static func blockReduce(_ n: Int, _ vector: (Int) -> SIMD8<Float>, _ scalar: (Int) -> Float) -> Double {
        var total = 0.0, i = 0
        while i < n {
            let end = Swift.min(i + 1024, n)
            var acc = SIMD8<Float>(), tail: Float = 0
            while i + 8 <= end { acc += vector(i); i += 8 }
            while i < end { tail += scalar(i); i += 1 }
            for lane in 0..<8 { total += Double(acc[lane]) }
            total += Double(tail)
        }
        return total
    }

    /// out[n, c, s] += bias[c] over `x` viewed as (N, C, S) with S = spatial; the bias of conv and linear.
    public static func addBias(_ bias: UnsafePointer<Float>, channels: Int, spatial: Int, to x: Tensor) {
        let rows = x.count / Swift.max(channels * spatial, 1)
        precondition(rows * channels * spatial == x.count,
                     "Kernels.addBias: \(Shape.format(x.shape)) is not (N, \(channels), \(spatial))")
        var p = x.data
        for _ in 0..<rows {
            for c in 0..<channels {
                let b = bias[c]
                for s in 0..<spatial { p[s] += b }
                p += spatial
            }
        }
    }

    /// g[c] += Σ_{n,s} x[n, c, s] over `x` viewed as (N, C, S): the bias gradient of conv and linear.
    public static func addChannelSums(of x: Tensor, channels: Int, spatial: Int, into g: UnsafeMutablePointer<Float>) {
        let rows = x.count / Swift.max(channels * spatial, 1)
        precondition(rows * channels * spatial == x.count,
                     "Kernels.addChannelSums: \(Shape.format(x.shape)) is not (N, \(channels), \(spatial))")
        for c in 0..<channels {
            var s = 0.0
            for n in 0..<rows { s += sum(spatial, x.data + (n * channels + c) * spatial) }
            g[c] += Float(s)
        }
    }
}
