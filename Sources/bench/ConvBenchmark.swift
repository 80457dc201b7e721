import Foundation
import NN
import TensorCore

/// `trainer-bench conv`: how close the convolution gets to the GEMM it is built on.
///
/// Prints, from one run: cblas_sgemm GFLOP/s at M = N = K = 512; then for each layer the
/// forward+backward GFLOP/s of `Conv2d` (6 × MACs / step time: forward, ∂input and ∂weight are
/// one GEMM's worth each), its percentage of the sgemm rate, and PyTorch's GFLOP/s for the same
/// layer and batch measured by Launch/bench/conv_torch.py when `import torch` works. The floors
/// the project holds itself to are checked at the end (`--check` turns a miss into exit 1).
enum ConvBenchmark {
    struct Layer {
        let label: String
        let cin: Int, cout: Int, size: Int, kernel: Int, stride: Int, padding: Int
        var bias = true
        /// Held to the pointwise floor (≥ 60 % of sgemm) instead of the general one.
        var pointwise: Bool { kernel == 1 }
    }

    static let layers: [Layer] = [
        Layer(label: "3x3 16->16 @32x32", cin: 16, cout: 16, size: 32, kernel: 3, stride: 1, padding: 1),
        Layer(label: "3x3 32->32 @16x16", cin: 32, cout: 32, size: 16, kernel: 3, stride: 1, padding: 1),
        Layer(label: "3x3 64->64 @8x8", cin: 64, cout: 64, size: 8, kernel: 3, stride: 1, padding: 1),
        Layer(label: "3x3 128->128 @4x4", cin: 128, cout: 128, size: 4, kernel: 3, stride: 1, padding: 1),
        Layer(label: "3x3 64->64 @32x32", cin: 64, cout: 64, size: 32, kernel: 3, stride: 1, padding: 1),
        Layer(label: "3x3 256->256 @8x8", cin: 256, cout: 256, size: 8, kernel: 3, stride: 1, padding: 1),
        Layer(label: "3x3 512->512 @4x4", cin: 512, cout: 512, size: 4, kernel: 3, stride: 1, padding: 1),
        Layer(label: "3x3 48->12 @16x16 (DenseNet)", cin: 48, cout: 12, size: 16, kernel: 3, stride: 1, padding: 1),
        Layer(label: "3x3 s2 16->32 @32x32", cin: 16, cout: 32, size: 32, kernel: 3, stride: 2, padding: 1),
        Layer(label: "1x1 64->64 @8x8", cin: 64, cout: 64, size: 8, kernel: 1, stride: 1, padding: 0),
        Layer(label: "1x1 s2 16->32 @32x32 (ResNet projection)", cin: 16, cout: 32, size: 32, kernel: 1, stride: 2, padding: 0),
        Layer(label: "3x3 3->16 @32x32 (CNN first)", cin: 3, cout: 16, size: 32, kernel: 3, stride: 1, padding: 1),
    ]

    struct Options {
        var batch = 128, threads = 1, reps = 10
        var torch = true, check = false
        var chunkColumns: Int?, maxWorkspace: Int?, directMinPixels: Int?
        /// Short layers repeat until this much time was measured, so best-of sees a quiet moment.
        var minSeconds = 1.0
        var only: String?
        /// Thread CPU time instead of wall time: robust when other processes share the cores
        /// (with one BLAS thread all the work runs on the calling thread).
        var cpuClock = false
        var algorithm = ConvAlgorithm.auto
        var winogradTile: Int?
    }

    static let help = """
        usage: trainer-bench conv [--batch N] [--threads N] [--reps N] [--no-torch] [--check]
                                  [--chunk-columns N] [--max-workspace FLOATS] [--direct-min-pixels N]
                                  [--only TEXT]
                                  [--clock wall|cpu]
          --batch N          images per step (default 128)
          --threads N        worker threads (and sgemm's BLAS threads; default 1; the floors assume 1)
          --reps N           timed steps per layer, at least; short layers repeat until 1 s
                             has been timed; the best step counts (default 10)
          --no-torch         skip the PyTorch comparison
          --check            exit 1 when a floor is missed
          --chunk-columns N  Conv2d.chunkColumns override (tuning)
          --max-workspace N  Conv2d.maxWorkspace override in floats (tuning)
          --direct-min-pixels N  Conv2d.directMinPixels override (tuning)
          --only TEXT        measure only the layers whose label contains TEXT (no floor check)
          --clock cpu        time with the thread's CPU clock instead of wall time (both sides;
                             for machines shared with other work; valid for 1 thread only)
          --algorithm A      auto (the plan), gemm, winograd or winograd_f4 (where it applies); floors assume gemm
          --winograd-tile M  Winograd F(MxM, 3x3) with M = 2 or 4 where it tiles the map (tuning)
        """

