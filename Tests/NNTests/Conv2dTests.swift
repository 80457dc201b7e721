import XCTest
import TensorCore
@testable import NN

/// Conv2d against a direct seven-loop convolution computed here in Double (the PyTorch
/// comparison over ops.h5 lives in OpsFixtureTests), plus the layer's invariants: build-time
/// shape errors, the bounded workspace and no reallocation after the first step.
final class Conv2dTests: XCTestCase {
    struct Case {
        var n = 2, c = 4, h = 7, w = 6, out = 6, k = 3, stride = 1, pad = 1, groups = 1, bias = true
        var chunkColumns = 2048, directMinPixels = 64, transposedGradient = true, planeWeightGradient = true
        var algorithm = ConvAlgorithm.auto, threads = 1, winogradWorkspace: Int? = nil, blockedKernel = true
    }

    /// Every execution path: chunks of several images, one image per chunk, groups, depthwise,
    /// the direct pointwise path and the chunked pointwise path, strides and large kernels.
    func testMatchesDirectConvolutionOnEveryPath() {
        var cases: [(String, Case)] = [
            ("k3 s1 p1 chunked", Case()),
            ("k3 s1 p1 one image per chunk", Case(chunkColumns: 1)),
            ("k3 s1 p1 gx by transposed conv", Case(c: 6, out: 4)),
            ("k3 s1 p1 gx by transposed conv, one image per chunk", Case(c: 6, out: 4, chunkColumns: 1)),
            ("k3 s1 p1 gx by col2im", Case(c: 6, out: 4, transposedGradient: false)),
            ("k3 s1 p1 ∂weight by im2col", Case(planeWeightGradient: false)),
            ("k3 s1 p1 ∂weight by im2col, one image per chunk", Case(chunkColumns: 1, planeWeightGradient: false)),
            ("k3 s1 p1 odd out channels, whole vectors of pixels", Case(n: 3, c: 3, h: 16, w: 8, out: 5)),
            ("k3 s1 p1 one-row map", Case(n: 2, c: 2, h: 1, w: 5, out: 3)),
            ("k3 s1 p1 4x4 map (∂weight from tap rows)", Case(n: 3, c: 3, h: 4, w: 4, out: 5)),
            ("k3 s1 p1 8x2 map (∂weight from tap rows)", Case(n: 2, c: 4, h: 8, w: 2, out: 4)),
            ("k5 s1 p2 gx by transposed conv", Case(c: 5, h: 8, w: 9, out: 5, k: 5, pad: 2)),
            ("groups 2 gx by transposed conv", Case(c: 6, h: 6, w: 5, out: 4, groups: 2)),
            ("depthwise s1", Case(c: 4, h: 6, w: 6, out: 4, groups: 4)),
            ("k3 s2 p1 uneven last chunk", Case(n: 5, c: 3, h: 9, w: 9, out: 5, stride: 2, chunkColumns: 50)),
            ("k5 s1 p2", Case(c: 3, h: 8, w: 8, out: 4, k: 5, pad: 2)),
            ("k7 s2 p3 no bias", Case(n: 1, c: 3, h: 15, w: 13, out: 4, k: 7, stride: 2, pad: 3, bias: false)),
            ("k11 s4 p2", Case(n: 1, c: 3, h: 31, w: 31, out: 4, k: 11, stride: 4, pad: 2)),
            ("k2 s2 p0 even kernel", Case(c: 2, h: 6, w: 8, out: 3, k: 2, stride: 2, pad: 0)),
            ("groups 2", Case(c: 4, h: 6, w: 6, out: 6, groups: 2)),
            ("groups 2 one image per chunk", Case(c: 4, h: 6, w: 6, out: 6, groups: 2, chunkColumns: 1)),
            ("depthwise s2", Case(c: 6, h: 7, w: 7, out: 6, stride: 2, groups: 6, bias: false)),
            ("depthwise multiplier 2", Case(c: 3, h: 5, w: 5, out: 6, groups: 3)),
            ("1x1 direct", Case(n: 3, c: 8, h: 5, w: 5, out: 5, k: 1, pad: 0, directMinPixels: 1)),
            ("1x1 direct groups", Case(n: 3, c: 8, h: 5, w: 5, out: 4, k: 1, pad: 0, groups: 2, directMinPixels: 1)),
            ("1x1 chunked", Case(n: 3, c: 8, h: 5, w: 5, out: 5, k: 1, pad: 0)),
            ("1x1 s2", Case(c: 4, h: 7, w: 7, out: 8, k: 1, stride: 2, pad: 0)),
            ("1x1 padded", Case(c: 2, h: 3, w: 4, out: 3, k: 1, pad: 1)),
        ]
        cases.append(("k3 s1 p0 bigger than the map is padded", Case(c: 2, h: 2, w: 3, out: 2, k: 3, pad: 1)))
        for (label, t) in cases { check(label, t) }
    }

