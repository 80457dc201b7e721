/// Winograd F(m×m, 3×3) convolution of "same" 3×3 stride-1 maps (padding 1), for one geometry: the tile transforms of a chunk of images and the α²
/// batched GEMMs between them (Lavin & Gray 2016; the matrices are listed with `WinogradTransform1D`).
///
/// Layouts, with P the tiles of a chunk (image-major, then tile rows, then tile columns) and
/// `ld` ≥ P the row stride of every (·, P) matrix:
///
///     U  (α², K, C)   filter transform G g Gᵀ, per output channel k and input channel c
///     V  (α², C, ld)  input transform Bᵀ d B of each padded α×α input tile
///     M  (α², K, ld)  U[ξ] · V[ξ], turned into the m×m output tile by Aᵀ M A
///     Z  (α², K, ld)  A ∂y Aᵀ of each m×m output-gradient tile (weight gradient)
///     ∂U (α², K, C)   Σ over tiles Z[ξ] · V[ξ]ᵀ, turned into ∂g by Gᵀ ∂U G
///
/// Transforms run on eight tiles at once (SIMD8 lanes); tiles gathered past the end of a chunk
/// repeat its last tile and are never stored. When m does not divide the map, the last tile row
/// and column reach past it: inputs read zeros there and outputs are clipped.
public final class Winograd {
    public let m: Int, alpha: Int, height: Int, width: Int
    /// Tiles of one image: (H/m)·(W/m).
    public let tilesPerImage: Int
    private let tilesHigh: Int, tilesWide: Int
    /// True when m divides the map: no tile reaches past it (no clipping, ∂y read in place).
    private let exact: Bool

    public init(m: Int, height: Int, width: Int) {
        precondition((m == 2 || m == 4) && height > 0 && width > 0,
                     "Winograd: F(\(m)x\(m), 3x3) on a \(height)x\(width) map: m must be 2 or 4")
        self.m = m; alpha = m + 2
        self.height = height; self.width = width
        tilesHigh = (height + m - 1) / m; tilesWide = (width + m - 1) / m
        tilesPerImage = tilesHigh * tilesWide
        exact = height % m == 0 && width % m == 0
    }

    /// Row stride and plane size of the zero-bordered copy of one input plane.
    private var paddedWidth: Int { tilesWide * m + 2 }
    private var paddedPlane: Int { (tilesHigh * m + 2) * paddedWidth }

    /// α², the number of GEMMs per pass.
    public var points: Int { alpha * alpha }
    /// Floats of the zero-bordered copy of one input channel of `images` images.
    public func paddedCount(images: Int) -> Int { images * paddedPlane }
    /// Row stride for a chunk of `tiles` tiles: a multiple of 8 (whole lane groups), nudged off
    /// multiples of 256 so the α² matrices do not share cache sets.
    public static func leadingDimension(tiles: Int) -> Int {
        let ld = (tiles + 7) / 8 * 8
        return ld % 256 == 0 ? ld + 8 : ld
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
        if m == 2 {
            input(InputF2.self, x, images, imageStride, channels, v, ld, pad)
        } else {
            input(InputF4.self, x, images, imageStride, channels, v, ld, pad)
        }
    }