    static func run(arguments: [String]) -> Int32 {
        guard let o = parse(arguments) else { print(help); return 0 }
        clock = o.cpuClock ? .threadCPU : .wall
        torchThreads = o.threads
        let layers = o.only.map { part in ConvBenchmark.layers.filter { $0.label.contains(part) } } ?? ConvBenchmark.layers
        let (ours, gemm) = measureLayers(layers, o)
        print(String(format: "cblas_sgemm M=N=K=512, %d thread(s): %.1f GFLOP/s (best of %d measurements in this run)",
                     o.threads, gemm, layers.count + 1))
        print("conv2d forward+backward (input gradient included), batch \(o.batch), \(o.threads) thread(s), "
              + "GFLOP/s = 6 x MACs / best of >= \(o.reps) steps (>= 1 s per layer), \(o.cpuClock ? "thread CPU time" : "wall time")")
        let torch = o.torch ? torchRates(layers, o) : nil
        var floorsMissed = printLayers(layers, ours, torch: torch, sgemm: gemm, o)
        let allPct = printTotal(layers, ours, torch: torch, sgemm: gemm)
        if allPct < 40 { floorsMissed.append(String(format: "all layers: %.1f%% < 40%%", allPct)) }
        if torch == nil && o.torch { print("PyTorch comparison skipped: python3 cannot import torch or Launch/bench/conv_torch.py not found") }
        if o.only != nil { return 0 }
        print("floors (1 thread): all layers >= 40% of sgemm, every layer >= 25%, 1x1 >= 60%: "
              + (floorsMissed.isEmpty ? "met" : "MISSED — " + floorsMissed.joined(separator: "; ")))
        return o.check && !floorsMissed.isEmpty ? 1 : 0
    }

    /// The options, or nil for --help; a bad option ends the process with one line.
    private static func parse(_ arguments: [String]) -> Options? {
        var o = Options()
        var i = 0
        func value(_ flag: String) -> Int {
            i += 1
            guard i < arguments.count, let v = Int(arguments[i]), v > 0 else {
                fail("trainer-bench conv: \(flag) needs a positive integer")
            }
            return v
        }
        func word(_ flag: String, _ allowed: [String], _ what: String) -> String {
            i += 1
            guard i < arguments.count, allowed.contains(arguments[i]) else { fail("trainer-bench conv: \(flag) \(what)") }
            return arguments[i]
        }
        while i < arguments.count {
            switch arguments[i] {
            case "--batch": o.batch = value("--batch")
            case "--threads": o.threads = value("--threads")
            case "--reps": o.reps = value("--reps")
            case "--chunk-columns": o.chunkColumns = value("--chunk-columns")
            case "--max-workspace": o.maxWorkspace = value("--max-workspace")
            case "--direct-min-pixels": o.directMinPixels = value("--direct-min-pixels")
            case "--winograd-tile": o.winogradTile = value("--winograd-tile")
            case "--only":
                i += 1
                guard i < arguments.count else { fail("trainer-bench conv: --only needs a label fragment") }
                o.only = arguments[i]
            case "--clock": o.cpuClock = word("--clock", ["wall", "cpu"], "takes wall or cpu") == "cpu"
            case "--algorithm":
                let names = ConvAlgorithm.allCases.map(\.rawValue)
                o.algorithm = ConvAlgorithm(rawValue: word("--algorithm", names, "takes auto, gemm, winograd or winograd_f4"))!
            case "--no-torch": o.torch = false
            case "--check": o.check = true
            case "--help", "-h": return nil
            default: fail("trainer-bench conv: unknown option '\(arguments[i])'\n" + help)
            }
            i += 1
        }
        if o.cpuClock && o.threads != 1 { fail("trainer-bench conv: --clock cpu measures one thread; use it with --threads 1") }
        return o
    }

    /// Each layer's best step, and the best sgemm 512³ rate: measured again after every layer
    /// and the best kept, so a burst of other work cannot make the percentages look better.
    private static func measureLayers(_ layers: [Layer], _ o: Options) -> (ours: [(seconds: Double, flops: Double)], sgemm: Double) {
        // sgemm is measured with BLAS threads; the layers run on the worker pool (BLAS single-threaded).
        BLAS.threads = o.threads
        var gemmRates = [sgemmRate(size: 512)]
        pool = WorkerPool(threads: o.threads)
        var ours: [(seconds: Double, flops: Double)] = []
        for layer in layers {
            ours.append(measure(layer, o))
            BLAS.threads = o.threads
            gemmRates.append(sgemmRate(size: 512))
            BLAS.threads = pool.threads > 1 ? 1 : o.threads
        }
        return (ours, gemmRates.max()!)
    }

