import Foundation
import IO
import TestSupport
import XCTest

/// Every bad input a user can hand the trainer — config, dataset, checkpoint, launch — run under
/// mpirun with 2 ranks: ONE line naming the file and the key (asserted), a non-zero exit on
/// EVERY rank, the job over in seconds, and no output file left behind (half-written or not).
///
/// The table is the test: one row per case says how to make the bad input (edits of a good
/// config, `--set` overrides, and/or h5py lines that write bad files into the case's folder) and
/// which substrings the one error line must contain. All rows' files are made by one python3
/// process (h5py; CI installs it); the good dataset and checkpoints come from the trainer itself.
///
/// Every rank's own exit status is observed by wrapping each rank in `sh -c` that prints
/// `rank-exit R STATUS`, with mpirun told not to kill the job at the first non-zero exit
/// (`orte_abort_on_non_zero_status 0`), so a rank that exited 0 — or hung — cannot hide behind
/// one that failed. `testPlainMpirunExitsNonZero` checks mpirun's own status without the wrapper.
final class BadInputTests: XCTestCase {
    struct Case {
        let name: String
        let category: Category
        /// (from, to) replacements in the good config text (each `from` must occur).
        var edits: [(String, String)] = []
        var overrides: [String] = []
        /// h5py lines run in the case's folder (helpers in `BadInputTests.prelude`).
        var python: String = ""
        /// The config argument (a missing file for the missing-config case).
        var configArgument = "run.cfg"
        /// Substrings the one error line must contain.
        let expect: [String]
    }

    enum Category: String, CaseIterable { case config, dataset, checkpoint, launch }

    /// The good config each case starts from (DATA is replaced by the shared dataset's path).
    static let goodConfig = """
        model:
          name: layers
          input: [3, 8, 8]
          layers:
            - conv: {out: 4, kernel: 3, padding: 1}
            - relu
            - flatten
            - linear: {out: 4}
        data:
          path: DATA
        train:
          epochs: 1
          batch_size: 32
          blas_threads: 1
        optimizer:
          name: sgd
          lr: 0.01
        checkpoint:
          dir: out/ck
        log:
          every_steps: 100
          progress: false

        """

