import TensorCore

/// Output geometry of a 2-D pooling window, checked at build time (PyTorch's floor rule,
/// and its limit padding ≤ kernel/2 so that every window holds at least one real pixel).
public struct PoolGeometry: Sendable {
    public let channels, height, width, outHeight, outWidth, kernel, stride, padding: Int

    init(kind: String, name: String, inputShape: [Int], kernel: Int, stride: Int, padding: Int) throws {
        let label = name.isEmpty ? kind : "\(kind) '\(name)'"
        guard inputShape.count == 3, inputShape.allSatisfy({ $0 > 0 }) else {
            throw ShapeError("\(label): expected input (C, H, W), got \(Shape.format(inputShape))")
        }
        guard kernel > 0, stride > 0, padding >= 0 else {
            throw ShapeError("\(label): kernel \(kernel), stride \(stride), padding \(padding): kernel and stride must be positive, padding not negative")
        }
        guard padding <= kernel / 2 else {
            throw ShapeError("\(label): padding \(padding) must be at most half the kernel \(kernel)")
        }
        channels = inputShape[0]; height = inputShape[1]; width = inputShape[2]
        self.kernel = kernel; self.stride = stride; self.padding = padding
        outHeight = Shape.windowOutput(input: height, kernel: kernel, stride: stride, padding: padding)
        outWidth = Shape.windowOutput(input: width, kernel: kernel, stride: stride, padding: padding)
        guard outHeight > 0, outWidth > 0 else {
            throw ShapeError("\(label): kernel \(kernel) with padding \(padding) does not fit input \(Shape.format(inputShape))")
        }
    }

    public var outputShape: [Int] { [channels, outHeight, outWidth] }

    /// The 2x2 stride-2 unpadded window of most CNNs, which both pools run in CKernels.
    var isTwoByTwo: Bool { kernel == 2 && stride == 2 && padding == 0 }
}

/// A pooling layer over a fixed window: its shape and window come from its geometry.
public protocol WindowPooling: Layer {
    var geometry: PoolGeometry { get }
}

extension WindowPooling {
    public var outputShape: [Int] { geometry.outputShape }
    public var kernel: Int { geometry.kernel }
    public var stride: Int { geometry.stride }
    public var padding: Int { geometry.padding }
}

/// Max pooling; padded positions act as −∞. Forward records, per output, the position of the
/// window maximum in its input plane (first one on ties, NaN wins, as PyTorch); backward
/// scatters the upstream gradient there (adding where windows overlap).
public final class MaxPool2d: WindowPooling {
    public let name: String
    public let inputShape: [Int]
    public let geometry: PoolGeometry
    private let y = Tensor(shape: [0])   // (N, C, OH, OW)
    private let gx = Tensor(shape: [0])  // (N, C, H, W)
    private var argmax: [Int32] = []     // (N, C, OH, OW): h·W + w of the maximum within its (H, W) plane

    /// `stride` defaults to `kernel`, as in PyTorch.
    public init(name: String = "", inputShape: [Int], kernel: Int, stride: Int? = nil, padding: Int = 0) throws {
        self.name = name; self.inputShape = inputShape
        geometry = try PoolGeometry(kind: "maxpool2d", name: name, inputShape: inputShape,
                                    kernel: kernel, stride: stride ?? kernel, padding: padding)
    }

    public func forward(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        checkInput(x, kind: "maxpool2d")
        let g = geometry, planes = x.dim(0) * g.channels
        let inPlane = g.height * g.width, outPlane = g.outHeight * g.outWidth
        y.resize([x.dim(0), g.channels, g.outHeight, g.outWidth])
        if argmax.count != y.count { argmax = [Int32](repeating: 0, count: y.count) }
        argmax.withUnsafeMutableBufferPointer { idx in
            let base = idx.baseAddress!
            ctx.pool.parallelFor(planes) { p, _ in
                let src = x.data + p * inPlane, dst = y.data + p * outPlane, arg = base + p * outPlane
                if g.isTwoByTwo {
                    Self.forward2x2(src, width: g.width, into: dst, arg, outHeight: g.outHeight, outWidth: g.outWidth)
                } else {
                    Self.forwardPlane(src, g, into: dst, arg)
                }
            }
        }
        return y
    }

    /// Any window: the first maximum in row-major order, or the first NaN.
    static func forwardPlane(_ src: UnsafeMutablePointer<Float>, _ g: PoolGeometry, into dst: UnsafeMutablePointer<Float>,
                             _ arg: UnsafeMutablePointer<Int32>) {
        for oh in 0..<g.outHeight {
            let h0 = oh * g.stride - g.padding
            let hs = Swift.max(h0, 0), he = Swift.min(h0 + g.kernel, g.height)
            for ow in 0..<g.outWidth {
                let w0 = ow * g.stride - g.padding
                let ws = Swift.max(w0, 0), we = Swift.min(w0 + g.kernel, g.width)
                var best = -Float.infinity, at = hs * g.width + ws
                for h in hs..<he {
                    for w in ws..<we {
                        let v = src[h * g.width + w]
                        if v > best || v.isNaN { best = v; at = h * g.width + w; if v.isNaN { break } }
                    }
                    if best.isNaN { break }
                }
                dst[oh * g.outWidth + ow] = best
                arg[oh * g.outWidth + ow] = Int32(at)
            }
        }
    }

