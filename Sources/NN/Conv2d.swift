import TensorCore

/// 2-D convolution (PyTorch `nn.Conv2d` with square kernel, dilation 1): any kernel, stride,
/// padding and groups (depthwise included), optional bias.
///
/// Every convolution is a GEMM per group over an im2col matrix. To give OpenBLAS wide operands
/// on small feature maps, a *chunk* of images is lowered side by side into one bounded
/// workspace (about `chunkColumns` GEMM columns, never the whole batch) and the GEMM result is
/// scattered to NCHW; a chunk of one image (maps of ≥ `chunkColumns` pixels) multiplies straight
/// into y. A 1x1 stride-1 unpadded convolution on a map of at least `directMinPixels` skips
/// im2col entirely: the input planes are the GEMM operand. GEMMs accumulate (beta = 1) onto
/// rows pre-filled with the bias or zeros, which is cheaper than OpenBLAS's separate beta
/// pass and needs no bias pass.
///
/// 3×3 stride-1 layers the plan gives to Winograd (`ConvPlan`) run their forward and ∂input
/// by `WinogradConvolution`, and their ∂weight here unless `winograd`/`winograd_f4` asked for
/// it in the Winograd domain too. 3×3 and pointwise layers with few output channels run forward
/// and ∂input by the register-blocked kernel instead (ConvBlocked.swift, `ConvPlan.blocked`).
///
/// Backward recomputes each chunk's im2col (memory stays bounded) and adds ∂weight over all of
/// the chunk's columns (`Kernels.accumulateGradient`); a 3×3 stride-1 padding-1 ungrouped layer
/// reads its ∂weight straight from the input planes instead (`Kernels.accumulate3x3Gradient`). ∂input is W_gᵀ·∂y into the workspace followed by
/// col2im, except for "same" stride-1 convolutions that do not widen the channels, where it is
/// the convolution of ∂y with the flipped kernel (see `transposedGradient`). Outputs and
/// workspaces are resized, never reallocated, after the first step at a given batch size.
public final class Conv2d: Layer {
    public let name: String
    public let inputShape: [Int]
    public let outputShape: [Int]
    public let inChannels: Int, outChannels: Int
    public let kernel: Int, stride: Int, padding: Int, groups: Int
    public let weight: Parameter          // (O, C/groups, k, k)
    public let bias: Parameter?           // (O)
    /// When false, backward skips ∂input (the first layer of a model: no col2im, a third
    /// fewer FLOPs, no input-sized gradient buffer) and returns an empty tensor (shape [0]).
    public var propagatesInputGradient = true
    /// Target GEMM column count of one image chunk (bounds the workspace together with
    /// `maxWorkspace`); tunable for benchmarks.
    public var chunkColumns = 1024
    /// Upper bound on the im2col workspace in floats, unless a single image needs more.
    public var maxWorkspace = 1 << 20
    /// Pointwise (1x1, stride 1, unpadded) convolutions on maps of at least this many pixels
    /// use the input as the GEMM operand directly, one GEMM per image, no im2col; smaller
    /// maps gain more from chunking.
    public var directMinPixels = 64

    /// Requested algorithm (`model.conv_algorithm`); `plannedAlgorithm` is what runs.
    public var algorithm: ConvAlgorithm = .auto { didSet { winograd = makePlan() } }
    /// The Winograd passes when the plan chose them, nil for im2col + GEMM.
    private var winograd: WinogradConvolution?
    /// Winograd's output tile m of F(m×m, 3×3) in use, nil when the layer runs im2col + GEMM.
    public var winogradTile: Int? { winograd?.engine.m }
    /// Forces Winograd's output tile (2 or 4) instead of the plan's, where Winograd runs (tuning, tests).
    public var winogradTileOverride: Int? { didSet { winograd = makePlan() } }
    /// Upper bound on one worker's Winograd workspace in floats (tests, tuning).
    public var winogradWorkspace: Int {
        get { winograd?.maxWorkspace ?? 0 }
        set { winograd?.maxWorkspace = newValue }
    }

