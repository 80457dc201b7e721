import Foundation
import IO
import TestSupport
import XCTest

/// `data.residency`: where the images live must not change a single bit of training. The
/// release `trainer` runs cifar_cnn (crop + flip, shuffled) for 5 steps on 2 and 4 ranks with
/// each residency, and every run's final checkpoint must hold exactly the same floats as the
/// `memory` run's on that number of ranks; `stream` also reads a chunked, deflated copy.
final class ResidencyTests: XCTestCase {
    static let steps = 5, globalBatch = 32

    func testEveryResidencyTrainsTheSameBitsOn2And4Ranks() throws {
        let dir = try ProcessLauncher.temporaryDirectory("residency")
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        let data = dir + "/tiny.h5"
        let made = try ProcessLauncher.run("trainer", ["data", "synthetic", data, "--train", "\(Self.steps * Self.globalBatch)",
                                                       "--test", "32", "--size", "16", "--seed", "4"], limit: 120)
        XCTAssertEqual(made.status, 0, made.output)
        let chunked = try Self.chunkedCopy(of: data)
        for ranks in [2, 4] {
            let reference = try train(data: data, residency: "memory", ranks: ranks, in: dir)
            var runs = [("shared", data), ("stream", data), ("auto", data)]
            if let chunked { runs.append(("stream", chunked)) }
            for (residency, file) in runs {
                let other = try train(data: file, residency: residency, ranks: ranks, in: dir)
                XCTAssertEqual(other.map(\.name), reference.map(\.name))
                for (a, b) in zip(other, reference) {
                    XCTAssertTrue(a.values.map(\.bitPattern) == b.values.map(\.bitPattern),
                                  "\(ranks) ranks, \(residency) on \((file as NSString).lastPathComponent): \(a.name) differs from memory's (max |Δ| \(zip(a.values, b.values).map { abs($0 - $1) }.max() ?? 0))")
                }
            }
        }
    }

    /// A dataset replaced by one of another size while a `stream` job reads it (here by
    /// `trainer data synthetic` writing the same path): one line naming the file and the change,
    /// a non-zero exit on every rank (each rank's own status, as in BadInputTests), within seconds.
    func testDatasetReplacedUnderAStreamingJobStopsEveryRank() throws {
        let dir = try ProcessLauncher.temporaryDirectory("residency-change")
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        let synthetic = { (n: Int) in ["data", "synthetic", "data.h5", "--train", "\(n)", "--test", "16", "--size", "8", "--classes", "4"] }
        XCTAssertEqual(try ProcessLauncher.run("trainer", synthetic(1024), limit: 120, directory: dir).status, 0)
        try BadInputTests.goodConfig.replacingOccurrences(of: "DATA", with: dir + "/data.h5")
            .write(toFile: dir + "/run.cfg", atomically: true, encoding: .utf8)
        let wrapper = #""$0" "$@"; s=$?; echo "rank-exit $OMPI_COMM_WORLD_RANK $s" >&2; exit $s"#
        let job = try ProcessLauncher.start("trainer", ["run.cfg"] + ["data.residency=stream", "train.epochs=1000", "log.every_steps=1",
                                                                      "log.progress=true"].flatMap { ["--set", $0] },
                                            ranks: 2, directory: dir,
                                            mpiOptions: ["--mca", "orte_abort_on_non_zero_status", "0", "sh", "-c", wrapper])
        XCTAssertTrue(job.waitFor(limit: 300) { job.output.contains("step 2/") }, job.output)
        XCTAssertEqual(try ProcessLauncher.run("trainer", synthetic(512), limit: 120, directory: dir).status, 0)
        let (run, afterError) = job.wait(limit: 300) { !errorLines($0).isEmpty }
        let exits = run.output.split(separator: "\n").filter { $0.hasPrefix("rank-exit ") }.map { $0.split(separator: " ") }
        XCTAssertEqual(exits.compactMap { Int($0[1]) }.sorted(), [0, 1], run.output)
        for e in exits { XCTAssertNotEqual(e[2], "0", "rank \(e[1]) exited 0:\n\(run.output)") }
        XCTAssertLessThan(afterError ?? .infinity, 10, run.output)
        let lines = errorLines(run.output)
        XCTAssertEqual(lines.count, 1, run.output)
        XCTAssertTrue(lines.first?.contains("data.h5: /train/images: changed under the running job: now holds 512 samples, the run started with 1024") == true,
                      run.output)
    }

    /// Trains 5 steps and returns the final checkpoint's model state.
    private func train(data: String, residency: String, ranks: Int, in dir: String) throws -> [NamedTensor] {
        let ckpt = dir + "/ckpt-\(ranks)-\(residency)-\(UUID().uuidString.prefix(6))"
        var args = [DataParallelTests.configPath("cifar.cfg")]
        for o in ["data.path=\(data)", "data.residency=\(residency)", "train.epochs=1", "train.batch_size=\(Self.globalBatch)",
                  "train.seed=3", "train.threads=1", "data.augment.crop_padding=2", "data.augment.flip=true",
                  "checkpoint.dir=\(ckpt)", "log.every_steps=1"] { args += ["--set", o] }
        let run = try ProcessLauncher.run("trainer", args, ranks: ranks, limit: 300)
        XCTAssertEqual(run.status, 0, run.output)
        let expected = residency == "auto" ? "data.residency auto: shared" : "data.residency \(residency):"
        XCTAssertTrue(run.output.contains(expected), "no '\(expected)' line:\n\(run.output)")
        if data.hasSuffix("chunked.h5") { XCTAssertTrue(run.output.contains("is chunked (4, 16, 16, 3), deflate"), run.output) }
        let found = try XCTUnwrap(try CheckpointDirectory(ckpt).latestValid(warn: { _ in }), run.output)
        XCTAssertEqual(found.step, Self.steps)
        return try CheckpointFile.read(found.path).model
    }

    /// A copy of `path` whose image datasets are chunked (4 images a chunk) and deflated (h5py);
    /// nil without h5py.
    static func chunkedCopy(of path: String) throws -> String? {
        let out = (path as NSString).deletingLastPathComponent + "/chunked.h5"
        let script = """
            import sys, h5py
            src, dst = sys.argv[1], sys.argv[2]
            with h5py.File(src, 'r') as a, h5py.File(dst, 'w') as b:
                for k, v in a.attrs.items(): b.attrs[k] = v
                for split in a:
                    x = a[split + '/images'][()]
                    b.create_dataset(split + '/images', data=x, chunks=(4,) + x.shape[1:], compression='gzip')
                    b[split + '/labels'] = a[split + '/labels'][()]
            """
        return try python(script, [path, out]) ? out : nil
    }

    /// Runs python3 `script`; false when h5py is missing.
    static func python(_ script: String, _ arguments: [String]) throws -> Bool {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", script] + arguments
        let pipe = Pipe()
        p.standardOutput = pipe; p.standardError = pipe
        try p.run()
        let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        if p.terminationStatus == 0 { return true }
        if out.contains("No module named") { return false }
        XCTFail("python3 failed:\n\(out)")
        return false
    }
}
