import Foundation
import Models
import NN
import TensorCore

/// `trainer-bench models`: training throughput of whole models against PyTorch's, one run.
///
/// A step is what the trainer does per batch on one rank: forward in train mode, softmax
/// cross-entropy, backward into the flat gradient buffer, and an SGD-momentum update. The batch
/// is random (N, 3, 32, 32) data with random labels; img/s = batch / median step time.
/// Launch/bench/models_torch.py measures the reference PyTorch model (same architecture, same
/// batch, same thread count, SGD-momentum) in the same run, and the ratio is printed. With
/// `--rounds N` the two sides take turns N times per model (PyTorch, ours, PyTorch, ...): on a
/// machine whose speed drifts, each round's ratio compares runs seconds apart, and the median
/// ratio and the range over the rounds are printed.
enum ModelBenchmark {
    struct Options {
        var batch = 128, threads = 1, steps = 5, rounds = 1
        var models = ["cifar_cnn", "resnet20", "densenet_bc_100_k12", "resnet18_cifar_stem"]
        var torch = true
        var cpuClock = false
        var profile = false
        var algorithm = ConvAlgorithm.auto
    }

    static let help = """
        usage: trainer-bench models [--batch N] [--threads N] [--steps N] [--rounds N] [--models a,b,...] [--no-torch]
                                    [--clock wall|cpu] [--algorithm auto|gemm|winograd|winograd_f4] [--profile]
          --batch N      images per step (default 128)
          --threads N    worker threads (train.threads), and torch.set_num_threads (default 1)
          --algorithm A  convolution algorithm (model.conv_algorithm: auto, gemm, winograd, winograd_f4; default auto)
          --steps N      timed steps per model after one warm-up step; the median counts (default 5)
          --rounds N     PyTorch and ours take turns N times per model; prints the median ratio and
                         its range over the rounds (default 1; use 3 or more on a shared machine)
          --models LIST  comma-separated presets (default cifar_cnn,resnet20,densenet_bc_100_k12,resnet18_cifar_stem)
          --no-torch     skip the PyTorch comparison
          --clock cpu    thread CPU time instead of wall time (1 thread; for machines shared with other work)
          --profile      also per layer: forward and backward ms, GFLOP/s and share of the step;
                         page faults per step and peak RSS
        """

    static func run(arguments: [String]) -> Int32 {
        var o = Options()
        var i = 0
        while i < arguments.count {
            let flag = arguments[i]
            func next() -> String? { i += 1; return i < arguments.count ? arguments[i] : nil }
            switch flag {
            case "--batch": guard let v = next().flatMap(Int.init), v > 0 else { return usage("--batch needs a positive integer") }; o.batch = v
            case "--threads": guard let v = next().flatMap(Int.init), v > 0 else { return usage("--threads needs a positive integer") }; o.threads = v
            case "--steps": guard let v = next().flatMap(Int.init), v > 0 else { return usage("--steps needs a positive integer") }; o.steps = v
            case "--rounds": guard let v = next().flatMap(Int.init), v > 0 else { return usage("--rounds needs a positive integer") }; o.rounds = v
            case "--models": guard let v = next() else { return usage("--models needs a list") }; o.models = v.split(separator: ",").map(String.init)
            case "--no-torch": o.torch = false
            case "--profile": o.profile = true
            case "--algorithm":
                guard let v = next().flatMap(ConvAlgorithm.init(rawValue:)) else { return usage("--algorithm takes auto, gemm, winograd or winograd_f4") }
                o.algorithm = v
            case "--clock":
                switch next() {
                case "cpu": o.cpuClock = true
                case "wall": o.cpuClock = false
                default: return usage("--clock takes wall or cpu")
                }
            case "--help", "-h": print(help); return 0
            default: return usage("unknown option \(flag)")
            }
            i += 1
        }
        if o.cpuClock && o.threads != 1 { return usage("--clock cpu measures one thread; use it with --threads 1") }
        BLAS.threads = 1
        ConvBenchmark.pool = WorkerPool(threads: o.threads)
        ConvBenchmark.torchThreads = o.threads
        ConvBenchmark.clock = o.cpuClock ? .threadCPU : .wall

        var torchAvailable = o.torch
        print("training step (forward + cross-entropy + backward + SGD momentum), batch \(o.batch), \(o.threads) thread(s), conv \(o.algorithm.rawValue), 3x32x32 input, median of \(o.steps) steps\(o.rounds > 1 ? " per round, medians of \(o.rounds) rounds" : ""), \(o.cpuClock ? "thread CPU time" : "wall time")")
        print("model                      ms/step    img/s   torch img/s   ours/torch")
        print(String(repeating: "-", count: 72))
        for name in o.models {
            do {
                try compare(name, o, torch: &torchAvailable)
                fflush(nil)
            } catch {
                print("\(name): \(error)")
                return 1
            }
        }
        if let v = torchVersion { print("PyTorch \(v) measured in this run (torch.set_num_threads(\(o.threads)))") }
        if !torchAvailable && o.torch { print("PyTorch comparison skipped: python3 cannot import torch or Launch/bench/models_torch.py not found") }
        return 0
    }