    /// The register-blocked kernel (layers with few outputs or few inputs under `auto`), 3×3 and
    /// pointwise: blocks of 12 and of 8 output channels, ragged last blocks, maps of one vector (the
    /// single-vector tail), several workers, no bias; and the same layers with it switched off.
    func testBlockedKernelMatchesDirectConvolution() {
        let cases: [(String, Case)] = [
            ("3x3, 12 outputs (one block of 12), 2 workers", Case(n: 3, c: 20, h: 8, w: 8, out: 12, threads: 2)),
            ("3x3, 10 outputs (blocks of 8, ragged)", Case(n: 2, c: 5, h: 4, w: 8, out: 10)),
            ("3x3, 3 inputs, 16 outputs, 4x4 map (one vector)", Case(n: 3, c: 3, h: 4, w: 4, out: 16, bias: false)),
            ("3x3, 3 inputs, 24 outputs, 6x16 map", Case(n: 2, c: 3, h: 6, w: 16, out: 24, threads: 3)),
            ("3x3 off: 12 outputs by Winograd", Case(n: 3, c: 20, h: 8, w: 8, out: 12, blockedKernel: false)),
            ("1x1, 48 outputs from 30", Case(n: 3, c: 30, h: 8, w: 4, out: 48, k: 1, pad: 0, threads: 2)),
            ("1x1, 20 outputs, 4x4 map", Case(n: 2, c: 7, h: 4, w: 4, out: 20, k: 1, pad: 0, bias: false)),
            ("1x1 off: by GEMM on the planes", Case(n: 3, c: 30, h: 8, w: 4, out: 48, k: 1, pad: 0, directMinPixels: 1,
                                                    blockedKernel: false)),
        ]
        for (label, t) in cases {
            let store = ParameterStore()
            let conv = try! Conv2d(at: store.scope("c"), inputShape: [t.c, t.h, t.w], outChannels: t.out, kernel: t.k,
                                   padding: t.pad)
            conv.blockedKernel = t.blockedKernel
            XCTAssertEqual(conv.usesBlockedKernel, t.blockedKernel, "\(label): the plan's choice")
            check(label, t, winogradTile: t.blockedKernel || t.k == 1 ? nil : 2)
        }
    }

    /// Winograd F(4×4) and F(2×2), one and several chunks, 1 to 3 workers, maps the tile divides
    /// and maps it does not (clipped edge tiles), against the same
    /// Double reference at DESIGN.md's op tolerances (1e-5 forward, 1e-4 backward).
    func testWinogradMatchesDirectConvolution() {
        let cases: [(String, Case)] = [
            ("F4 one chunk", Case(n: 3, c: 5, h: 8, w: 12, out: 7, algorithm: .winogradF4)),
            ("F4 no bias, chunk per image", Case(n: 3, c: 4, h: 4, w: 4, out: 3, bias: false, algorithm: .winogradF4, winogradWorkspace: 1)),
            ("F4 ragged (6x10: last tiles clipped)", Case(n: 2, c: 3, h: 6, w: 10, out: 5, algorithm: .winogradF4)),
            ("F4 ragged 7x5, 2 workers", Case(n: 3, c: 4, h: 7, w: 5, out: 6, algorithm: .winogradF4, threads: 2)),
            ("F2 ragged 9x7, chunk per image", Case(n: 3, c: 5, h: 9, w: 7, out: 4, algorithm: .winograd, winogradWorkspace: 1)),
            ("F2 1x1 map", Case(n: 2, c: 3, h: 1, w: 1, out: 2, algorithm: .winograd)),
            ("F2 one chunk", Case(n: 3, c: 5, h: 8, w: 12, out: 7, algorithm: .winograd)),
            ("F2 32 wide (row pass from the image), odd height", Case(n: 2, c: 3, h: 5, w: 32, out: 4, algorithm: .winograd)),
            ("F2 odd tile count, 3 workers", Case(n: 5, c: 6, h: 2, w: 6, out: 4, algorithm: .winograd, threads: 3)),
            ("F2 3 workers, chunk per image", Case(n: 7, c: 9, h: 8, w: 8, out: 10, algorithm: .winograd, threads: 3, winogradWorkspace: 1)),
            ("F4 3 workers, chunk per image", Case(n: 7, c: 9, h: 8, w: 8, out: 10, algorithm: .winogradF4, threads: 3, winogradWorkspace: 1)),
        ]
        for (label, t) in cases {
            check(label, t, winogradTile: t.algorithm == .winogradF4 ? 4 : 2)
        }
    }

