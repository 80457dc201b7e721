import Foundation
import Models
import NN
import TensorCore

/// `trainer-bench models --profile`: where one model's training step spends its time, per
/// layer and pass (exclusive wall time, mean over the timed steps), with GFLOP/s of the layers
/// that multiply (conv, linear), page faults per step and the process's peak RSS.
enum ModelProfile {
    static func report(_ name: String, _ o: ModelBenchmark.Options, oursSeconds: Double, torchRate: Double?) throws {
        let work = try Workload(name, batch: o.batch, algorithm: o.algorithm)
        let profiler = LayerProfiler(threadCPU: o.cpuClock)
        work.ctx.profiler = profiler
        work.step()
        profiler.reset()
        var lossTime = 0.0, optimizerTime = 0.0
        let faults0 = faults()
        let t0 = profiler.now()
        for _ in 0..<o.steps {
            work.step()
            lossTime += work.lossSeconds; optimizerTime += work.optimizerSeconds
        }
        let wall = (profiler.now() - t0) / Double(o.steps)
        let faultsPerStep = Double(faults() - faults0) / Double(o.steps)
        let steps = Double(o.steps)
        let rows = profiler.rows.filter { !($0.layer is Sequential) || $0.forward + $0.backward > 1e-4 * steps }
        let total = rows.reduce(0) { $0 + $1.forward + $1.backward } / steps + (lossTime + optimizerTime) / steps
        print("  \(name) per layer (exclusive ms per step, mean of \(o.steps) profiled steps):")
        print("  " + "layer".padding(toLength: 36, withPad: " ", startingAt: 0)
              + "kind              fwd ms  bwd ms  fwd GF/s bwd GF/s  share")
        for r in rows {
            let f = r.forward / steps, b = r.backward / steps
            let macs = Double(r.layer.macsPerSample * o.batch)
            let backwardMACs = macs * ((r.layer as? Conv2d)?.propagatesInputGradient == false ? 1 : 2)
            let gf = macs > 0 && r.layer.children.isEmpty ? String(format: "%8.1f %8.1f", 2 * macs / f / 1e9, 2 * backwardMACs / b / 1e9) : String(repeating: " ", count: 17)
            print("  " + r.layer.name.padding(toLength: 36, withPad: " ", startingAt: 0)
                  + kind(r.layer).padding(toLength: 16, withPad: " ", startingAt: 0)
                  + String(format: "%8.2f%8.2f  ", f * 1000, b * 1000) + gf + String(format: " %5.1f%%", 100 * (f + b) / total))
        }
        for (label, t) in [("loss (softmax cross-entropy)", lossTime), ("optimizer (zero grads + SGD)", optimizerTime)] {
            print("  " + label.padding(toLength: 52, withPad: " ", startingAt: 0)
                  + String(format: "%8.2f%8.2f  %@ %5.1f%%", t / steps * 1000, 0.0, String(repeating: " ", count: 17) as NSString, 100 * t / steps / total))
        }
        var line = String(format: "  step: %.1f ms profiled (rows sum to %.1f ms), %.1f ms unprofiled median", wall * 1000, total * 1000, oursSeconds * 1000)
        if let torchRate { line += String(format: "; PyTorch %.1f ms (%.2fx)", Double(o.batch) / torchRate * 1000, Double(o.batch) / torchRate / oursSeconds) }
        print(line)
        print(String(format: "  page faults per step: %.1f; peak RSS of this process: %.1f MiB", faultsPerStep, peakRSSMiB()))
    }

    static func kind(_ layer: Layer) -> String {
        if let a = layer as? Activation { return a.kind.rawValue }
        return String(describing: type(of: layer))
    }

    /// Minor + major page faults of this process so far.
    static func faults() -> Int {
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        return u.ru_minflt + u.ru_majflt
    }

    static func peakRSSMiB() -> Double {
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        return Double(u.ru_maxrss) / 1024
    }
}
