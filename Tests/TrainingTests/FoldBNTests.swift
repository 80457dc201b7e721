import Foundation
import IO
import Models
import NN
import TensorCore
import TestSupport
import XCTest

/// BatchNorm folding (`BatchNormFolding`, `trainer fold-bn`): the folded model's eval logits
/// equal the original's within 1e-4 relative, with the folded BN layers gone and a bias on
/// each conv that absorbed one.
final class FoldBNTests: XCTestCase {
    /// Random (non-trivial) BN statistics and affine parameters, so a wrong fold cannot pass.
    private func randomiseBatchNorms(_ model: Model, seed: UInt64) {
        var rng = Philox(seed: seed)
        for b in model.store.buffers {
            for i in 0..<b.count {
                b.value[i] = b.name.hasSuffix("running_var") ? rng.uniform(0.2, 3) : rng.uniform(-1, 1)
            }
        }
        for p in model.store.parameters where p.shape.count == 1 && !p.name.hasSuffix("fc.bias") {
            for i in 0..<p.count { p.value[i] = p.name.hasSuffix(".weight") ? rng.uniform(0.5, 1.5) : rng.uniform(-0.5, 0.5) }
        }
    }

    private func batch(_ shape: [Int], seed: UInt64) -> Tensor {
        var rng = Philox(seed: seed)
        let n = shape.reduce(1, *)
        return Tensor(shape: shape, values: (0..<n).map { _ in rng.normal() })
    }

    /// Every residual and dense block in forward order, by kind and name.
    private func blocks(in layer: Layer) -> [String] {
        let own = layer is ResidualBlock ? ["residual \(layer.name)"] : layer is DenseBlock ? ["dense \(layer.name)"] : []
        return own + layer.children.flatMap { blocks(in: $0) }
    }