    private func check(_ label: String, _ t: Case, winogradTile: Int? = nil) {
        let store = ParameterStore()
        let conv = try! Conv2d(at: store.scope("conv"), inputShape: [t.c, t.h, t.w], outChannels: t.out, kernel: t.k,
                               stride: t.stride, padding: t.pad, groups: t.groups, bias: t.bias)
        store.finalize(seed: 7)
        conv.chunkColumns = t.chunkColumns
        conv.directMinPixels = t.directMinPixels
        conv.transposedGradient = t.transposedGradient
        conv.planeWeightGradient = t.planeWeightGradient
        conv.algorithm = t.algorithm
        conv.blockedKernel = t.blockedKernel
        if let v = t.winogradWorkspace { conv.winogradWorkspace = v }
        XCTAssertEqual(conv.winogradTile, winogradTile, "\(label): algorithm")
        let x = Self.random([t.n, t.c, t.h, t.w], seed: 1)
        let ctx = ForwardContext()
        ctx.pool = WorkerPool(threads: t.threads)
        let y = conv.forward(x, ctx)
        let gy = Self.random(y.shape, seed: 2)
        // Pre-existing gradients must be added to, not overwritten.
        for i in 0..<store.grads.count { store.grads[i] = 0.5 }
        let gx = conv.backward(gy, ctx)

        let ref = Self.reference(t, x: x.array, w: Array(conv.weight.values),
                                 b: conv.bias.map { Array($0.values) }, gy: gy.array)
        XCTAssertEqual(y.shape, [t.n] + conv.outputShape, label)
        XCTAssertLessThan(Self.err(y.array, ref.y), 1e-5, "\(label): y")
        // im2col + GEMM sums in the direct order and holds 1e-5 everywhere; Winograd is held to
        // the op tolerance of DESIGN.md for gradients.
        let backward = winogradTile == nil ? 1e-5 : 1e-4
        XCTAssertLessThan(Self.err(gx.array, ref.gx), backward, "\(label): gx")
        XCTAssertLessThan(Self.err(conv.weight.grads.map { $0 - 0.5 }, ref.gw), backward, "\(label): gweight")
        if let bias = conv.bias {
            XCTAssertLessThan(Self.err(bias.grads.map { $0 - 0.5 }, ref.gb), backward, "\(label): gbias")
        }
    }

    /// The first layer of a model skips ∂input; parameter gradients must be unchanged by that.
    func testSkippingInputGradientKeepsParameterGradients() {
        for (kernel, padding) in [(3, 1), (1, 0)] {  // the im2col path and the direct pointwise path
            var grads: [[Float]] = []
            for propagate in [true, false] {
                let store = ParameterStore()
                let conv = try! Conv2d(at: store.scope("c"), inputShape: [3, 8, 8], outChannels: 4, kernel: kernel,
                                       padding: padding)
                store.finalize(seed: 3)
                conv.propagatesInputGradient = propagate
                conv.directMinPixels = 1
                let y = conv.forward(Self.random([2, 3, 8, 8], seed: 4), ForwardContext())
                let gx = conv.backward(Self.random(y.shape, seed: 5), ForwardContext())
                XCTAssertEqual(gx.shape, propagate ? [2, 3, 8, 8] : [0])
                grads.append(Array(store.grads))
            }
            XCTAssertEqual(grads[0], grads[1], "kernel \(kernel)")
        }
    }