    static let cases: [Case] = [
        // Config
        Case(name: "YAML syntax error", category: .config, edits: [("lr: 0.01", "lr: [0.01")],
             expect: ["run.cfg:", "YAML syntax error"]),
        Case(name: "unknown key", category: .config, edits: [("lr: 0.01", "lrr: 0.01")],
             expect: ["run.cfg:", "optimizer.lrr: unknown key (did you mean 'lr'?)"]),
        Case(name: "unknown section", category: .config, edits: [("train:", "trian:")],
             expect: ["run.cfg:", "trian: unknown section (did you mean 'train'?)"]),
        Case(name: "wrong type", category: .config, edits: [("epochs: 1", "epochs: many")],
             expect: ["run.cfg:", "train.epochs: expected an integer, got 'many'"]),
        Case(name: "negative learning rate", category: .config, edits: [("lr: 0.01", "lr: -0.1")],
             expect: ["run.cfg:", "optimizer.lr:", "-0.1"]),
        Case(name: "zero epochs", category: .config, edits: [("epochs: 1", "epochs: 0")],
             expect: ["run.cfg:", "train.epochs: must be >= 1, got 0"]),
        Case(name: "unknown model", category: .config, edits: [("name: layers", "name: resnet21")],
             expect: ["run.cfg:", "model.name: unknown model 'resnet21' (did you mean 'resnet20'?)"]),
        Case(name: "unknown optimizer", category: .config, edits: [("name: sgd", "name: sgdd")],
             expect: ["run.cfg:", "optimizer.name: unknown optimizer 'sgdd' (did you mean 'sgd'?)"]),
        Case(name: "required key missing", category: .config, edits: [("  path: DATA\n", "")],
             expect: ["run.cfg:", "data.path: missing (required)"]),
        Case(name: "bad layer parameter", category: .config, edits: [("kernel: 3", "kernel: 0")],
             expect: ["run.cfg:", "model.layers[0].conv.kernel: must be >= 1, got 0"]),
        Case(name: "layer that does not fit the input", category: .config, edits: [("kernel: 3, padding: 1", "kernel: 9")],
             expect: ["run.cfg: model:", "'0'"]),
        Case(name: "override of the wrong type", category: .config, overrides: ["train.batch_size=abc"],
             expect: ["--set train.batch_size: expected an integer, got 'abc'"]),
        Case(name: "override of an unknown key", category: .config, overrides: ["train.epoch=3"],
             expect: ["--set train.epoch", "did you mean 'epochs'"]),
        Case(name: "config file missing", category: .config, configArgument: "nope.cfg",
             expect: ["nope.cfg: no such file"]),
        Case(name: "validation split outside (0, 1)", category: .config, overrides: ["data.val_split=1.5"],
             expect: ["--set data.val_split: must lie in (0, 1), got 1.5"]),
        Case(name: "negative early-stop patience", category: .config,
             edits: [("  blas_threads: 1", "  blas_threads: 1\n  early_stop: {patience: -2}")],
             expect: ["run.cfg:", "train.early_stop.patience: must be >= 0, got -2"]),
        Case(name: "unknown early-stop metric", category: .config, overrides: ["train.early_stop={metric: val_f1}"],
             expect: ["--set train.early_stop.metric: unknown metric 'val_f1'"]),
        Case(name: "unknown best-checkpoint metric", category: .config, edits: [("dir: out/ck", "dir: out/ck\n  best: top1")],
             expect: ["run.cfg:", "checkpoint.best: unknown metric 'top1'"]),

        // Dataset
        Case(name: "dataset missing", category: .dataset, overrides: ["data.path=missing.h5"],
             expect: ["run.cfg: data.path: missing.h5: no such file"]),
        Case(name: "dataset not HDF5", category: .dataset, overrides: ["data.path=bad.h5"],
             python: "open('bad.h5', 'w').write('images,labels\\n1,2\\n')",
             expect: ["bad.h5: not an HDF5 file"]),
        Case(name: "dataset is a folder", category: .dataset, overrides: ["data.path=bad.h5"],
             python: "os.mkdir('bad.h5')",
             expect: ["bad.h5: is a directory"]),
        Case(name: "split group missing", category: .dataset, overrides: ["data.path=bad.h5"],
             python: "dataset('bad.h5', test=None)",
             expect: ["bad.h5: /test: not found"]),
        Case(name: "images of the wrong dtype", category: .dataset, overrides: ["data.path=bad.h5"],
             python: "dataset('bad.h5', train=(images(64).astype(np.float32), labels(64)))",
             expect: ["bad.h5: /train/images: dtype float32, expected uint8"]),
        Case(name: "images of the wrong rank", category: .dataset, overrides: ["data.path=bad.h5"],
             python: "dataset('bad.h5', train=(images(64)[:, :, :, 0], labels(64)))",
             expect: ["bad.h5: /train/images: shape (64, 8, 8) has rank 3, expected (N, H, W, C)"]),
        Case(name: "labels of the wrong dtype", category: .dataset, overrides: ["data.path=bad.h5"],
             python: "dataset('bad.h5', train=(images(64), labels(64).astype(np.float32)))",
             expect: ["bad.h5: /train/labels: dtype float32, expected an integer type"]),
        Case(name: "labels of the wrong rank", category: .dataset, overrides: ["data.path=bad.h5"],
             python: "dataset('bad.h5', train=(images(64), np.stack([labels(64), labels(64)], 1)))",
             expect: ["bad.h5: /train/labels: shape (64, 2), expected (N)"]),
        Case(name: "images and labels of different length", category: .dataset, overrides: ["data.path=bad.h5"],
             python: "dataset('bad.h5', train=(images(64), labels(50)))",
             expect: ["bad.h5: /train/labels: 50 labels for 64 images in /train/images"]),
        Case(name: "label out of range", category: .dataset, overrides: ["data.path=bad.h5", "model.num_classes=4"],
             python: "l = labels(64); l[7] = 9; dataset('bad.h5', train=(images(64), l))",
             expect: ["bad.h5: /train/labels: label 9 at index 7 out of range 0..<4 (num_classes)"]),
        Case(name: "negative label", category: .dataset, overrides: ["data.path=bad.h5"],
             python: "l = labels(64); l[5] = -1; dataset('bad.h5', train=(images(64), l))",
             expect: ["bad.h5: /train/labels: label -1 at index 5 out of range"]),
        Case(name: "labels imply more classes than the model has", category: .dataset, overrides: ["data.path=bad.h5"],
             python: "l = labels(64); l[7] = 9; dataset('bad.h5', train=(images(64), l))",
             expect: ["run.cfg: model:", "num_classes (10)", "from the labels of bad.h5"]),
        Case(name: "empty split", category: .dataset, overrides: ["data.path=bad.h5"],
             python: "dataset('bad.h5', test=(images(0), labels(0)))",
             expect: ["bad.h5: /test/images: empty split (0 samples)"]),
        Case(name: "images of the wrong size for the model", category: .dataset, overrides: ["data.path=bad.h5"],
             python: "dataset('bad.h5', train=(images(64, 16, 16), labels(64)), test=(images(16, 16, 16), labels(16)))",
             expect: ["bad.h5: images are (3, 16, 16) (C, H, W) but model 'layers' takes (3, 8, 8)"]),
        Case(name: "images with the wrong channel count", category: .dataset, overrides: ["data.path=bad.h5"],
             python: "dataset('bad.h5', train=(images(64, c=1), labels(64)), test=(images(16, c=1), labels(16)))",
             expect: ["bad.h5: images are (1, 8, 8) (C, H, W) but model 'layers' takes (3, 8, 8)"]),
        Case(name: "mean attribute of the wrong length", category: .dataset, overrides: ["data.path=bad.h5"],
             python: "dataset('bad.h5', mean=np.array([0.5, 0.5]))",
             expect: ["bad.h5: @mean: has 2 values, expected 3"]),
        Case(name: "std attribute of zero", category: .dataset, overrides: ["data.path=bad.h5"],
             python: "dataset('bad.h5', std=np.array([0.2, 0.0, 0.2]))",
             expect: ["bad.h5: @std:", "must be > 0"]),
        Case(name: "data.mean of the wrong length", category: .dataset, overrides: ["data.mean=[0.5]"],
             expect: ["run.cfg: data.mean has 1 entries", "3 channel(s)"]),
        Case(name: "shared window larger than the node's memory", category: .dataset,
             edits: [("input: [3, 8, 8]", "input: [3, 512, 512]")], overrides: ["data.path=bad.h5", "data.residency=shared"],
             python: """
                 with h5py.File('bad.h5', 'w') as f:
                     f.create_dataset('train/images', shape=(2000000, 512, 512, 3), dtype='u1', chunks=(1, 512, 512, 3))
                     f.create_dataset('train/labels', shape=(2000000,), dtype='u1', chunks=(65536,))
                     f.create_dataset('test/images', shape=(16, 512, 512, 3), dtype='u1', chunks=(1, 512, 512, 3))
                     f['test/labels'] = labels(16)
                 """,
             expect: ["bad.h5: /train/images (data.residency: shared): cannot allocate a 1.6 TB shared-memory window", "available"]),
        Case(name: "stream from images that cannot be read", category: .dataset, overrides: ["data.path=bad.h5", "data.residency=stream"],
             python: """
                 with h5py.File('bad.h5', 'w') as f:
                     f.create_dataset('train/images', shape=(64, 8, 8, 3), dtype='u1', external=[('missing.raw', 0, 64 * 192)])
                     f['train/labels'] = labels(64)
                     f['test/images'], f['test/labels'] = images(16), labels(16)
                 """,
             expect: ["bad.h5: /train/images: cannot read rows 0..<1 of this external dataset"]),

        // Checkpoint
        Case(name: "resume checkpoint missing", category: .checkpoint, overrides: ["checkpoint.resume=missing.h5"],
             expect: ["run.cfg: checkpoint.resume: missing.h5: no such checkpoint file"]),
        Case(name: "truncated checkpoint", category: .checkpoint, overrides: ["checkpoint.resume=bad.h5"],
             python: "b = open(GOOD_CKPT, 'rb').read(); open('bad.h5', 'wb').write(b[:len(b) // 2])",
             expect: ["bad.h5: cannot open (corrupt or truncated HDF5 file?)"]),
        Case(name: "checkpoint not HDF5", category: .checkpoint, overrides: ["checkpoint.resume=bad.h5"],
             python: "open('bad.h5', 'wb').write(b'\\x00' * 4096)",
             expect: ["bad.h5: not an HDF5 file"]),
        Case(name: "a dataset given as checkpoint", category: .checkpoint, overrides: ["checkpoint.resume=bad.h5"],
             python: "dataset('bad.h5')",
             expect: ["bad.h5: not a trainer checkpoint"]),
        Case(name: "checkpoint of a newer version", category: .checkpoint, overrides: ["checkpoint.resume=bad.h5"],
             python: "f = checkpoint('bad.h5'); f.attrs['version'] = 99; f.close()",
             expect: ["bad.h5: @version: checkpoint version 99 is newer than this trainer"]),
        Case(name: "checksum mismatch", category: .checkpoint, overrides: ["checkpoint.resume=bad.h5"],
             python: "f = checkpoint('bad.h5'); d = f['model/0.weight']; a = d[()]; a.flat[0] += 1; d[...] = a; f.close()",
             expect: ["bad.h5: checksum mismatch", "corrupt checkpoint"]),
        Case(name: "incomplete checkpoint", category: .checkpoint, overrides: ["checkpoint.resume=bad.h5"],
             python: "f = checkpoint('bad.h5'); del f.attrs['complete']; f.close()",
             expect: ["bad.h5: incomplete checkpoint"]),
        Case(name: "checkpoint of another model", category: .checkpoint, overrides: ["checkpoint.resume=bad.h5"],
             python: "f = checkpoint('bad.h5'); f.attrs['model'] = 'cifar_cnn'; f.close()",
             expect: ["bad.h5: refusing to resume: it holds model 'cifar_cnn', this run builds 'layers'"]),
        Case(name: "checkpoint of another layer list", category: .checkpoint, overrides: ["checkpoint.resume=bad.h5"],
             python: "shutil.copy(OTHER_CKPT, 'bad.h5')",
             expect: ["bad.h5: refusing to resume: model.layers changed", "--force-resume"]),
        Case(name: "checkpoint of another global batch", category: .checkpoint, overrides: ["checkpoint.resume=bad.h5"],
             python: "f = checkpoint('bad.h5'); f.attrs['global_batch'] = 64; f.close()",
             expect: ["bad.h5: refusing to resume: it was trained with global batch 64, this run has train.batch_size 32"]),
        Case(name: "init_from missing", category: .checkpoint, overrides: ["model.init_from=missing.h5"],
             expect: ["run.cfg: model.init_from: missing.h5: no such file"]),
        Case(name: "init_from another model", category: .checkpoint, overrides: ["model.init_from=bad.h5"],
             python: "shutil.copy(OTHER_CKPT, 'bad.h5')",
             expect: ["run.cfg: model.init_from: bad.h5: /model/0.bias: shape (6)"]),

        // Launch
        Case(name: "batch not divisible by the ranks", category: .launch, overrides: ["train.batch_size=33"],
             expect: ["run.cfg: train.batch_size 33 is not divisible by 2 rank(s)"]),
        Case(name: "batch not divisible by ranks × accumulate", category: .launch, overrides: ["train.accumulate=3"],
             expect: ["run.cfg: train.batch_size 32 is not divisible by 2 rank(s) × train.accumulate 3"]),
        Case(name: "fewer test samples than ranks", category: .launch, overrides: ["data.path=bad.h5"],
             python: "dataset('bad.h5', test=(images(1), labels(1)))",
             expect: ["bad.h5: /test has 1 samples, fewer than the 2 ranks"]),
        Case(name: "fewer training samples than one batch", category: .launch, overrides: ["data.path=bad.h5"],
             python: "dataset('bad.h5', train=(images(16), labels(16)))",
             expect: ["bad.h5: /train has 16 samples, fewer than train.batch_size 32"]),
        Case(name: "validation leaves fewer training samples than one batch", category: .launch, overrides: ["data.val_split=0.6"],
             expect: ["data.h5: /train has 26 samples left after data.val_split, fewer than train.batch_size 32"]),
    ]

