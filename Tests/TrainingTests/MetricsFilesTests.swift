import Foundation
@testable import Training
import XCTest

/// metrics.csv rows and metrics.jsonl objects, and how a resume keeps the earlier rows.
final class MetricsFilesTests: XCTestCase {
    func testARowIsTheSameNumbersInBothFiles() throws {
        let row = MetricsRow(epoch: 2, step: 300, samples: 38400, lr: 0.012345678912, trainLoss: 1.23456789, trainAccuracy: 0.5,
                             testLoss: 2.0, testAccuracy: 0.0625, skipped: 1)
        XCTAssertEqual(row.csvLine, "2,300,38400,0.012345679,1.234568,0.500000,,,2.000000,0.062500,1\n")
        XCTAssertEqual(row.jsonLine, #"{"epoch": 2, "step": 300, "samples": 38400, "lr": 0.012345679, "train_loss": 1.234568, "train_acc": 0.5, "val_loss": null, "val_acc": null, "test_loss": 2, "test_acc": 0.0625, "skipped_steps": 1}"# + "\n")
    }

    /// A resume keeps the rows at or before the checkpoint's step; rows of the older layout
    /// (no val columns) are moved to the current columns by name.
    func testResumeKeepsEarlierRowsInTheCurrentColumns() {
        let old = """
            epoch,step,samples,lr,train_loss,train_acc,test_loss,test_acc,skipped_steps
            0,4,128,0.1,2.3,0.1,,,0
            0,8,256,0.1,,,2.1,0.25,0
            1,12,384,0.1,2.0,0.3,,,0
            """
        XCTAssertEqual(MetricsLog.keptRows(csv: old, upTo: 8), ["0,4,128,0.1,2.3,0.1,,,,,0", "0,8,256,0.1,,,,,2.1,0.25,0"])
        XCTAssertEqual(MetricsLog.keptRows(csv: nil, upTo: 8), [])
        let jsonl = "{\"step\": 4, \"x\": 1}\n{\"step\": 12}\nnot json\n"
        XCTAssertEqual(MetricsLog.keptRows(jsonl: jsonl, upTo: 8), ["{\"step\": 4, \"x\": 1}"])
    }
}
