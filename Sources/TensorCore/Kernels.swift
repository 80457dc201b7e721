import CKernels

/// The element-wise kernels and reductions of the layers (residual joins, ReLU, bias terms,
/// gradient sums, BatchNorm's statistics and apply), each once.
///
/// Loops are written with eight-lane `SIMD8<Float>` values: a plain scalar loop with a `? :`
/// select compiles to a branch per element and does not vectorise, and float reductions are
/// not reordered by the compiler on its own. Reductions accumulate in float lanes over short
/// blocks and add the blocks in double.
///
/// Loops that need full-width SIMD or hardware FMA to be fast live in the C target CKernels,
/// compiled for SSE2, AVX2+FMA and AVX-512 and dispatched once per process (`vectorLevel`):
/// Swift builds for the baseline x86-64 target, where `addingProduct` is a libm call.
public enum Kernels {
    /// 0: SSE2, 1: AVX2 + FMA, 2: AVX-512 — the CKernels variant this process runs
    /// (the environment variable TRAINER_SIMD=sse|avx2 caps it, for comparisons).
    public static var vectorLevel: Int { Int(ck_vector_level()) }

    /// The level whose register-block shapes the product kernels use (their blocks must fit that
    /// level's register file): `vectorLevel` unless set. The shapes change which outputs share a
    /// block, never an output's sum, so every level's shapes give the same bits; tests set this to
    /// hold them to it on any CPU, and set it back to nil.
    public static var registerShapes: Int? {
        get { Int(ck_register_shapes()) }
        set { ck_set_register_shapes(Int32(newValue ?? -1)) }
    }

    /// y[i] += alpha · x[i] for i in 0..<n.
    @inlinable
    public static func axpy(_ n: Int, _ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        if alpha == 1 { for i in 0..<n { y[i] += x[i] } } else { for i in 0..<n { y[i] += alpha * x[i] } }
    }

    /// Σ x[i]. Eight float lanes over blocks of 1024 elements (each lane adds ≤ 128 terms),
    /// blocks added in double: vector speed with near-double accuracy.
    @inlinable
    public static func sum(_ n: Int, _ x: UnsafePointer<Float>) -> Double {
        blockReduce(n, { load(x, $0) }, { x[$0] })
    }

