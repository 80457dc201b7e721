import Foundation

/// Rank 0's record of a run: `metrics.csv` in the log directory (one row per log interval and
/// one per evaluation) and the progress lines on stdout.
///
/// metrics.csv holds only values that are a pure function of the run (no timings), so an
/// interrupted-and-resumed run writes exactly the rows an uninterrupted one does. On resume,
/// rows past the checkpoint's step (written after it, then lost with the crash) are dropped.
final class MetricsLog {
    static let header = "epoch,step,samples,lr,train_loss,train_acc,test_loss,test_acc,skipped_steps"
    let path: String
    let printsProgress: Bool
    private var handle: FileHandle?

    init(directory: String, resumeStep: Int?, printsProgress: Bool) throws {
        self.printsProgress = printsProgress
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        path = (directory as NSString).appendingPathComponent("metrics.csv")
        var kept = [MetricsLog.header]
        if let resumeStep, let old = try? String(contentsOfFile: path, encoding: .utf8) {
            for line in old.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: ",", omittingEmptySubsequences: false)
                if fields.count > 1, let step = Int(fields[1]), step <= resumeStep { kept.append(String(line)) }
            }
        }
        do {
            try (kept.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            throw TrainingError("\(path): cannot write metrics: \(error.localizedDescription)")
        }
        handle = FileHandle(forWritingAtPath: path)
        handle?.seekToEndOfFile()
    }

    deinit { try? handle?.close() }

    func row(epoch: Int, step: Int, samples: Int, lr: Double, trainLoss: Double?, trainAccuracy: Double?,
             testLoss: Double?, testAccuracy: Double?, skipped: Int) {
        func f(_ v: Double?) -> String { v.map { String(format: "%.6f", $0) } ?? "" }
        let line = "\(epoch),\(step),\(samples),\(String(format: "%.8g", lr)),\(f(trainLoss)),\(f(trainAccuracy)),\(f(testLoss)),\(f(testAccuracy)),\(skipped)\n"
        handle?.write(line.data(using: .utf8)!)
    }

    func say(_ line: String) {
        guard printsProgress else { return }
        print(line)
        fflush(nil)
    }
}

/// "1h02m", "4m05s", "12s".
func formatDuration(_ seconds: Double) -> String {
    guard seconds.isFinite, seconds >= 0 else { return "?" }
    let s = Int(seconds.rounded())
    if s >= 3600 { return String(format: "%dh%02dm", s / 3600, (s % 3600) / 60) }
    if s >= 60 { return String(format: "%dm%02ds", s / 60, s % 60) }
    return "\(s)s"
}