    /// Helpers for the rows' python: `images`, `labels`, `dataset` (a good dataset file unless
    /// told otherwise; a split given as None is left out), `checkpoint` (a copy of the good
    /// checkpoint opened for editing).
    static let prelude = """
        import os, shutil, sys
        import h5py, numpy as np
        rng = np.random.default_rng(0)
        GOOD_CKPT, OTHER_CKPT = sys.argv[1], sys.argv[2]
        def images(n, h=8, w=8, c=3): return rng.integers(0, 256, (n, h, w, c)).astype(np.uint8)
        def labels(n, k=4): return rng.integers(0, k, (n,)).astype(np.int64)
        GOOD = object()
        def dataset(path, train=GOOD, test=GOOD, **attrs):
            splits = {'train': (images(64), labels(64)) if train is GOOD else train,
                      'test': (images(16), labels(16)) if test is GOOD else test}
            with h5py.File(path, 'w') as f:
                for name, split in splits.items():
                    if split is None: continue
                    f[name + '/images'], f[name + '/labels'] = split
                for k, v in attrs.items(): f.attrs[k] = v
        def checkpoint(path):
            shutil.copy(GOOD_CKPT, path)
            return h5py.File(path, 'r+')

        """

    /// Case folders under one shared root with the good dataset and checkpoints.
    struct Prepared { let root: String; let folders: [String]; let pythonAvailable: Bool }

