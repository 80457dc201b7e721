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

    /// Σ x[i] with a double accumulator.
    @inlinable
    public static func sum(_ n: Int, _ x: UnsafePointer<Float>) -> Double {
        var s = 0.0
        for i in 0..<n { s += Double(x[i]) }
        return s
    }

    /// Σ x[i]·y[i] with a double accumulator.
    @inlinable
    public static func dot(_ n: Int, _ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>) -> Double {
        var s = 0.0
        for i in 0..<n { s += Double(x[i]) * Double(y[i]) }
        return s
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