    /// The 2x2/2 window of most CNNs, eight outputs at a time in CKernels; same rule as
    /// `forwardPlane` (first maximum in row-major order, or the first NaN).
    static func forward2x2(_ src: UnsafeMutablePointer<Float>, width: Int, into dst: UnsafeMutablePointer<Float>,
                           _ arg: UnsafeMutablePointer<Int32>, outHeight: Int, outWidth: Int) {
        Kernels.maxPool2x2(src, width: width, into: dst, arg, outHeight: outHeight, outWidth: outWidth)
    }

    public func backward(_ gy: Tensor, _ ctx: ForwardContext) -> Tensor {
        precondition(gy.shape == y.shape, "maxpool2d: gradient \(Shape.format(gy.shape)) does not match output \(Shape.format(y.shape))")
        let g = geometry, planes = gy.dim(0) * g.channels
        let inPlane = g.height * g.width, outPlane = g.outHeight * g.outWidth
        gx.resize([gy.dim(0), g.channels, g.height, g.width])
        argmax.withUnsafeBufferPointer { idx in
            let base = idx.baseAddress!
            // Odd maps leave a last row or column outside every 2x2 window: zeroed first.
            let covered = 2 * g.outHeight == g.height && 2 * g.outWidth == g.width
            ctx.pool.parallelFor(planes) { p, _ in
                let src = gy.data + p * outPlane, dst = gx.data + p * inPlane, arg = base + p * outPlane
                if g.isTwoByTwo {
                    if !covered { dst.update(repeating: 0, count: inPlane) }
                    Kernels.maxPool2x2Backward(src, arg, outHeight: g.outHeight, outWidth: g.outWidth, into: dst, width: g.width)
                } else {
                    dst.update(repeating: 0, count: inPlane)
                    for o in 0..<outPlane { dst[Int(arg[o])] += src[o] }
                }
            }
        }
        return gx
    }
}

/// Average pooling. With `countIncludePad` (PyTorch's default) the divisor is the window area
/// clipped to the padded input; without it, only the real pixels in the window count.
public final class AvgPool2d: WindowPooling {
    public let name: String
    public let inputShape: [Int]
    public let countIncludePad: Bool
    public let geometry: PoolGeometry
    private let y = Tensor(shape: [0])   // (N, C, OH, OW)
    private let gx = Tensor(shape: [0])  // (N, C, H, W)

    /// `stride` defaults to `kernel`, as in PyTorch.
    public init(name: String = "", inputShape: [Int], kernel: Int, stride: Int? = nil, padding: Int = 0,
                countIncludePad: Bool = true) throws {
        self.name = name; self.inputShape = inputShape; self.countIncludePad = countIncludePad
        geometry = try PoolGeometry(kind: "avgpool2d", name: name, inputShape: inputShape,
                                    kernel: kernel, stride: stride ?? kernel, padding: padding)
    }

    /// Window `o` along an axis of `size` inputs: its clipped range and its divisor share.
    @inline(__always)
    private func window(_ o: Int, size: Int) -> (start: Int, end: Int, span: Int) {
        let g = geometry
        let s0 = o * g.stride - g.padding
        let padEnd = Swift.min(s0 + g.kernel, size + g.padding)
        let start = Swift.max(s0, 0), end = Swift.min(padEnd, size)
        return (start, end, countIncludePad ? padEnd - s0 : end - start)
    }

    /// `body(o, rows, cols, divisor)` for every output position o of one plane and its clipped window.
    @inline(__always)
    private func eachWindow(_ body: (_ o: Int, _ rows: Range<Int>, _ cols: Range<Int>, _ divisor: Float) -> Void) {
        let g = geometry
        for oh in 0..<g.outHeight {
            let (hs, he, hn) = window(oh, size: g.height)
            for ow in 0..<g.outWidth {
                let (ws, we, wn) = window(ow, size: g.width)
                body(oh * g.outWidth + ow, hs..<he, ws..<we, Float(hn * wn))
            }
        }
    }

    /// The 2x2/2 window of DenseNet's transitions on even maps: eight windows at a time in
    /// CKernels, the arithmetic of the loops below.
    private var isHalving: Bool {
        let g = geometry
        return g.isTwoByTwo && g.height % 2 == 0 && g.width % 2 == 0
    }

