import Foundation
import TestSupport
import XCTest

/// What `data.residency` is for, measured: 4 ranks on one node training on a 180 MB split.
/// While the ranks train (after they report step 3), each rank's proportional set size (PSS,
/// /proc/PID/smaps_rollup: shared pages divided among the processes sharing them) and resident
/// set size are read. Bounds (generous; the measured figures are printed):
/// - shared: Σ PSS ≤ 1.3 × split + 4 × per-rank baseline (about one copy for the node);
/// - stream: every rank's RSS < split (the images stay in the file);
/// - memory: Σ PSS > 3 × split, which shows the shared bound can fail.
/// The per-rank baseline is the mean PSS of the same job on a 3 MB split.
final class ResidencyMemoryTests: XCTestCase {
    static let config = """
        model:
          name: layers
          input: [3, 64, 64]
          layers:
            - conv: {out: 4, kernel: 4, stride: 4}
            - relu
            - flatten
            - linear: {out: 10}
        data:
          path: DATA
        train:
          epochs: 1
          batch_size: 32
          threads: 1
        optimizer:
          name: sgd
          lr: 0.01
        log:
          every_steps: 1

        """

    func testSharedHoldsOneCopyPerNodeAndStreamNone() throws {
        let dir = try ProcessLauncher.temporaryDirectory("residency-memory")
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        // 14 650 images of 64×64×3: 180 MB of pixels; the baseline's 256 images: 3 MB.
        for (name, count) in [("big.h5", 14_650), ("small.h5", 256)] {
            let made = try ProcessLauncher.run("trainer", ["data", "synthetic", "\(dir)/\(name)", "--train", "\(count)",
                                                           "--test", "64", "--size", "64", "--seed", "1"], limit: 600)
            XCTAssertEqual(made.status, 0, made.output)
        }
        let split = Double(14_650 * 64 * 64 * 3)
        let baseline = try measure("memory", data: dir + "/small.h5", in: dir).map(\.pss).reduce(0, +) / 4
        let shared = try measure("shared", data: dir + "/big.h5", in: dir)
        let stream = try measure("stream", data: dir + "/big.h5", in: dir)
        let memory = try measure("memory", data: dir + "/big.h5", in: dir)
        let mb = { (v: Double) in String(format: "%.1f MB", v / 1e6) }
        print("ResidencyMemoryTests: split \(mb(split)), per-rank baseline PSS \(mb(baseline))")
        for (name, ranks) in [("shared", shared), ("stream", stream), ("memory", memory)] {
            print("  \(name): Σ PSS \(mb(ranks.map(\.pss).reduce(0, +))), RSS per rank \(ranks.map { mb($0.rss) })")
        }
        let bound = 1.3 * split + 4 * baseline
        XCTAssertLessThanOrEqual(shared.map(\.pss).reduce(0, +), bound, "shared: Σ PSS over the bound \(mb(bound))")
        for r in stream { XCTAssertLessThan(r.rss, split, "stream: a rank's RSS \(mb(r.rss)) is not below the split") }
        XCTAssertGreaterThan(memory.map(\.pss).reduce(0, +), 3 * split, "memory: 4 copies expected")
    }

    /// Starts 4 ranks with `residency`, waits until they report step 3, reads every rank's
    /// memory, then stops the job.
    private func measure(_ residency: String, data: String, in dir: String) throws -> [(pss: Double, rss: Double)] {
        let cfg = dir + "/\(residency)-\((data as NSString).lastPathComponent).cfg"
        try Self.config.replacingOccurrences(of: "DATA", with: data).write(toFile: cfg, atomically: true, encoding: .utf8)
        let job = try ProcessLauncher.start("trainer", [cfg, "--set", "data.residency=\(residency)",
                                                        "--set", "checkpoint.dir=\(dir)/ck-\(UUID().uuidString.prefix(6))"], ranks: 4)
        let running = job.waitFor(limit: 600) { job.output.contains("step 3/") }
        let ranks = running ? Self.descendants(of: job.pid).compactMap(Self.memory) : []
        kill(job.pid, SIGTERM)
        let run = job.wait(limit: 120)
        XCTAssertTrue(running, "\(residency): no step 3 reported:\n\(run.output)")
        XCTAssertEqual(ranks.count, 4, "\(residency): expected 4 rank processes under mpirun:\n\(run.output)")
        return ranks
    }

    /// PSS and RSS in bytes from /proc/PID/smaps_rollup.
    static func memory(_ pid: Int32) -> (pss: Double, rss: Double)? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/smaps_rollup", encoding: .utf8) else { return nil }
        func field(_ name: String) -> Double? {
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }),
                  let kb = line.split(separator: " ").dropFirst().first.flatMap({ Double($0) }) else { return nil }
            return kb * 1024
        }
        guard let pss = field("Pss"), let rss = field("Rss") else { return nil }
        return (pss, rss)
    }

    /// The processes below `root` (mpirun's children: the ranks), from /proc/*/stat.
    static func descendants(of root: Int32) -> [Int32] {
        var children: [Int32: [Int32]] = [:]
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(entry), let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 1, let ppid = Int32(fields[1]) { children[ppid, default: []].append(pid) }
        }
        var out: [Int32] = [], queue = children[root] ?? []
        while let p = queue.popLast() { out.append(p); queue += children[p] ?? [] }
        return out.filter { (try? String(contentsOfFile: "/proc/\($0)/smaps_rollup", encoding: .utf8)) != nil }
    }
}