    @inlinable @inline(__always)
    static func load(_ p: UnsafePointer<Float>, _ i: Int) -> SIMD8<Float> {
        UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self)
    }

    @inlinable @inline(__always)
    static func store(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>, _ i: Int) {
        UnsafeMutableRawPointer(p + i).storeBytes(of: v, as: SIMD8<Float>.self)
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

// MARK: Element-wise

extension Kernels {
    /// Runs `body(start, count)` over 0..<n split into one contiguous piece per worker of
    /// `pool` (boundaries on multiples of 8, so the SIMD loops see the same lanes).
    @inlinable
    public static func split(_ n: Int, over pool: WorkerPool, _ body: (_ start: Int, _ count: Int) -> Void) {
        let blocks = (n + 7) / 8
        if pool.threads == 1 || blocks < 2 * pool.threads { return body(0, n) }
        pool.parallelFor(pool.threads) { w, _ in
            let r = pool.range(of: w, count: blocks)
            let start = r.lowerBound * 8, end = Swift.min(r.upperBound * 8, n)
            if end > start { body(start, end - start) }
        }
    }

    /// out = a + b over n floats (`out` may be `a` or `b`).
    @inlinable
    public static func add(_ n: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>) {
        var i = 0
        while i + 8 <= n { store(load(a, i) + load(b, i), out, i); i += 8 }
        while i < n { out[i] = a[i] + b[i]; i += 1 }
    }

    /// out = max(a + b, 0) over n floats: the residual join.
    @inlinable
    public static func addReLU(_ n: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>) {
        let zero = SIMD8<Float>()
        var i = 0
        while i + 8 <= n {
            var v = load(a, i) + load(b, i)
            v.replace(with: zero, where: .!(v .> zero))
            store(v, out, i); i += 8
        }
        while i < n { let v = a[i] + b[i]; out[i] = v > 0 ? v : 0; i += 1 }
    }

    /// out = max(x, 0) over n floats (`out` may be `x`). Every ReLU here, vector lanes and
    /// scalar tail alike, keeps x only where x > 0: a NaN becomes 0, wherever it sits.
    @inlinable
    public static func relu(_ n: Int, _ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>) {
        let zero = SIMD8<Float>()
        var i = 0
        while i + 8 <= n {
            var v = load(x, i)
            v.replace(with: zero, where: .!(v .> zero))
            store(v, out, i); i += 8
        }
        while i < n { out[i] = x[i] > 0 ? x[i] : 0; i += 1 }
    }

    /// out = g where y > 0, else 0, and sums[k] += Σ out over channel k's planes: the backward of
    /// a ReLU fused into the layer under it, with that layer's bias gradient (CKernels/relu.c).
    /// All three tensors have planes `image` floats apart per image.
    public static func reluMaskSums(_ b: ChannelBlock, _ g: UnsafePointer<Float>, by y: UnsafePointer<Float>, image: Int,
                                    into out: UnsafeMutablePointer<Float>, sums: UnsafeMutablePointer<Double>) {
        ck_relu_mask_sums(Int32(b.images), Int32(b.channels), Int32(b.spatial), g, y, image, out, sums)
    }

    /// out = g where y > 0, else 0: the ReLU backward through its output y (`out` may be `g`).
    @inlinable
    public static func reluMask(_ n: Int, _ g: UnsafePointer<Float>, by y: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>) {
        let zero = SIMD8<Float>()
        var i = 0
        while i + 8 <= n {
            var v = load(g, i)
            v.replace(with: zero, where: .!(load(y, i) .> zero))
            store(v, out, i); i += 8
        }
        while i < n { out[i] = y[i] > 0 ? g[i] : 0; i += 1 }
    }
}

// MARK: CKernels: BatchNorm over a block of channels

/// The planes of channels k0 ..< k0 + `channels` of `images` images, `spatial` floats each: plane
/// (i, k) of a tensor starts image·i + k·spatial floats after its pointer (which points at channel
/// k0 of image 0). The kernels walk the block image-major and visit a channel's planes in image
/// order (CKernels/batchnorm.c), so its sums do not depend on how channels are blocked.
public struct ChannelBlock {
    public let images: Int, channels: Int, spatial: Int

    public init(images: Int, channels: Int, spatial: Int) {
        self.images = images; self.channels = channels; self.spatial = spatial
    }

    /// Channels per block for passes that read `streams` tensors: the block's planes of every
    /// stream fit in `cacheBytes` (the second pass reads them from cache), at least one channel,
    /// and at most ⌈channels / workers⌉ so every worker has a block.
    public static func width(channels: Int, images: Int, spatial: Int, streams: Int, workers: Int,
                             cacheBytes: Int = 1 << 20) -> Int {
        let perChannel = Swift.max(images * spatial * MemoryLayout<Float>.size * streams, 1)
        let fitting = Swift.max(cacheBytes / perChannel, 1)
        return Swift.min(fitting, (channels + workers - 1) / Swift.max(workers, 1))
    }
}

extension Kernels {
    /// s1[k] += Σ(x − shift[k]) and s2[k] += Σ(x − shift[k])² over channel k's planes of `x`.
    public static func moments(_ b: ChannelBlock, _ x: UnsafePointer<Float>, xImage: Int, shift: UnsafePointer<Float>,
                               s1: UnsafeMutablePointer<Double>, s2: UnsafeMutablePointer<Double>) {
        ck_bn_moments(Int32(b.images), Int32(b.channels), Int32(b.spatial), x, xImage, shift, s1, s2)
    }

    /// y = relu?((x − mean[k])·scale[k] + shift[k]). Centring first keeps float32 rounding
    /// relative to σ even where |μ| ≫ σ (a ReLU input near 0 must land right).
    public static func normalize(_ b: ChannelBlock, _ x: UnsafePointer<Float>, xImage: Int,
                                 into y: UnsafeMutablePointer<Float>, yImage: Int, mean: UnsafePointer<Float>,
                                 scale: UnsafePointer<Float>, shift: UnsafePointer<Float>, relu: Bool) {
        ck_bn_apply(Int32(b.images), Int32(b.channels), Int32(b.spatial), x, xImage, y, yImage, mean, scale, shift,
                    relu ? 1 : 0)
    }

    /// sg[k] += Σĝ and sgx[k] += Σĝ·(x − mean[k]), ĝ = g where the fused ReLU passed its input:
    /// BatchNorm backward's two reductions. The ReLU's mask is recomputed from x with the
    /// forward's arithmetic (the same bits as `normalize`), so the output need not be read: one
    /// stream less, and a shared output may have been overwritten.
    public static func normalizeGradientSums(_ b: ChannelBlock, _ g: UnsafePointer<Float>, gImage: Int,
                                             _ x: UnsafePointer<Float>, xImage: Int, mean: UnsafePointer<Float>,
                                             scale: UnsafePointer<Float>, shift: UnsafePointer<Float>, relu: Bool,
                                             sg: UnsafeMutablePointer<Double>, sgx: UnsafeMutablePointer<Double>) {
        ck_bn_gradient_sums(Int32(b.images), Int32(b.channels), Int32(b.spatial), g, gImage, x, xImage, mean, scale,
                            shift, relu ? 1 : 0, sg, sgx)
    }

    /// dst (+)= scale[k]·ĝ + slope[k]·(x − mean[k]) + offset[k], ĝ as in `normalizeGradientSums`.
    public static func normalizeGradient(_ b: ChannelBlock, _ g: UnsafePointer<Float>, gImage: Int,
                                         _ x: UnsafePointer<Float>, xImage: Int, into dst: UnsafeMutablePointer<Float>,
                                         dstImage: Int, mean: UnsafePointer<Float>, scale: UnsafePointer<Float>,
                                         shift: UnsafePointer<Float>, slope: UnsafePointer<Float>,
                                         offset: UnsafePointer<Float>, relu: Bool, accumulate: Bool) {
        ck_bn_gradient(Int32(b.images), Int32(b.channels), Int32(b.spatial), g, gImage, x, xImage, dst, dstImage,
                       mean, scale, shift, slope, offset, relu ? 1 : 0, accumulate ? 1 : 0)
    }
}

// MARK: CKernels: optimizer update, convolution weight gradients, max-pooling

extension Kernels {
    /// torch.optim.SGD's update over n floats with fused multiply-adds (PyTorch's rounding):
    /// g = grad + wd·p; b = first ? g : m·b + keep·g; d = nesterov ? g + m·b : b; p += negLR·d.
    /// `buffer` (the momentum buffer) is unused when m = 0.
    public static func sgd(_ n: Int, _ p: UnsafeMutablePointer<Float>, _ grad: UnsafePointer<Float>,
                           buffer: UnsafeMutablePointer<Float>?, weightDecay wd: Float, momentum m: Float,
                           keep: Float, negLR: Float, first: Bool, nesterov: Bool) {
        ck_sgd(n, p, grad, buffer, wd, m, keep, negLR, first ? 1 : 0, nesterov ? 1 : 0)
    }

    /// gw (k, c·9; row stride ldgw) += the weight gradient of a 3×3, stride-1, padding-1
    /// convolution over `images` images of x (c, h, w; `xImage` floats apart) and gy (k, h, w;
    /// `gyImage` apart), read from the planes without an im2col matrix (CKernels/conv3x3.c).
    /// `scratch` holds `conv3x3ScratchFloats(images:height:width:)` floats.
    public static func accumulate3x3Gradient(outChannels k: Int, inChannels c: Int, images: Int, height h: Int, width w: Int,
                                             _ x: UnsafePointer<Float>, xImage: Int, _ gy: UnsafePointer<Float>, gyImage: Int,
                                             into gw: UnsafeMutablePointer<Float>, ldgw: Int, scratch: UnsafeMutablePointer<Float>) {
        ck_conv3x3_weight_gradient(Int32(k), Int32(c), Int32(images), Int32(h), Int32(w), x, xImage, gy, gyImage,
                                   gw, ldgw, scratch)
    }

    /// 2×2 stride-2 max-pool of one plane (row stride `width`): values and input positions of
    /// the first maximum of each window, or of its first NaN (CKernels/pooling.c).
    public static func maxPool2x2(_ src: UnsafePointer<Float>, width: Int, into dst: UnsafeMutablePointer<Float>,
                                  _ arg: UnsafeMutablePointer<Int32>, outHeight: Int, outWidth: Int) {
        ck_maxpool2x2(src, Int32(width), dst, arg, Int32(outHeight), Int32(outWidth))
    }

    /// Its backward: every pixel of the plane's windows (row stride `width`) set to its window's
    /// gradient where `arg` recorded the maximum, 0 elsewhere (no separate zeroing pass).
    public static func maxPool2x2Backward(_ gy: UnsafePointer<Float>, _ arg: UnsafePointer<Int32>, outHeight: Int, outWidth: Int,
                                          into dst: UnsafeMutablePointer<Float>, width: Int) {
        ck_maxpool2x2_backward(gy, arg, Int32(outHeight), Int32(outWidth), dst, Int32(width))
    }

    /// y (k planes per image, `yImage` floats apart) = relu?(bias + the 3×3 stride-1 padding-1
    /// (`kernel` 3) or pointwise (`kernel` 1) convolution of x (c planes, `xImage` apart)) over
    /// `images` images whose h·w is a multiple of 16, with register-blocked accumulators
    /// (CKernels/blocked.c). `packed` comes from `packBlockedConvolution`; `scratch` holds
    /// `blockedScratchFloats` floats.
    public static func blockedConvolution(outChannels k: Int, inChannels c: Int, kernel: Int, images: Int,
                                          height h: Int, width w: Int, _ x: UnsafePointer<Float>, xImage: Int,
                                          packed: UnsafePointer<Float>, bias: UnsafePointer<Float>?, relu: Bool,
                                          into y: UnsafeMutablePointer<Float>, yImage: Int,
                                          scratch: UnsafeMutablePointer<Float>) {
        ck_blocked_conv(Int32(k), Int32(c), Int32(kernel), Int32(images), Int32(h), Int32(w), x, xImage, packed, bias,
                        relu ? 1 : 0, y, yImage, scratch)
    }

    /// `blockedConvolution`'s weights for k outputs from c inputs, from w (k, c, kernel, kernel);
    /// `flipped`: the input gradient's kernel of a layer with weights (c, k, kernel, kernel)
    /// (taps reversed, roles swapped).
    public static func packBlockedConvolution(outChannels k: Int, inChannels c: Int, kernel: Int, _ w: UnsafePointer<Float>,
                                              flipped: Bool, into packed: UnsafeMutablePointer<Float>) {
        ck_blocked_conv_pack(Int32(k), Int32(c), Int32(kernel), w, flipped ? 1 : 0, packed)
    }

    /// Floats of `packBlockedConvolution`'s output and of `blockedConvolution`'s scratch.
    public static func blockedPackedFloats(outChannels k: Int, inChannels c: Int, kernel: Int) -> Int {
        ck_blocked_conv_packed(Int32(k), Int32(c), Int32(kernel))
    }
    public static func blockedScratchFloats(inChannels c: Int, kernel: Int, height h: Int, width w: Int) -> Int {
        ck_blocked_conv_scratch(Int32(c), Int32(kernel), Int32(h), Int32(w))
    }

    /// 2×2 stride-2 average pool of one plane of even height and width (row stride `width`),
    /// eight windows at a time, the scalar loop's sums (CKernels/pooling.c).
    public static func avgPool2x2(_ src: UnsafePointer<Float>, width: Int, into dst: UnsafeMutablePointer<Float>,
                                  outHeight: Int, outWidth: Int) {
        ck_avgpool2x2(src, Int32(width), dst, Int32(outHeight), Int32(outWidth))
    }

    /// Its backward: every input of the plane (row stride `width`) set to its window's gradient / 4.
    public static func avgPool2x2Backward(_ gy: UnsafePointer<Float>, outHeight: Int, outWidth: Int,
                                          into dst: UnsafeMutablePointer<Float>, width: Int) {
        ck_avgpool2x2_backward(gy, Int32(outHeight), Int32(outWidth), dst, Int32(width))
    }

    /// Floats of `accumulate3x3Gradient`'s scratch for a chunk of `images` h×w maps of k outputs.
    public static func conv3x3ScratchFloats(outChannels k: Int, images: Int, height h: Int, width w: Int) -> Int {
        ck_conv3x3_weight_gradient_scratch(Int32(k), Int32(images), Int32(h), Int32(w))
    }

    /// gw (k, c; row stride ldgw) += gy (k, cols; ldgy) · col (c, cols; ldcol)ᵀ, the weight
    /// gradient's product at the CPU's SIMD width, each entry summed in an order fixed by `cols`
    /// (OpenBLAS packs and zero-pads these skinny shapes; see CKernels/winograd.c).
    public static func accumulateGradient(rows k: Int, columns c: Int, inner cols: Int, _ gy: UnsafePointer<Float>, ldgy: Int,
                                          _ col: UnsafePointer<Float>, ldcol: Int, into gw: UnsafeMutablePointer<Float>, ldgw: Int) {
        ck_gradient_products(Int32(k), Int32(c), Int32(cols), gy, ldgy, col, ldcol, gw, ldgw)
    }
}
