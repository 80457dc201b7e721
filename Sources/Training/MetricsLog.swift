import Foundation
import IO

/// Rank 0's record of a run: `metrics.csv` and `metrics.jsonl` in the log directory (one row /
/// object per log interval and per evaluation), the TensorBoard event file (log.tensorboard),
/// and the progress lines on stdout.
///
/// On resume, rows past the checkpoint's step (written after it, then lost with the crash) are
/// dropped from both files, and the new event file starts with a SessionLog START that makes
/// TensorBoard drop them too.
final class MetricsLog {
    let path: String
    let jsonPath: String
    let printsProgress: Bool
    private var csv: FileHandle?
    private var json: FileHandle?
    private let events: EventFile?

    init(directory: String, resumeStep: Int?, printsProgress: Bool, tensorboard: Bool, host: String) throws {
        self.printsProgress = printsProgress
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        path = (directory as NSString).appendingPathComponent("metrics.csv")
        jsonPath = (directory as NSString).appendingPathComponent("metrics.jsonl")
        csv = try Self.open(path, header: MetricsRow.header, resumeStep: resumeStep) { line in
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            return fields.count > 1 ? Int(fields[1]) : nil
        }
        json = try Self.open(jsonPath, header: nil, resumeStep: resumeStep) { line in
            let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            return object?["step"] as? Int
        }
        if tensorboard {
            events = try EventFile(directory: directory, host: host)
            if let resumeStep { events?.sessionStart(step: resumeStep + 1) }
        } else {
            events = nil
        }
    }

    deinit { try? csv?.close(); try? json?.close() }

    /// Rewrites `path` with `header` and the old rows at or before `resumeStep` (none on a fresh
    /// start, or when the old header differs), and returns it open for appending.
    private static func open(_ path: String, header: String?, resumeStep: Int?, step: (Substring) -> Int?) throws -> FileHandle? {
        var kept = header.map { [$0] } ?? []
        if let resumeStep, let old = try? String(contentsOfFile: path, encoding: .utf8) {
            let lines = old.split(separator: "\n")
            if header == nil || lines.first.map(String.init) == header {
                for line in lines.dropFirst(header == nil ? 0 : 1) {
                    if let s = step(line), s <= resumeStep { kept.append(String(line)) }
                }
            }
        }
        do {
            try kept.map { $0 + "\n" }.joined().write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            throw TrainingError("\(path): cannot write metrics: \(error.localizedDescription)")
        }
        let handle = FileHandle(forWritingAtPath: path)
        handle?.seekToEndOfFile()
        return handle
    }

    func row(_ row: MetricsRow) {
        csv?.write(Data(row.csvLine.utf8))
        json?.write(Data(row.jsonLine.utf8))
    }

    /// TensorBoard scalars at a global step (nothing without log.tensorboard).
    func scalars(_ values: [(tag: String, value: Double)], step: Int) {
        events?.scalars(values, step: step)
    }

    var eventFile: String? { events?.path }

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