    func testBuildTimeShapeErrorsNameTheLayerAndShapes() {
        func message(_ body: () throws -> Void) -> String {
            do { try body(); return "" } catch { return "\(error)" }
        }
        let rank = message { _ = try Conv2d(at: ParameterStore().scope("stem"), inputShape: [3, 32], outChannels: 8, kernel: 3) }
        XCTAssertTrue(rank.contains("Conv2d 'stem'") && rank.contains("(3, 32)"), rank)
        let groups = message { _ = try Conv2d(at: ParameterStore().scope("g"), inputShape: [6, 8, 8], outChannels: 8, kernel: 3, groups: 4) }
        XCTAssertTrue(groups.contains("Conv2d 'g'") && groups.contains("(6, 8, 8)") && groups.contains("groups = 4"), groups)
        let outGroups = message { _ = try Conv2d(at: ParameterStore().scope("g"), inputShape: [4, 8, 8], outChannels: 6, kernel: 3, groups: 4) }
        XCTAssertTrue(outGroups.contains("6") && outGroups.contains("groups = 4"), outGroups)
        let big = message { _ = try Conv2d(at: ParameterStore().scope("k"), inputShape: [1, 4, 4], outChannels: 1, kernel: 7) }
        XCTAssertTrue(big.contains("Conv2d 'k'") && big.contains("(1, 4, 4)"), big)

        let conv = try! Conv2d(at: ParameterStore().scope("c1"), inputShape: [3, 8, 8], outChannels: 4, kernel: 3)
        let wrong = conv.inputMismatch([2, 4, 8, 8], kind: "Conv2d")
        XCTAssertEqual(wrong, "Conv2d 'c1': expected input (N, 3, 8, 8), got (2, 4, 8, 8)")
        XCTAssertNil(conv.inputMismatch([5, 3, 8, 8], kind: "Conv2d"))
    }

    func testParameterKeysShapesAndInitBound() {
        let store = ParameterStore()
        let conv = try! Conv2d(at: store.scope("features.0"), inputShape: [6, 5, 5], outChannels: 4, kernel: 3, groups: 2)
        _ = try! Conv2d(at: store.root, inputShape: [4, 3, 3], outChannels: 2, kernel: 1, bias: false)
        store.finalize(seed: 1)
        XCTAssertEqual(store.stateKeys, ["features.0.weight", "features.0.bias", "weight"])
        XCTAssertEqual(conv.weight.shape, [4, 3, 3, 3])
        XCTAssertEqual(conv.outputShape, [4, 3, 3])
        XCTAssertEqual(conv.macsPerSample, 4 * 3 * 9 * 9)
        let bound = 1 / Float(27).squareRoot()
        XCTAssertTrue(conv.weight.values.allSatisfy { abs($0) <= bound })
        XCTAssertTrue(conv.bias!.values.allSatisfy { abs($0) <= bound })
        XCTAssertGreaterThan(conv.weight.values.map { abs($0) }.max()!, bound * 0.5)
    }

    /// The im2col workspace holds a bounded chunk, never the whole batch; after the first step
    /// no tensor is reallocated (data pointers and capacities stay put).
    func testWorkspaceIsBoundedAndStepsDoNotReallocate() {
        for algorithm in [ConvAlgorithm.gemm, .winograd] {
            let store = ParameterStore()
            let conv = try! Conv2d(at: store.scope("c"), inputShape: [16, 16, 16], outChannels: 16, kernel: 3, padding: 1)
            store.finalize()
            conv.algorithm = algorithm
            let batch = 32
            let x = Self.random([batch, 16, 16, 16], seed: 1), gy = Self.random([batch, 16, 16, 16], seed: 2)
            let ctx = ForwardContext()
            ctx.pool = WorkerPool(threads: 2)
            let y1 = conv.forward(x, ctx), gx1 = conv.backward(gy, ctx)
            let pointers = (y1.data, gx1.data, ctx.pool.scratchCapacity)
            // A whole-batch im2col matrix would be (16·9, 32·256); a worker's chunk holds a few images.
            let wholeBatch = 16 * 9 * batch * 16 * 16
            XCTAssertEqual(conv.winogradTile, algorithm == .gemm ? nil : 2)
            XCTAssertLessThanOrEqual(ctx.pool.scratchCapacity, 2 * conv.workspaceFloats(batch: batch, threads: 2), "\(algorithm)")
            if algorithm == .gemm {
                XCTAssertLessThan(ctx.pool.scratchCapacity * 3, wholeBatch)
            } else {
                // Per worker: the configured bound, plus row-stride rounding and the padded copy.
                XCTAssertLessThan(ctx.pool.scratchCapacity, 2 * conv.winogradWorkspace * 11 / 10)
            }
            for _ in 0..<2 {
                let y = conv.forward(x, ctx), gx = conv.backward(gy, ctx)
                XCTAssertTrue(y === y1 && gx === gx1)
                XCTAssertEqual(y.data, pointers.0); XCTAssertEqual(gx.data, pointers.1)
                XCTAssertEqual(ctx.pool.scratchCapacity, pointers.2, "\(algorithm)")
            }
            // A smaller last batch fits in the same storage.
            let xs = Self.random([3, 16, 16, 16], seed: 3)
            let ys = conv.forward(xs, ctx); _ = conv.backward(Self.random(ys.shape, seed: 4), ctx)
            XCTAssertEqual(ys.data, pointers.0); XCTAssertEqual(ctx.pool.scratchCapacity, pointers.2, "\(algorithm)")
        }
    }

