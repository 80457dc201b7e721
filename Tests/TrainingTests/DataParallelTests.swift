import Config
import Foundation
import IO
import Models
import TestSupport
import XCTest
@testable import Training

/// The data-parallel contract, end to end: the release `trainer` under mpirun with 2 and 4
/// ranks (oversubscribed on a small machine) against the same run on 1 rank.
///
/// Equivalence: with the same global batch B, N ranks each take B/N samples, compute the mean
/// loss over their slice and average the gradients over the ranks, which is the gradient of the
/// mean over B; sample order, crops, flips (keyed by global sample index) and, with `sync_bn`,
/// the BatchNorm statistics do not depend on N. So the checkpoints of N ranks and of 1 rank hold
/// the same state up to float32 summation order: relative error ‖θ_N − θ_1‖/‖θ_1‖ ≤ 1e-5 over
/// every float tensor of the model state (parameters and BN running statistics).
///
/// The runs use the repository's own recipes (Configs/cifar.cfg, Configs/resnet20.cfg) with
/// `--set` overrides for tiny synthetic data (16×16 images, crop + flip, 160 training samples =
/// 5 steps of 32 = 1 epoch, so the end-of-run checkpoint is the one after step 5).
///
/// Two comparisons:
/// - free-running: 5 steps on N ranks from the start against 5 steps on 1 rank;
/// - step by step: N-rank step k starts from the 1-rank run's checkpoint after step k−1 (a
///   resume on another number of ranks) and must land on its checkpoint after step k.
/// cifar_cnn asserts free-running (and runs step by step only to explain a failure); resnet20
/// asserts step by step and prints its free-running error. Why: a float32 step
/// has discrete outcomes — a ReLU input or max-pool pair within a rounding error of a tie goes
/// one way or the other depending on summation order — and one such flip moves the gradient of
/// every layer below it by ~0.5% (measured here: layer3.2.bn1.bias gradient 6e-3 relative,
/// everything under it 3e-3..7e-3). Training-mode BatchNorm makes ResNet-20's gradient this
/// sensitive: PyTorch's own float32 gradient at initialisation is 8e-3 from its float64 one
/// (4e-7 with BN in eval mode). Once a flip happens the runs drift apart chaotically, and it
/// happens as often between two 1-rank runs that differ only in the BLAS thread count as
/// between 1 and N ranks: resnet20 (recipe lr 0.1) drifts 1e-6..2e-2 by step 5 over seeds.
/// The step-by-step check confines each flip to one step, where its size scales with the
/// learning rate: resnet20 runs its recipe at lr 0.003 (measured over seeds 3-6 on 2 and 4
/// ranks: worst single step 4e-6 at lr 0.004, most steps 1e-8; at lr 0.1 single flips reach
/// 1e-4). cifar_cnn (no BN, AdamW) is well-conditioned enough that seed 3 runs 5 steps free
/// (error ~1e-7), though other seeds can flip too (seed 7 on 4 ranks: 3e-3, as 1 rank with 2
/// BLAS threads): if only the free-running check fails after a kernel change, suspect a flip,
/// not the data-parallel path.
final class DataParallelTests: XCTestCase {
    /// DESIGN/issue tolerance on ‖θ_N − θ_1‖ / ‖θ_1‖.
    static let tolerance = 1e-5
    static let steps = 5
    static let globalBatch = 32

    // MARK: (a) N ranks reproduce 1 rank

    func testCifarCNNOn2RanksMatches1Rank() throws { try checkEquivalence(.cifarCNN, ranks: 2, assertFreeRunning: true) }
    func testCifarCNNOn4RanksMatches1Rank() throws { try checkEquivalence(.cifarCNN, ranks: 4, assertFreeRunning: true) }
    func testResNet20SyncBNOn2RanksMatches1Rank() throws { try checkEquivalence(.resnet20SyncBN, ranks: 2, assertFreeRunning: false) }
    func testResNet20SyncBNOn4RanksMatches1Rank() throws { try checkEquivalence(.resnet20SyncBN, ranks: 4, assertFreeRunning: false) }

