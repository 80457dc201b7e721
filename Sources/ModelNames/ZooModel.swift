/// The preset models by the name a config's `model.name` or `--model` gives. This is the one
/// list: Config accepts exactly these names, and ModelZoo switches over them, so a name without
/// a builder (or a builder without a name) does not compile.
public enum ZooModel: String, CaseIterable, Sendable {
    case cifarCNN = "cifar_cnn"
    case resnet20, resnet32, resnet44, resnet56, resnet110
    case resnet18CifarStem = "resnet18_cifar_stem"
    case resnet18, resnet34, resnet50, resnet101, resnet152
    case densenetBC40K12 = "densenet_bc_40_k12"
    case densenetBC100K12 = "densenet_bc_100_k12"
    case densenetBC250K24 = "densenet_bc_250_k24"
    case densenet121, densenet161, densenet169, densenet201, densenet264

    /// Every preset name, in a stable order.
    public static var names: [String] { allCases.map(\.rawValue) }
}
