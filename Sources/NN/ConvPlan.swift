import TensorCore

/// The per-layer choice between im2col + GEMM and Winograd, made once when the layer is built
/// (its input shape is fixed then). A heuristic rather than a timed trial, so every run and
/// every rank picks the same algorithm and a run's bits do not depend on the machine's load;
/// the thresholds come from `trainer-bench conv` on the project's reference machine.
public enum ConvPlan {
    /// The Winograd tile m for `conv`, or nil for GEMM.
    static func winogradTile(_ conv: Conv2d, requested: ConvAlgorithm) -> Int? {
        let g = conv.geometry
        guard requested != .gemm, g.kernel == 3, g.stride == 1, g.padding == 1, conv.groups == 1 else { return nil }
        switch requested {
        case .winogradF4: return 4
        case .winograd: return 2
        default: return pays(inChannels: conv.inChannels, outChannels: conv.outChannels) ? 2 : nil
        }
    }

    /// Whether Winograd F(2×2) beats GEMM for these channel counts. Measured (1 thread, batch
    /// 128, forward + both gradients, `trainer-bench conv --algorithm gemm|winograd`): faster from
    /// 16 input channels on (DenseNet's 48→12 included), slower on a 3-channel first layer
    /// (3-deep products starve the GEMMs).
    static func pays(inChannels c: Int, outChannels k: Int) -> Bool {
        c >= 16 && k >= 8
    }
}