    func testTableCoversEveryCategoryWithAtLeast30Cases() {
        XCTAssertGreaterThanOrEqual(Self.cases.count, 30)
        for c in Category.allCases { XCTAssertTrue(Self.cases.contains { $0.category == c }, "no \(c) case") }
        XCTAssertEqual(Set(Self.cases.map(\.name)).count, Self.cases.count, "case names must be unique")
    }

    /// Every row: one error line with the expected substrings, a non-zero exit on both ranks
    /// within seconds, and no new file in the case's folder.
    func testEveryBadInputGivesOneLineAndFailsOnEveryRank() throws {
        let prepared = try prepare(Self.cases)
        var summary: [String] = []
        for (c, folder) in zip(Self.cases, prepared.folders) {
            if !c.python.isEmpty && !prepared.pythonAvailable { summary.append("SKIP \(c.name) (no h5py)"); continue }
            let line = try check(c, in: folder)
            let pad = { (t: String, n: Int) in t + String(repeating: " ", count: max(1, n - t.count)) }
            summary.append(pad(c.category.rawValue, 12) + pad(c.name, 48) + (line ?? "?"))
        }
        print("bad inputs (\(Self.cases.count)):\n" + summary.joined(separator: "\n"))
    }

    /// Without the per-rank wrapper: mpirun itself exits non-zero, one case per category.
    func testPlainMpirunExitsNonZero() throws {
        let chosen = Category.allCases.compactMap { cat in Self.cases.first { $0.category == cat && $0.python.isEmpty } }
        let prepared = try prepare(chosen)
        for (c, folder) in zip(chosen, prepared.folders) {
            let run = try ProcessLauncher.run("trainer", [c.configArgument] + c.overrides.flatMap { ["--set", $0] },
                                              ranks: 2, limit: 120, directory: folder)
            XCTAssertNotEqual(run.status, 0, "\(c.name): mpirun exited 0:\n\(run.output)")
            XCTAssertEqual(errorLines(run.output).count, 1, "\(c.name):\n\(run.output)")
        }
    }

