import CKernels

/// Winograd F(m×m, 3×3) convolution of "same" 3×3 stride-1 maps (padding 1), for one geometry:
/// the tile transforms of a chunk of images and the α² batched products between them (Lavin &
/// Gray 2016; the matrices are listed with `WinogradTransform1D`).
///
/// Layouts, with P the tiles of a chunk (ordered tile row, image, tile column: see
/// CKernels/winograd.c) and `ld` ≥ P the row stride of every (·, P) matrix:
///
///     U  (α², K, C)   filter transform G g Gᵀ, per output channel k and input channel c
///     V  (α², C, ld)  input transform Bᵀ d B of each padded α×α input tile
///     M  (α², K, ld)  U[ξ] · V[ξ], turned into the m×m output tile by Aᵀ M A
///     Z  (α², K, ld)  A ∂y Aᵀ of each m×m output-gradient tile (weight gradient)
///     ∂U (α², K, C)   Σ over tiles Z[ξ] · V[ξ]ᵀ, turned into ∂g by Gᵀ ∂U G
///
/// The tile transforms and the forward products run in CKernels at the CPU's SIMD width; the
/// filter transforms (once per pass) stay on SIMD8 here. When m does not divide the map, the
/// last tile row and column reach past it: inputs read zeros there and outputs are clipped.
public final class Winograd {
    public let m: Int, alpha: Int, height: Int, width: Int
    /// Tiles of one image: (H/m)·(W/m).
    public let tilesPerImage: Int

    public init(m: Int, height: Int, width: Int) {
        precondition((m == 2 || m == 4) && height > 0 && width > 0,
                     "Winograd: F(\(m)x\(m), 3x3) on a \(height)x\(width) map: m must be 2 or 4")
        self.m = m; alpha = m + 2
        self.height = height; self.width = width
        tilesPerImage = ((height + m - 1) / m) * ((width + m - 1) / m)
    }

    /// α², the number of GEMMs per pass.
    public var points: Int { alpha * alpha }
    /// Floats of the transforms' scratch for a chunk of `images` images.
    public func paddedCount(images: Int) -> Int { ck_winograd_scratch(Int32(m), Int32(images), Int32(height), Int32(width)) }
    /// Row stride for a chunk of `tiles` tiles: a multiple of 16 (whole AVX-512 vectors for the
    /// products), nudged off multiples of 256 so the α² matrices do not share cache sets.
    public static func leadingDimension(tiles: Int) -> Int {
        let ld = (tiles + 15) / 16 * 16
        return ld % 256 == 0 ? ld + 16 : ld
    }

    // MARK: - Filters

    /// U (α², K, C) = G g Gᵀ of w (K, C, 3, 3); `flipped`: of the kernel that maps ∂y to ∂x,
    /// w'(c, k) = w(k, c) rotated by 180°, giving U (α², C, K).
    public func transformFilters(_ w: UnsafePointer<Float>, outChannels k: Int, inChannels c: Int,
                                 flipped: Bool, into u: UnsafeMutablePointer<Float>) {
        if m == 2 { filters(FilterF2.self, w, k, c, flipped, u) } else { filters(FilterF4.self, w, k, c, flipped, u) }
    }