    /// Without sync_bn each rank normalises with its own slice's statistics, so even one step
    /// must differ: this shows the sync-BN comparison can fail (and that sync_bn is wired up).
    func testResNet20WithoutSyncBNDiffersFrom1Rank() throws {
        let one = try Self.reference(.resnet20SyncBN)
        let two = try Self.train(.resnet20SyncBN, ranks: 2, stopAt: 1, extra: ["train.sync_bn=false"])
        let error = Self.relativeError(two, try one.checkpoint(1)).error
        XCTAssertGreaterThan(error, 100 * Self.tolerance,
                             "per-rank BN statistics (batch \(Self.globalBatch / 2)) should change step 1, yet the error is only \(error)")
    }

    // MARK: (c) learning on 2 ranks

    /// cifar_cnn with the cifar.cfg recipe (AdamW, warmup + cosine, crop + flip) on 2 ranks
    /// reaches ≥ 90% test accuracy on the synthetic stand-in; read from rank 0's metrics.csv.
    func testTwoRanksLearnSyntheticData() throws {
        let dir = try Self.workspace()
        let data = dir + "/learn.h5"
        let made = try ProcessLauncher.run("trainer", ["data", "synthetic", data, "--train", "2048", "--test", "512",
                                                       "--size", "16", "--seed", "5"], limit: 120)
        XCTAssertEqual(made.status, 0, made.output)
        let run = try ProcessLauncher.run("trainer", [Self.configPath("cifar.cfg"),
            "--set", "data.path=\(data)", "--set", "train.epochs=6", "--set", "train.batch_size=64",
            "--set", "train.blas_threads=1", "--set", "checkpoint.dir=\(dir)/learn", "--set", "checkpoint.every_epochs=0",
            "--set", "log.every_steps=16"], ranks: 2, limit: 600)
        XCTAssertEqual(run.status, 0, run.output)
        let accuracies = try Self.testAccuracies(metrics: dir + "/learn/metrics.csv")
        XCTAssertEqual(accuracies.count, 6, "one evaluation per epoch expected in metrics.csv:\n\(run.output)")
        let last = try XCTUnwrap(accuracies.last)
        XCTAssertGreaterThanOrEqual(last, 0.90, "test accuracy per epoch \(accuracies)\n\(run.output)")
        XCTAssertTrue(run.output.contains("2 rank(s)"), run.output)
    }

    // MARK: Checks

    /// cifar_cnn: free-running asserted (step by step only run to explain a failure);
    /// resnet20: step by step asserted, free-running printed.
    private func checkEquivalence(_ recipe: Recipe, ranks: Int, assertFreeRunning: Bool) throws {
        let one = try Self.reference(recipe)
        let final = try one.checkpoint(Self.steps)
        XCTAssertEqual(final.metadata.worldSize, 1)
        try checkMoved(recipe, final)

        let free = try Self.train(recipe, ranks: ranks)
        XCTAssertEqual(free.metadata.worldSize, ranks)
        XCTAssertEqual(Set(free.model.map(\.name)), Set(final.model.map(\.name)))
        XCTAssertEqual(free.counters, final.counters, "BN num_batches_tracked")
        let (drift, worst, worstError) = Self.relativeError(free, final)
        if assertFreeRunning && drift <= Self.tolerance {
            print(String(format: "DataParallelTests: %@ %d ranks vs 1 rank: 5 steps free-running %.2g", recipe.config, ranks, drift))
            return
        }
        let errors = try stepByStep(recipe, ranks: ranks, reference: one)
        print("DataParallelTests: \(recipe.config) \(ranks) ranks vs 1 rank: per-step errors \(errors.map { String(format: "%.2g", $0) }), 5 steps free-running \(String(format: "%.2g", drift))\(assertFreeRunning ? "" : " (not asserted: float32 drift)")")
        if assertFreeRunning {
            XCTAssertLessThanOrEqual(drift, Self.tolerance,
                                     "\(recipe.config) on \(ranks) ranks after 5 free-running steps: relative error \(drift) (worst tensor \(worst): \(worstError)); per-step errors \(errors) — if those all pass, suspect a float32 tie flip (see the type's comment)")
        }
    }

