/// Geometry of a square-kernel 2-D convolution (or any sliding window) over one image plane.
public struct ConvGeometry: Sendable, Equatable {
    public let height: Int, width: Int
    public let kernel: Int, stride: Int, padding: Int
    public let outHeight: Int, outWidth: Int

    public init(height: Int, width: Int, kernel: Int, stride: Int, padding: Int) {
        precondition(kernel > 0 && stride > 0 && padding >= 0,
                     "ConvGeometry: kernel \(kernel) and stride \(stride) must be positive, padding \(padding) not negative")
        self.height = height; self.width = width
        self.kernel = kernel; self.stride = stride; self.padding = padding
        outHeight = Shape.windowOutput(input: height, kernel: kernel, stride: stride, padding: padding)
        outWidth = Shape.windowOutput(input: width, kernel: kernel, stride: stride, padding: padding)
        precondition(outHeight > 0 && outWidth > 0,
                     "ConvGeometry: kernel \(kernel) does not fit the padded \(height)x\(width) input (padding \(padding))")
    }

    /// Output pixels of one image (the GEMM's column count per image).
    @inlinable public var outPixels: Int { outHeight * outWidth }
    /// Input pixels of one channel plane.
    @inlinable public var inPixels: Int { height * width }
    /// im2col rows per input channel.
    @inlinable public var taps: Int { kernel * kernel }

    /// True when the im2col matrix of an image is the image itself (1x1 kernel, stride 1,
    /// no padding): the input can be the GEMM operand directly.
    @inlinable public var isPointwise: Bool { kernel == 1 && stride == 1 && padding == 0 }

    /// Stride 1 and output size = input size (2·padding = kernel − 1): every tap's im2col row
    /// is the input plane shifted by one constant offset, with some entries masked to zero.
    @inlinable public var isSameStride1: Bool { stride == 1 && outHeight == height && outWidth == width }

    /// Output positions `o` along one axis whose input index `o·stride − padding + tap` lies
    /// inside 0..<size, as a half-open range (possibly empty).
    public func validRange(tap: Int, size: Int, outSize: Int) -> Range<Int> {
        func ceilDiv(_ a: Int, _ b: Int) -> Int { a > 0 ? (a + b - 1) / b : -((-a) / b) }
        let lo = Swift.min(outSize, Swift.max(0, ceilDiv(padding - tap, stride)))
        let hi = Swift.min(outSize, Swift.max(lo, ceilDiv(size + padding - tap, stride)))
        return lo..<hi
    }
}

/// im2col / col2im for one image: the lowering that turns a convolution into one GEMM.
///
/// The column matrix of `channels` input planes is (channels·k·k, OH·OW): row (c·k + kh)·k + kw,
/// column oh·OW + ow holds x[c, oh·s − p + kh, ow·s − p + kw] (0 in the padding). Rows are
/// `ld` floats apart, so several images can sit side by side in one matrix (image b's columns
/// start at b·OH·OW) and feed one wider GEMM. Groups are handled by the caller passing the
/// pointer to the group's first channel and the group's channel count.
///
/// Built once per layer geometry: it precomputes each tap's valid output rows and columns
/// (no divisions in the loops) and, for "same" stride-1 windows (3x3 pad 1, 5x5 pad 2, ...),
/// a (k, OH·OW) column mask so each tap's row is one masked copy of the shifted plane
/// instead of OH short row copies — the copies that dominate small feature maps otherwise.
public final class Im2col {
    public let geometry: ConvGeometry
    private let rowRanges: UnsafeMutablePointer<Int>   // (k, 2): valid output rows of tap kh
    private let colRanges: UnsafeMutablePointer<Int>   // (k, 2): valid output columns of tap kw
    private let mask: UnsafeMutablePointer<Float>?     // (k, OH·OW): 1 where tap kw's column is inside, same stride-1 only

    public init(_ g: ConvGeometry) {
        geometry = g
        let k = g.kernel
        rowRanges = .allocate(capacity: 2 * k)
        colRanges = .allocate(capacity: 2 * k)
        for t in 0..<k {
            let r = g.validRange(tap: t, size: g.height, outSize: g.outHeight)
            let c = g.validRange(tap: t, size: g.width, outSize: g.outWidth)
            rowRanges[2 * t] = r.lowerBound; rowRanges[2 * t + 1] = r.upperBound
            colRanges[2 * t] = c.lowerBound; colRanges[2 * t + 1] = c.upperBound
        }
        if g.isSameStride1 && !g.isPointwise {
            let p = g.outPixels, ow = g.outWidth
            let m = UnsafeMutablePointer<Float>.allocate(capacity: k * p)
            for kw in 0..<k {
                let lo = colRanges[2 * kw], hi = colRanges[2 * kw + 1]
                for j in 0..<p { m[kw * p + j] = (lo..<hi).contains(j % ow) ? 1 : 0 }
            }
            mask = m
        } else {
            mask = nil
        }
    }