    /// Measures preset `name` (and PyTorch's, while `torch` holds) for `o.rounds` rounds and
    /// prints its row, then the profile when asked.
    static func compare(_ name: String, _ o: Options, torch: inout Bool) throws {
        var ours: [Double] = [], theirs: [Double] = []
        for _ in 0..<o.rounds {
            if torch {
                if let t = torchRates(o, models: [name])?[name] { theirs.append(t) } else { torch = false }
            }
            ours.append(try measure(name, o))
        }
        let seconds = median(ours)
        var line = name.padding(toLength: 24, withPad: " ", startingAt: 0)
            + String(format: " %9.1f %8.1f", seconds * 1000, Double(o.batch) / seconds)
        if theirs.count == ours.count {
            let ratios = zip(ours, theirs).map { Double(o.batch) / $0 / $1 }
            line += String(format: "   %11.1f   %9.2fx", median(theirs), median(ratios))
            if o.rounds > 1 { line += String(format: "   (%.2f–%.2fx over %d rounds)", ratios.min()!, ratios.max()!, o.rounds) }
        } else {
            line += "             -"
        }
        print(line)
        if o.profile { try ModelProfile.report(name, o, oursSeconds: seconds, torchRate: theirs.isEmpty ? nil : median(theirs)) }
    }

    /// The middle value (the upper middle of an even count), as the step times use.
    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted[sorted.count / 2]
    }

    /// Median seconds of one training step of preset `name`.
    static func measure(_ name: String, _ o: Options) throws -> Double {
        let work = try Workload(name, batch: o.batch, algorithm: o.algorithm)
        work.step()  // sizes every buffer
        return median((0..<o.steps).map { _ in ConvBenchmark.seconds(work.step) })
    }

    static func usage(_ problem: String) -> Int32 {
        FileHandle.standardError.write(Data("trainer-bench models: \(problem)\n\(help)\n".utf8))
        return 2
    }

    /// PyTorch img/s by model name for `models`, or nil when torch or the script is unavailable.
    /// The version the last call reported, printed under the table.
    nonisolated(unsafe) private static var torchVersion: String?
    static func torchRates(_ o: Options, models: [String]) -> [String: Double]? {
        guard let script = ConvBenchmark.torchScript("models_torch.py") else { return nil }
        guard (try? ConvBenchmark.python(["-c", "import torch"]))?.status == 0 else { return nil }
        let spec: [String: Any] = ["batch": o.batch, "threads": o.threads, "steps": o.steps,
                                   "clock": o.cpuClock ? "cpu" : "wall", "models": models]
        guard let json = try? JSONSerialization.data(withJSONObject: spec),
              let result = try? ConvBenchmark.python([script, String(decoding: json, as: UTF8.self)]), result.status == 0,
              let parsed = try? JSONSerialization.jsonObject(with: result.output) as? [String: Any],
              let rows = parsed["models"] as? [String: Double] else {
            print("PyTorch comparison failed: \(script) did not print its JSON result")
            return nil
        }
        torchVersion = parsed["torch"] as? String
        return rows
    }
}