    public let geometry: ConvGeometry
    private let lowering: Im2col
    private let y = Tensor(shape: [0])        // (N, O, OH, OW)
    private let gx = Tensor(shape: [0])       // (N, C, H, W)
    private let noInputGradient = Tensor(shape: [0])
    private let flipped = Tensor(shape: [0])  // (groups, Cg, Og·k·k): W_g transposed, taps reversed
    private var input: Tensor?                // (N, C, H, W), kept from forward for backward
    /// ∂y masked by a fused ReLU (`fuseReLU`), and the bias-gradient sums of that pass.
    let maskedGradient = Tensor(shape: [0])  // (N, O, OH, OW)
    let maskedSums: UnsafeMutablePointer<Double>  // (O)

    /// Whether the ReLU after this layer runs inside it (`fuseReLU()`): the forward writes
    /// relu(conv(x) + b), the Winograd output transform applying it to rows still in cache, and
    /// backward masks ∂y by the output in the pass that also sums the bias gradient. The ReLU
    /// layer itself then passes values through (it keeps its place in the list).
    public private(set) var fusedReLU = false
    public func fuseReLU() { fusedReLU = true }

    public init(at scope: ParameterScope, inputShape: [Int], outChannels: Int, kernel: Int, stride: Int = 1,
                padding: Int = 0, groups: Int = 1, bias: Bool = true) throws {
        let name = scope.path
        let label = name.isEmpty ? "Conv2d" : "Conv2d '\(name)'"
        guard inputShape.count == 3, inputShape.allSatisfy({ $0 > 0 }) else {
            throw ShapeError("\(label): expected input (C, H, W), got \(Shape.format(inputShape))")
        }
        guard kernel > 0, stride > 0, padding >= 0, groups > 0, outChannels > 0 else {
            throw ShapeError("\(label): kernel \(kernel), stride \(stride), groups \(groups) and out channels \(outChannels) must be positive, padding \(padding) not negative")
        }
        let (c, h, w) = (inputShape[0], inputShape[1], inputShape[2])
        guard c % groups == 0, outChannels % groups == 0 else {
            throw ShapeError("\(label): input \(Shape.format(inputShape)) has \(c) channels and output has \(outChannels); both must be divisible by groups = \(groups)")
        }
        let oh = Shape.windowOutput(input: h, kernel: kernel, stride: stride, padding: padding)
        let ow = Shape.windowOutput(input: w, kernel: kernel, stride: stride, padding: padding)
        guard oh > 0, ow > 0, h + 2 * padding >= kernel, w + 2 * padding >= kernel else {
            throw ShapeError("\(label): kernel \(kernel) with padding \(padding) does not fit input \(Shape.format(inputShape))")
        }
        self.name = name; self.inputShape = inputShape
        self.outputShape = [outChannels, oh, ow]
        self.inChannels = c; self.outChannels = outChannels
        self.kernel = kernel; self.stride = stride; self.padding = padding; self.groups = groups
        geometry = ConvGeometry(height: h, width: w, kernel: kernel, stride: stride, padding: padding)
        lowering = Im2col(geometry)
        let fanIn = c / groups * kernel * kernel
        let bound = 1 / Float(fanIn).squareRoot()
        weight = scope.declare("weight", shape: [outChannels, c / groups, kernel, kernel],
                               initializer: .uniform(bound: bound))
        self.bias = bias ? scope.declare("bias", shape: [outChannels], initializer: .uniform(bound: bound)) : nil
        maskedSums = .allocate(capacity: outChannels)
        winograd = makePlan()
    }

    deinit { maskedSums.deallocate() }

    /// The algorithm for this layer's shape, made once (the shape is fixed at build): see `ConvPlan`.
    private func makePlan() -> WinogradConvolution? {
        guard var m = ConvPlan.winogradTile(self, requested: algorithm) else { return nil }
        if let t = winogradTileOverride, t == 2 || t == 4 { m = t }
        return WinogradConvolution(m: m, inChannels: inChannels, outChannels: outChannels,
                                   height: geometry.height, width: geometry.width)
    }

    public var macsPerSample: Int {
        outChannels * (inChannels / groups) * kernel * kernel * geometry.outPixels
    }

    // MARK: - Plan

    /// Input channels, output channels and im2col rows of one group.
    private var cg: Int { inChannels / groups }
    private var og: Int { outChannels / groups }
    private var kc: Int { cg * geometry.taps }

    private var isDirect: Bool { geometry.isPointwise && geometry.outPixels >= directMinPixels }

