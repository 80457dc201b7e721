import TensorCore

/// The register-blocked passes (`ConvPlan.blocked`): the forward, and ∂input as the forward of ∂y
/// with the flipped kernel, image by image on the pool (each image's sums in a fixed order, so
/// any split gives the same bits).
extension Conv2d {
    /// dst (N, k, H, W) = relu?(bias + conv(src (N, c, H, W))) with this layer's weights, or
    /// with `flipped` the kernel that maps ∂y (k = inChannels, c = outChannels) back to ∂x.
    func blockedPass(_ src: UnsafePointer<Float>, batch n: Int, outChannels k: Int, inChannels c: Int, flipped: Bool,
                     bias: UnsafePointer<Float>?, relu: Bool, into dst: UnsafeMutablePointer<Float>, pool: WorkerPool) {
        let g = geometry, p = g.inPixels, kernel = g.kernel
        blockedWeights.resize([Kernels.blockedPackedFloats(outChannels: k, inChannels: c, kernel: kernel)])
        Kernels.packBlockedConvolution(outChannels: k, inChannels: c, kernel: kernel, UnsafePointer(weight.value!),
                                       flipped: flipped, into: blockedWeights.data)
        let packed = UnsafePointer(blockedWeights.data)
        let scratch = Kernels.blockedScratchFloats(inChannels: c, kernel: kernel, height: g.height, width: g.width)
        pool.parallelFor(n) { i, worker in
            Kernels.blockedConvolution(outChannels: k, inChannels: c, kernel: kernel, images: 1, height: g.height,
                                       width: g.width, src + i * c * p, xImage: c * p, packed: packed, bias: bias,
                                       relu: relu, into: dst + i * k * p, yImage: k * p,
                                       scratch: pool.scratch(worker, count: scratch))
        }
    }
}