    // MARK: Running one case

    /// Runs `c` in `folder` and checks the rules; returns the error line.
    @discardableResult
    private func check(_ c: Case, in folder: String) throws -> String? {
        let before = Self.files(in: folder)
        let wrapper = #""$0" "$@"; s=$?; echo "rank-exit $OMPI_COMM_WORLD_RANK $s" >&2; exit $s"#
        let job = try ProcessLauncher.start("trainer", [c.configArgument] + c.overrides.flatMap { ["--set", $0] }, ranks: 2,
                                            directory: folder,
                                            mpiOptions: ["--mca", "orte_abort_on_non_zero_status", "0", "sh", "-c", wrapper])
        let (run, afterError) = job.wait(limit: 120) { !errorLines($0).isEmpty }
        let label = "[\(c.category.rawValue): \(c.name)]"

        let exits = run.output.split(separator: "\n").compactMap { line -> (Int, Int)? in
            let f = line.split(separator: " ")
            guard f.count == 3, f[0] == "rank-exit", let r = Int(f[1]), let s = Int(f[2]) else { return nil }
            return (r, s)
        }
        XCTAssertEqual(exits.map(\.0).sorted(), [0, 1], "\(label) not every rank reported its exit:\n\(run.output)")
        for (rank, status) in exits { XCTAssertNotEqual(status, 0, "\(label) rank \(rank) exited 0:\n\(run.output)") }
        XCTAssertLessThan(afterError ?? .infinity, 10, "\(label) ran on \(afterError ?? .infinity) s after its error line")

        let lines = errorLines(run.output)
        XCTAssertEqual(lines.count, 1, "\(label) expected one error line:\n\(run.output)")
        if let line = lines.first {
            for s in c.expect { XCTAssertTrue(line.contains(s), "\(label) '\(line)' lacks '\(s)'") }
        }
        for noise in ["Fatal error", "Program crashed", "MPI_ABORT", "fatal signal"] {
            XCTAssertFalse(run.output.contains(noise), "\(label) '\(noise)' in the output:\n\(run.output)")
        }
        let after = Self.files(in: folder)
        XCTAssertEqual(after.subtracting(before).sorted(), [], "\(label) left files behind")
        XCTAssertEqual(after.filter { $0.hasSuffix(".tmp") }.sorted(), [], "\(label) left temporary files")
        return lines.first
    }

