import Foundation
import IO

/// Rank 0's record of a run: `metrics.csv` and `metrics.jsonl` in the log directory (one row /
/// object per log interval and per evaluation), the TensorBoard event file (log.tensorboard),
/// and the progress lines on stdout.
///
/// On resume, rows past the checkpoint's step (written after it, then lost with the crash) are
/// dropped from both files (rows of an older column layout are moved to the current one), and
/// the new event file starts with a SessionLog START that makes TensorBoard drop them too.
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
        let old = { (p: String) in resumeStep == nil ? nil : try? String(contentsOfFile: p, encoding: .utf8) }
        csv = try Self.open(path, lines: [MetricsRow.header] + Self.keptRows(csv: old(path), upTo: resumeStep ?? 0))
        json = try Self.open(jsonPath, lines: Self.keptRows(jsonl: old(jsonPath), upTo: resumeStep ?? 0))
        if tensorboard {
            events = try EventFile(directory: directory, host: host)
            if let resumeStep { events?.sessionStart(step: resumeStep + 1) }
        } else {
            events = nil
        }
    }

    deinit { try? csv?.close(); try? json?.close() }

    /// Writes `lines` as the file's new content and returns it open for appending.
    private static func open(_ path: String, lines: [String]) throws -> FileHandle? {
        do {
            try lines.map { $0 + "\n" }.joined().write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            throw TrainingError("\(path): cannot write metrics: \(error.localizedDescription)")
        }
        let handle = FileHandle(forWritingAtPath: path)
        handle?.seekToEndOfFile()
        return handle
    }

    /// The rows of an earlier metrics.csv at or before `step`, moved into the current columns by
    /// name (a column the older file lacks stays empty).
    static func keptRows(csv text: String?, upTo step: Int) -> [String] {
        guard let lines = text?.split(separator: "\n"), let first = lines.first else { return [] }
        let names = first.split(separator: ",").map(String.init)
        let columns = MetricsRow.header.split(separator: ",").map { names.firstIndex(of: String($0)) }
        guard let stepColumn = names.firstIndex(of: "step") else { return [] }
        return lines.dropFirst().compactMap { line in
            let f = line.split(separator: ",", omittingEmptySubsequences: false)
            guard f.count == names.count, let s = Int(f[stepColumn]), s <= step else { return nil }
            return columns.map { $0.map { String(f[$0]) } ?? "" }.joined(separator: ",")
        }
    }

    /// The objects of an earlier metrics.jsonl at or before `step`.
    static func keptRows(jsonl text: String?, upTo step: Int) -> [String] {
        (text?.split(separator: "\n") ?? []).compactMap { line in
            let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            guard let s = object?["step"] as? Int, s <= step else { return nil }
            return String(line)
        }
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
