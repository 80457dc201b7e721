import XCTest
import NN
import TensorCore
import Models

/// Construction: state names, shape errors at build time naming the layer, the zoo's errors.
final class BuildTests: XCTestCase {
    func testResNetStateNamesFollowTorchvision() throws {
        let keys = try ModelZoo.build(name: "resnet20", numClasses: 10).store.stateKeys
        XCTAssertEqual(Array(keys.prefix(6)), ["conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean",
                                              "bn1.running_var", "bn1.num_batches_tracked"])
        XCTAssertTrue(keys.contains("layer2.0.downsample.0.weight"))
        XCTAssertTrue(keys.contains("layer2.0.downsample.1.running_var"))
        XCTAssertFalse(keys.contains("layer1.0.downsample.0.weight"), "identity shortcut where the shape is kept")
        XCTAssertEqual(Array(keys.suffix(2)), ["fc.weight", "fc.bias"])
        let r50 = try ModelZoo.build(name: "resnet50", numClasses: 1000).store.stateKeys
        XCTAssertTrue(r50.contains("layer1.0.downsample.0.weight"), "bottleneck widens 64 → 256 in layer1.0")
        XCTAssertTrue(r50.contains("layer4.2.conv3.weight"))
    }

    func testDenseNetStateNamesFollowTorchvision() throws {
        let keys = try ModelZoo.build(name: "densenet121", numClasses: 1000).store.stateKeys
        for key in ["features.conv0.weight", "features.norm0.running_mean", "features.denseblock1.denselayer1.norm1.weight",
                    "features.denseblock1.denselayer6.conv2.weight", "features.transition1.conv.weight",
                    "features.transition3.norm.num_batches_tracked", "features.denseblock4.denselayer16.norm2.bias",
                    "features.norm5.weight", "classifier.weight", "classifier.bias"] {
            XCTAssertTrue(keys.contains(key), key)
        }
        let model = try ModelZoo.build(name: "densenet_bc_100_k12", numClasses: 10)
        let p = try XCTUnwrap(model.store.parameter(named: "features.transition2.conv.weight"))
        XCTAssertEqual(p.shape, [150, 300, 1, 1], "24 + 16·12 = 216 → 108, 108 + 192 = 300 → 150")
        XCTAssertEqual(model.store.parameter(named: "classifier.weight")?.shape, [10, 342])
    }

    func testCifarCNNUsesSequentialIndices() throws {
        let keys = try ModelZoo.build(name: "cifar_cnn", numClasses: 10).store.stateKeys
        XCTAssertEqual(keys, ["0.weight", "0.bias", "2.weight", "2.bias", "5.weight", "5.bias", "7.weight", "7.bias",
                              "10.weight", "10.bias", "12.weight", "12.bias", "15.weight", "15.bias", "17.weight", "17.bias",
                              "21.weight", "21.bias"])
    }

    func testLayerListBatchNormIs1dAfterFlatten() throws {
        let b = try LayerListBuilder(inputShape: [3, 8, 8])
        try b.conv(out: 4, kernel: 3, padding: 1, bias: false); try b.batchnorm(); try b.activation(.relu)
        try b.maxpool(kernel: 2); try b.flatten(); try b.linear(out: 16); try b.batchnorm(); try b.dropout(p: 0.5)
        try b.linear(out: 5)
        let model = try b.build(seed: 3, numClasses: 5)
        XCTAssertEqual(model.store.parameter(named: "1.weight")?.shape, [4])
        XCTAssertEqual(model.store.parameter(named: "5.weight")?.shape, [16, 64])
        XCTAssertEqual(model.store.parameter(named: "6.weight")?.shape, [16], "BatchNorm1d over the 16 features")
        let x = Tensor(shape: [2, 3, 8, 8], repeating: 0.5)
        XCTAssertEqual(model.forward(x, ForwardContext(training: true, sampleIndices: [0, 1])).shape, [2, 5])
    }

