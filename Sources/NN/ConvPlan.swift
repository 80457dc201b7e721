import TensorCore

/// The per-layer choice between im2col + GEMM and Winograd, made once when the layer is built
/// (its input shape is fixed then). A heuristic rather than a timed trial, so every run and
/// every rank picks the same algorithm and a run's bits do not depend on the machine's load;
/// the thresholds come from `trainer-bench conv` on the project's reference machine.
public enum ConvPlan {
    /// The Winograd tile m for `conv`, or nil for GEMM.
    static func winogradTile(_ conv: Conv2d, requested: ConvAlgorithm) -> Int? {
        let g = conv.geometry
        guard requested != .gemm, g.kernel == 3, g.stride == 1, g.padding == 1, conv.groups == 1, !conv.usesBlockedKernel
        else { return nil }
        switch requested {
        case .winogradF4: return 4
        case .winograd: return 2
        default: return pays(inChannels: conv.inChannels, outChannels: conv.outChannels) ? 2 : nil
        }
    }

    /// Whether `conv` runs its forward and ∂input by the register-blocked kernel (CKernels/blocked.c)
    /// under `auto`: ungrouped, maps of whole 16-float vectors, and
    /// - 3×3 stride 1 padding 1 with at most 32 output channels or fewer than 16 inputs (first
    ///   layers, where Winograd does not pay). Measured, batch 128, 1 thread, forward, the two
    ///   alternating in one session: DenseNet's 48→12 at 32×32 14.5 ms (94 GF/s) against 22.5 by
    ///   Winograd; 3→16 86 GF/s against 34 by GEMM; ResNet-20's 16→16 at 32×32 4.9–6.2 ms against
    ///   5.6–7.9, 32→32 at 16×16 level (4.2–6.0 against 4.3–6.0); 64→64 at 8×8 stays Winograd
    ///   (3.7–3.9 ms against 4.2 here);
    /// - pointwise with at most 64 outputs (DenseNet's bottleneck of 48: OpenBLAS ran its 48-row
    ///   GEMMs at 34–60 GF/s).
    static func blocked(_ conv: Conv2d, requested: ConvAlgorithm) -> Bool {
        let g = conv.geometry
        guard requested == .auto, conv.groups == 1, g.inPixels % 16 == 0 else { return false }
        if g.isPointwise { return conv.outChannels <= 64 }
        guard g.kernel == 3, g.stride == 1, g.padding == 1, g.isSameStride1 else { return false }
        return conv.outChannels <= 32 || conv.inChannels < 16
    }

    /// Whether a Winograd layer computes ∂weight in the Winograd domain too (`winograd`,
    /// `winograd_f4`) or by im2col + GEMM (`auto`). The Winograd-domain sum over tiles has a
    /// larger rounding error on small gradient entries, which AdamW's normalised step turns into
    /// a visible difference: cifar_cnn on 2 and 4 ranks ended 1.9e-5 and 2.0e-5 from 1 rank after
    /// 5 steps (DataParallelTests allows 1e-5), against ≈1e-7 with a GEMM ∂weight. Forward and
    /// ∂input by Winograd are bitwise independent of the batch split, so they cost no N-rank drift.
    static func winogradWeightGradient(requested: ConvAlgorithm) -> Bool {
        requested != .auto
    }

    /// Whether Winograd F(2×2) forward and ∂input (with a GEMM ∂weight) beat GEMM for these
    /// channel counts. Measured (1 thread, batch 128, forward + both gradients, `trainer-bench
    /// conv --algorithm gemm|auto --clock cpu`): 1.7–3.1× faster from 16 input channels on
    /// (DenseNet's 48→12 included); a 3-channel first layer stays GEMM (3-deep products starve
    /// the vector kernels: 2.8× slower by Winograd).
    static func pays(inChannels c: Int, outChannels k: Int) -> Bool {
        c >= 16 && k >= 8
    }
}