    /// ∂input of a "same" stride-1 convolution is itself such a convolution of ∂y with the
    /// flipped, transposed kernel: im2col(∂y) (Og·k², P) and a GEMM into (Cg, P) replace the
    /// (Cg·k², P) ∂col GEMM, its zeroing and the scatter-add of col2im. Chosen when ∂y has no
    /// more channels than the input (so its im2col is no larger); `transposedGradient` off
    /// forces col2im (tests).
    public var transposedGradient = true
    private var usesTransposedGradient: Bool {
        transposedGradient && geometry.isSameStride1 && !geometry.isPointwise && og <= cg
    }

    /// ∂weight of a 3×3 stride-1 padding-1 ungrouped convolution is read from the input planes
    /// (`Kernels.accumulate3x3Gradient`) instead of a 9-row im2col matrix per input channel;
    /// `planeWeightGradient` off forces im2col + products (tests).
    public var planeWeightGradient = true

    /// Forward and ∂input of the layers `ConvPlan.blocked` picks by the register-blocked kernel
    /// (`Kernels.blockedConvolution`); `blockedKernel` off gives them to Winograd or GEMM (tests).
    public var blockedKernel = true { didSet { winograd = makePlan() } }
    public var usesBlockedKernel: Bool { blockedKernel && ConvPlan.blocked(self, requested: algorithm) }
    /// `Kernels.packBlockedConvolution`'s weights of the pass in progress.
    let blockedWeights = Tensor(shape: [0])

    private var usesPlaneWeightGradient: Bool {
        planeWeightGradient && groups == 1 && geometry.kernel == 3 && geometry.padding == 1 && geometry.isSameStride1
    }

    /// Images per chunk: about `chunkColumns` GEMM columns, the workspace within `maxWorkspace`
    /// floats, at least one image.
    ///
    /// A function of the layer alone, not of the batch or the thread count, and every chunk's
    /// GEMMs are this many images wide (a last, short chunk is padded with zero columns):
    /// OpenBLAS's Haswell and Zen sgemm kernels round an entry differently depending on the
    /// width of the product (16×144 by 144×192 against the same columns of a 512-wide product:
    /// 41 of 3072 entries differ), so an image's output and ∂input would otherwise depend on the
    /// batch it came in, and N ranks would not give 1 rank's bits. A power of two, so the usual
    /// power-of-two batches split into whole chunks over the workers.
    private var chunkImages: Int {
        let p = geometry.outPixels, most = Swift.min(chunkColumns / p, maxWorkspace / (kc * p))
        return most < 2 ? 1 : 1 << (Int.bitWidth - 1 - most.leadingZeroBitCount)
    }

    /// Zeroes columns b·P ..< chunkImages·P of `rows` rows (row stride ld): the padding of a
    /// short chunk's GEMM operand.
    private func padColumns(_ m: UnsafeMutablePointer<Float>, rows: Int, ld: Int, images b: Int) {
        let p = geometry.outPixels, width = chunkImages * p
        guard b * p < width else { return }
        for r in 0..<rows { (m + r * ld + b * p).update(repeating: 0, count: width - b * p) }
    }

    /// Row stride of the chunk workspace: a multiple of 512 bytes is nudged off the power of
    /// two so GEMM packing does not walk one cache set.
    private static func leadingDimension(_ columns: Int) -> Int {
        columns >= 128 && columns % 128 == 0 ? columns + 16 : columns
    }

    /// One worker's chunk workspace: im2col (Kc, ld) or the plane ∂weight's scratch, then staging
    /// (max(Og, Cg), ld) for the GEMM output or gathered ∂y of a chunk of several images.
    private struct Workspace {
        let col: UnsafeMutablePointer<Float>, stage: UnsafeMutablePointer<Float>, ld: Int
    }

    /// Floats of a chunk of b images' workspace: the column region, then the staging rows.
    private func workspaceLayout(images b: Int) -> (ld: Int, columns: Int, total: Int) {
        let ld = Conv2d.leadingDimension(b * geometry.outPixels)
        var columns = kc * ld
        if usesPlaneWeightGradient {
            columns = Swift.max(columns, Kernels.conv3x3ScratchFloats(outChannels: og, images: b, height: geometry.height, width: geometry.width))
        }
        return (ld, columns, columns + (b > 1 ? Swift.max(og, cg) * ld : 0))
    }

