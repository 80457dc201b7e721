import Foundation

/// One row of metrics.csv and one object of metrics.jsonl: a log interval (train columns) or an
/// evaluation (val or test columns). Only values that are a pure function of the run, so an
/// interrupted-and-resumed run writes exactly the rows an uninterrupted one does.
struct MetricsRow {
    var epoch: Int
    var step: Int
    var samples: Int
    var lr: Double
    var trainLoss: Double? = nil, trainAccuracy: Double? = nil
    var valLoss: Double? = nil, valAccuracy: Double? = nil
    var testLoss: Double? = nil, testAccuracy: Double? = nil
    var skipped: Int

    static let header = "epoch,step,samples,lr,train_loss,train_acc,val_loss,val_acc,test_loss,test_acc,skipped_steps"

    /// The csv fields as text: lr to 8 significant digits, losses and accuracies to 6 decimals.
    private var fields: [String?] {
        func f(_ v: Double?) -> String? { v.map { String(format: "%.6f", $0) } }
        return ["\(epoch)", "\(step)", "\(samples)", String(format: "%.8g", lr), f(trainLoss), f(trainAccuracy),
                f(valLoss), f(valAccuracy), f(testLoss), f(testAccuracy), "\(skipped)"]
    }

    var csvLine: String { fields.map { $0 ?? "" }.joined(separator: ",") + "\n" }

    /// The csv row as one JSON object with the header's keys in the header's order: the same
    /// numbers (parsed back from the csv text, so the two files agree exactly; JSONEncoder writes
    /// each), null for an empty field.
    var jsonLine: String {
        let encoder = JSONEncoder()
        func json(_ text: String?) -> String {
            let data: Data?
            if let text, let i = Int(text) { data = try? encoder.encode(i) }
            else if let text, let d = Double(text) { data = try? encoder.encode(d) }
            else { data = nil }
            return data.map { String(decoding: $0, as: UTF8.self) } ?? "null"
        }
        let pairs = zip(Self.header.split(separator: ","), fields).map { "\"\($0)\": \(json($1))" }
        return "{" + pairs.joined(separator: ", ") + "}\n"
    }
}
