import TensorCore

/// Inverted dropout: in training each element is zeroed with probability p and the rest scaled
/// by 1/(1−p); identity in eval.
///
/// The mask of a sample is a pure function of (ctx.seed, layer, ctx.epoch, global sample index,
/// element index): element i of row r uses word i % 4 of the Philox block with counter
/// (i / 4, tag, epoch, sampleIndices[r]), tag = FNV-1a of "dropout:" + name. So a sample gets
/// the same mask on any rank, at any batch position, and after a resume; two dropout layers
/// (different names) draw independent masks.
public final class Dropout: Layer {
    public let name: String
    public let inputShape: [Int]
    public var outputShape: [Int] { inputShape }
    public let p: Float
    /// The second Philox counter word of this layer's streams.
    public let streamTag: UInt32
    private let y = Tensor(shape: [0])     // (N, ...) as input
    private let gx = Tensor(shape: [0])    // (N, ...) as input
    private let mask = Tensor(shape: [0])  // (N, ...) 0 or 1/(1−p) per element
    private var masked = false             // whether the last forward applied `mask`

    public init(name: String = "", inputShape: [Int], p: Float) throws {
        let label = name.isEmpty ? "dropout" : "dropout '\(name)'"
        guard p >= 0, p <= 1 else { throw ShapeError("\(label): p must be in [0, 1], got \(p)") }
        guard !inputShape.isEmpty, inputShape.allSatisfy({ $0 > 0 }) else {
            throw ShapeError("\(label): expected a non-empty input shape, got \(Shape.format(inputShape))")
        }
        self.name = name; self.inputShape = inputShape; self.p = p
        var h: UInt32 = 0x811C_9DC5
        for byte in ("dropout:" + name).utf8 { h = (h ^ UInt32(byte)) &* 0x0100_0193 }
        streamTag = h
    }

    public func forward(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        checkInput(x, kind: "dropout")
        masked = ctx.training && p > 0
        y.resize(x.shape)
        guard masked else { y.data.update(from: x.data, count: x.count); return y }
        let rows = x.dim(0), per = x.itemCount
        precondition(ctx.sampleIndices.count == rows,
                     "dropout '\(name)': training needs ctx.sampleIndices for each of the \(rows) rows, got \(ctx.sampleIndices.count)")
        mask.resize(x.shape)
        let keepScale: Float = p < 1 ? 1 / (1 - p) : 0
        let key = (UInt32(truncatingIfNeeded: ctx.seed), UInt32(truncatingIfNeeded: ctx.seed >> 32))
        let epoch = UInt32(truncatingIfNeeded: ctx.epoch), p = self.p
        @inline(__always) func keep(_ word: UInt32) -> Float {   // uniform in [0, 1) from 24 bits, as Philox.uniform
            Float(word >> 8) * (1.0 / 16_777_216.0) < p ? 0 : keepScale
        }
        for r in 0..<rows {
            let sample = UInt32(truncatingIfNeeded: ctx.sampleIndices[r])
            let m = mask.data + r * per, src = x.data + r * per, dst = y.data + r * per
            var i = 0
            while i < per {
                let b = Philox.block(key: key, counter: (UInt32(truncatingIfNeeded: i / 4), streamTag, epoch, sample))
                m[i] = keep(b.0)
                if i + 1 < per { m[i + 1] = keep(b.1) }
                if i + 2 < per { m[i + 2] = keep(b.2) }
                if i + 3 < per { m[i + 3] = keep(b.3) }
                i += 4
            }
            for j in 0..<per { dst[j] = src[j] * m[j] }
        }
        return y
    }

    public func backward(_ gy: Tensor, _ ctx: ForwardContext) -> Tensor {
        precondition(gy.shape == y.shape, "dropout '\(name)': gradient \(Shape.format(gy.shape)) does not match output \(Shape.format(y.shape))")
        gx.resize(gy.shape)
        if masked {
            for i in 0..<gy.count { gx.data[i] = gy.data[i] * mask.data[i] }
        } else {
            gx.data.update(from: gy.data, count: gy.count)
        }
        return gx
    }
}