    deinit {
        rowRanges.deallocate(); colRanges.deallocate(); mask?.deallocate()
    }

    /// Fills the (channels·k·k, OH·OW) column block of one image whose first element is `col`.
    /// - x: (channels, H, W) contiguous planes of one image.
    /// - col: row stride `ld` ≥ OH·OW.
    public func im2col(_ x: UnsafePointer<Float>, channels: Int,
                       into col: UnsafeMutablePointer<Float>, ld: Int) {
        let g = geometry
        precondition(ld >= g.outPixels, "Im2col.im2col: row stride \(ld) smaller than \(g.outHeight)x\(g.outWidth) output pixels")
        if let mask { return im2colSame(x, channels: channels, into: col, ld: ld, mask: mask) }
        let k = g.kernel, s = g.stride, p = g.padding
        let H = g.height, W = g.width, OH = g.outHeight, OW = g.outWidth
        // Channel outermost keeps one input plane hot in L1 while its k·k rows are written.
        for c in 0..<channels {
            let plane = x + c * H * W
            for kh in 0..<k {
                let rowLo = rowRanges[2 * kh], rowHi = rowRanges[2 * kh + 1]
                for kw in 0..<k {
                    let lo = colRanges[2 * kw], hi = colRanges[2 * kw + 1], n = hi - lo
                    let row = col + ((c * k + kh) * k + kw) * ld
                    // Output rows whose input row falls into the top or bottom padding.
                    for j in 0..<(rowLo * OW) { row[j] = 0 }
                    for j in (rowHi * OW)..<(OH * OW) { row[j] = 0 }
                    guard rowLo < rowHi else { continue }
                    for oh in rowLo..<rowHi {
                        let dst = row + oh * OW
                        for ow in 0..<lo { dst[ow] = 0 }
                        for ow in hi..<OW { dst[ow] = 0 }
                        // src[j·s] is x[c, oh·s − p + kh, (lo + j)·s − p + kw], inside the plane.
                        let src = plane + ((oh * s - p + kh) * W + lo * s + kw - p)
                        let d = dst + lo
                        if s == 1 {
                            for j in 0..<n { d[j] = src[j] }
                        } else if s == 2 {
                            Im2col.gatherEven(src, into: d, count: n, readable: H * W - (src - plane))
                        } else {
                            for j in 0..<n { d[j] = src[j * s] }
                        }
                    }
                }
            }
        }
    }

    /// Same stride-1 window: row (c, kh, kw) is x[c] shifted by (kh − p)·W + (kw − p), masked by
    /// tap kw's column validity. Indices whose shifted source leaves the plane are exactly the
    /// top/bottom padding rows, written as zeros, so no read leaves the plane.
    private func im2colSame(_ x: UnsafePointer<Float>, channels: Int,
                            into col: UnsafeMutablePointer<Float>, ld: Int, mask: UnsafeMutablePointer<Float>) {
        let g = geometry, k = g.kernel, p = g.padding, W = g.width, P = g.outPixels
        for c in 0..<channels {
            let plane = x + c * P
            for kh in 0..<k {
                for kw in 0..<k {
                    let shift = (kh - p) * W + (kw - p)
                    let lo = Swift.max(0, -shift), hi = Swift.min(P, P - shift), n = hi - lo
                    let row = col + ((c * k + kh) * k + kw) * ld
                    for j in 0..<lo { row[j] = 0 }
                    for j in hi..<P { row[j] = 0 }
                    let d = row + lo, src = plane + (lo + shift), m = mask + (kw * P + lo)
                    Im2col.maskedCopy(src, mask: m, into: d, count: n)
                }
            }
        }
    }