    private func checkFold(_ model: Model, expectedPairs: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        randomiseBatchNorms(model, seed: 17)
        let x = batch([6] + model.inputShape, seed: 3)
        let ctx = ForwardContext(training: false)
        let expected = model.forward(x, ctx).array
        let (folded, pairs) = try BatchNormFolding.fold(model)
        XCTAssertEqual(pairs.count, expectedPairs, "\(model.name): folded pairs", file: file, line: line)
        let got = folded.forward(x, ctx).array
        let error = relativeError(got, expected)
        XCTAssertLessThanOrEqual(error, 1e-4, "\(model.name): folded logits differ by \(error)", file: file, line: line)
        XCTAssertEqual(model.forward(x, ctx).array, expected, "\(model.name): folding changed the source model", file: file, line: line)
        XCTAssertEqual(blocks(in: folded.network), blocks(in: model.network),
                       "\(model.name): the folded network keeps its residual and dense blocks (the same types)", file: file, line: line)

        // Keys: each folded conv gains a bias; each folded BN's 5 keys are gone.
        let keys = Set(folded.store.stateKeys)
        for p in pairs {
            XCTAssertTrue(keys.contains(p.conv + ".bias"), "\(p.conv).bias missing", file: file, line: line)
            for k in ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"] {
                XCTAssertFalse(keys.contains("\(p.norm).\(k)"), "\(p.norm).\(k) still present", file: file, line: line)
            }
        }
        let foldedChannels = pairs.reduce(0) { n, p in n + (model.store.buffer(named: p.norm + ".running_mean")?.count ?? 0) }
        let biasesAdded = pairs.reduce(0) { n, p in n + (model.store.parameter(named: p.conv + ".bias") == nil ? 1 : 0) * (model.store.buffer(named: p.norm + ".running_mean")?.count ?? 0) }
        XCTAssertEqual(folded.store.parameterCount, model.store.parameterCount - 2 * foldedChannels + biasesAdded,
                       "\(model.name): parameter count after folding", file: file, line: line)
        XCTAssertEqual(folded.store.bufferCount, model.store.bufferCount - 2 * foldedChannels, file: file, line: line)
    }

    func testResNetFoldsEveryConvBatchNormPair() throws {
        // resnet20: stem, 9 blocks × 2, 2 projection shortcuts.
        try checkFold(try ModelZoo.build(name: "resnet20", numClasses: 10, inputShape: [3, 16, 16], seed: 1), expectedPairs: 21)
        // Bottleneck blocks with the ImageNet stem (7×7/2 conv, max-pool) and projections.
        try checkFold(try ResNet.build(block: .bottleneck, blocks: [1, 2], widths: [4, 8], stem: .imagenet, numClasses: 5,
                                       inputShape: [3, 32, 32], seed: 2), expectedPairs: 1 + 3 * 3 + 2)
    }

    func testDenseNetFoldsTheBottleneckNorms() throws {
        // DenseNet-BC-40: 3 blocks × 6 layers, each conv1 → norm2 (BN-ReLU); norm1 and the
        // transition norms come before their convs and stay.
        try checkFold(try ModelZoo.build(name: "densenet_bc_40_k12", numClasses: 10, inputShape: [3, 16, 16], seed: 1),
                      expectedPairs: 18)
        // ImageNet stem: conv0 → norm0 too.
        try checkFold(try DenseNet.build(growth: 4, blocks: [2, 2], initFeatures: 8, stem: .imagenet, numClasses: 5,
                                         inputShape: [3, 32, 32], seed: 3), expectedPairs: 1 + 4)
    }

    func testLayerListFoldsConvBatchNormAndKeepsOtherBatchNorms() throws {
        let b = try LayerListBuilder(inputShape: [3, 12, 12])
        try b.conv(out: 6, kernel: 3, padding: 1, bias: true); try b.batchnorm(); try b.activation(.relu)   // folded
        try b.conv(out: 8, kernel: 3, stride: 2, bias: false); try b.batchnorm()                             // folded
        try b.batchnorm()                                                                                     // BN after BN: kept
        try b.maxpool(kernel: 2); try b.flatten(); try b.linear(out: 12); try b.batchnorm()                   // 1d: kept
        try b.activation(.relu); try b.linear(out: 4)
        try checkFold(try b.build(seed: 5, numClasses: 4), expectedPairs: 2)
    }

    /// The command: fold a trained resnet20 checkpoint, predict with both, compare; the summary
    /// shows the parameter counts; training refuses the folded file.
    func testFoldBNCommandGivesTheSameLogitsAsTheCheckpoint() throws {
        let kit = try CheckpointTestKit(self, label: "fold")
        let config = try kit.write("fold.cfg", """
            model: {name: resnet20, num_classes: 10}
            data: {path: data.h5, augment: {crop_padding: 2, flip: true}}
            train: {epochs: 1, batch_size: 32, seed: 2, blas_threads: 1}
            optimizer: {name: sgd, lr: 0.05, momentum: 0.9}
            checkpoint: {every_epochs: 1}
            """)
        let run = try kit.train(config, dir: "run", extra: ["--stop-at-step", "3"])
        XCTAssertEqual(run.status, 0, run.output)
        let fold = try ProcessLauncher.run("trainer", ["fold-bn", "run/ckpt-3.h5", "folded.h5"], directory: kit.root)
        XCTAssertEqual(fold.status, 0, fold.output)
        XCTAssertTrue(fold.output.contains("folded 21 BatchNorm layer(s) of resnet20"), fold.output)
        XCTAssertTrue(fold.output.contains("parameters       272,474 -> 271,690"), fold.output)
        XCTAssertTrue(fold.output.contains("state_dict keys  128 -> 44"), fold.output)
        let folded = try CheckpointFile.read(kit.path("folded.h5"))
        XCTAssertEqual(folded.metadata.extraInts["folded_bn"], 1)
        XCTAssertEqual(folded.metadata.step, 3)

        let images = kit.path("images.h5")
        let f = try HDF5File.create(images)
        let data = try HDF5File.open(kit.path("data.h5"))
        try f.write("images", try data.readRows("test/images", rows: 0..<20, as: UInt8.self), shape: [20, 16, 16, 3])
        try f.close()
        var logits: [[Float]] = []
        for ckpt in ["run/ckpt-3.h5", "folded.h5"] {
            let out = "logits-\(logits.count).h5"
            let p = try ProcessLauncher.run("trainer", ["predict", config, "--checkpoint", ckpt, "--input", images, "--output", out],
                                            directory: kit.root)
            XCTAssertEqual(p.status, 0, p.output)
            logits.append(try HDF5File.open(kit.path(out)).readFloats("logits"))
        }
        XCTAssertEqual(logits[0].count, 200)
        let error = relativeError(logits[1], logits[0])
        XCTAssertLessThanOrEqual(error, 1e-4, "folded vs original predict logits: \(error)")

        let refused = try kit.train(config, dir: "again", extra: ["--set", "model.init_from=folded.h5"])
        XCTAssertEqual(refused.status, 1, refused.output)
        XCTAssertTrue(refused.output.contains("a BN-folded inference checkpoint"), refused.output)
    }
}
