/// The 1-D transforms of Winograd's minimal filtering F(m, 3) (Lavin & Gray 2016, "Fast
/// Algorithms for Convolutional Neural Networks"), m = 2 or 4, α = m + 2, on eight lanes at a
/// time. A 2-D transform L·X·Rᵀ applies the 1-D one down every column, then along every row.
///
///     F(2,3): Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1]       G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1]
///             Aᵀ = [1 1 1 0; 0 1 −1 −1]
///     F(4,3): Bᵀ = [4 0 −5 0 1 0; 0 −4 −4 1 1 0; 0 4 −4 −1 1 0; 0 −2 −1 2 1 0; 0 2 −1 −2 1 0; 0 4 0 −5 0 1]
///             G  = [¼ 0 0; −⅙ −⅙ −⅙; −⅙ ⅙ −⅙; 1⁄24 1⁄12 ⅙; 1⁄24 −1⁄12 ⅙; 0 0 1]
///             Aᵀ = [1 1 1 1 1 0; 0 1 −1 2 −2 0; 0 1 1 4 4 0; 0 1 −1 8 −8 1]
///
/// Forward: y = Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A. Weight gradient: with M = U ⊙ V, ∂M = A ∂y Aᵀ,
/// ∂U = ∂M ⊙ V and ∂g = Gᵀ ∂U G — so the gradient side needs A (m → α) and Gᵀ (α → 3).
/// Only the filter-side transforms (G and Gᵀ, once per step on the weights) live here; the tile
/// transforms (Bᵀ, Aᵀ, A), which run on every activation, are in CKernels' winograd.c.
/// Each transform reads `nIn` inputs `s` apart from `x` and writes `nOut` outputs `t` apart to `y`;
/// generic callers are specialised per transform, so the coefficients compile to constants.
public protocol WinogradTransform1D {
    static var nIn: Int { get }
    static var nOut: Int { get }
    static func apply(_ x: UnsafePointer<SIMD8<Float>>, _ s: Int, _ y: UnsafeMutablePointer<SIMD8<Float>>, _ t: Int)
}

extension WinogradTransform1D {
    /// dst (nOut × nOut, row-major) = L · src (nIn × nIn) · Lᵀ; `tmp` holds nOut × nIn lanes.
    @inline(__always)
    public static func apply2D(_ src: UnsafePointer<SIMD8<Float>>, _ tmp: UnsafeMutablePointer<SIMD8<Float>>,
                           _ dst: UnsafeMutablePointer<SIMD8<Float>>) {
        for c in 0..<nIn { apply(src + c, nIn, tmp + c, nIn) }
        for r in 0..<nOut { apply(UnsafePointer(tmp + r * nIn), 1, dst + r * nOut, 1) }
    }
}

public typealias Lanes = SIMD8<Float>

/// G·g of F(2,3) (3 → 4).
public enum FilterF2: WinogradTransform1D {
    @inlinable public static var nIn: Int { 3 }
    @inlinable public static var nOut: Int { 4 }
    @inline(__always)
    public static func apply(_ x: UnsafePointer<Lanes>, _ s: Int, _ y: UnsafeMutablePointer<Lanes>, _ t: Int) {
        let g0 = x[0], g1 = x[s], g2 = x[2 * s]
        let h = 0.5 * (g0 + g2)
        y[0] = g0; y[t] = h + 0.5 * g1; y[2 * t] = h - 0.5 * g1; y[3 * t] = g2
    }
}

/// G·g of F(4,3) (3 → 6).
public enum FilterF4: WinogradTransform1D {
    @inlinable public static var nIn: Int { 3 }
    @inlinable public static var nOut: Int { 6 }
    @inline(__always)
    public static func apply(_ x: UnsafePointer<Lanes>, _ s: Int, _ y: UnsafeMutablePointer<Lanes>, _ t: Int) {
        let g0 = x[0], g1 = x[s], g2 = x[2 * s]
        let p = (-1 / 6 as Float) * (g0 + g2), q = (-1 / 6 as Float) * g1
        let r = (1 / 24 as Float) * g0 + (1 / 6 as Float) * g2, u = (1 / 12 as Float) * g1
        y[0] = 0.25 * g0
        y[t] = p + q; y[2 * t] = p - q
        y[3 * t] = r + u; y[4 * t] = r - u
        y[5 * t] = g2
    }
}

/// Gᵀ·∂U of F(2,3) (4 → 3).
public enum FilterGradientF2: WinogradTransform1D {
    @inlinable public static var nIn: Int { 4 }
    @inlinable public static var nOut: Int { 3 }
    @inline(__always)
    public static func apply(_ x: UnsafePointer<Lanes>, _ s: Int, _ y: UnsafeMutablePointer<Lanes>, _ t: Int) {
        let u0 = x[0], u1 = x[s], u2 = x[2 * s], u3 = x[3 * s]
        let h = 0.5 * (u1 + u2)
        y[0] = u0 + h; y[t] = 0.5 * (u1 - u2); y[2 * t] = h + u3
    }
}

/// Gᵀ·∂U of F(4,3) (6 → 3).
public enum FilterGradientF4: WinogradTransform1D {
    @inlinable public static var nIn: Int { 6 }
    @inlinable public static var nOut: Int { 3 }
    @inline(__always)
    public static func apply(_ x: UnsafePointer<Lanes>, _ s: Int, _ y: UnsafeMutablePointer<Lanes>, _ t: Int) {
        let u0 = x[0], u1 = x[s], u2 = x[2 * s], u3 = x[3 * s], u4 = x[4 * s], u5 = x[5 * s]
        let s12 = u1 + u2, d12 = u1 - u2, s34 = u3 + u4, d34 = u3 - u4
        y[0] = 0.25 * u0 - (1 / 6 as Float) * s12 + (1 / 24 as Float) * s34
        y[t] = (-1 / 6 as Float) * d12 + (1 / 12 as Float) * d34
        y[2 * t] = (-1 / 6 as Float) * s12 + (1 / 6 as Float) * s34 + u5
    }
}
