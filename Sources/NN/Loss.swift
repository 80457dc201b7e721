import Foundation
import TensorCore

/// Softmax cross-entropy with optional label smoothing, PyTorch's F.cross_entropy semantics:
/// loss_i = (1 − ε)·(−log p_i[y_i]) + ε · mean_k(−log p_i[k]), averaged over the batch
/// (or over a given global count, so N ranks' partial losses add up to the global mean).
public final class CrossEntropyLoss {
    public let labelSmoothing: Float
    /// Rows whose argmax equals the label in the last forward (first maximum on ties).
    public private(set) var correct = 0
    /// Σ loss_i over the rows of the last forward.
    public private(set) var lossSum: Double = 0
    private let probabilities = Tensor(shape: [0])   // (N, K) softmax of the last logits
    private let gradient = Tensor(shape: [0])        // (N, K) ∂ mean loss / ∂ logits
    private var labels: [Int32] = []                 // (N) labels of the last forward
    private var divisor = 1

    public init(labelSmoothing: Float = 0) {
        precondition(labelSmoothing >= 0 && labelSmoothing <= 1,
                     "CrossEntropyLoss: label smoothing must be in [0, 1], got \(labelSmoothing)")
        self.labelSmoothing = labelSmoothing
    }

    /// Mean loss over `count` rows (default: this batch's N); keeps what backward needs.
    @discardableResult
    public func forward(_ logits: Tensor /* (N, K) */, labels: UnsafeBufferPointer<Int32>, meanOver count: Int? = nil) -> Float {
        precondition(logits.shape.count == 2 && logits.dim(1) > 0, "CrossEntropyLoss: expected logits (N, K > 0), got \(Shape.format(logits.shape))")
        let n = logits.dim(0), k = logits.dim(1)
        precondition(labels.count == n, "CrossEntropyLoss: \(labels.count) labels for logits \(Shape.format(logits.shape))")
        divisor = count ?? n
        precondition(divisor > 0, "CrossEntropyLoss: mean over \(divisor) rows")
        probabilities.resize([n, k])
        if self.labels.count != n { self.labels = [Int32](repeating: 0, count: n) }
        let eps = Double(labelSmoothing)
        var total = 0.0, hits = 0
        for r in 0..<n {
            let label = Int(labels[r])
            precondition(label >= 0 && label < k, "CrossEntropyLoss: label \(label) of row \(r) outside 0..<\(k)")
            self.labels[r] = Int32(label)
            let z = logits.data + r * k, p = probabilities.data + r * k
            // log-softmax: z − (max + log Σ exp(z − max)), in double.
            var best = 0
            for j in 1..<k where z[j] > z[best] { best = j }
            if best == label { hits += 1 }
            let zmax = Double(z[best])
            var sumExp = 0.0, sumZ = 0.0
            for j in 0..<k { sumExp += exp(Double(z[j]) - zmax); sumZ += Double(z[j]) }
            let lse = zmax + log(sumExp)
            for j in 0..<k { p[j] = Float(exp(Double(z[j]) - lse)) }
            let nll = lse - Double(z[label])
            let smooth = lse - sumZ / Double(k)   // mean_k(−log p_k)
            total += (1 - eps) * nll + eps * smooth
        }
        lossSum = total
        correct = hits
        return Float(total / Double(divisor))
    }

    /// ∂(mean loss)/∂logits of the last forward: (p − (1−ε)·onehot − ε/K) / count.
    public func backward() -> Tensor {
        let n = probabilities.dim(0), k = probabilities.dim(1)
        gradient.resize([n, k])
        let scale = 1 / Float(divisor), eps = labelSmoothing, uniform = labelSmoothing / Float(k)
        for r in 0..<n {
            let p = probabilities.data + r * k, g = gradient.data + r * k
            for j in 0..<k { g[j] = (p[j] - uniform) * scale }
            g[Int(labels[r])] -= (1 - eps) * scale
        }
        return gradient
    }
}
