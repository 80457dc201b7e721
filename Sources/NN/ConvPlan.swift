import TensorCore

/// How a convolution is computed; every algorithm gives the same numbers within float32 error.
public enum ConvAlgorithm: String, CaseIterable, Sendable {
    /// The plan's choice per layer (`ConvPlan`).
    case auto
    /// im2col + GEMM (any kernel, stride, padding, groups).
    case gemm
    /// Winograd F(m×m, 3×3) wherever it applies (3×3, stride 1, padding 1, groups 1, even maps);
    /// other layers use GEMM.
    case winograd
}

/// The per-layer choice between im2col + GEMM and Winograd, made once when the layer is built
/// (its input shape is fixed then). A heuristic rather than a timed trial, so every run and
/// every rank picks the same algorithm and a run's bits do not depend on the machine's load;
/// the thresholds come from `trainer-bench conv` on the project's reference machine.
public enum ConvPlan {
    /// The Winograd tile m for `conv` (4 where it tiles the map, else 2), or nil for GEMM.
    static func winogradTile(_ conv: Conv2d, requested: ConvAlgorithm) -> Int? {
        let g = conv.geometry
        guard requested != .gemm, g.kernel == 3, g.stride == 1, g.padding == 1, conv.groups == 1,
              Winograd.applies(m: 2, height: g.height, width: g.width) else { return nil }
        let m = Winograd.applies(m: 4, height: g.height, width: g.width) ? 4 : 2
        if requested == .winograd { return m }
        return pays(inChannels: conv.inChannels, outChannels: conv.outChannels, m: m) ? m : nil
    }

    /// Whether Winograd beats GEMM for these channel counts.
    static func pays(inChannels c: Int, outChannels k: Int, m: Int) -> Bool {
        c >= 16 && k >= 16
    }
}