    /// N-rank step k from the 1-rank checkpoint after step k − 1, each within the tolerance of
    /// the 1-rank checkpoint after step k; returns the errors.
    private func stepByStep(_ recipe: Recipe, ranks: Int, reference one: Reference) throws -> [Double] {
        var errors: [Double] = []
        for k in 1...Self.steps {
            let resume = k == 1 ? [] : ["checkpoint.resume=\(one.path(k - 1))"]
            let many = try Self.train(recipe, ranks: ranks, stopAt: k, extra: resume)
            let expected = try one.checkpoint(k)
            XCTAssertEqual(many.metadata.worldSize, ranks)
            XCTAssertEqual(many.metadata.step, k)
            XCTAssertEqual(many.counters, expected.counters, "BN num_batches_tracked after step \(k)")
            let (error, worst, worstError) = Self.relativeError(many, expected)
            errors.append(error)
            XCTAssertLessThanOrEqual(error, Self.tolerance,
                                     "\(recipe.config) on \(ranks) ranks, step \(k) from the 1-rank state after step \(k - 1): relative error \(error) (worst tensor \(worst): \(worstError))")
        }
        return errors
    }

    /// The comparisons mean something only if 5 steps moved the state far more than the tolerance.
    private func checkMoved(_ recipe: Recipe, _ final: Checkpoint) throws {
        let moved = Self.relativeError(try Self.initialState(recipe, like: final), final).error
        XCTAssertGreaterThan(moved, 100 * Self.tolerance, "5 steps of \(recipe.config) barely moved the weights (\(moved))")
    }

    // MARK: Runs

    /// A model and recipe under test, with the overrides that make its run tiny.
    struct Recipe: Hashable {
        let config: String
        let overrides: [String]
        static let cifarCNN = Recipe(config: "cifar.cfg", overrides: [])
        /// resnet20.cfg's multistep milestones lie beyond a 1-epoch run: move one inside it, so
        /// the schedule's step change is exercised too (×0.1 after epoch 0.6 = step 3); lr 0.003
        /// instead of 0.1 keeps a float32 tie flip within one step well under the tolerance
        /// (see the type's comment).
        static let resnet20SyncBN = Recipe(config: "resnet20.cfg",
                                           overrides: ["train.sync_bn=true", "schedule.milestones=[0.6]", "optimizer.lr=0.003"])
    }

    /// The 1-rank run of a recipe, with a checkpoint after every step.
    struct Reference {
        let directory: String
        func path(_ step: Int) -> String { CheckpointDirectory(directory).filePath(step: step) }
        func checkpoint(_ step: Int) throws -> Checkpoint { try CheckpointFile.read(path(step)) }
    }

    nonisolated(unsafe) private static var references: [Recipe: Reference] = [:]

    private static func reference(_ recipe: Recipe) throws -> Reference {
        if let r = references[recipe] { return r }
        let dir = try workspace() + "/ckpt"
        _ = try train(recipe, ranks: nil, extra: ["checkpoint.every_steps=1", "checkpoint.keep=0", "checkpoint.dir=\(dir)"])
        let r = Reference(directory: dir)
        references[recipe] = r
        return r
    }