    /// Worker w's workspace for chunks of `images`, in the pool's scratch (shared by all layers).
    private func workspace(_ pool: WorkerPool, _ w: Int, images b: Int) -> Workspace {
        let layout = workspaceLayout(images: b)
        let base = pool.scratch(w, count: layout.total)
        return Workspace(col: base, stage: base + layout.columns, ld: layout.ld)
    }

    /// Floats one worker's workspace takes for a batch of `n` (tests of the bound).
    public func workspaceFloats(batch n: Int, threads: Int = 1) -> Int {
        var gemm = workspaceLayout(images: chunkImages).total
        if usesBlockedKernel {
            let g = geometry
            gemm = Swift.max(gemm, Kernels.blockedScratchFloats(inChannels: Swift.max(inChannels, outChannels),
                                                                kernel: g.kernel, height: g.height, width: g.width))
        }
        guard let winograd else { return gemm }
        let tiles = winograd.workspaceFloats(batch: n, threads: threads)
        return ConvPlan.winogradWeightGradient(requested: algorithm) ? tiles : Swift.max(tiles, gemm)
    }

    // MARK: - Forward

    public func forward(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        checkInput(x, kind: "Conv2d")
        input = x
        let n = x.dim(0), g = geometry, p = g.outPixels
        y.resize([n, outChannels, g.outHeight, g.outWidth])
        let cg = self.cg, og = self.og
        let xImage = inChannels * g.inPixels, yImage = outChannels * p
        let w = UnsafePointer(weight.value!), xs = UnsafePointer(x.data), ys = y.data

        // Every GEMM accumulates (beta = 1) onto rows pre-filled with the bias (or 0): one
        // fast fill instead of OpenBLAS's separate beta pass plus a bias pass over y.
        let bv = bias.map { UnsafePointer($0.value!) }
        if let winograd {
            winograd.forward(xs, batch: n, weight: w, bias: bv, relu: fusedReLU, into: ys, pool: ctx.pool)
            return y
        }
        if usesBlockedKernel {
            blockedPass(xs, batch: n, outChannels: outChannels, inChannels: inChannels, flipped: false, bias: bv,
                        relu: fusedReLU, into: ys, pool: ctx.pool)
            return y
        }
        let pool = ctx.pool
        defer { if fusedReLU { applyFusedReLU(y, pool) } }
        if isDirect {
            // y_n[group] (Og, P) = bias + W_g (Og, Cg) · x_n[group] (Cg, P), images on the pool
            pool.parallelFor(n) { i, _ in
                for grp in 0..<groups {
                    let out = ys + i * yImage + grp * og * p
                    Conv2d.fill(out, rows: og, columns: p, ld: p, bias: bv.map { $0 + grp * og })
                    BLAS.sgemm(m: og, n: p, k: cg, a: w + grp * og * cg, lda: cg,
                               b: xs + i * xImage + grp * cg * p, ldb: p, beta: 1, c: out, ldc: p)
                }
            }
            return y
        }
        let chunk = chunkImages
        pool.parallelFor((n + chunk - 1) / chunk) { index, worker in
            let n0 = index * chunk
            let ws = workspace(pool, worker, images: chunk)
            forwardChunk(xs + n0 * xImage, images: Swift.min(chunk, n - n0), ws, w, bv, ys + n0 * yImage)
        }
        return y
    }

    /// im2col of group `grp` of b images side by side: (Cg·k², b·P) columns at stride `ws.ld`.
    private func lowerGroup(_ grp: Int, of xs: UnsafePointer<Float>, images b: Int, into ws: Workspace) {
        let g = geometry, p = g.outPixels, xImage = inChannels * g.inPixels
        for i in 0..<b {
            lowering.im2col(xs + i * xImage + grp * cg * g.inPixels, channels: cg, into: ws.col + i * p, ld: ws.ld)
        }
    }