    /// The same thread count gives the same bits on every run, for every path (the partial sums
    /// of ∂weight and ∂bias are added in a fixed order); other thread counts agree within float32 error.
    func testSameThreadCountGivesBitwiseEqualResults() {
        let shapes: [(ConvAlgorithm, Int, Int)] = [(.gemm, 3, 1), (.gemm, 1, 0), (.winograd, 3, 1), (.winogradF4, 3, 1)]
        for (algorithm, k, pad) in shapes {
            func run(threads: Int) -> [Float] {
                let store = ParameterStore()
                let conv = try! Conv2d(at: store.scope("c"), inputShape: [16, 8, 8], outChannels: 24, kernel: k, padding: pad)
                store.finalize(seed: 3)
                conv.algorithm = algorithm
                conv.directMinPixels = 1
                conv.chunkColumns = 64
                let ctx = ForwardContext()
                ctx.pool = WorkerPool(threads: threads)
                let x = Self.random([9, 16, 8, 8], seed: 1)
                let y = conv.forward(x, ctx).array
                let gx = conv.backward(Self.random([9, 24, 8, 8], seed: 2), ctx).array
                return y + gx + Array(store.grads)
            }
            let label = "\(algorithm) \(k)x\(k)"
            for threads in [1, 2, 3] {
                let first = run(threads: threads)
                XCTAssertEqual(run(threads: threads), first, "\(label), \(threads) threads: two runs differ")
                // Chunks and GEMM widths differ with the thread count: equal within the op tolerance.
                XCTAssertLessThan(Self.err(first, run(threads: 1).map(Double.init)), 1e-5, "\(label): \(threads) vs 1 thread")
            }
        }
    }

    /// A conv with its ReLU fused (`fuseReLU`: Winograd's output transform, the GEMM paths' pass
    /// over y, the mask merged with the bias sums) gives the values of a conv then a ReLU layer:
    /// the same output and input and weight gradients bit for bit, the bias gradient within float
    /// rounding (it is summed in double), on every path and thread count.
    func testFusedReLUMatchesAConvThenAReLULayer() {
        let paths: [(String, ConvAlgorithm, Int, Int)] = [("winograd F2", .winograd, 3, 1), ("winograd F4", .winogradF4, 3, 1),
                                                          ("auto", .auto, 3, 1), ("gemm 3x3", .gemm, 3, 1),
                                                          ("1x1 direct", .gemm, 1, 0), ("3x3 s1 p0", .gemm, 3, 0)]
        for (label, algorithm, k, pad) in paths {
            for threads in [1, 2] {
                func run(fused: Bool) -> (y: [Float], gx: [Float], gw: [Float], gb: [Float]) {
                    let store = ParameterStore()
                    let conv = try! Conv2d(at: store.scope("c"), inputShape: [16, 8, 10], outChannels: 12, kernel: k, padding: pad)
                    store.finalize(seed: 3)
                    conv.algorithm = algorithm
                    conv.directMinPixels = 1
                    let relu = Activation(.relu, inputShape: conv.outputShape, inPlace: !fused, fused: fused)
                    if fused { conv.fuseReLU() }
                    let ctx = ForwardContext()
                    ctx.pool = WorkerPool(threads: threads)
                    let y = relu.forward(conv.forward(Self.random([5, 16, 8, 10], seed: 1), ctx), ctx)
                    let gx = conv.backward(relu.backward(Self.random(y.shape, seed: 2), ctx), ctx)
                    return (y.array, gx.array, Array(conv.weight.grads), Array(conv.bias!.grads))
                }
                let fused = run(fused: true), plain = run(fused: false), at = "\(label), \(threads) threads"
                XCTAssertTrue(fused.y.contains(0) && fused.y.contains { $0 > 0 }, "\(at): the ReLU clips some outputs")
                XCTAssertEqual(fused.y, plain.y, "\(at): y")
                XCTAssertEqual(fused.gx, plain.gx, "\(at): gx")
                XCTAssertEqual(fused.gw, plain.gw, "\(at): gweight")
                XCTAssertLessThan(Self.err(fused.gb, plain.gb.map(Double.init)), 1e-6, "\(at): gbias")
            }
        }
    }

