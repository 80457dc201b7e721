import Config
import IO
import Models

/// Whether a checkpoint may be resumed by this run: its recorded global batch, model and data,
/// and the keys of its config that differ from the run's (printed in one line, old → new).
/// Changes that make it another run refuse the resume unless `--force-resume`.
extension CheckpointPolicy {
    func checkCompatible(_ c: Checkpoint, path: String, model: Model, cursor: TrainingCursor) throws {
        let m = c.metadata
        var problems: [String] = [], covered: Set<String> = []
        if m.globalBatch != cursor.globalBatch {
            problems.append("it was trained with global batch \(m.globalBatch), this run has train.batch_size \(cursor.globalBatch)")
            covered.insert("train.batch_size")
        }
        if let name = m.extraStrings["model"], name != model.name {
            problems.append("it holds model '\(name)', this run builds '\(model.name)'")
            covered.insert("model.name")
        }
        if let data = m.extraStrings["dataset"], data != datasetIdentity {
            problems.append("it was trained on \(data), this run reads \(datasetIdentity)")
            covered.insert("data.path")
        }
        let changes = m.config.isEmpty ? [] : ConfigChange.between(checkpointConfig: m.config, run: config)
        if !changes.isEmpty {
            say("config changed since the checkpoint: " + changes.map(\.description).joined(separator: ", "))
        }
        let runChanging = changes.filter { $0.needsForce && !covered.contains($0.key) }
        if !runChanging.isEmpty {
            problems.append(runChanging.map(\.key).joined(separator: ", ") + " changed, so the saved state belongs to another run")
        }
        guard !problems.isEmpty else { return }
        guard force else {
            throw TrainingError("\(path): refusing to resume: \(problems.joined(separator: "; ")) (pass --force-resume to continue anyway, or set checkpoint.resume: never)")
        }
        say("--force-resume: resuming although \(problems.joined(separator: "; "))")
    }
}