    /// y (b, O, P) = bias + W · im2col(x) for a chunk of b images, group by group, by GEMMs
    /// `chunkImages` wide.
    private func forwardChunk(_ xs: UnsafePointer<Float>, images b: Int, _ ws: Workspace,
                              _ w: UnsafePointer<Float>, _ bv: UnsafePointer<Float>?, _ ys: UnsafeMutablePointer<Float>) {
        let g = geometry, p = g.outPixels, og = self.og, kc = self.kc, width = chunkImages
        let yImage = outChannels * p
        let cols = ws.col, stage = ws.stage, ld = ws.ld
        for grp in 0..<groups {
            lowerGroup(grp, of: xs, images: b, into: ws)
            padColumns(cols, rows: kc, ld: ld, images: b)
            let wg = w + grp * og * kc, bg = bv.map { $0 + grp * og }
            if width == 1 {
                // y_n[group] (Og, P) = bias + W_g (Og, Kc) · col (Kc, P)
                let out = ys + grp * og * p
                Conv2d.fill(out, rows: og, columns: p, ld: p, bias: bg)
                BLAS.sgemm(m: og, n: p, k: kc, a: wg, lda: kc, b: cols, ldb: ld, beta: 1, c: out, ldc: p)
            } else {
                // staging (Og, b·P) = bias + W_g · col (Kc, b·P), then scattered to (b, O, P).
                Conv2d.fill(stage, rows: og, columns: width * p, ld: ld, bias: bg)
                BLAS.sgemm(m: og, n: width * p, k: kc, a: wg, lda: kc, b: cols, ldb: ld, beta: 1, c: stage, ldc: ld)
                for i in 0..<b {
                    let dst = ys + i * yImage + grp * og * p
                    for o in 0..<og { (dst + o * p).update(from: stage + o * ld + i * p, count: p) }
                }
            }
        }
    }

    /// Row o of the (rows, columns) block at `c` (row stride ld) ← bias[o], or 0 without bias.
    private static func fill(_ c: UnsafeMutablePointer<Float>, rows: Int, columns: Int, ld: Int,
                             bias: UnsafePointer<Float>?) {
        for o in 0..<rows { (c + o * ld).update(repeating: bias?[o] ?? 0, count: columns) }
    }

    // MARK: - Backward

    public func backward(_ gy: Tensor, _ ctx: ForwardContext) -> Tensor {
        guard let x = input else { preconditionFailure("Conv2d '\(name)': backward called before forward") }
        precondition(gy.shape == y.shape,
                     "Conv2d '\(name)': gradient \(Shape.format(gy.shape)) does not match output \(Shape.format(y.shape))")
        let n = x.dim(0), pool = ctx.pool
        let xs = UnsafePointer(x.data)
        let gys = fusedReLU ? maskByOutput(gy, y, pool) : UnsafePointer(gy.data)
        let propagate = propagatesInputGradient
        if propagate { gx.resize(x.shape) }
        if bias != nil && !fusedReLU { biasGradient(gys, batch: n, pool: pool) }
        if let winograd {
            if propagate { winograd.inputGradient(gys, batch: n, weight: UnsafePointer(weight.value!), into: gx.data, pool: pool) }
            if ConvPlan.winogradWeightGradient(requested: algorithm) {
                winograd.weightGradient(xs, gys, batch: n, into: weight.grad!, pool: pool)
                return propagate ? gx : noInputGradient
            }
        }
        if usesBlockedKernel && propagate {
            blockedPass(gys, batch: n, outChannels: inChannels, inChannels: outChannels, flipped: true, bias: nil,
                        relu: false, into: gx.data, pool: pool)
        }
        gemmBackward(xs, gys, batch: n, inputGradient: propagate && winograd == nil && !usesBlockedKernel, pool: pool)
        return propagate ? gx : noInputGradient
    }

    /// ∂bias[o] += Σ_n Σ_p ∂y[n, o, p], channels on the pool (each summed in image order).
    private func biasGradient(_ gys: UnsafePointer<Float>, batch n: Int, pool: WorkerPool) {
        let gb = bias!.grad!, p = geometry.outPixels, yImage = outChannels * p
        pool.parallelFor(outChannels) { o, _ in
            for i in 0..<n { gb[o] += Conv2d.sum(gys + i * yImage + o * p, count: p) }
        }
    }

