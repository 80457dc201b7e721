import TensorCore

/// The three training passes of a 3×3, stride-1, padding-1, ungrouped convolution by Winograd
/// F(m×m, 3×3) (see `Winograd` for the layouts), split over image chunks on the worker pool.
///
/// - Forward: U = G g Gᵀ once per call; per chunk V = Bᵀ d B, M[ξ] = U[ξ]·V[ξ], y = Aᵀ M A + bias.
/// - ∂input: the forward of ∂y with the flipped kernel (w'(c, k) = rot180 w(k, c)), ∂x written.
/// - ∂weight (`winograd`, `winograd_f4` only; `auto` leaves it to Conv2d's GEMM, see
///   `ConvPlan.winogradWeightGradient`): per chunk Z = A ∂y Aᵀ and V (recomputed: keeping every
///   chunk's V from the forward would cost 2.25–4× the layer's input in memory), ∂U[ξ] +=
///   Z[ξ]·V[ξ]ᵀ in the worker's partial sum; the partials are added in worker order and
///   ∂g += Gᵀ ∂U G.
///
/// A worker's workspace (V, M or Z, and the zero-bordered input copy) comes from the pool's
/// scratch and stays under `maxWorkspace` floats unless one image needs more.
final class WinogradConvolution {
    let engine: Winograd
    let inChannels: Int, outChannels: Int
    /// Upper bound on a chunk's transformed input and product matrices (V and M, or V and Z) in
    /// floats, unless a single image needs more: 1 MB keeps both in L2 between the transforms
    /// and the products. The 4 MB chunks this was before ran the three steps of a 16-channel
    /// 32×32 layer 1.3–1.5× slower (the products from L3, the output transform stalled on M).
    var maxWorkspace = 1 << 18
    private let filters = Tensor(shape: [0])   // U (α², K, C) in forward, flipped (α², C, K) in backward

    init(m: Int, inChannels: Int, outChannels: Int, height: Int, width: Int) {
        engine = Winograd(m: m, height: height, width: width)
        self.inChannels = inChannels; self.outChannels = outChannels
    }

    /// Images per chunk for a batch of `n` on `threads` workers: the workspace within
    /// `maxWorkspace`, at least one image, and every worker given a chunk when the batch allows.
    func chunkImages(batch n: Int, threads: Int) -> Int {
        let perImage = engine.points * (inChannels + outChannels) * engine.tilesPerImage
        let fit = Swift.max(1, maxWorkspace / perImage)
        return Swift.max(1, Swift.min(fit, (n + threads - 1) / threads))
    }

    /// Worker w's workspace for chunks of `images`: (V, M) or (V, Z), padded copy, row stride.
    private func workspace(_ pool: WorkerPool, _ w: Int, images: Int)
        -> (v: UnsafeMutablePointer<Float>, m: UnsafeMutablePointer<Float>, pad: UnsafeMutablePointer<Float>, ld: Int) {
        let ld = Winograd.leadingDimension(tiles: images * engine.tilesPerImage)
        let c = Swift.max(inChannels, outChannels)
        let vCount = engine.points * c * ld, mCount = engine.points * c * ld
        let base = pool.scratch(w, count: vCount + mCount + engine.paddedCount(images: images))
        return (base, base + vCount, base + vCount + mCount, ld)
    }

    /// Floats one worker's workspace takes for a batch of `n` (tests of the bound).
    func workspaceFloats(batch n: Int, threads: Int) -> Int {
        let b = chunkImages(batch: n, threads: threads)
        let ld = Winograd.leadingDimension(tiles: b * engine.tilesPerImage)
        return 2 * engine.points * Swift.max(inChannels, outChannels) * ld + engine.paddedCount(images: b)
    }

    // MARK: - Passes