    /// One row per layer; returns the per-layer floors missed.
    private static func printLayers(_ layers: [Layer], _ ours: [(seconds: Double, flops: Double)], torch: [String: Double]?,
                                    sgemm gemm: Double, _ o: Options) -> [String] {
        let header = "layer".padding(toLength: 30, withPad: " ", startingAt: 0)
            + "  MMAC/img   ms/step   GFLOP/s  % sgemm   torch GFLOP/s  ours/torch"
        print(header)
        print(String(repeating: "-", count: header.count))
        var floorsMissed: [String] = []
        for (n, layer) in layers.enumerated() {
            let rate = ours[n].flops / ours[n].seconds / 1e9
            let pct = 100 * rate / gemm
            var line = layer.label.padding(toLength: 30, withPad: " ", startingAt: 0)
            line += String(format: "  %8.3f  %8.2f  %8.1f  %6.1f%%", ours[n].flops / 6 / Double(o.batch) / 1e6,
                           ours[n].seconds * 1e3, rate, pct)
            if let t = torch?[layer.label] {
                line += String(format: "   %13.1f  %9.2fx", t, rate / t)
            } else {
                line += "   " + "-".padding(toLength: 13, withPad: " ", startingAt: 0)
            }
            print(line)
            let floor = layer.pointwise ? 60.0 : 25.0
            if pct < floor { floorsMissed.append(String(format: "%@: %.1f%% < %.0f%%", layer.label, pct, floor)) }
        }
        return floorsMissed
    }

    /// The "all layers together" row; returns its percentage of sgemm.
    private static func printTotal(_ layers: [Layer], _ ours: [(seconds: Double, flops: Double)], torch: [String: Double]?,
                                   sgemm gemm: Double) -> Double {
        let totalFlops = ours.reduce(0) { $0 + $1.flops }, totalSeconds = ours.reduce(0) { $0 + $1.seconds }
        let allRate = totalFlops / totalSeconds / 1e9, allPct = 100 * allRate / gemm
        var total = "all layers together".padding(toLength: 30, withPad: " ", startingAt: 0)
        total += String(format: "  %8s  %8.2f  %8.1f  %6.1f%%", "", totalSeconds * 1e3, allRate, allPct)
        if let torch, torch.count == layers.count {
            let torchSeconds = layers.enumerated().reduce(0.0) { $0 + ours[$1.offset].flops / (torch[$1.element.label]! * 1e9) }
            let torchRate = totalFlops / torchSeconds / 1e9
            total += String(format: "   %13.1f  %9.2fx", torchRate, allRate / torchRate)
        }
        print(total)
        return allPct
    }

    // MARK: - Measurements

    /// Best-of-3 GFLOP/s of a square sgemm (C = A·B) on the current thread count.
    static func sgemmRate(size n: Int) -> Double {
        let a = randomTensor([n, n], seed: 1), b = randomTensor([n, n], seed: 2), c = Tensor(shape: [n, n])
        let calls = 20
        func once() {
            BLAS.sgemm(m: n, n: n, k: n, a: a.data, lda: n, b: b.data, ldb: n, c: c.data, ldc: n)
        }
        once(); once()
        var best = Double.infinity
        for _ in 0..<3 {
            let t = seconds { for _ in 0..<calls { once() } } / Double(calls)
            best = min(best, t)
        }
        return 2 * Double(n * n * n) / best / 1e9
    }

    /// Best step time (forward + backward) of one layer and the step's FLOPs (6 × MACs).
    static func measure(_ l: Layer, _ o: Options) -> (seconds: Double, flops: Double) {
        let store = ParameterStore()
        let conv: Conv2d
        do {
            conv = try Conv2d(at: store.scope("bench"), inputShape: [l.cin, l.size, l.size], outChannels: l.cout,
                              kernel: l.kernel, stride: l.stride, padding: l.padding, bias: l.bias)
        } catch { fail("trainer-bench conv: \(error)") }
        store.finalize(seed: 1)
        if let v = o.chunkColumns { conv.chunkColumns = v }
        if let v = o.maxWorkspace { conv.maxWorkspace = v }
        if let v = o.directMinPixels { conv.directMinPixels = v }
        conv.algorithm = o.algorithm
        conv.winogradTileOverride = o.winogradTile
        let ctx = ForwardContext(training: true)
        ctx.pool = pool
        let x = randomTensor([o.batch, l.cin, l.size, l.size], seed: 3)
        let gy = randomTensor([o.batch] + conv.outputShape, seed: 4)
        func step() {
            _ = conv.forward(x, ctx)
            _ = conv.backward(gy, ctx)
        }
        step()  // first step sizes every buffer
        var best = Double.infinity, total = 0.0, reps = 0
        while reps < o.reps || total < o.minSeconds {
            let t = seconds(step)
            best = min(best, t); total += t; reps += 1
        }
        return (best, 6 * Double(conv.macsPerSample * o.batch))
    }

