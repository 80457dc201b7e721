/// Which input stem a ResNet or DenseNet starts with (`model.stem`; the builders take it as is).
public enum Stem: String, CaseIterable, Sendable {
    /// 3x3/1 pad 1 conv (ResNet adds BN + ReLU), no pooling (He et al. / Huang et al. for CIFAR).
    case cifar
    /// 7x7/2 pad 3 conv, BN, ReLU, 3x3/2 pad 1 max-pool (torchvision, ImageNet-sized inputs).
    case imagenet
}

/// torchvision's residual block types (`model.block`).
public enum ResidualBlockKind: String, CaseIterable, Sendable {
    case basic, bottleneck
    /// Output channels per `planes`.
    public var expansion: Int { self == .basic ? 1 : 4 }
}