    /// y (N, K, H, W) = relu?(conv(x (N, C, H, W), w) + bias).
    func forward(_ x: UnsafePointer<Float>, batch n: Int, weight w: UnsafePointer<Float>,
                 bias: UnsafePointer<Float>?, relu: Bool, into y: UnsafeMutablePointer<Float>, pool: WorkerPool) {
        let (c, k) = (inChannels, outChannels)
        filters.resize([engine.points, k, c])
        engine.transformFilters(w, outChannels: k, inChannels: c, flipped: false, into: filters.data)
        convolve(x, channels: c, batch: n, filters: UnsafePointer(filters.data), outChannels: k,
                 bias: bias, relu: relu, into: y, pool: pool)
    }

    /// ∂x (N, C, H, W) of ∂y (N, K, H, W): the forward of ∂y with the flipped kernel.
    func inputGradient(_ gy: UnsafePointer<Float>, batch n: Int, weight w: UnsafePointer<Float>,
                       into gx: UnsafeMutablePointer<Float>, pool: WorkerPool) {
        let (c, k) = (inChannels, outChannels)
        filters.resize([engine.points, c, k])
        engine.transformFilters(w, outChannels: k, inChannels: c, flipped: true, into: filters.data)
        convolve(gy, channels: k, batch: n, filters: UnsafePointer(filters.data), outChannels: c,
                 bias: nil, relu: false, into: gx, pool: pool)
    }

    /// out = relu?(conv(src, filters) + bias) per chunk: transform, α² GEMMs, inverse transform.
    private func convolve(_ src: UnsafePointer<Float>, channels cin: Int, batch n: Int,
                          filters u: UnsafePointer<Float>, outChannels cout: Int,
                          bias: UnsafePointer<Float>?, relu: Bool, into out: UnsafeMutablePointer<Float>,
                          pool: WorkerPool) {
        let e = engine, plane = e.height * e.width
        let chunk = chunkImages(batch: n, threads: pool.threads)
        let chunks = (n + chunk - 1) / chunk
        pool.parallelFor(chunks) { index, worker in
            let n0 = index * chunk, b = Swift.min(chunk, n - n0), tiles = b * e.tilesPerImage
            let ws = workspace(pool, worker, images: chunk)
            e.transformInput(src + n0 * cin * plane, images: b, imageStride: cin * plane, channels: cin,
                             into: ws.v, ld: ws.ld, pad: ws.pad)
            e.multiply(u, rows: cout, inner: cin, ws.v, tiles: tiles, ld: ws.ld, into: ws.m)
            e.transformOutput(ws.m, ld: ws.ld, images: b, channels: cout, bias: bias, relu: relu,
                              into: out + n0 * cout * plane, imageStride: cout * plane, pad: ws.pad)
        }
    }

    /// gw (K, C, 3, 3) += ∂L/∂w for input x and output gradient gy.
    func weightGradient(_ x: UnsafePointer<Float>, _ gy: UnsafePointer<Float>, batch n: Int,
                        into gw: UnsafeMutablePointer<Float>, pool: WorkerPool) {
        let e = engine, (c, k) = (inChannels, outChannels), plane = e.height * e.width
        let chunk = chunkImages(batch: n, threads: pool.threads)
        let chunks = (n + chunk - 1) / chunk
        let partials = pool.partials
        partials.prepare(count: e.points * k * c)
        pool.parallelFor(chunks) { index, worker in
            let n0 = index * chunk, b = Swift.min(chunk, n - n0), tiles = b * e.tilesPerImage
            let ws = workspace(pool, worker, images: chunk)
            e.transformInput(x + n0 * c * plane, images: b, imageStride: c * plane, channels: c,
                             into: ws.v, ld: ws.ld, pad: ws.pad)
            e.transformGradient(gy + n0 * k * plane, images: b, imageStride: k * plane, channels: k,
                                into: ws.m, ld: ws.ld, pad: ws.pad)
            e.accumulateProducts(ws.m, outChannels: k, ws.v, inChannels: c, tiles: tiles, ld: ws.ld,
                                 into: partials.slot(worker))
        }
        let du = UnsafePointer(partials.combined())
        pool.onEveryWorker { w in
            e.accumulateFilterGradient(du, outChannels: k, inChannels: c, rows: pool.range(of: w, count: k), into: gw)
        }
    }
}
