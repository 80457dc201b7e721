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

    /// True when the convolution's im2col matrix of an image is the image itself
    /// (1x1 kernel, stride 1, no padding): the input can be the GEMM operand directly.
    @inlinable public var isPointwise: Bool { kernel == 1 && stride == 1 && padding == 0 }

    /// Output positions `o` along one axis whose input index `o·stride − padding + tap`
    /// lies inside 0..<size, as a half-open range (possibly empty).
    @inlinable
    func validRange(tap: Int, size: Int, outSize: Int) -> Range<Int> {
        // lo = ceil((padding − tap) / stride), hi = ceil((size + padding − tap) / stride), clamped.
        let lo = Swift.min(outSize, Swift.max(0, Im2col.ceilDiv(padding - tap, stride)))
        let hi = Swift.min(outSize, Swift.max(lo, Im2col.ceilDiv(size + padding - tap, stride)))
        return lo..<hi
    }
}

/// im2col / col2im for one image, the lowering that turns a convolution into one GEMM.
///
/// The column matrix of `channels` input planes is (channels·k·k, OH·OW): row (c·k + kh)·k + kw,
/// column oh·OW + ow holds x[c, oh·s − p + kh, ow·s − p + kw] (0 in the padding). Rows are
/// `ld` floats apart, so several images can sit side by side in one matrix (image b's columns
/// start at b·OH·OW) and feed one larger GEMM. Groups are handled by the caller passing the
/// pointer to the group's first channel and the group's channel count.
public enum Im2col {
    @inlinable
    static func ceilDiv(_ a: Int, _ b: Int) -> Int {
        a > 0 ? (a + b - 1) / b : -((-a) / b)
    }

    /// Fills the (channels·k·k, OH·OW) column block of one image whose first element is `col`.
    /// - x: (channels, H, W) contiguous planes of one image.
    /// - col: row stride `ld` ≥ OH·OW.
    public static func im2col(_ x: UnsafePointer<Float>, channels: Int, _ g: ConvGeometry,
                              into col: UnsafeMutablePointer<Float>, ld: Int) {
        let k = g.kernel, s = g.stride, p = g.padding
        let H = g.height, W = g.width, OH = g.outHeight, OW = g.outWidth
        precondition(ld >= OH * OW, "Im2col.im2col: row stride \(ld) smaller than \(OH)x\(OW) output pixels")
        // Channel outermost keeps one input plane hot in L1 while its k·k rows are written.
        for c in 0..<channels {
            let plane = x + c * H * W
            for kh in 0..<k {
                let rows = g.validRange(tap: kh, size: H, outSize: OH)
                for kw in 0..<k {
                    let cols = g.validRange(tap: kw, size: W, outSize: OW)
                    let lo = cols.lowerBound, n = cols.count
                    let row = col + ((c * k + kh) * k + kw) * ld
                    // Output rows whose input row falls into the top or bottom padding.
                    if rows.lowerBound > 0 { row.update(repeating: 0, count: rows.lowerBound * OW) }
                    if rows.upperBound < OH {
                        (row + rows.upperBound * OW).update(repeating: 0, count: (OH - rows.upperBound) * OW)
                    }
                    for oh in rows {
                        let dst = row + oh * OW
                        // src[j·s] is x[c, oh·s − p + kh, (lo + j)·s − p + kw], inside the plane.
                        let src = plane + (oh * s - p + kh) * W + lo * s + kw - p
                        for ow in 0..<lo { dst[ow] = 0 }
                        let d = dst + lo
                        if s == 1 {
                            for j in 0..<n { d[j] = src[j] }
                        } else {
                            for j in 0..<n { d[j] = src[j * s] }
                        }
                        for ow in (lo + n)..<OW { dst[ow] = 0 }
                    }
                }
            }
        }
    }

    /// The adjoint of `im2col`: adds every column-matrix entry back onto the input position it
    /// was copied from. `x` must be zeroed (or hold a gradient to add to) beforehand.
    /// - col: (channels·k·k, OH·OW), row stride `ld`.
    /// - x: (channels, H, W), accumulated into.
    public static func col2im(_ col: UnsafePointer<Float>, ld: Int, channels: Int, _ g: ConvGeometry,
                              addingInto x: UnsafeMutablePointer<Float>) {
        let k = g.kernel, s = g.stride, p = g.padding
        let H = g.height, W = g.width, OW = g.outWidth
        precondition(ld >= g.outHeight * OW, "Im2col.col2im: row stride \(ld) smaller than \(g.outHeight)x\(OW) output pixels")
        // Channel outermost keeps one input plane hot in L1 while its k·k rows are added in.
        for c in 0..<channels {
            let plane = x + c * H * W
            for kh in 0..<k {
                let rows = g.validRange(tap: kh, size: H, outSize: g.outHeight)
                for kw in 0..<k {
                    let cols = g.validRange(tap: kw, size: W, outSize: OW)
                    let lo = cols.lowerBound, n = cols.count
                    let row = col + ((c * k + kh) * k + kw) * ld + lo
                    for oh in rows {
                        let src = row + oh * OW
                        let dst = plane + (oh * s - p + kh) * W + lo * s + kw - p
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
}