    /// Regular files below `folder`, relative paths.
    static func files(in folder: String) -> Set<String> {
        var out = Set<String>()
        guard let e = FileManager.default.enumerator(atPath: folder) else { return out }
        while let p = e.nextObject() as? String {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: folder + "/" + p, isDirectory: &isDir), !isDir.boolValue { out.insert(p) }
        }
        return out
    }

    // MARK: Preparing the inputs

    /// Makes the shared root (good dataset, good checkpoint, another model's checkpoint) and one
    /// folder per case with its run.cfg and, in one python3 process, its bad files.
    private func prepare(_ cases: [Case]) throws -> Prepared {
        guard ProcessLauncher.findOnPath("mpirun") != nil else { throw XCTSkip("mpirun not found on PATH") }
        let root = try ProcessLauncher.temporaryDirectory("badinput")
        addTeardownBlock { try? FileManager.default.removeItem(atPath: root) }
        let made = try ProcessLauncher.run("trainer", ["data", "synthetic", "data.h5", "--train", "64", "--test", "16",
                                                       "--size", "8", "--classes", "4"], limit: 120, directory: root)
        XCTAssertEqual(made.status, 0, made.output)
        let good = Self.goodConfig.replacingOccurrences(of: "DATA", with: root + "/data.h5")
        // The good checkpoint (2 steps) and one of a layer list with 6 conv channels, from 1-rank runs.
        try good.write(toFile: root + "/good.cfg", atomically: true, encoding: .utf8)
        try good.replacingOccurrences(of: "out: 4, kernel", with: "out: 6, kernel")
            .write(toFile: root + "/other.cfg", atomically: true, encoding: .utf8)
        for (cfg, dir) in [("good.cfg", "good"), ("other.cfg", "other")] {
            let run = try ProcessLauncher.run("trainer", [cfg, "--set", "checkpoint.dir=\(dir)"], limit: 120, directory: root)
            XCTAssertEqual(run.status, 0, run.output)
        }

        var folders: [String] = [], script = Self.prelude
        for (i, c) in cases.enumerated() {
            let folder = root + "/case\(i)"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            var text = Self.goodConfig
            for (from, to) in c.edits {
                XCTAssertTrue(text.contains(from), "[\(c.name)] the good config has no '\(from)'")
                text = text.replacingOccurrences(of: from, with: to)
            }
            text = text.replacingOccurrences(of: "DATA", with: root + "/data.h5")
            try text.write(toFile: folder + "/run.cfg", atomically: true, encoding: .utf8)
            if !c.python.isEmpty { script += "os.chdir(\(Self.pythonString(folder)))\n\(c.python)\n" }
            folders.append(folder)
        }
        let python = Process()
        python.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        python.arguments = ["python3", "-c", script, root + "/good/ckpt-2.h5", root + "/other/ckpt-2.h5"]
        let pipe = Pipe()
        python.standardOutput = pipe; python.standardError = pipe
        var available = true
        do {
            try python.run()
            let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            python.waitUntilExit()
            if python.terminationStatus != 0 {
                if out.contains("No module named") { available = false } else { XCTFail("making the bad files failed:\n\(out)") }
            }
        } catch { available = false }
        return Prepared(root: root, folders: folders, pythonAvailable: available)
    }

    static func pythonString(_ s: String) -> String {
        "'" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
    }
}