    /// The adjoint of `im2col`: adds every column-matrix entry back onto the input position it
    /// was copied from. `x` must be zeroed (or hold a gradient to add to) beforehand.
    /// - col: (channels·k·k, OH·OW), row stride `ld`.
    /// - x: (channels, H, W), accumulated into.
    public func col2im(_ col: UnsafePointer<Float>, ld: Int, channels: Int,
                       addingInto x: UnsafeMutablePointer<Float>) {
        let g = geometry
        precondition(ld >= g.outPixels, "Im2col.col2im: row stride \(ld) smaller than \(g.outHeight)x\(g.outWidth) output pixels")
        let k = g.kernel, s = g.stride, p = g.padding
        let H = g.height, W = g.width, OW = g.outWidth
        if let mask {
            let P = g.outPixels
            for c in 0..<channels {
                let plane = x + c * P
                for kh in 0..<k {
                    for kw in 0..<k {
                        let shift = (kh - p) * W + (kw - p)
                        let lo = Swift.max(0, -shift), hi = Swift.min(P, P - shift), n = hi - lo
                        let src = col + (((c * k + kh) * k + kw) * ld + lo)
                        let dst = plane + (lo + shift), m = mask + (kw * P + lo)
                        Im2col.maskedAdd(src, mask: m, into: dst, count: n)
                    }
                }
            }
            return
        }
        // Channel outermost keeps one input plane hot in L1 while its k·k rows are added in.
        for c in 0..<channels {
            let plane = x + c * H * W
            for kh in 0..<k {
                let rowLo = rowRanges[2 * kh], rowHi = rowRanges[2 * kh + 1]
                guard rowLo < rowHi else { continue }
                for kw in 0..<k {
                    let lo = colRanges[2 * kw], hi = colRanges[2 * kw + 1], n = hi - lo
                    let row = col + (((c * k + kh) * k + kw) * ld + lo)
                    for oh in rowLo..<rowHi {
                        let src = row + oh * OW
                        let dst = plane + ((oh * s - p + kh) * W + lo * s + kw - p)
                        if s == 1 {
                            for j in 0..<n { dst[j] += src[j] }
                        } else {
                            for j in 0..<n { dst[j * s] += src[j] }
                        }
                    }
                }
            }
        }
    }

    /// d[j] = mask[j] != 0 ? src[j] : 0, eight lanes at a time (a select, so a NaN or ∞ that
    /// lands on a masked entry does not leak as 0·∞).
    @inline(__always)
    private static func maskedCopy(_ src: UnsafePointer<Float>, mask: UnsafePointer<Float>,
                                   into d: UnsafeMutablePointer<Float>, count n: Int) {
        var j = 0
        while j + 8 <= n {
            let v = UnsafeRawPointer(src + j).loadUnaligned(as: SIMD8<Float>.self)
            let m = UnsafeRawPointer(mask + j).loadUnaligned(as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(d + j).storeBytes(of: v.replacing(with: 0, where: m .== 0), as: SIMD8<Float>.self)
            j += 8
        }
        while j < n { d[j] = mask[j] != 0 ? src[j] : 0; j += 1 }
    }

    /// d[j] += mask[j] != 0 ? src[j] : 0, eight lanes at a time.
    @inline(__always)
    private static func maskedAdd(_ src: UnsafePointer<Float>, mask: UnsafePointer<Float>,
                                  into d: UnsafeMutablePointer<Float>, count n: Int) {
        var j = 0
        while j + 8 <= n {
            let v = UnsafeRawPointer(src + j).loadUnaligned(as: SIMD8<Float>.self)
            let m = UnsafeRawPointer(mask + j).loadUnaligned(as: SIMD8<Float>.self)
            let o = UnsafeRawPointer(d + j).loadUnaligned(as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(d + j).storeBytes(of: o + v.replacing(with: 0, where: m .== 0), as: SIMD8<Float>.self)
            j += 8
        }
        while j < n { if mask[j] != 0 { d[j] += src[j] }; j += 1 }
    }

    /// d[j] = src[2j] for j < count, four at a time from eight-wide loads, which read one float
    /// past src[2·(count − 1)] and so only run while that float is among the `readable` ones.
    @inline(__always)
    private static func gatherEven(_ src: UnsafePointer<Float>, into d: UnsafeMutablePointer<Float>,
                                   count n: Int, readable: Int) {
        let raw = UnsafeRawPointer(src)
        var j = 0
        while j + 4 <= n && 2 * j + 8 <= readable {
            let v = raw.loadUnaligned(fromByteOffset: 8 * j, as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(d + j).storeBytes(of: v.evenHalf, as: SIMD4<Float>.self)
            j += 4
        }
        while j < n { d[j] = src[2 * j]; j += 1 }
    }
}
