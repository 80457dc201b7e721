import Foundation
import XCTest
@testable import IO

/// The reader `data.residency: stream` and the resident copies use: rows by index in any order
/// (runs of consecutive indices read as one hyperslab), contiguous ranges, the storage layout,
/// and a file replaced under it.
final class ImageRowReaderTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws { dir = try makeTempDir(name) }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func write(_ path: String, count n: Int) throws -> DatasetSplit {
        let images = (0..<(n * 12)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 / 13) }
        let s = DatasetSplit(images: images, labels: (0..<n).map { Int32($0 % 3) }, height: 2, width: 2, channels: 3)
        try DatasetFile.write(path: path, splits: [("train", s), ("test", s)])
        return s
    }

    func testReadsRowsInAnyOrderAndRanges() throws {
        let p = dir.appendingPathComponent("d.h5").path
        let s = try write(p, count: 10)
        let r = try ImageRowReader(path: p, split: "train")
        XCTAssertEqual(r.count, 10); XCTAssertEqual(r.rowBytes, 12)
        XCTAssertEqual(r.layout.kind, .contiguous)
        let idx = [3, 4, 5, 1, 1, 9, 0]
        var out = [UInt8](repeating: 0, count: idx.count * 12)
        try out.withUnsafeMutableBytes { try r.read(idx, into: $0) }
        XCTAssertEqual(out, idx.flatMap { s.images[($0 * 12)..<(($0 + 1) * 12)] })
        var range = [UInt8](repeating: 0, count: 4 * 12)
        try range.withUnsafeMutableBytes { try r.read(rows: 6..<10, into: $0) }
        XCTAssertEqual(range, Array(s.images[(6 * 12)..<(10 * 12)]))
    }

    func testAFileReplacedUnderTheReaderIsAnError() throws {
        let p = dir.appendingPathComponent("d.h5").path
        _ = try write(p, count: 10)
        let r = try ImageRowReader(path: p, split: "train")
        _ = try write(p, count: 6)
        var out = [UInt8](repeating: 0, count: 12)
        XCTAssertThrowsError(try out.withUnsafeMutableBytes { try r.read([0], into: $0) }) {
            XCTAssertTrue("\($0)".contains("d.h5: /train/images: changed under the running job: now holds 6 samples, the run started with 10"), "\($0)")
        }
    }
}
