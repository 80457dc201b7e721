import Foundation
import XCTest
@testable import IO

final class CIFARImporterTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws { dir = try makeTempDir(name) }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// Writes a fake CIFAR-10 binary set: record r of batch b has label (b + r) % 10 and pixel
    /// bytes that encode (b, r, channel, position), so the transposition can be checked.
    func writeFakeSet(in folder: URL, recordsPerBatch: Int = 3) throws -> [(label: UInt8, bytes: [UInt8])] {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var all: [(UInt8, [UInt8])] = []
        for (b, name) in (CIFARImporter.trainFiles + CIFARImporter.testFiles).enumerated() {
            var data = Data()
            for r in 0..<recordsPerBatch {
                let label = UInt8((b + r) % 10)
                let bytes = (0..<3072).map { UInt8(truncatingIfNeeded: $0 * 7 + b * 31 + r * 13 + $0 / 1024) }
                data.append(label); data.append(contentsOf: bytes)
                all.append((label, bytes))
            }
            try data.write(to: folder.appendingPathComponent(name))
        }
        return all
    }

    func check(_ out: String, _ records: [(label: UInt8, bytes: [UInt8])], per: Int) throws {
        let train = try ImageDataset(path: out, split: "train", numClasses: 10)
        let test = try ImageDataset(path: out, split: "test", numClasses: 10)
        XCTAssertEqual(train.count, 5 * per)
        XCTAssertEqual(test.count, per)
        XCTAssertEqual(train.sampleShape, [32, 32, 3])
        XCTAssertEqual(train.classNames, CIFARImporter.classes)
        XCTAssertEqual(train.labels, records.prefix(5 * per).map { Int32($0.label) })
        XCTAssertEqual(test.labels, records.suffix(per).map { Int32($0.label) })
        // pixel (y, x, c) of sample i = plane c byte y*32+x of record i
        for (i, d, rec) in [(4, train, records[4]), (per - 1, test, records[5 * per + per - 1])] {
            let img = try d.image(i)
            for (y, x, c) in [(0, 0, 0), (0, 1, 2), (31, 31, 1), (7, 20, 2)] {
                XCTAssertEqual(img[(y * 32 + x) * 3 + c], rec.bytes[c * 1024 + y * 32 + x])
            }
        }
        // mean/std over the train split, channel by channel
        let trainBytes = records.prefix(5 * per)
        for c in 0..<3 {
            let v = trainBytes.flatMap { $0.bytes[(c * 1024)..<((c + 1) * 1024)] }.map { Double($0) / 255 }
            let m = v.reduce(0, +) / Double(v.count)
            XCTAssertEqual(train.mean![c], m, accuracy: 1e-12)
            XCTAssertEqual(train.std![c], (v.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(v.count)).squareRoot(), accuracy: 1e-9)
        }
    }

    func testImportFromFolderAndArchive() throws {
        let src = dir.appendingPathComponent("extract/cifar-10-batches-bin")
        let records = try writeFakeSet(in: src)
        let out1 = dir.appendingPathComponent("a.h5").path
        let counts = try CIFARImporter.importCIFAR10(from: dir.appendingPathComponent("extract").path, to: out1)
        XCTAssertEqual(counts.train, 15)
        XCTAssertEqual(counts.test, 3)
        try check(out1, records, per: 3)

        let archive = dir.appendingPathComponent("cifar-10-binary.tar.gz").path
        let tar = Process()
        tar.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        tar.arguments = ["tar", "-czf", archive, "-C", dir.appendingPathComponent("extract").path, "cifar-10-batches-bin"]
        try tar.run(); tar.waitUntilExit()
        XCTAssertEqual(tar.terminationStatus, 0)
        let out2 = dir.appendingPathComponent("b.h5").path
        try CIFARImporter.importCIFAR10(from: archive, to: out2)
        try check(out2, records, per: 3)
    }

    func testImportErrors() throws {
        let src = dir.appendingPathComponent("bad")
        _ = try writeFakeSet(in: src, recordsPerBatch: 2)
        let out = dir.appendingPathComponent("o.h5").path
        let batch3 = src.appendingPathComponent("data_batch_3.bin")
        try Data(count: 3073 + 5).write(to: batch3)
        XCTAssertThrowsError(try CIFARImporter.importCIFAR10(from: src.path, to: out)) {
            XCTAssertEqual("\($0)", "\(batch3.path): size 3078 is not a multiple of the 3073-byte CIFAR-10 record (truncated?)")
        }
        try FileManager.default.removeItem(at: batch3)
        XCTAssertThrowsError(try CIFARImporter.importCIFAR10(from: src.path, to: out)) {
            XCTAssertEqual("\($0)", "\(batch3.path): missing or unreadable")
        }
        let empty = dir.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        XCTAssertThrowsError(try CIFARImporter.importCIFAR10(from: empty.path, to: out)) {
            XCTAssertTrue("\($0)".hasPrefix("\(empty.path): no data_batch_1.bin found"), "\($0)")
        }
        let notArchive = dir.appendingPathComponent("x.tar.gz")
        try Data("junk".utf8).write(to: notArchive)
        XCTAssertThrowsError(try CIFARImporter.importCIFAR10(from: notArchive.path, to: out)) {
            XCTAssertEqual("\($0)", "\(notArchive.path): not a tar archive (too short)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + ".tmp"))
    }
}

final class SyntheticDatasetTests: XCTestCase {
    func testDeterministicBalancedAndShaped() {
        let o = SyntheticDataset.Options(trainCount: 200, testCount: 50, seed: 7)
        let a = SyntheticDataset.generate(o), b = SyntheticDataset.generate(o)
        XCTAssertEqual(a.train.images, b.train.images)
        XCTAssertEqual(a.test.labels, b.test.labels)
        var o2 = o; o2.seed = 8
        XCTAssertNotEqual(SyntheticDataset.generate(o2).train.images, a.train.images)
        XCTAssertEqual(a.train.images.count, 200 * 32 * 32 * 3)
        var perClass = [Int](repeating: 0, count: 10)
        for l in a.train.labels { perClass[Int(l)] += 1 }
        XCTAssertEqual(perClass, [Int](repeating: 20, count: 10))
        XCTAssertNotEqual(Array(a.train.images.prefix(3072)), Array(a.train.images[3072..<6144]))
    }

    /// The classes are separable: a nearest-class-mean classifier on mean colour alone, fitted
    /// on train, is far above chance on test (the CNN check is in the report; this is the cheap
    /// guard that the generator did not lose its signal).
    func testClassesAreSeparable() {
        let (train, test) = SyntheticDataset.generate(.init(trainCount: 1000, testCount: 300, seed: 1))
        func meanColor(_ s: DatasetSplit, _ i: Int) -> [Double] {
            var m = [0.0, 0.0, 0.0]
            for p in 0..<1024 { for c in 0..<3 { m[c] += Double(s.images[i * 3072 + p * 3 + c]) } }
            return m.map { $0 / 1024 }
        }
        var centre = [[Double]](repeating: [0, 0, 0], count: 10), n = [Double](repeating: 0, count: 10)
        for i in 0..<train.count {
            let k = Int(train.labels[i]), m = meanColor(train, i)
            for c in 0..<3 { centre[k][c] += m[c] }; n[k] += 1
        }
        centre = centre.enumerated().map { k, v in v.map { $0 / n[k] } }
        var correct = 0
        for i in 0..<test.count {
            let m = meanColor(test, i)
            let pred = (0..<10).min { a, b in
                zip(centre[a], m).map { ($0 - $1) * ($0 - $1) }.reduce(0, +) < zip(centre[b], m).map { ($0 - $1) * ($0 - $1) }.reduce(0, +)
            }!
            if pred == Int(test.labels[i]) { correct += 1 }
        }
        XCTAssertGreaterThan(Double(correct) / Double(test.count), 0.6)
    }

    func testWritesAValidDatasetFile() throws {
        let dir = try makeTempDir(name)
        defer { try? FileManager.default.removeItem(at: dir) }
        let p = dir.appendingPathComponent("s.h5").path
        try SyntheticDataset.write(path: p, options: .init(trainCount: 30, testCount: 10, height: 8, width: 6, channels: 1, numClasses: 3))
        let d = try ImageDataset(path: p, split: "train")
        XCTAssertEqual(d.sampleShape, [8, 6, 1])
        XCTAssertEqual(d.numClasses, 3)
        XCTAssertEqual(d.classNames, ["class0", "class1", "class2"])
        XCTAssertEqual(d.mean?.count, 1)
        XCTAssertEqual(try ImageDataset(path: p, split: "test").count, 10)
    }
}