    func testShapeErrorsNameTheLayerAtBuildTime() throws {
        let b = try LayerListBuilder(inputShape: [3, 8, 8])
        try b.conv(out: 4, kernel: 3)
        try b.flatten()
        XCTAssertEqual(b.outputShape, [144])
        XCTAssertThrowsError(try b.batchnorm(momentum: 2)) { XCTAssertTrue("\($0)".contains("'2'"), "\($0)") }
        XCTAssertThrowsError(try b.conv(out: 4, kernel: 3)) { XCTAssertTrue("\($0)".contains("'2'"), "\($0)") }
        XCTAssertThrowsError(try b.build(numClasses: 10)) { XCTAssertTrue("\($0)".contains("(144)"), "\($0)") }

        let c = try LayerListBuilder(inputShape: [3, 8, 8])
        try c.conv(out: 4, kernel: 3)
        XCTAssertThrowsError(try c.linear(out: 10)) {
            XCTAssertTrue("\($0)".contains("linear '1'") && "\($0)".contains("(4, 6, 6)"), "\($0)")
        }

        // Input too small for the pools: cifar_cnn's third max-pool (index 14) gets 1x1.
        XCTAssertThrowsError(try ModelZoo.build(name: "cifar_cnn", numClasses: 10, inputShape: [3, 4, 4])) {
            XCTAssertTrue("\($0)".contains("'14'"), "\($0)")
        }
        XCTAssertThrowsError(try ModelZoo.build(name: "densenet121", numClasses: 10, inputShape: [3, 16, 16])) {
            XCTAssertTrue("\($0)".contains("features.transition3"), "\($0)")
        }
        XCTAssertThrowsError(try ModelZoo.build(name: "resnet20", numClasses: 10, inChannels: 1, inputShape: [3, 32, 32]))
        XCTAssertThrowsError(try DenseNet.build(growth: 4, blocks: [], initFeatures: 8, stem: .cifar, numClasses: 10,
                                                inputShape: [3, 8, 8]))
        XCTAssertThrowsError(try ResNet.build(block: .basic, blocks: [1, 1], widths: [8], stem: .cifar, numClasses: 10,
                                              inputShape: [3, 8, 8]))
    }

    func testUnknownModelSuggestsTheNearestName() {
        XCTAssertThrowsError(try ModelZoo.build(name: "resnet21", numClasses: 10)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("did you mean 'resnet20'"), text)
            XCTAssertTrue(text.contains("densenet_bc_100_k12"), "lists the valid names: \(text)")
            XCTAssertFalse(text.contains("\n"), "one line")
        }
        XCTAssertThrowsError(try ModelZoo.build(name: "densenet_bc_100", numClasses: 10)) {
            XCTAssertTrue("\($0)".contains("'densenet_bc_100_k12'"), "\($0)")
        }
    }

    func testOtherChannelCountsAndInputSizes() throws {
        let model = try ModelZoo.build(name: "resnet18", numClasses: 7, inChannels: 1, inputShape: [1, 64, 64], seed: 2)
        XCTAssertEqual(model.store.parameter(named: "conv1.weight")?.shape, [64, 1, 7, 7])
        let y = model.forward(Tensor(shape: [2, 1, 64, 64], repeating: 0.1), ForwardContext(training: false))
        XCTAssertEqual(y.shape, [2, 7])
        XCTAssertEqual(try ModelZoo.defaultInputShape(name: "densenet121", inChannels: 1), [1, 224, 224])
    }

    func testSameSeedSameModelAndFirstConvSkipsInputGradient() throws {
        let a = try ModelZoo.build(name: "densenet_bc_40_k12", numClasses: 10, seed: 7)
        let b = try ModelZoo.build(name: "densenet_bc_40_k12", numClasses: 10, seed: 7)
        XCTAssertEqual(Array(a.store.values), Array(b.store.values))
        XCTAssertEqual((a.leaves.first as? Conv2d)?.propagatesInputGradient, false)
        XCTAssertTrue(a.leaves.dropFirst().compactMap { $0 as? Conv2d }.allSatisfy(\.propagatesInputGradient))
    }
}
