import Config
import Foundation
import IO
import Models
import NN
import TensorCore
import Training

/// `trainer predict`: eval-mode logits of a checkpoint for a file of images.
///
/// Input `/images` is either uint8 (N, H, W, C) — normalised exactly as training does (the
/// same code path, without augmentation) with data.mean/std of the config, else the mean/std
/// attributes of the training dataset (data.path), else those of the input file, else none —
/// or float32 (N, C, H, W), used as given. Output: `/logits` float32 (N, K), with root
/// attributes `checkpoint`, `step` and `normalisation`. A BN-folded checkpoint
/// (`trainer fold-bn`, root attribute folded_bn = 1) is loaded into the folded model.
/// Runs in one process (it is a batch job for one file).
public enum Prediction {
    public struct Report: Sendable {
        public let output: String
        public let images: Int
        public let classes: Int
        public let step: Int
        public let folded: Bool
        public let normalisation: String
        public var text: String {
            "wrote \(output): /logits (\(images), \(classes)) from step \(step)\(folded ? " (BN-folded)" : ""); input \(normalisation)"
        }
    }

    public static func run(configPath: String, overrides: [String] = [], checkpoint: String, input: String,
                           output: String, batch: Int = 128) throws -> Report {
        let config = try RunConfig.load(path: configPath, overrides: overrides)
        let f = try HDF5File.open(input)
        let (raw, n, imageShape) = try inputLayout(f, input: input)
        let c = try CheckpointFile.read(checkpoint)
        let model = try loadModel(config: config, checkpoint: c, path: checkpoint, imageShape: imageShape)

        var normalisation = "float32 NCHW as given"
        var augmentation: Augmentation?
        if raw {
            let (mean, std, source) = try Self.normalisation(config, input: f, channels: imageShape[0])
            augmentation = Augmentation(cropPadding: 0, flip: false, mean: mean, std: std)
            normalisation = "uint8 NHWC normalised with \(source)"
        }
        let k = model.numClasses
        var logits = [Float](repeating: 0, count: n * k)
        let x = Tensor(shape: [batch] + imageShape)                       // (B, C, H, W)
        let plane = imageShape.reduce(1, *)
        var pixels = [UInt8](repeating: 0, count: raw ? batch * plane : 0)   // (B, H, W, C)
        let ctx = ForwardContext(training: false)
        var start = 0
        while start < n {
            let end = Swift.min(start + batch, n), b = end - start
            x.resize([b] + imageShape)
            if let augmentation {
                try pixels.withUnsafeMutableBufferPointer { p in
                    let part = UnsafeMutableBufferPointer(rebasing: p[0..<(b * plane)])
                    try f.readRows("images", rows: start..<end, into: part)
                    for i in 0..<b {
                        augmentation.apply(src: p.baseAddress! + i * plane, height: imageShape[1], width: imageShape[2],
                                           channels: imageShape[0], dst: x.data + i * plane, augment: false,
                                           seed: 0, epoch: 0, sampleIndex: start + i)
                    }
                }
            } else {
                try f.readRows("images", rows: start..<end, into: x.buffer)
            }
            let y = model.forward(x, ctx)                                  // (B, K)
            logits.withUnsafeMutableBufferPointer { $0.baseAddress!.advanced(by: start * k).update(from: y.data, count: b * k) }
            start = end
        }
        try f.close()

        try write(logits, shape: [n, k], to: output, checkpoint: checkpoint, step: c.metadata.step, normalisation: normalisation)
        return Report(output: output, images: n, classes: k, step: c.metadata.step,
                      folded: c.metadata.extraInts["folded_bn"] == 1, normalisation: normalisation)
    }