    /// ∂W by im2col + GEMM and, with `inputGradient`, ∂x into gx. ∂W accumulates per worker,
    /// added into ∂W in worker order (straight into it on one thread).
    private func gemmBackward(_ xs: UnsafePointer<Float>, _ gys: UnsafePointer<Float>, batch n: Int,
                              inputGradient propagate: Bool, pool: WorkerPool) {
        let gw = weight.grad!, partials = pool.partials
        if pool.threads > 1 { partials.prepare(count: weight.count) }
        let gwOf = { (worker: Int) in pool.threads > 1 ? partials.slot(worker) : gw }
        defer { if pool.threads > 1 { partials.add(into: gw) } }
        if isDirect {
            directBackward(xs, gys, batch: n, inputGradient: propagate, pool: pool, gw: gwOf)
            return
        }
        let xImage = inChannels * geometry.inPixels, yImage = outChannels * geometry.outPixels
        let w = UnsafePointer(weight.value!), gxs = gx.data
        let transposed = propagate && usesTransposedGradient
        if transposed { flipWeights() }
        let chunk = chunkImages
        pool.parallelFor((n + chunk - 1) / chunk) { index, worker in
            let n0 = index * chunk
            let ws = workspace(pool, worker, images: chunk)
            backwardChunk(xs + n0 * xImage, gys + n0 * yImage, images: Swift.min(chunk, n - n0), ws, w,
                          gw: gwOf(worker), gx: propagate ? gxs + n0 * xImage : nil, transposed: transposed)
        }
    }

    /// ∂W and, with `inputGradient`, ∂x of a pointwise convolution on the input planes, image by image.
    private func directBackward(_ xs: UnsafePointer<Float>, _ gys: UnsafePointer<Float>, batch n: Int,
                                inputGradient propagate: Bool, pool: WorkerPool, gw gwOf: (Int) -> UnsafeMutablePointer<Float>) {
        let p = geometry.outPixels, cg = self.cg, og = self.og
        let xImage = inChannels * geometry.inPixels, yImage = outChannels * p
        let w = UnsafePointer(weight.value!), gxs = gx.data
        pool.parallelFor(n) { i, worker in
            for grp in 0..<groups {
                let gyn = gys + i * yImage + grp * og * p        // (Og, P)
                let xn = xs + i * xImage + grp * cg * p           // (Cg, P)
                // ∂W_g (Og, Cg) += ∂y_n (Og, P) · x_nᵀ (P, Cg)
                Kernels.accumulateGradient(rows: og, columns: cg, inner: p, gyn, ldgy: p, xn, ldcol: p,
                                           into: gwOf(worker) + grp * og * cg, ldgw: cg)
                guard propagate else { continue }
                // ∂x_n (Cg, P) = W_gᵀ (Cg, Og) · ∂y_n (Og, P), onto zeros (see forward)
                let out = gxs + i * xImage + grp * cg * p
                out.update(repeating: 0, count: cg * p)
                BLAS.sgemm(transA: true, m: cg, n: p, k: og, a: w + grp * og * cg, lda: cg,
                           b: gyn, ldb: p, beta: 1, c: out, ldc: p)
            }
        }
    }

    /// ∂W += ∂y · im2col(x)ᵀ and, when `gx` is given, ∂x of a chunk of b images, group by group.
    private func backwardChunk(_ xs: UnsafePointer<Float>, _ gys: UnsafePointer<Float>, images b: Int,
                               _ ws: Workspace, _ w: UnsafePointer<Float>, gw: UnsafeMutablePointer<Float>,
                               gx gxs: UnsafeMutablePointer<Float>?, transposed: Bool) {
        let g = geometry, p = g.outPixels, cg = self.cg, og = self.og, kc = self.kc
        let xImage = inChannels * g.inPixels, yImage = outChannels * p
        let cols = ws.col, ld = ws.ld
        let plane = usesPlaneWeightGradient
        for grp in 0..<groups {
            // ∂y of the chunk as an (Og, b·P) operand, for the im2col products and col2im only.
            let (gyOp, gyLD) = plane && (gxs == nil || transposed) ? (gys, p) : gradientOperand(gys, images: b, group: grp, ws)
            if plane {
                // ∂W (O, C·9) += ∂y ⋆ x, straight from the planes (one group)
                Kernels.accumulate3x3Gradient(outChannels: og, inChannels: cg, images: b, height: g.height, width: g.width,
                                              xs, xImage: xImage, gys, gyImage: yImage, into: gw, ldgw: kc, scratch: cols)
            } else {
                lowerGroup(grp, of: xs, images: b, into: ws)
                // ∂W_g (Og, Kc) += ∂y (Og, b·P) · colᵀ (b·P, Kc)
                Kernels.accumulateGradient(rows: og, columns: kc, inner: b * p, gyOp, ldgy: gyLD, cols, ldcol: ld,
                                           into: gw + grp * og * kc, ldgw: kc)
            }
            guard let gxs else { continue }
            if transposed {
                transposedInputGradient(gys, images: b, group: grp, ws, into: gxs)
            } else {
                // ∂col (Kc, b·P) = W_gᵀ (Kc, Og) · ∂y (Og, b·P), into the zeroed im2col workspace.
                cols.update(repeating: 0, count: kc * ld)
                BLAS.sgemm(transA: true, m: kc, n: chunkImages * p, k: og, a: w + grp * og * kc, lda: kc, b: gyOp,
                           ldb: gyLD, beta: 1, c: cols, ldc: ld)
                for i in 0..<b {
                    let gxn = gxs + i * xImage + grp * cg * g.inPixels
                    gxn.update(repeating: 0, count: cg * g.inPixels)
                    lowering.col2im(cols + i * p, ld: ld, channels: cg, addingInto: gxn)
                }
            }
        }
    }

