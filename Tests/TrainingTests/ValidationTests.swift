import Foundation
import IO
import TestSupport
@testable import Training
import XCTest

/// data.val_split, checkpoint.best and train.early_stop, end to end with the release trainer:
/// the hold-out is disjoint from the trained samples and the same on any number of ranks,
/// best.h5 is the best epoch's state, early stopping ends at the epoch its rule says, and a
/// resume in the middle of the patience count ends where the uninterrupted run ends.
///
/// Data: the synthetic stand-in, 256 /train images 8×8; global batch 32.
final class ValidationTests: XCTestCase {
    /// A layer list without BatchNorm (so with lr 0 the model is the same on any number of
    /// ranks) or with it, validation on 1/8 of /train.
    private func config(_ kit: CheckpointTestKit, name: String, batchNorm: Bool = true, lr: Double = 0.01,
                        epochs: Int, valSplit: Double = 0.125, earlyStop: String? = nil, extra: String = "") throws -> String {
        try kit.write(name, """
            model:
              name: layers
              num_classes: 10
              input: [3, 8, 8]
              layers:
                - conv: {out: 8, kernel: 3, padding: 1}
            \(batchNorm ? "    - batchnorm: {}\n" : "")    - relu
                - adaptive_avgpool: {out: 1}
                - flatten
                - linear: {out: 10}
            data: {path: data.h5, val_split: \(valSplit), augment: {crop_padding: 1, flip: true}}
            train: {epochs: \(epochs), batch_size: 32, seed: 4, blas_threads: 1\(earlyStop.map { ", early_stop: \($0)" } ?? "")}
            optimizer: {name: adam, lr: \(lr)}
            log: {every_steps: 4}
            \(extra)
            """)
    }

