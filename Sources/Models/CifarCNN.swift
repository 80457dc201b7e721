import NN

/// The project's small CIFAR CNN (reference: `cifar_cnn` in Tests/Reference/models.py):
/// c16 c16 mp c32 c32 mp c64 c64 mp c128 c128 aap fc — every conv 3x3/1 pad 1 with bias and
/// followed by ReLU, max-pools 2x2/2, adaptive average pool to 1x1, flatten, linear.
/// Built as a layer list, so keys are nn.Sequential indices: '0.weight', '2.weight', ...,
/// '18.weight' (the linear head).
public enum CifarCNN {
    public static func build(numClasses: Int, inputShape: [Int], seed: UInt64 = 0) throws -> Model {
        let b = try LayerListBuilder(inputShape: inputShape)
        func conv(_ out: Int) throws { try b.conv(out: out, kernel: 3, padding: 1); try b.activation(.relu) }
        try conv(16); try conv(16); try b.maxpool(kernel: 2, stride: 2)
        try conv(32); try conv(32); try b.maxpool(kernel: 2, stride: 2)
        try conv(64); try conv(64); try b.maxpool(kernel: 2, stride: 2)
        try conv(128); try conv(128)
        try b.adaptiveAvgPool(1, 1); try b.flatten(); try b.linear(out: numClasses)
        return try b.build(seed: seed, numClasses: numClasses, name: "cifar_cnn")
    }
}
