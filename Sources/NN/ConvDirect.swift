import TensorCore

/// The direct 3×3 passes (`ConvPlan.direct3x3`): the forward, and ∂input as the forward of ∂y
/// with the flipped kernel, image by image on the pool (each image's sums in a fixed order, so
/// any split gives the same bits).
extension Conv2d {
    /// dst (N, k, H, W) = relu?(bias + conv3x3(src (N, c, H, W))) with this layer's weights, or
    /// with `flipped` the kernel that maps ∂y (k = inChannels, c = outChannels) back to ∂x.
    func directPass(_ src: UnsafePointer<Float>, batch n: Int, outChannels k: Int, inChannels c: Int, flipped: Bool,
                    bias: UnsafePointer<Float>?, relu: Bool, into dst: UnsafeMutablePointer<Float>, pool: WorkerPool) {
        let g = geometry, p = g.inPixels
        directWeights.resize([Kernels.direct3x3PackedFloats(outChannels: k, inChannels: c)])
        Kernels.packDirect3x3(outChannels: k, inChannels: c, UnsafePointer(weight.value!), flipped: flipped,
                              into: directWeights.data)
        let packed = UnsafePointer(directWeights.data)
        let scratch = Kernels.direct3x3ScratchFloats(inChannels: c, height: g.height, width: g.width)
        pool.parallelFor(n) { i, worker in
            Kernels.direct3x3(outChannels: k, inChannels: c, images: 1, height: g.height, width: g.width,
                              src + i * c * p, xImage: c * p, packed: packed, bias: bias, relu: relu,
                              into: dst + i * k * p, yImage: k * p, scratch: pool.scratch(worker, count: scratch))
        }
    }
}