    private func input<T: WinogradTransform1D>(_: T.Type, _ x: UnsafePointer<Float>, _ images: Int, _ imageStride: Int,
                                               _ channels: Int, _ v: UnsafeMutablePointer<Float>, _ ld: Int,
                                               _ pad: UnsafeMutablePointer<Float>) {
        let a = T.nIn, h = height, w = width, pw = paddedWidth, plane = paddedPlane, m = self.m
        let tiles = images * tilesPerImage
        pad.update(repeating: 0, count: images * plane)
        withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: 3 * a * a) { buf in
            let d = buf.baseAddress!, tmp = d + a * a, out = tmp + a * a
            for ch in 0..<channels {
                // The channel's planes into the interior of the zero-bordered copies.
                for i in 0..<images {
                    let src = x + i * imageStride + ch * h * w, dst = pad + i * plane + pw + 1
                    for r in 0..<h { (dst + r * pw).update(from: src + r * w, count: w) }
                }
                for p0 in stride(from: 0, to: tiles, by: 8) {
                    let o = laneOffsets(p0, tiles: tiles, imageStride: plane, pitch: pw)
                    for r in 0..<a {
                        for j in 0..<a { d[r * a + j] = Winograd.gather(UnsafePointer(pad) + (r * pw + j), o) }
                    }
                    T.apply2D(d, tmp, out)
                    let dst = v + ch * ld + p0
                    for xi in 0..<(a * a) {
                        UnsafeMutableRawPointer(dst + xi * channels * ld).storeBytes(of: out[xi], as: SIMD8<Float>.self)
                    }
                }
            }
        }
    }

    /// Z (α², K, ld) = A ∂y Aᵀ of the m×m tiles of `images` images of gy (image stride
    /// `imageStride`, K planes of H×W). `pad`: `paddedCount(images:)` floats of scratch, used
    /// when m does not divide the map (∂y is then read from a zero-extended copy).
    public func transformGradient(_ gy: UnsafePointer<Float>, images: Int, imageStride: Int, channels: Int,
                                  into z: UnsafeMutablePointer<Float>, ld: Int, pad: UnsafeMutablePointer<Float>) {
        if m == 2 {
            gradient(GradientF2.self, gy, images, imageStride, channels, z, ld, pad)
        } else {
            gradient(GradientF4.self, gy, images, imageStride, channels, z, ld, pad)
        }
    }

    private func gradient<T: WinogradTransform1D>(_: T.Type, _ gy: UnsafePointer<Float>, _ images: Int, _ imageStride: Int,
                                                  _ channels: Int, _ z: UnsafeMutablePointer<Float>, _ ld: Int,
                                                  _ pad: UnsafeMutablePointer<Float>) {
        let m = T.nIn, a = T.nOut, w = width, tiles = images * tilesPerImage
        // Exact tiling reads ∂y in place; otherwise each plane goes into a zero-extended copy.
        let pitch = exact ? w : tilesWide * m, plane = tilesHigh * m * pitch
        let stride = exact ? imageStride : plane
        if !exact { pad.update(repeating: 0, count: images * plane) }
        withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: m * m + a * m + a * a) { buf in
            let d = buf.baseAddress!, tmp = d + m * m, out = tmp + a * m
            for ch in 0..<channels {
                var base = gy + ch * height * w
                if !exact {
                    for i in 0..<images {
                        let src = base + i * imageStride, dst = pad + i * plane
                        for r in 0..<height { (dst + r * pitch).update(from: src + r * w, count: w) }
                    }
                    base = UnsafePointer(pad)
                }
                for p0 in Swift.stride(from: 0, to: tiles, by: 8) {
                    let o = laneOffsets(p0, tiles: tiles, imageStride: stride, pitch: pitch)
                    for r in 0..<m {
                        for j in 0..<m { d[r * m + j] = Winograd.gather(base + (r * pitch + j), o) }
                    }
                    T.apply2D(d, tmp, out)
                    let dst = z + ch * ld + p0
                    for xi in 0..<(a * a) {
                        UnsafeMutableRawPointer(dst + xi * channels * ld).storeBytes(of: out[xi], as: SIMD8<Float>.self)
                    }
                }
            }
        }
    }

    /// y ← Aᵀ M A (+ bias[k]) for the tiles of `images` images: y has K planes of H×W per image,
    /// `imageStride` floats apart; M is (α², K, ld).
    public func transformOutput(_ mm: UnsafePointer<Float>, ld: Int, images: Int, channels: Int,
                                bias: UnsafePointer<Float>?, into y: UnsafeMutablePointer<Float>, imageStride: Int) {
        if m == 2 {
            output(OutputF2.self, mm, ld, images, channels, bias, y, imageStride)
        } else {
            output(OutputF4.self, mm, ld, images, channels, bias, y, imageStride)
        }
    }

    private func output<T: WinogradTransform1D>(_: T.Type, _ mm: UnsafePointer<Float>, _ ld: Int, _ images: Int, _ channels: Int,
                                                _ bias: UnsafePointer<Float>?, _ y: UnsafeMutablePointer<Float>, _ imageStride: Int) {
        let a = T.nIn, m = T.nOut, w = width, tiles = images * tilesPerImage
        withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: a * a + m * a + m * m) { buf in
            let src = buf.baseAddress!, tmp = src + a * a, out = tmp + m * a
            for ch in 0..<channels {
                let b = bias.map { SIMD8<Float>(repeating: $0[ch]) } ?? SIMD8<Float>()
                let base = y + ch * height * w
                for p0 in stride(from: 0, to: tiles, by: 8) {
                    let from = mm + ch * ld + p0
                    for xi in 0..<(a * a) {
                        src[xi] = UnsafeRawPointer(from + xi * channels * ld).loadUnaligned(as: SIMD8<Float>.self)
                    }
                    T.apply2D(src, tmp, out)
                    let o = laneOffsets(p0, tiles: tiles, imageStride: imageStride, pitch: w)
                    for l in 0..<Swift.min(8, tiles - p0) {
                        let dst = base + o[l], t = exact ? 0 : (p0 + l) % tilesPerImage
                        // Rows and columns of the tile inside the map (all m unless it reaches past).
                        let rows = exact ? m : Swift.min(m, height - t / tilesWide * m)
                        let cols = exact ? m : Swift.min(m, w - t % tilesWide * m)
                        for r in 0..<rows {
                            for j in 0..<cols { dst[r * w + j] = out[r * m + j][l] + b[l] }
                        }
                    }
                }
            }
        }
    }

    /// Out (α², rows, ld)[ξ] = Left[ξ] (rows, inner) · In[ξ] (inner, ld) over `tiles` columns,
    /// for ξ in `points`: the batched products of the forward and input-gradient passes.
    public func multiply(_ left: UnsafePointer<Float>, rows: Int, inner: Int,
                         _ input: UnsafePointer<Float>, tiles: Int, ld: Int, into out: UnsafeMutablePointer<Float>) {
        for xi in 0..<points {
            BLAS.sgemm(m: rows, n: tiles, k: inner, a: left + xi * rows * inner, lda: inner,
                       b: input + xi * inner * ld, ldb: ld, beta: 0, c: out + xi * rows * ld, ldc: ld)
        }
    }

    /// ∂U[ξ] (K, C) += Z[ξ] (K, tiles) · V[ξ]ᵀ (tiles, C): the weight-gradient products.
    public func accumulateProducts(_ z: UnsafePointer<Float>, outChannels k: Int, _ v: UnsafePointer<Float>,
                                   inChannels c: Int, tiles: Int, ld: Int, into du: UnsafeMutablePointer<Float>) {
        for xi in 0..<points {
            BLAS.sgemm(transB: true, m: k, n: c, k: tiles, a: z + xi * k * ld, lda: ld,
                       b: v + xi * c * ld, ldb: ld, beta: 1, c: du + xi * k * c, ldc: c)
        }
    }

    /// Offsets of the eight tiles p0..<p0+8 (past the end: the last tile) in planes `pitch`
    /// floats wide, images `imageStride` apart: one division per eight tiles, then counters.
    @inline(__always)
    private func laneOffsets(_ p0: Int, tiles: Int, imageStride: Int, pitch: Int) -> SIMD8<Int> {
        var o = SIMD8<Int>()
        var i = p0 / tilesPerImage
        let t = p0 - i * tilesPerImage
        var tr = t / tilesWide, tc = t - tr * tilesWide
        for l in 0..<8 {
            o[l] = i * imageStride + (tr * pitch + tc) * m
            guard p0 + l + 1 < tiles else { continue }
            tc += 1
            if tc == tilesWide {
                tc = 0; tr += 1
                if tr == tilesHigh { tr = 0; i += 1 }
            }
        }
        return o
    }

    @inline(__always)
    private static func gather(_ base: UnsafePointer<Float>, _ o: SIMD8<Int>) -> SIMD8<Float> {
        SIMD8(base[o[0]], base[o[1]], base[o[2]], base[o[3]], base[o[4]], base[o[5]], base[o[6]], base[o[7]])
    }
}