    private func filters<T: WinogradTransform1D>(_: T.Type, _ w: UnsafePointer<Float>, _ k: Int, _ c: Int,
                                                  _ flipped: Bool, _ u: UnsafeMutablePointer<Float>) {
        let a = alpha, count = k * c
        withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: 9 + 4 * a * a) { buf in
            let g = buf.baseAddress!, tmp = g + 9, out = tmp + 3 * a
            for f0 in stride(from: 0, to: count, by: 8) {
                // Lane l: destination filter f0 + l, read from w's filter `src[l]` (taps reversed when flipped).
                var src = SIMD8<Int>()
                for l in 0..<8 {
                    let f = Swift.min(f0 + l, count - 1)
                    src[l] = (flipped ? (f % k) * c + f / k : f) * 9
                }
                for t in 0..<9 { g[t] = Winograd.gather(w + (flipped ? 8 - t : t), src) }
                T.apply2D(g, tmp, out)
                if f0 + 8 <= count {
                    for xi in 0..<(a * a) { UnsafeMutableRawPointer(u + xi * count + f0).storeBytes(of: out[xi], as: SIMD8<Float>.self) }
                } else {
                    for l in 0..<(count - f0) {
                        for xi in 0..<(a * a) { u[xi * count + f0 + l] = out[xi][l] }
                    }
                }
            }
        }
    }

    /// gw (K, C, 3, 3) += Gᵀ ∂U[·, k, c] G for output channels `kRange`; ∂U is (α², K, C).
    public func accumulateFilterGradient(_ du: UnsafePointer<Float>, outChannels k: Int, inChannels c: Int,
                                         rows kRange: Range<Int>, into gw: UnsafeMutablePointer<Float>) {
        if m == 2 { filterGradient(FilterGradientF2.self, du, k, c, kRange, gw) } else { filterGradient(FilterGradientF4.self, du, k, c, kRange, gw) }
    }

    private func filterGradient<T: WinogradTransform1D>(_: T.Type, _ du: UnsafePointer<Float>, _ k: Int, _ c: Int,
                                                         _ kRange: Range<Int>, _ gw: UnsafeMutablePointer<Float>) {
        let a = alpha, count = k * c
        let lo = kRange.lowerBound * c, hi = kRange.upperBound * c
        withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: 2 * a * a + 3 * a + 9) { buf in
            let src = buf.baseAddress!, tmp = src + a * a, out = tmp + 3 * a
            for f0 in stride(from: lo, to: hi, by: 8) {
                for xi in 0..<(a * a) {
                    var v = SIMD8<Float>()
                    for l in 0..<8 { v[l] = du[xi * count + Swift.min(f0 + l, hi - 1)] }
                    src[xi] = v
                }
                T.apply2D(src, tmp, out)
                for l in 0..<Swift.min(8, hi - f0) {
                    let dst = gw + (f0 + l) * 9
                    for t in 0..<9 { dst[t] += out[t][l] }
                }
            }
        }
    }

    // MARK: - Tiles

    /// V (α², C, ld) of `images` images of x (image stride `imageStride` floats, C planes of
    /// H×W each), zero padding 1. `pad`: `paddedCount(images:)` floats of scratch.
    public func transformInput(_ x: UnsafePointer<Float>, images: Int, imageStride: Int, channels: Int,
                               into v: UnsafeMutablePointer<Float>, ld: Int, pad: UnsafeMutablePointer<Float>) {
        for ch in 0..<channels {
            ck_winograd_input(Int32(m), x + ch * height * width, imageStride, Int32(images), Int32(height), Int32(width),
                              v + ch * ld, channels * ld, ld, pad)
        }
    }

    /// Z (α², K, ld) = A ∂y Aᵀ of the m×m tiles of `images` images of gy (image stride
    /// `imageStride`, K planes of H×W); tiles past the map read zeros. `pad`: scratch as above.
    public func transformGradient(_ gy: UnsafePointer<Float>, images: Int, imageStride: Int, channels: Int,
                                  into z: UnsafeMutablePointer<Float>, ld: Int, pad: UnsafeMutablePointer<Float>) {
        for ch in 0..<channels {
            ck_winograd_gradient(Int32(m), gy + ch * height * width, imageStride, Int32(images), Int32(height), Int32(width),
                                 z + ch * ld, channels * ld, ld, pad)
        }
    }

    /// y ← relu?(Aᵀ M A (+ bias[k])) for the tiles of `images` images: y has K planes of H×W per
    /// image, `imageStride` floats apart; M is (α², K, ld). `pad`: scratch as above.
    public func transformOutput(_ mm: UnsafePointer<Float>, ld: Int, images: Int, channels: Int,
                                bias: UnsafePointer<Float>?, relu: Bool = false, into y: UnsafeMutablePointer<Float>,
                                imageStride: Int, pad: UnsafeMutablePointer<Float>) {
        for ch in 0..<channels {
            ck_winograd_output(Int32(m), mm + ch * ld, channels * ld, Int32(images), Int32(height), Int32(width),
                               bias?[ch] ?? 0, relu ? 1 : 0, y + ch * height * width, imageStride, pad)
        }
    }

    /// Out (α², rows, ld)[ξ] = Left[ξ] (rows, inner) · In[ξ] (inner, ld) over `tiles` columns,
    /// for ξ in `points`: the batched products of the forward and input-gradient passes.
    public func multiply(_ left: UnsafePointer<Float>, rows: Int, inner: Int,
                         _ input: UnsafePointer<Float>, tiles: Int, ld: Int, into out: UnsafeMutablePointer<Float>) {
        ck_winograd_products(Int32(points), Int32(rows), Int32(inner), Int32(tiles), left, input, ld, inner * ld,
                             out, ld, rows * ld)
    }

    /// ∂U[ξ] (K, C) += Z[ξ] (K, tiles) · V[ξ]ᵀ (tiles, C): the weight-gradient products.
    public func accumulateProducts(_ z: UnsafePointer<Float>, outChannels k: Int, _ v: UnsafePointer<Float>,
                                   inChannels c: Int, tiles: Int, ld: Int, into du: UnsafeMutablePointer<Float>) {
        ck_winograd_gradient_products(Int32(points), Int32(k), Int32(c), Int32(tiles), z, k * ld, v, c * ld, ld, du)
    }

    @inline(__always)
    private static func gather(_ base: UnsafePointer<Float>, _ o: SIMD8<Int>) -> SIMD8<Float> {
        SIMD8(base[o[0]], base[o[1]], base[o[2]], base[o[3]], base[o[4]], base[o[5]], base[o[6]], base[o[7]])
    }
}
