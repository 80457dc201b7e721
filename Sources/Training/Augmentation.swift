import TensorCore

/// Turns uint8 NHWC images into normalised float NCHW input, with CIFAR-style augmentation:
/// a random crop from the image zero-padded by `cropPadding` pixels on each side, then a
/// horizontal flip with probability ½ (torchvision's RandomCrop(padding) + RandomHorizontalFlip
/// followed by Normalize, so padding pixels are black before normalisation).
///
/// The crop offset and flip of a sample are drawn from a Philox stream keyed by
/// (seed, epoch, global sample index): the same whatever rank or batch position the sample has.
public struct Augmentation: Sendable {
    public var cropPadding: Int
    public var flip: Bool
    public var mean: [Float]
    public var std: [Float]

    public init(cropPadding: Int, flip: Bool, mean: [Float], std: [Float]) {
        self.cropPadding = cropPadding; self.flip = flip; self.mean = mean; self.std = std
    }

    /// Writes one image. `src` is (H, W, C) uint8; `dst` is (C, H, W) float.
    /// `augment` false gives the plain normalised image (evaluation).
    public func apply(src: UnsafePointer<UInt8>, height: Int, width: Int, channels: Int,
                      dst: UnsafeMutablePointer<Float>, augment: Bool,
                      seed: UInt64, epoch: Int, sampleIndex: Int) {
        var dx = 0, dy = 0, mirror = false
        if augment {
            var rng = Philox(seed: seed, 0xA06E_0000, UInt32(truncatingIfNeeded: epoch), UInt32(truncatingIfNeeded: sampleIndex))
            if cropPadding > 0 {
                dy = rng.below(2 * cropPadding + 1) - cropPadding
                dx = rng.below(2 * cropPadding + 1) - cropPadding
            }
            if flip { mirror = rng.uniform() < 0.5 }
        }
        for c in 0..<channels {
            let scale = 1 / (255 * std[c]), shift = -mean[c] / std[c]
            let plane = dst + c * height * width
            for y in 0..<height {
                let sy = y + dy
                let row = plane + y * width
                if sy < 0 || sy >= height {
                    for x in 0..<width { row[x] = shift }
                    continue
                }
                let srcRow = src + sy * width * channels + c
                for x in 0..<width {
                    let sx = (mirror ? width - 1 - x : x) + dx
                    row[x] = (sx < 0 || sx >= width) ? shift : Float(srcRow[sx * channels]) * scale + shift
                }
            }
        }
    }
}