    /// ∂y of group `grp` of a chunk as an (Og, chunkImages·P) operand: in place for chunks of one
    /// image, else gathered into the staging rows (zero past the b images).
    private func gradientOperand(_ gys: UnsafePointer<Float>, images b: Int, group grp: Int,
                                 _ ws: Workspace) -> (UnsafePointer<Float>, Int) {
        let p = geometry.outPixels, og = self.og, yImage = outChannels * p
        if chunkImages == 1 { return (gys + grp * og * p, p) }
        for i in 0..<b {
            let src = gys + i * yImage + grp * og * p
            for o in 0..<og { (ws.stage + o * ws.ld + i * p).update(from: src + o * p, count: p) }
        }
        padColumns(ws.stage, rows: og, ld: ws.ld, images: b)
        return (UnsafePointer(ws.stage), ws.ld)
    }

    /// ∂x (Cg, b·P) = flip(W_g)ᵀ (Cg, Og·k²) · im2col(∂y) (Og·k², b·P) of one group of a chunk;
    /// same geometry as the forward since the map keeps its size.
    private func transposedInputGradient(_ gys: UnsafePointer<Float>, images b: Int, group grp: Int,
                                         _ ws: Workspace, into gxs: UnsafeMutablePointer<Float>) {
        let g = geometry, p = g.outPixels, cg = self.cg, og = self.og
        let xImage = inChannels * g.inPixels, yImage = outChannels * p
        let cols = ws.col, stage = ws.stage, ld = ws.ld
        for i in 0..<b {
            lowering.im2col(gys + i * yImage + grp * og * p, channels: og, into: cols + i * p, ld: ld)
        }
        padColumns(cols, rows: og * g.taps, ld: ld, images: b)
        let width = chunkImages
        let wt = UnsafePointer(flipped.data) + grp * cg * og * g.taps
        let out = width == 1 ? gxs + grp * cg * p : stage
        let outLD = width == 1 ? p : ld
        Conv2d.fill(out, rows: cg, columns: width * p, ld: outLD, bias: nil)
        BLAS.sgemm(m: cg, n: width * p, k: og * g.taps, a: wt, lda: og * g.taps, b: cols, ldb: ld,
                   beta: 1, c: out, ldc: outLD)
        if width > 1 {
            for i in 0..<b {
                let dst = gxs + i * xImage + grp * cg * p
                for c in 0..<cg { (dst + c * p).update(from: stage + c * ld + i * p, count: p) }
            }
        }
    }

    /// flipped[g, c, o·k² + t] = W[g·Og + o, c, k² − 1 − t]: the kernel that maps ∂y back to ∂x.
    private func flipWeights() {
        let cg = self.cg, og = self.og, taps = geometry.taps
        flipped.resize([groups, cg, og * taps])
        let w = UnsafePointer(weight.value!), f = flipped.data
        for grp in 0..<groups {
            for o in 0..<og {
                for c in 0..<cg {
                    let src = w + ((grp * og + o) * cg + c) * taps
                    let dst = f + (grp * cg + c) * og * taps + o * taps
                    for t in 0..<taps { dst[t] = src[taps - 1 - t] }
                }
            }
        }
    }

    /// Σ of `count` floats with eight independent SIMD lanes (a scalar loop is latency bound).
    private static func sum(_ p: UnsafePointer<Float>, count: Int) -> Float {
        var acc = SIMD8<Float>(), i = 0
        let raw = UnsafeRawPointer(p)
        while i + 8 <= count {
            acc += raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            i += 8
        }
        var s = acc.sum()
        while i < count { s += p[i]; i += 1 }
        return s
    }
}
