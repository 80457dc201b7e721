import Foundation
import XCTest
@testable import Config

/// The repository's Configs/ folder, found from this file's path.
let configsDir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Configs")

/// The smallest valid config: only the required keys.
let minimal = """
model:
  name: resnet20
data:
  path: data/x.h5
train:
  epochs: 5
"""

final class ConfigTests: XCTestCase {
    func testEveryShippedConfigParsesAndRoundTrips() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: configsDir.path).filter { $0.hasSuffix(".cfg") }.sorted()
        XCTAssertGreaterThanOrEqual(files.count, 6, "Configs/ should hold the shipped configs")
        for f in files {
            let path = configsDir.appendingPathComponent(f).path
            let config: RunConfig
            do { config = try RunConfig.load(path: path) } catch { XCTFail("\(f): \(error)"); continue }
            // The canonical text is a complete config describing the same run, and a fixed point.
            let again = try RunConfig.parse(text: config.canonicalText, file: "canonical.cfg")
            XCTAssertEqual(again, config, "\(f): canonical text does not describe the same run:\n\(config.canonicalText)")
            XCTAssertEqual(again.canonicalText, config.canonicalText, f)
            // Only keys whose default is "none" (null) stay defaults when the canonical text is read back.
            let nulls = Set(config.canonicalText.split(separator: "\n").filter { $0.hasSuffix(": null") }
                .map { $0.trimmingCharacters(in: .whitespaces).dropLast(6) })
            for key in again.defaultedKeys {
                XCTAssertTrue(nulls.contains(key.split(separator: ".").last!), "\(f): \(key) is not spelled out in the canonical text")
            }
        }
    }

    func testShippedRecipes() throws {
        let cifar = try RunConfig.load(path: configsDir.appendingPathComponent("cifar.cfg").path)
        XCTAssertEqual(cifar.model.architecture, .zoo("cifar_cnn"))
        XCTAssertEqual(cifar.data.path, "data/cifar10.h5")
        XCTAssertEqual(cifar.data.augment, .init(cropPadding: 4, flip: true))
        XCTAssertEqual(cifar.optimizer.name, .adamw)
        XCTAssertEqual(cifar.schedule.warmupEpochs, 1)
        XCTAssertEqual(cifar.schedule.name, .cosine)
        XCTAssertEqual(cifar.checkpoint.dir, "runs/cifar")

        let dense = try RunConfig.load(path: configsDir.appendingPathComponent("densenet_bc_100.cfg").path)
        XCTAssertEqual(dense.schedule.milestones, [150, 225], "50% and 75% of 300 epochs")
        XCTAssertEqual(dense.train.batchSize, 64)

        let lenet = try RunConfig.load(path: configsDir.appendingPathComponent("lenet.cfg").path)
        XCTAssertEqual(lenet.model.input, [3, 32, 32])
        guard case .layers(let layers) = lenet.model.architecture else { return XCTFail("lenet.cfg is not a layer list") }
        XCTAssertEqual(layers.first, .conv(out: 6, kernel: 5, stride: 1, padding: 0, groups: 1, bias: true))
        XCTAssertEqual(layers[2], .maxpool(kernel: 2, stride: 2, padding: 0), "pool stride defaults to the kernel")
        XCTAssertEqual(layers[6], .flatten)
        XCTAssertEqual(layers.last, .linear(out: 10, bias: true))
    }

    func testDefaultsOfAMinimalConfig() throws {
        let c = try RunConfig.parse(text: minimal, file: "configs/mini.cfg")
        XCTAssertEqual(c.train.batchSize, 128)
        XCTAssertEqual(c.train.accumulate, 1)
        XCTAssertNil(c.train.blasThreads)
        XCTAssertNil(c.model.numClasses)
        XCTAssertEqual(c.optimizer.name, .sgd)
        XCTAssertEqual(c.optimizer.lr, 0.001)
        XCTAssertEqual(c.schedule.name, .constant)
        XCTAssertEqual(c.data.augment, .init(cropPadding: 0, flip: false))
        XCTAssertTrue(c.data.shuffle)
        XCTAssertEqual(c.checkpoint.dir, "runs/mini", "default dir comes from the file name")
        XCTAssertEqual(c.log.dir, "runs/mini", "log dir defaults to the checkpoint dir")
        XCTAssertEqual(c.checkpoint.resume, .auto)
        XCTAssertTrue(c.defaultedKeys.contains("train.batch_size"))
        XCTAssertTrue(c.defaultedKeys.contains("data.augment.flip"))
        XCTAssertFalse(c.defaultedKeys.contains("train.epochs"))
        // Every key is listed once, defaults marked.
        let lines = c.effectiveDescription.split(separator: "\n")
        XCTAssertTrue(lines.contains { $0.contains("batch_size: 128") && $0.contains("# default") })
        XCTAssertTrue(lines.contains { $0.hasPrefix("  epochs: 5") && !$0.contains("#") })
        XCTAssertTrue(lines.contains { $0.contains("num_classes: null") && $0.contains("from the dataset") })
        for section in RunConfig.sectionNames { XCTAssertTrue(lines.contains(Substring(section + ":")), section) }
        XCTAssertEqual(c.effectiveText, c.effectiveDescription)
    }

    func testAdamWDefaultsFollowTorch() throws {
        let c = try RunConfig.parse(text: minimal + "\noptimizer: {name: adamw}\n")
        XCTAssertEqual(c.optimizer.weightDecay, 0.01)
        XCTAssertEqual(c.optimizer.beta1, 0.9)
        XCTAssertEqual(c.optimizer.beta2, 0.999)
        XCTAssertEqual(c.optimizer.eps, 1e-8)
    }

    func testOverrides() throws {
        let c = try RunConfig.parse(text: minimal + "\noptimizer:\n  name: adam\n", file: "m.cfg",
                                    overrides: ["train.epochs=3", "optimizer.betas=[0.8, 0.99]", "data.augment.flip=true",
                                                "log.every_steps=7", "schedule.name=cosine", "optimizer.lr = 1e-4"])
        XCTAssertEqual(c.train.epochs, 3)
        XCTAssertEqual(c.optimizer.beta1, 0.8)
        XCTAssertEqual(c.optimizer.beta2, 0.99)
        XCTAssertEqual(c.optimizer.lr, 1e-4)
        XCTAssertTrue(c.data.augment.flip)
        XCTAssertEqual(c.log.everySteps, 7)
        XCTAssertEqual(c.schedule.name, .cosine)
        XCTAssertTrue(c.canonicalText.contains("epochs: 3"))
        XCTAssertEqual(c.overrides.count, 6)
        // Another optimizer chosen from the command line leaves the file's momentum unused: a
        // warning; null unsets it without one.
        let sgdText = minimal + "\noptimizer:\n  name: sgd\n  momentum: 0.9\n"
        XCTAssertEqual(try RunConfig.parse(text: sgdText, overrides: ["optimizer.name=adam"]).warnings.count, 1)
        let adam = try RunConfig.parse(text: sgdText, overrides: ["optimizer.name=adam", "optimizer.momentum=null"])
        XCTAssertEqual(adam.optimizer.name, .adam)
        XCTAssertEqual(adam.warnings, [])
    }

    func testGenericModels() throws {
        let resnet = try RunConfig.parse(text: minimal.replacingOccurrences(of: "name: resnet20", with: """
            name: resnet
              block: bottleneck
              blocks: [3, 4, 6, 3]
            """))
        XCTAssertEqual(resnet.model.architecture,
                       .resnet(ResNetSpec(block: .bottleneck, blocks: [3, 4, 6, 3], widths: [64, 128, 256, 512], stem: .imagenet)))
        let cifarResnet = try RunConfig.parse(text: minimal, overrides: ["model.name=resnet", "model.blocks=[3,3,3]", "model.stem=cifar"])
        XCTAssertEqual(cifarResnet.model.architecture,
                       .resnet(ResNetSpec(block: .basic, blocks: [3, 3, 3], widths: [16, 32, 64], stem: .cifar)))
        let dense = try RunConfig.parse(text: minimal, overrides: ["model.name=densenet", "model.growth=12", "model.blocks=[16,16,16]",
                                                                   "model.stem=cifar"])
        XCTAssertEqual(dense.model.architecture,
                       .densenet(DenseNetSpec(growth: 12, blocks: [16, 16, 16], initFeatures: 24, bnSize: 4, compression: 0.5, stem: .cifar)))
    }

    func testEveryLayerKind() throws {
        let text = """
        model:
          name: layers
          input: [1, 28, 28]
          layers:
            - conv: {out: 8, padding: 1, groups: 1, bias: false}
            - batchnorm: {}
            - relu6
            - sigmoid
            - tanh
            - relu
            - maxpool: {kernel: 3, stride: 2, padding: 1}
            - avgpool: {kernel: 2}
            - adaptive_avgpool: {out: 2}
            - flatten
            - dropout: {p: 0.25}
            - linear: {out: 4, bias: false}
            - batchnorm
        data: {path: d.h5}
        train: {epochs: 1}
        """
        let c = try RunConfig.parse(text: text)
        XCTAssertEqual(c.model.architecture, .layers([
            .conv(out: 8, kernel: 3, stride: 1, padding: 1, groups: 1, bias: false), .batchnorm,
            .activation(.relu6), .activation(.sigmoid), .activation(.tanh), .activation(.relu),
            .maxpool(kernel: 3, stride: 2, padding: 1), .avgpool(kernel: 2, stride: 2, padding: 0),
            .adaptiveAvgPool(height: 2, width: 2), .flatten, .dropout(p: 0.25), .linear(out: 4, bias: false), .batchnorm,
        ]))
        XCTAssertEqual(try RunConfig.parse(text: c.canonicalText), c)
    }

    func testScheduleEpochValues() throws {
        let c = try RunConfig.parse(text: minimal.replacingOccurrences(of: "epochs: 5", with: "epochs: 40"),
                                    overrides: ["schedule.name=multistep", "schedule.milestones=[25%, 30, 87.5%]",
                                                "schedule.warmup_epochs=0.5"])
        XCTAssertEqual(c.schedule.milestones, [10, 30, 35])
        XCTAssertEqual(c.schedule.warmupEpochs, 0.5)
        XCTAssertEqual(c.schedule.gamma, 0.1)
    }
}