    public func forward(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        checkInput(x, kind: "avgpool2d")
        let g = geometry, planes = x.dim(0) * g.channels
        let inPlane = g.height * g.width, outPlane = g.outHeight * g.outWidth
        y.resize([x.dim(0), g.channels, g.outHeight, g.outWidth])
        let halving = isHalving
        ctx.pool.parallelFor(planes) { p, _ in
            let src = x.data + p * inPlane, dst = y.data + p * outPlane
            if halving {
                return Kernels.avgPool2x2(src, width: g.width, into: dst, outHeight: g.outHeight, outWidth: g.outWidth)
            }
            eachWindow { o, rows, cols, divisor in
                var s: Float = 0
                for h in rows { for w in cols { s += src[h * g.width + w] } }
                dst[o] = s / divisor
            }
        }
        return y
    }

    public func backward(_ gy: Tensor, _ ctx: ForwardContext) -> Tensor {
        precondition(gy.shape == y.shape, "avgpool2d: gradient \(Shape.format(gy.shape)) does not match output \(Shape.format(y.shape))")
        let g = geometry, planes = gy.dim(0) * g.channels
        let inPlane = g.height * g.width, outPlane = g.outHeight * g.outWidth
        gx.resize([gy.dim(0), g.channels, g.height, g.width])
        let halving = isHalving
        ctx.pool.parallelFor(planes) { p, _ in
            let src = gy.data + p * outPlane, dst = gx.data + p * inPlane
            if halving {
                return Kernels.avgPool2x2Backward(src, outHeight: g.outHeight, outWidth: g.outWidth, into: dst, width: g.width)
            }
            dst.update(repeating: 0, count: inPlane)
            eachWindow { o, rows, cols, divisor in
                let v = src[o] / divisor
                for h in rows { for w in cols { dst[h * g.width + w] += v } }
            }
        }
        return gx
    }
}

/// Adaptive average pooling to a fixed output size with PyTorch's bins:
/// output i of an axis averages inputs floor(i·H/oh) ..< ceil((i+1)·H/oh).
public final class AdaptiveAvgPool2d: Layer {
    public let name: String
    public let inputShape: [Int]
    public let outputSize: (Int, Int)
    public var outputShape: [Int] { [inputShape[0], outputSize.0, outputSize.1] }
    private let rowBins: [(Int, Int)], colBins: [(Int, Int)]   // (start, end) per output row / column
    private let y = Tensor(shape: [0])   // (N, C, OH, OW)
    private let gx = Tensor(shape: [0])  // (N, C, H, W)

    public init(name: String = "", inputShape: [Int], outputSize: (Int, Int)) throws {
        let label = name.isEmpty ? "adaptive_avgpool2d" : "adaptive_avgpool2d '\(name)'"
        guard inputShape.count == 3, inputShape.allSatisfy({ $0 > 0 }) else {
            throw ShapeError("\(label): expected input (C, H, W), got \(Shape.format(inputShape))")
        }
        guard outputSize.0 > 0, outputSize.1 > 0 else {
            throw ShapeError("\(label): output size (\(outputSize.0), \(outputSize.1)) must be positive")
        }
        self.name = name; self.inputShape = inputShape; self.outputSize = outputSize
        func bins(_ size: Int, _ out: Int) -> [(Int, Int)] {
            (0..<out).map { i in (i * size / out, ((i + 1) * size + out - 1) / out) }
        }
        rowBins = bins(inputShape[1], outputSize.0)
        colBins = bins(inputShape[2], outputSize.1)
    }

    public func forward(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        checkInput(x, kind: "adaptive_avgpool2d")
        let (c, h, w) = (inputShape[0], inputShape[1], inputShape[2]), (oh, ow) = outputSize
        y.resize([x.dim(0), c, oh, ow])
        for p in 0..<x.dim(0) * c {
            let src = x.data + p * h * w, dst = y.data + p * oh * ow
            for (i, (hs, he)) in rowBins.enumerated() {
                for (j, (ws, we)) in colBins.enumerated() {
                    var s = 0.0
                    if ws == 0 && we == w {   // whole rows: one contiguous run (global average pooling)
                        s = Kernels.sum((he - hs) * w, src + hs * w)
                    } else {
                        for r in hs..<he { s += Kernels.sum(we - ws, src + r * w + ws) }
                    }
                    dst[i * ow + j] = Float(s / Double((he - hs) * (we - ws)))
                }
            }
        }
        return y
    }

    public func backward(_ gy: Tensor, _ ctx: ForwardContext) -> Tensor {
        precondition(gy.shape == y.shape, "adaptive_avgpool2d: gradient \(Shape.format(gy.shape)) does not match output \(Shape.format(y.shape))")
        let (c, h, w) = (inputShape[0], inputShape[1], inputShape[2]), (oh, ow) = outputSize
        gx.resize([gy.dim(0), c, h, w])
        gx.zero()
        for p in 0..<gy.dim(0) * c {
            let src = gy.data + p * oh * ow, dst = gx.data + p * h * w
            for (i, (hs, he)) in rowBins.enumerated() {
                for (j, (ws, we)) in colBins.enumerated() {
                    let v = src[i * ow + j] / Float((he - hs) * (we - ws))
                    for r in hs..<he { for q in ws..<we { dst[r * w + q] += v } }
                }
            }
        }
        return gx
    }
}