    /// (epoch 1-based, step, loss, accuracy) of the metrics.csv rows of the evaluation columns.
    static func evaluations(_ path: String, split: String = "val") throws -> [(epoch: Int, step: Int, loss: Double, accuracy: Double)] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let lines = text.split(separator: "\n")
        let header = lines.first!.split(separator: ",").map(String.init)
        let l = header.firstIndex(of: "\(split)_loss")!, a = header.firstIndex(of: "\(split)_acc")!
        return lines.dropFirst().compactMap { line in
            let f = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard let loss = Double(f[l]), let acc = Double(f[a]) else { return nil }
            return (Int(f[0])! + 1, Int(f[1])!, loss, acc)
        }
    }

    /// `trainer eval --split val --json` of a checkpoint: (loss, accuracy, samples).
    private func evalValidation(_ kit: CheckpointTestKit, _ config: String, checkpoint: String,
                                overrides: [String] = []) throws -> (Double, Double, Int) {
        let run = try ProcessLauncher.run("trainer", ["eval", config, "--checkpoint", checkpoint, "--split", "val", "--json"]
                                          + overrides.flatMap { ["--set", $0] }, limit: 120, directory: kit.root)
        XCTAssertEqual(run.status, 0, run.output)
        let line = run.output.split(separator: "\n").first { $0.hasPrefix("{") }.map(String.init) ?? "{}"
        let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] ?? [:]
        return ((o["val_loss"] as? Double) ?? .nan, (o["val_accuracy"] as? Double) ?? .nan, (o["samples"] as? Int) ?? 0)
    }

    // MARK: The hold-out

    func testHoldOutIsDisjointCoversTrainAndNeverReachesTheSampler() {
        for (n, f) in [(256, 0.125), (1000, 0.1), (10, 0.5), (3, 0.01), (7, 0.99)] {
            let (train, val) = ValidationSplit.holdOut(count: n, fraction: f, seed: 4)
            XCTAssertEqual(val.count, min(n - 1, max(1, Int((Double(n) * f).rounded()))), "\(n) × \(f)")
            XCTAssertTrue(Set(train).isDisjoint(with: val), "\(n) × \(f)")
            XCTAssertEqual((train + val).sorted(), Array(0..<n), "\(n) × \(f)")
            XCTAssertEqual(train, train.sorted()); XCTAssertEqual(val, val.sorted())
            XCTAssertTrue(ValidationSplit.holdOut(count: n, fraction: f, seed: 4) == (train, val), "deterministic")
        }
        let (train, val) = ValidationSplit.holdOut(count: 256, fraction: 0.125, seed: 4)
        XCTAssertNotEqual(ValidationSplit.holdOut(count: 256, fraction: 0.125, seed: 5).val, val, "the seed chooses the hold-out")
        for ranks in [1, 2, 4] {
            let sampler = EpochSampler(datasetSize: train.count, globalBatch: 32, worldSize: ranks, seed: 4, samples: train)
            for epoch in 0..<3 {
                let order = sampler.permutation(epoch: epoch)
                XCTAssertEqual(order.sorted(), train, "epoch \(epoch): every trained sample once, no validation sample")
                let seen = (0..<sampler.stepsPerEpoch).flatMap { s in (0..<ranks).flatMap { sampler.indices(order: order, step: s, rank: $0) } }
                XCTAssertTrue(Set(seen).isDisjoint(with: val), "\(ranks) rank(s), epoch \(epoch)")
            }
        }
    }

    /// With lr 0 and no BatchNorm the model stays at its initial state on any number of ranks, so
    /// the validation loss is the same only if the same samples are evaluated: 1, 2 and 4 ranks
    /// print the same hold-out fingerprint and log the same validation loss, and `trainer eval
    /// --split val` finds the same samples. The file has no /test at all: training never reads it.
    func testValidationIsTheSameSamplesOn1_2And4RanksAndTestIsNeverRead() throws {
        let kit = try CheckpointTestKit(self, label: "val-ranks", size: 8)
        _ = try runPython("import h5py; f = h5py.File('data.h5', 'r+'); del f['test']; f.close()", [], directory: kit.root)
        let config = try config(kit, name: "lr0.cfg", batchNorm: false, lr: 0, epochs: 1)
        let expected = ValidationSplit.fingerprint(ValidationSplit.holdOut(count: 256, fraction: 0.125, seed: 4).val)
        var results: [(Int, Double, Double)] = []
        for ranks in [1, 2, 4] {
            let run = try kit.train(config, dir: "r\(ranks)", ranks: ranks == 1 ? nil : ranks)
            XCTAssertEqual(run.status, 0, run.output)
            XCTAssertTrue(run.output.contains("validation: data.val_split 0.125: 32 of 256 /train images held out (indices \(expected))"), run.output)
            XCTAssertTrue(run.output.contains("224 train / 32 val images"), run.output)
            let rows = try Self.evaluations(kit.path("r\(ranks)/metrics.csv"))
            XCTAssertEqual(rows.count, 1, "\(ranks) rank(s)")
            XCTAssertTrue(try Self.evaluations(kit.path("r\(ranks)/metrics.csv"), split: "test").isEmpty)
            if let r = rows.first { results.append((ranks, r.loss, r.accuracy)) }
        }
        print("validation after 1 epoch at lr 0: " + results.map { "\($0.0) rank(s) loss \($0.1) acc \($0.2)" }.joined(separator: ", "))
        for (ranks, loss, acc) in results.dropFirst() {
            XCTAssertEqual(acc, results[0].2, "\(ranks) ranks: validation accuracy")
            XCTAssertEqual(loss, results[0].1, accuracy: 2e-6 * abs(results[0].1), "\(ranks) ranks: validation loss")
        }
        let (loss, acc, samples) = try evalValidation(kit, config, checkpoint: "r1/ckpt-7.h5")
        XCTAssertEqual(samples, 32)
        XCTAssertEqual(acc, results.first?.2 ?? .nan, accuracy: 1e-6)
        XCTAssertEqual(loss, results.first?.1 ?? .nan, accuracy: 1e-6 * abs(loss) + 1e-6)
    }

    // MARK: best.h5

    /// 8 epochs at a high learning rate (so the validation metrics go up and down) with keep 1:
    /// best.h5 survives pruning and holds the epoch with the best logged metric (the first such
    /// epoch, not the last one): its step, and `trainer eval --split val` of it reproduces that
    /// epoch's logged validation loss and accuracy.
    func testBestCheckpointHoldsTheBestEpoch() throws {
        let kit = try CheckpointTestKit(self, label: "best", size: 8)
        for metric in ["val_acc", "val_loss"] {
            let config = try config(kit, name: "\(metric).cfg", lr: 0.3, epochs: 8, extra: "checkpoint: {best: \(metric), keep: 1}")
            let run = try kit.train(config, dir: metric)
            XCTAssertEqual(run.status, 0, run.output)
            let rows = try Self.evaluations(kit.path("\(metric)/metrics.csv"))
            XCTAssertEqual(rows.count, 8, metric)
            let best = metric == "val_acc"
                ? rows.enumerated().max { a, b in a.element.accuracy < b.element.accuracy || (a.element.accuracy == b.element.accuracy && a.offset > b.offset) }!.element
                : rows.enumerated().min { a, b in a.element.loss < b.element.loss || (a.element.loss == b.element.loss && a.offset < b.offset) }!.element
            print("\(metric): " + rows.map { String(format: "epoch %d loss %.4f acc %.4f", $0.epoch, $0.loss, $0.accuracy) }.joined(separator: "; ") + " → best epoch \(best.epoch)")
            XCTAssertLessThan(best.epoch, 8, "\(metric): the best epoch must not be the last for this test to mean anything")
            XCTAssertEqual(try CheckpointDirectory(kit.path(metric)).list().map(\.step), [56], "keep 1 prunes the numbered checkpoints only")
            let stored = try CheckpointFile.read(kit.path("\(metric)/best.h5"))
            XCTAssertEqual(stored.metadata.step, best.step, "\(metric): best.h5 is from epoch \(best.epoch)")
            let (loss, acc, _) = try evalValidation(kit, config, checkpoint: "\(metric)/best.h5")
            XCTAssertEqual(acc, best.accuracy, accuracy: 1e-6, metric)
            XCTAssertEqual(loss, best.loss, accuracy: 1e-6 + 1e-6 * abs(best.loss), metric)
            XCTAssertTrue(run.output.contains("best.h5 from epoch \(best.epoch) by \(metric)"), run.output)
        }
    }

    // MARK: Early stopping

    /// Early stopping on val_acc with patience 2: the run ends at the epoch the rule gives on the
    /// logged accuracies (k/64, exact in metrics.csv), before train.epochs. The same run stopped
    /// in the middle of the patience count and resumed ends at the same epoch with the same
    /// metrics and bitwise the same final state; a rerun says it is complete.
    func testEarlyStoppingStopsAtTheRightEpochAndResumesMidPatienceExactly() throws {
        let kit = try CheckpointTestKit(self, label: "early", size: 8)
        let config = try config(kit, name: "early.cfg", epochs: 60, valSplit: 0.25, earlyStop: "{metric: val_acc, patience: 2}",
                                extra: "checkpoint: {keep: 2}")
        let straight = try kit.train(config, dir: "straight")
        XCTAssertEqual(straight.status, 0, straight.output)
        let rows = try Self.evaluations(kit.path("straight/metrics.csv"))
        // The rule, replayed on the logged values.
        var best = -1.0, since = 0, expected = 60
        for r in rows {
            if r.accuracy > best { best = r.accuracy; since = 0 } else { since += 1 }
            if since >= 2 { expected = r.epoch; break }
        }
        print("early stop: val_acc " + rows.map { String(format: "%.4f", $0.accuracy) }.joined(separator: " ") + " → stops after epoch \(expected)")
        XCTAssertLessThan(expected, 60, "the run must stop early for this test to mean anything")
        XCTAssertEqual(rows.last?.epoch, expected, "the last evaluation is the stopping epoch")
        XCTAssertTrue(straight.output.contains("early stop: val_acc has not improved by more than 0.0 for 2 evaluation(s)"), straight.output)
        XCTAssertTrue(straight.output.contains("stopping after epoch \(expected) of 60"), straight.output)
        let steps = 6   // 192 trained samples / 32
        let final = expected * steps
        XCTAssertNotNil(try CheckpointDirectory(kit.path("straight")).list().last { $0.step == final }, "a checkpoint at the stop")

        // Stop one step into the epoch after the first non-improving one: patience count 1 of 2.
        let stopAt = (expected - 1) * steps + 1
        let stopped = try kit.train(config, dir: "stopped", extra: ["--stop-at-step", "\(stopAt)"])
        XCTAssertEqual(stopped.status, 0, stopped.output)
        XCTAssertFalse(stopped.output.contains("early stop:"), stopped.output)
        let resumed = try kit.train(config, dir: "stopped")
        XCTAssertEqual(resumed.status, 0, resumed.output)
        XCTAssertTrue(resumed.output.contains("resuming from step \(stopAt)"), resumed.output)
        XCTAssertTrue(resumed.output.contains("stopping after epoch \(expected) of 60"), resumed.output)
        let a = try CheckpointFile.read(kit.path("straight/ckpt-\(final).h5"))
        let b = try CheckpointFile.read(kit.path("stopped/ckpt-\(final).h5"))
        CheckpointTestKit.assertBitwiseEqual(a, b, "resumed mid-patience vs straight")
        XCTAssertEqual(a.metadata.extraDoubles["early_stop_since"], 2)
        XCTAssertEqual(b.metadata.extraDoubles["early_stop_since"], 2)
        XCTAssertEqual(try String(contentsOfFile: kit.path("stopped/metrics.csv"), encoding: .utf8),
                       try String(contentsOfFile: kit.path("straight/metrics.csv"), encoding: .utf8))

        let again = try kit.train(config, dir: "straight")
        XCTAssertEqual(again.status, 0, again.output)
        XCTAssertTrue(again.output.contains("complete: stopped early at epoch \(expected)"), again.output)
        XCTAssertTrue(again.output.contains("raise train.early_stop.patience to continue"), again.output)
    }
}