    /// PyTorch GFLOP/s by layer label, or nil when torch or the script is unavailable.
    static func torchRates(_ layers: [Layer], _ o: Options) -> [String: Double]? {
        guard let script = torchScript() else { return nil }
        guard (try? python(["-c", "import torch"]))?.status == 0 else { return nil }
        let spec: [String: Any] = [
            "batch": o.batch, "threads": o.threads, "reps": o.reps, "clock": o.cpuClock ? "cpu" : "wall",
            "layers": layers.map { l -> [String: Any] in
                ["label": l.label, "cin": l.cin, "cout": l.cout, "h": l.size, "w": l.size, "k": l.kernel,
                 "stride": l.stride, "pad": l.padding, "groups": 1, "bias": l.bias]
            },
        ]
        guard let json = try? JSONSerialization.data(withJSONObject: spec),
              let result = try? python([script, String(decoding: json, as: UTF8.self)]), result.status == 0,
              let parsed = try? JSONSerialization.jsonObject(with: result.output) as? [String: Any],
              let rows = parsed["layers"] as? [[String: Any]] else {
            print("PyTorch comparison failed: \(script) did not print its JSON result")
            return nil
        }
        var rates: [String: Double] = [:]
        for row in rows {
            if let label = row["label"] as? String, let g = row["gflops"] as? Double { rates[label] = g }
        }
        if let version = parsed["torch"] as? String { print("PyTorch \(version) measured in this run (1 process, torch.set_num_threads(\(o.threads)))") }
        return rates
    }

    /// Launch/bench/<name>: from $TRAINER_BENCH_TORCH (a folder), the working directory, or the
    /// repository the executable was built in (<repo>/.build*/<config>/trainer-bench).
    static func torchScript(_ name: String = "conv_torch.py") -> String? {
        let fm = FileManager.default
        var candidates: [String] = []
        if let env = ProcessInfo.processInfo.environment["TRAINER_BENCH_TORCH"] { candidates.append(env + "/" + name) }
        candidates.append(fm.currentDirectoryPath + "/Launch/bench/" + name)
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<4 {
            dir = dir.deletingLastPathComponent()
            candidates.append(dir.appendingPathComponent("Launch/bench/" + name).path)
        }
        return candidates.first { fm.fileExists(atPath: $0) }
    }

    /// Runs python3 with the benchmark's thread count for every math library; returns exit status and stdout.
    static func python(_ args: [String]) throws -> (status: Int32, output: Data) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3"] + args
        var env = ProcessInfo.processInfo.environment
        let t = String(torchThreads)
        env["OMP_NUM_THREADS"] = t; env["MKL_NUM_THREADS"] = t; env["OPENBLAS_NUM_THREADS"] = t
        p.environment = env
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, data)
    }

    // MARK: - Helpers

    enum Clock { case wall, threadCPU }
    nonisolated(unsafe) static var clock = Clock.wall
    /// The run's thread count: the worker pool of our layers, torch.set_num_threads of PyTorch's.
    nonisolated(unsafe) static var torchThreads = 1
    nonisolated(unsafe) static var pool = WorkerPool.serial

    static func seconds(_ body: () -> Void) -> Double {
        let id = clock == .wall ? CLOCK_MONOTONIC : CLOCK_THREAD_CPUTIME_ID
        var a = timespec(), b = timespec()
        clock_gettime(id, &a)
        body()
        clock_gettime(id, &b)
        return Double(b.tv_sec - a.tv_sec) + Double(b.tv_nsec - a.tv_nsec) / 1e9
    }

    static func randomTensor(_ shape: [Int], seed: UInt64) -> Tensor {
        var rng = Philox(seed: seed)
        let t = Tensor(shape: shape)
        for i in 0..<t.count { t.data[i] = rng.uniform(-1, 1) }
        return t
    }

    static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data((message + "\n").utf8))
        exit(2)
    }
}
