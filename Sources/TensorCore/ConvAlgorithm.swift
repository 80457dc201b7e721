/// How a convolution is computed (`model.conv_algorithm`); every algorithm gives the same
/// numbers within float32 error. Here because Config names it and NN's convolution obeys it.
public enum ConvAlgorithm: String, CaseIterable, Sendable {
    /// The plan's choice per layer (`ConvPlan`); where it picks Winograd, the weight gradient
    /// still runs by im2col + GEMM (see `ConvPlan.winogradWeightGradient`).
    case auto
    /// im2col + GEMM (any kernel, stride, padding, groups).
    case gemm
    /// Winograd F(2×2, 3×3) for all three passes wherever it applies (3×3, stride 1, padding 1,
    /// groups 1); other layers use GEMM.
    case winograd
    /// Winograd F(4×4, 3×3) where it applies: faster, but with about 7× the
    /// float32 error of F(2×2) (≈ 1e-6 – 3e-6 relative per layer, see WinogradErrorTests), which
    /// flips near-zero ReLU inputs often enough that ResNet-20's three-step fixture misses the
    /// 1e-3 gradient tolerance. Opt-in only.
    case winogradF4 = "winograd_f4"
}
