import Foundation
import XCTest
@testable import IO

final class ImageDatasetTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws { dir = try makeTempDir(name) }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// A small split whose pixel values encode (sample, position) so reads can be checked.
    func split(_ n: Int, h: Int = 4, w: Int = 3, c: Int = 2, labelBase: Int32 = 0) -> DatasetSplit {
        let images = (0..<(n * h * w * c)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 / 13) }
        return DatasetSplit(images: images, labels: (0..<n).map { (Int32($0) + labelBase) % 5 }, height: h, width: w, channels: c)
    }

    func testWriteThenReadBothResidencies() throws {
        let p = dir.appendingPathComponent("d.h5").path
        let train = split(9), test = split(4, labelBase: 2)
        let stats = train.channelMeanStd()
        try DatasetFile.write(path: p, splits: [("train", train), ("test", test)],
                              classes: ["a", "b", "c", "d", "e"], mean: stats.mean, std: stats.std)
        XCTAssertFalse(FileManager.default.fileExists(atPath: p + ".tmp"))
        XCTAssertEqual(try DatasetFile.splits(in: p), ["test", "train"])
        for residency in [ImageDataset.Residency.memory, .file] {
            let d = try ImageDataset(path: p, split: "train", residency: residency)
            XCTAssertEqual(d.count, 9)
            XCTAssertEqual(d.sampleShape, [4, 3, 2])
            XCTAssertEqual(d.numClasses, 5)
            XCTAssertEqual(d.classNames, ["a", "b", "c", "d", "e"])
            XCTAssertEqual(d.labels, train.labels)
            XCTAssertEqual(d.mean!, stats.mean)
            let idx = [5, 0, 5, 6, 7, 8, 1]
            var imgs = [UInt8](repeating: 0, count: idx.count * d.imageBytes)
            var labs = [Int32](repeating: -1, count: idx.count)
            try imgs.withUnsafeMutableBufferPointer { ib in
                try labs.withUnsafeMutableBufferPointer { try d.read(indices: idx, images: ib, labels: $0) }
            }
            let expected = idx.flatMap { train.images[($0 * 24)..<(($0 + 1) * 24)] }
            XCTAssertEqual(imgs, expected, "\(residency)")
            XCTAssertEqual(labs, idx.map { train.labels[$0] })
            var r = [UInt8](repeating: 0, count: 3 * d.imageBytes), rl = [Int32](repeating: 0, count: 3)
            try r.withUnsafeMutableBufferPointer { ib in
                try rl.withUnsafeMutableBufferPointer { try d.read(range: 2..<5, images: ib, labels: $0) }
            }
            XCTAssertEqual(r, Array(train.images[48..<120]))
            XCTAssertEqual(try d.image(8), Array(train.images[192..<216]))
        }
        let t = try ImageDataset(path: p, split: "test", numClasses: 10)
        XCTAssertEqual(t.numClasses, 10)
        XCTAssertEqual(t.labels, test.labels)
    }

    func testChannelMeanStdMatchesDirectComputation() {
        let s = split(7, h: 5, w: 6, c: 3)
        let (mean, std) = s.channelMeanStd()
        for c in 0..<3 {
            let v = stride(from: c, to: s.images.count, by: 3).map { Double(s.images[$0]) / 255 }
            let m = v.reduce(0, +) / Double(v.count)
            let sd = (v.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(v.count)).squareRoot()
            XCTAssertEqual(mean[c], m, accuracy: 1e-12)
            XCTAssertEqual(std[c], sd, accuracy: 1e-9)
        }
    }

    func testLabelsOfAnyIntegerTypeAndKerasShape() throws {
        let p = dir.appendingPathComponent("k.h5").path
        let f = try HDF5File.create(p)
        try f.write("train/images", [UInt8](repeating: 1, count: 3 * 2 * 2 * 1), shape: [3, 2, 2, 1])
        try f.write("train/labels", [Int64(2), 0, 1], shape: [3, 1])
        try f.write("test/images", [UInt8](repeating: 1, count: 2 * 2 * 2 * 1), shape: [2, 2, 2, 1])
        try f.write("test/labels", [Int32(1), 0], shape: [2])
        try f.close()
        XCTAssertEqual(try ImageDataset(path: p, split: "train").labels, [2, 0, 1])
        XCTAssertEqual(try ImageDataset(path: p, split: "train").numClasses, 3)
        XCTAssertEqual(try ImageDataset(path: p, split: "test").labels, [1, 0])
    }

    /// Every validation failure is one line naming the file and the key.
    func testValidationErrors() throws {
        let p = dir.appendingPathComponent("bad.h5").path
        func make(_ body: (HDF5File) throws -> Void) throws {
            let f = try HDF5File.create(p)
            try body(f)
            try f.close()
        }
        func expect(_ message: String, split: String = "train", numClasses: Int? = nil, line: UInt = #line) {
            XCTAssertThrowsError(try ImageDataset(path: p, split: split, numClasses: numClasses), line: line) {
                XCTAssertEqual("\($0)", message, line: line)
            }
        }
        let img = [UInt8](repeating: 0, count: 2 * 2 * 2 * 3)
        expect("\(p): no such file")
        _ = FileManager.default.createFile(atPath: p, contents: Data(repeating: 7, count: 100))
        expect("\(p): not an HDF5 file")
        try make { try $0.write("test/images", img, shape: [2, 2, 2, 3]) }
        expect("\(p): /train: not found (the file has groups: test)")
        try make { try $0.write("train/labels", [UInt8](repeating: 0, count: 2), shape: [2]) }
        expect("\(p): /train/images: not found")
        try make { try $0.write("train/images", [Float](repeating: 0, count: 24), shape: [2, 2, 2, 3]) }
        expect("\(p): /train/images: dtype float32, expected uint8")
        try make { try $0.write("train/images", img, shape: [2, 4, 3]) }
        expect("\(p): /train/images: shape (2, 4, 3) has rank 3, expected (N, H, W, C)")
        try make { f in
            try f.write("train/images", img, shape: [2, 2, 2, 3])
            try f.write("train/labels", [Float](repeating: 0, count: 2), shape: [2])
        }
        expect("\(p): /train/labels: dtype float32, expected an integer type")
        try make { f in
            try f.write("train/images", img, shape: [2, 2, 2, 3])
            try f.write("train/labels", [UInt8](repeating: 0, count: 3), shape: [3])
        }
        expect("\(p): /train/labels: 3 labels for 2 images in /train/images")
        try make { f in
            try f.write("train/images", [UInt8](), shape: [0, 2, 2, 3])
            try f.write("train/labels", [UInt8](), shape: [0])
        }
        expect("\(p): /train/images: empty split (0 samples)")
        try make { f in
            try f.write("train/images", img, shape: [2, 2, 2, 3])
            try f.write("train/labels", [Int64(1), 3], shape: [2])
        }
        expect("\(p): /train/labels: label 3 at index 1 out of range 0..<3 (num_classes)", numClasses: 3)
        try make { f in
            try f.write("train/images", img, shape: [2, 2, 2, 3])
            try f.write("train/labels", [Int64(-1), 0], shape: [2])
        }
        expect("\(p): /train/labels: label -1 at index 0 out of range 0..<1 (negative label)")
        try make { f in
            try f.write("train/images", img, shape: [2, 2, 2, 3])
            try f.write("train/labels", [UInt8(0), 2], shape: [2])
            try f.setAttribute("classes", ["x", "y"])
        }
        expect("\(p): /train/labels: label 2 at index 1 out of range 0..<2 (the classes attribute)")
        try make { f in
            try f.write("train/images", img, shape: [2, 2, 2, 3])
            try f.write("train/labels", [UInt8(0), 1], shape: [2])
            try f.setAttribute("mean", [0.5])
        }
        expect("\(p): @mean: has 1 values, expected 3 (one per channel of /train/images)")
    }
}