    func testIm2colCol2imAreAdjoint() {
        // ⟨im2col(x), c⟩ = ⟨x, col2im(c)⟩ for any x, c: col2im is exactly im2col's transpose.
        for (k, s, p, h, w) in [(3, 1, 1, 5, 6), (5, 1, 2, 6, 7), (1, 1, 0, 4, 3), (3, 2, 1, 7, 7), (5, 3, 2, 9, 8),
                                (1, 2, 0, 5, 5), (4, 1, 3, 3, 3), (3, 1, 1, 1, 1)] {
            let g = ConvGeometry(height: h, width: w, kernel: k, stride: s, padding: p)
            let ch = 2, rows = ch * k * k, ld = g.outPixels + 3
            let x = Self.random([ch, h, w], seed: 11), c = Self.random([rows, ld], seed: 12)
            let col = Tensor(shape: [rows, ld]), back = Tensor(shape: [ch, h, w])
            let lowering = Im2col(g)
            lowering.im2col(x.data, channels: ch, into: col.data, ld: ld)
            lowering.col2im(c.data, ld: ld, channels: ch, addingInto: back.data)
            var lhs = 0.0, rhs = 0.0
            for r in 0..<rows { for j in 0..<g.outPixels { lhs += Double(col.data[r * ld + j]) * Double(c.data[r * ld + j]) } }
            for i in 0..<x.count { rhs += Double(x.data[i]) * Double(back.data[i]) }
            XCTAssertEqual(lhs, rhs, accuracy: 1e-4 * max(1, abs(rhs)), "k\(k) s\(s) p\(p)")
        }
    }

    // MARK: - Helpers

    static func random(_ shape: [Int], seed: UInt64) -> Tensor {
        var rng = Philox(seed: seed, 0xC0)
        let t = Tensor(shape: shape)
        for i in 0..<t.count { t.data[i] = rng.normal() }
        return t
    }

    static func err(_ a: [Float], _ b: [Double]) -> Double {
        precondition(a.count == b.count, "err: \(a.count) vs \(b.count)")
        var d = 0.0, r = 0.0
        for i in a.indices { d += (Double(a[i]) - b[i]) * (Double(a[i]) - b[i]); r += b[i] * b[i] }
        return r > 0 ? (d / r).squareRoot() : d.squareRoot()
    }

    /// Direct convolution and its gradients, in Double, straight from the definition.
    static func reference(_ t: Case, x: [Float], w: [Float], b: [Float]?, gy: [Float])
        -> (y: [Double], gx: [Double], gw: [Double], gb: [Double]) {
        let oh = (t.h + 2 * t.pad - t.k) / t.stride + 1, ow = (t.w + 2 * t.pad - t.k) / t.stride + 1
        let cg = t.c / t.groups, og = t.out / t.groups
        var y = [Double](repeating: 0, count: t.n * t.out * oh * ow)
        var gx = [Double](repeating: 0, count: x.count), gw = [Double](repeating: 0, count: w.count)
        var gb = [Double](repeating: 0, count: t.out)
        for n in 0..<t.n { for o in 0..<t.out { for i in 0..<oh { for j in 0..<ow {
            let yi = ((n * t.out + o) * oh + i) * ow + j
            var s = b.map { Double($0[o]) } ?? 0
            let g = Double(gy[yi])
            gb[o] += g
            for cc in 0..<cg {
                let c = (o / og) * cg + cc
                for kh in 0..<t.k { for kw in 0..<t.k {
                    let ih = i * t.stride - t.pad + kh, iw = j * t.stride - t.pad + kw
                    guard ih >= 0, ih < t.h, iw >= 0, iw < t.w else { continue }
                    let xi = ((n * t.c + c) * t.h + ih) * t.w + iw
                    let wi = ((o * cg + cc) * t.k + kh) * t.k + kw
                    s += Double(w[wi]) * Double(x[xi])
                    gx[xi] += Double(w[wi]) * g
                    gw[wi] += Double(x[xi]) * g
                }}
            }
            y[yi] = s
        }}}}
        return (y, gx, gw, gb)
    }
}
