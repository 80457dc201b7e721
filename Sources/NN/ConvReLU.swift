import TensorCore

/// The ReLU a convolution runs itself (`Conv2d.fuseReLU`): one pass fewer each way than a
/// separate ReLU layer (its forward over y; its mask in backward, merged with the bias sums).
extension Conv2d {
    /// y = max(y, 0) in place, for the paths whose GEMMs write y directly (Winograd's output
    /// transform applies the ReLU itself).
    func applyFusedReLU(_ y: Tensor, _ pool: WorkerPool) {
        let p = y.data
        Kernels.split(y.count, over: pool) { i, m in Kernels.relu(m, p + i, into: p + i) }
    }

    /// ∂y masked where the output y (after the ReLU) is not positive, into `maskedGradient`; the
    /// bias gradient (when there is a bias) summed in the same pass, channel blocks on the pool,
    /// each channel over the images in order.
    func maskByOutput(_ gy: Tensor, _ y: Tensor, _ pool: WorkerPool) -> UnsafePointer<Float> {
        maskedGradient.resize(gy.shape)
        let n = gy.dim(0), k = outChannels, p = geometry.outPixels, image = k * p
        let width = ChannelBlock.width(channels: k, images: n, spatial: p, streams: 2, workers: pool.threads)
        let (g, out, sums) = (UnsafePointer(gy.data), maskedGradient.data, maskedSums)
        pool.parallelFor((k + width - 1) / width) { b, _ in
            let ks = b * width ..< Swift.min((b + 1) * width, k), at = ks.lowerBound * p
            for o in ks { sums[o] = 0 }
            Kernels.reluMaskSums(ChannelBlock(images: n, channels: ks.count, spatial: p), g + at, by: y.data + at,
                                 image: image, into: out + at, sums: sums + ks.lowerBound)
            if let gb = bias?.grad { for o in ks { gb[o] += Float(sums[o]) } }
        }
        return UnsafePointer(out)
    }
}
