/// Channel concatenation (DenseNet's torch.cat(…, 1)) and its backward, the split by channel
/// ranges. Tensors are viewed as (N, C, S) with S the product of the dimensions after C, so the
/// same kernels serve images (N, C, H, W) and features (N, F).
public enum Concat {
    /// out = cat(parts, dim 1): (N, ΣCᵢ, H, W). `out` is resized; every part must agree on N and S.
    public static func channels(_ parts: [Tensor], into out: Tensor) {
        precondition(!parts.isEmpty, "Concat.channels: no parts")
        let first = parts[0].shape
        precondition(first.count >= 2, "Concat.channels: parts need (N, C, ...), got \(Shape.format(first))")
        var total = 0
        for p in parts {
            precondition(p.shape.count == first.count && p.shape[0] == first[0] && p.shape.dropFirst(2) == first.dropFirst(2),
                         "Concat.channels: part \(Shape.format(p.shape)) does not match \(Shape.format(first)) outside dim 1")
            total += p.shape[1]
        }
        var shape = first
        shape[1] = total
        out.resize(shape)
        var offset = 0
        for p in parts {
            copyChannels(from: p, channelOffset: 0, into: out, channelOffset: offset, count: p.shape[1])
            offset += p.shape[1]
        }
    }

    /// The backward of `channels`: parts[i] = g[:, offᵢ ..< offᵢ + Cᵢ]. Each part keeps its shape
    /// (set by the caller: the shapes of the concatenated inputs); their channels must add up to g's.
    public static func split(_ g: Tensor, into parts: [Tensor]) {
        let total = parts.reduce(0) { $0 + $1.shape[1] }
        precondition(total == g.shape[1], "Concat.split: parts hold \(total) channels, gradient \(Shape.format(g.shape)) has \(g.shape[1])")
        var offset = 0
        for p in parts {
            copyChannels(from: g, channelOffset: offset, into: p, channelOffset: 0, count: p.shape[1])
            offset += p.shape[1]
        }
    }

    /// part += g[:, channelOffset ..< channelOffset + C_part]: a split that accumulates (a DenseNet
    /// input feeds every later layer, so its gradient is a sum of slices).
    public static func addSlice(of g: Tensor, channelOffset: Int, into part: Tensor) {
        addChannels(from: g, channelOffset: channelOffset, into: part, channelOffset: 0, count: part.shape[1])
    }

    /// dst[:, d ..< d+count] = scale · src[:, s ..< s+count]; both viewed as (N, C, S) with equal N and S.
    public static func copyChannels(from src: Tensor, channelOffset s: Int, into dst: Tensor, channelOffset d: Int,
                                    count: Int, scale: Float = 1) {
        blockLoop(src, s, dst, d, count) { from, to, n in
            if scale == 1 { to.update(from: from, count: n) } else { for i in 0..<n { to[i] = scale * from[i] } }
        }
    }

    /// dst[:, d ..< d+count] += alpha · src[:, s ..< s+count]; both viewed as (N, C, S) with equal N and S.
    public static func addChannels(from src: Tensor, channelOffset s: Int, into dst: Tensor, channelOffset d: Int,
                                   count: Int, alpha: Float = 1) {
        blockLoop(src, s, dst, d, count) { from, to, n in Kernels.axpy(n, alpha, from, to) }
    }

    /// Calls `body` once per batch row with the contiguous block of `count` channels of each side.
    @inline(__always)
    private static func blockLoop(_ src: Tensor, _ s: Int, _ dst: Tensor, _ d: Int, _ count: Int,
                                  _ body: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void) {
        precondition(src.shape.count >= 2 && dst.shape.count >= 2 && src.shape[0] == dst.shape[0]
                     && src.shape.dropFirst(2) == dst.shape.dropFirst(2),
                     "Concat: \(Shape.format(src.shape)) and \(Shape.format(dst.shape)) differ outside dim 1")
        precondition(s >= 0 && d >= 0 && count >= 0 && s + count <= src.shape[1] && d + count <= dst.shape[1],
                     "Concat: channels \(s)..<\(s + count) of \(Shape.format(src.shape)) to \(d)..<\(d + count) of \(Shape.format(dst.shape)) out of range")
        let rows = src.shape[0]
        let spatial = src.shape.dropFirst(2).reduce(1, *)
        let srcRow = src.shape[1] * spatial, dstRow = dst.shape[1] * spatial, block = count * spatial
        for n in 0..<rows {
            body(src.data + n * srcRow + s * spatial, dst.data + n * dstRow + d * spatial, block)
        }
    }
}