    /// Trains `recipe` on `ranks` MPI ranks (nil: one process, no mpirun) to the end of the
    /// 5-step epoch, or to `stopAt`, and returns the checkpoint written at the end.
    private static func train(_ recipe: Recipe, ranks: Int?, stopAt: Int? = nil, extra: [String] = []) throws -> Checkpoint {
        let dir = try workspace() + "/ckpt"
        let data = try tinyDataset()
        var args = ["train", configPath(recipe.config)]
        for o in recipe.overrides + [
            "data.path=\(data)", "train.epochs=1", "train.batch_size=\(globalBatch)", "train.seed=3",
            "train.blas_threads=1", "data.augment.crop_padding=2", "data.augment.flip=true",
            "checkpoint.dir=\(dir)", "log.every_steps=1",
        ] + extra { args += ["--set", o] }
        if let stopAt { args += ["--stop-at-step", String(stopAt)] }
        let run = try ProcessLauncher.run("trainer", args, ranks: ranks, limit: 300)
        guard run.status == 0 else {
            XCTFail("trainer on \(ranks ?? 1) rank(s) failed with status \(run.status):\n\(run.output)")
            throw XCTSkip("training run failed")
        }
        let written = extra.first { $0.hasPrefix("checkpoint.dir=") }.map { String($0.dropFirst("checkpoint.dir=".count)) } ?? dir
        let found = try CheckpointDirectory(written).latestValid(warn: { _ in })
        let path = try XCTUnwrap(found?.path, "no checkpoint in \(written):\n\(run.output)")
        XCTAssertEqual(found?.step, stopAt ?? steps, run.output)
        return try CheckpointFile.read(path)
    }

    /// The state every rank starts from: the config's model built with its seed (rank 0 builds
    /// exactly this and broadcasts it), in the checkpoint's naming.
    private static func initialState(_ recipe: Recipe, like reference: Checkpoint) throws -> Checkpoint {
        let config = try RunConfig.load(path: configPath(recipe.config), overrides: recipe.overrides + ["train.seed=3"])
        let model = try ModelFactory.build(config.model, imageShape: [3, 16, 16], numClasses: 10, seed: config.train.seed)
        var tensors: [NamedTensor] = []
        for (key, entry) in model.stateEntries {
            if let values = entry.floats { tensors.append(NamedTensor(name: key, shape: entry.shape, values: Array(values))) }
        }
        XCTAssertEqual(Set(tensors.map(\.name)), Set(reference.model.map(\.name)))
        return Checkpoint(metadata: CheckpointMetadata(), model: tensors)
    }

    // MARK: Comparison

    /// ‖a − b‖ / ‖b‖ over every float tensor of the model state (parameters and BN buffers)
    /// taken together, plus the tensor with the largest own relative error.
    static func relativeError(_ a: Checkpoint, _ b: Checkpoint) -> (error: Double, worst: String, worstError: Double) {
        TestSupport.relativeError(a.model, b.model)
    }

    // MARK: Files

    /// Test accuracies of the evaluation rows of a metrics.csv, in order.
    static func testAccuracies(metrics path: String) throws -> [Double] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let lines = text.split(separator: "\n")
        let header = lines.first.map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) } ?? []
        guard let column = header.firstIndex(of: "test_acc") else {
            XCTFail("\(path): no test_acc column in '\(lines.first ?? "")'")
            return []
        }
        return lines.dropFirst().compactMap { line in
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            return column < fields.count ? Double(fields[column]) : nil
        }
    }

    /// 160 training images of 16×16 (5 global batches of 32) and 32 test images, made once.
    nonisolated(unsafe) private static var tinyData: String?

    private static func tinyDataset() throws -> String {
        if let tinyData { return tinyData }
        let path = try workspace() + "/tiny.h5"
        let run = try ProcessLauncher.run("trainer", ["data", "synthetic", path, "--train", "\(steps * globalBatch)",
                                                      "--test", "32", "--size", "16", "--seed", "9"], limit: 60)
        guard run.status == 0 else {
            XCTFail("trainer data synthetic failed:\n\(run.output)")
            throw XCTSkip("no dataset")
        }
        tinyData = path
        return path
    }

    /// Configs/<name> of this checkout.
    static func configPath(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Configs/\(name)").path
    }

    /// One temporary folder per test process, removed at exit of the suite's runs.
    nonisolated(unsafe) private static var root: String?

    private static func workspace() throws -> String {
        if root == nil { root = try ProcessLauncher.temporaryDirectory("dp") }
        let dir = root! + "/" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    override class func tearDown() {
        if let root { try? FileManager.default.removeItem(atPath: root) }
        root = nil; tinyData = nil; references = [:]
        super.tearDown()
    }
}