    /// The input file's /images, checked: (uint8 NHWC?, image count, per-image (C, H, W)).
    private static func inputLayout(_ f: HDF5File, input: String) throws -> (raw: Bool, count: Int, imageShape: [Int]) {
        guard f.isDataset("images") else { throw TrainingError("\(input): /images: not found (expected uint8 (N, H, W, C) or float32 (N, C, H, W))") }
        let type = try f.storedType("images"), shape = try f.shape("images")
        guard shape.count == 4, shape.allSatisfy({ $0 > 0 }) else {
            throw TrainingError("\(input): /images: shape \(Shape.format(shape)), expected 4 dimensions (N, H, W, C) or (N, C, H, W)")
        }
        let raw = type == .uint8
        guard raw || type.kind == .float else {
            throw TrainingError("\(input): /images: \(type), expected uint8 (N, H, W, C) or float32 (N, C, H, W)")
        }
        return (raw, shape[0], raw ? [shape[3], shape[1], shape[2]] : Array(shape.dropFirst()))
    }

    /// The output file: /logits (N, K) and where they came from.
    private static func write(_ logits: [Float], shape: [Int], to output: String, checkpoint: String, step: Int,
                              normalisation: String) throws {
        let out = try HDF5File.create(output)
        try out.write("logits", logits, shape: shape)
        try out.setAttribute("checkpoint", checkpoint)
        try out.setAttribute("step", step)
        try out.setAttribute("normalisation", normalisation)
        try out.close()
    }

    /// The config's model at `imageShape`, holding the checkpoint's state: built, folded first
    /// when the checkpoint is BN-folded (folded_bn = 1), then loaded strictly by key.
    public static func loadModel(config: RunConfig, checkpoint c: Checkpoint, path: String, imageShape: [Int]) throws -> Model {
        let classes = try numClasses(config, c, path: path, imageShape: imageShape)
        var model = try ModelFactory.build(config.model, imageShape: imageShape, numClasses: classes, seed: config.train.seed)
        if c.metadata.extraInts["folded_bn"] == 1 { model = try BatchNormFolding.fold(model).model }
        try StateLoader.load(c, into: model, file: path)
        return model
    }

    /// model.num_classes, else the width of the checkpoint's classifier (the model's last
    /// linear layer), else the last linear of a layer list.
    static func numClasses(_ config: RunConfig, _ c: Checkpoint, path: String, imageShape: [Int]) throws -> Int {
        if let k = config.model.numClasses { return k }
        if case .layers(let specs) = config.model.architecture {
            for spec in specs.reversed() { if case let .linear(out, _) = spec { return out } }
            throw TrainingError("\(config.file): model.num_classes: needed (the layer list ends in no linear layer)")
        }
        let probe = try ModelFactory.build(config.model, imageShape: imageShape, numClasses: 1, seed: 0)
        guard let head = probe.leaves.last(where: { $0 is Linear }) as? Linear,
              let t = c.tensor(head.weight.name), t.shape.count == 2 else {
            throw TrainingError("\(path): cannot tell the number of classes (no classifier weight for model '\(probe.name)'); set model.num_classes")
        }
        return t.shape[0]
    }

    /// Mean and std for uint8 input, and where they came from.
    static func normalisation(_ config: RunConfig, input: HDF5File, channels: Int) throws -> ([Float], [Float], String) {
        func check(_ v: [Double], _ what: String) throws -> [Float] {
            guard v.count == channels else { throw TrainingError("\(what) has \(v.count) entries for \(channels)-channel images") }
            return v.map(Float.init)
        }
        var mean = config.data.mean, std = config.data.std
        var source = "the config's data.mean/std"
        if mean == nil || std == nil, let set = try? ImageDataset(path: config.data.path, split: "train", residency: .file),
           set.mean != nil || set.std != nil {
            mean = mean ?? set.mean; std = std ?? set.std
            source = "the mean/std of \(config.data.path)"
        }
        if mean == nil && std == nil, input.hasAttribute("mean") || input.hasAttribute("std") {
            mean = input.hasAttribute("mean") ? try input.doublesAttribute("mean") : nil
            std = input.hasAttribute("std") ? try input.doublesAttribute("std") : nil
            source = "the mean/std attributes of \(input.path)"
        }
        if mean == nil && std == nil { source = "none (pixels / 255)" }
        return (try check(mean ?? Array(repeating: 0, count: channels), "mean"),
                try check(std ?? Array(repeating: 1, count: channels), "std"), source)
    }
}
