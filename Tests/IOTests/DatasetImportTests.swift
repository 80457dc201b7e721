import Foundation
import TestSupport
import XCTest
@testable import IO

/// MD5 against RFC 1321's vectors and coreutils' md5sum; the tar/gzip reader against GNU tar
/// and gzip; every importer on small files written in its real format.
final class MD5Tests: XCTestCase {
    func testRFC1321Vectors() {
        let vectors = ["": "d41d8cd98f00b204e9800998ecf8427e", "a": "0cc175b9c0f1b6a831c399e269772661",
                       "abc": "900150983cd24fb0d6963f7d28e17f72", "message digest": "f96b697d7cb7938d525a2f31aaf161d0",
                       "abcdefghijklmnopqrstuvwxyz": "c3fcd3d76192e4007dfb496cca67e13b",
                       "12345678901234567890123456789012345678901234567890123456789012345678901234567890": "57edf4a22be3c955ac49da2e2107b67a"]
        for (text, digest) in vectors {
            var m = MD5()
            m.update(Array(text.utf8))
            XCTAssertEqual(m.hexDigest(), digest, text)
        }
    }

    /// A file of 1 MiB + 3 bytes (so reads straddle blocks) hashed as md5sum does, and the same
    /// bytes fed in pieces of 1, 63 and 65 bytes.
    func testFileAndPiecesAgreeWithMd5sum() throws {
        let dir = try makeTempDir(name)
        defer { try? FileManager.default.removeItem(at: dir) }
        let bytes = (0..<(1 << 20) + 3).map { UInt8(truncatingIfNeeded: $0 &* 2654435761 >> 13) }
        let path = dir.appendingPathComponent("blob").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let reference = try DatasetFormats.md5sum(path)
        XCTAssertEqual(try MD5.hexDigest(ofFile: path), reference)
        var m = MD5(), i = 0, sizes = [1, 63, 65]
        while i < bytes.count {
            let n = min(sizes[0], bytes.count - i); sizes.append(sizes.removeFirst())
            m.update(Array(bytes[i..<(i + n)])); i += n
        }
        XCTAssertEqual(m.hexDigest(), reference)
    }
}

final class ParentFolderTests: XCTestCase {
    /// Relative bare names are where NSString.deletingLastPathComponent traps.
    func testParentFolder() {
        for (path, parent) in [("data", ""), ("data/x.h5", "data"), ("/x", "/"), ("a/b/c", "a/b"), ("a/", ""), ("/", "/")] {
            XCTAssertEqual(FileSystem.parentFolder(path), parent, path)
        }
    }
}

final class ArchiveReaderTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws { dir = try makeTempDir(name) }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// GNU tar's archive (gzip and plain), including a member name over 100 characters and a
    /// folder entry, read back member by member.
    func testTarMembersPlainAndGzip() throws {
        let long = String(repeating: "n", count: 120)
        let root = dir.appendingPathComponent("src/top").path
        try FileManager.default.createDirectory(atPath: "\(root)/sub", withIntermediateDirectories: true)
        let files = ["a.bin": [UInt8](repeating: 7, count: 1000), "sub/\(long).txt": Array("hello".utf8), "empty": []]
        for (name, bytes) in files { try Data(bytes).write(to: URL(fileURLWithPath: "\(root)/\(name)")) }
        let tgz = dir.appendingPathComponent("x.tar.gz").path, tar = dir.appendingPathComponent("x.tar").path
        try DatasetFormats.tarGz(tgz, folder: dir.appendingPathComponent("src").path, member: "top")
        try runTool(["tar", "-cf", tar, "-C", dir.appendingPathComponent("src").path, "top"])
        for archive in [tgz, tar] {
            var seen: [String: [UInt8]] = [:]
            try TarReader.forEachMember(in: archive, wanted: { _ in true }) { seen[$0.name] = $0.bytes }
            XCTAssertEqual(Set(seen.keys), Set(files.keys.map { "top/\($0)" }), archive)
            for (name, bytes) in files { XCTAssertEqual(seen["top/\(name)"], bytes, name) }
        }
        XCTAssertThrowsError(try TarReader.forEachMember(in: dir.appendingPathComponent("nope.tar").path, wanted: { _ in true }) { _ in }) {
            XCTAssertTrue("\($0)".hasSuffix("nope.tar: no such file"), "\($0)")
        }
        let junk = dir.appendingPathComponent("junk.tar.gz").path
        try Data((0..<600).map { UInt8(truncatingIfNeeded: $0 * 7 + 1) }).write(to: URL(fileURLWithPath: junk))
        XCTAssertThrowsError(try TarReader.forEachMember(in: junk, wanted: { _ in true }) { _ in }) {
            XCTAssertTrue("\($0)".contains("not a tar archive"), "\($0)")
        }
    }
}

final class CIFAR100ImporterTests: XCTestCase {
    func testFineAndCoarseFromArchiveAndFolder() throws {
        let dir = try makeTempDir(name)
        defer { try? FileManager.default.removeItem(at: dir) }
        let (train, test) = try DatasetFormats.writeCIFAR100(in: dir.path, train: 7, test: 3)
        let archive = dir.appendingPathComponent("cifar-100-binary.tar.gz").path
        try DatasetFormats.tarGz(archive, folder: dir.path, member: "cifar-100-binary")
        let fine = dir.appendingPathComponent("fine.h5").path, coarse = dir.appendingPathComponent("coarse.h5").path
        let counts = try CIFARImporter.importCIFAR100(from: archive, to: fine)
        XCTAssertEqual(counts.train, 7); XCTAssertEqual(counts.test, 3)
        try CIFARImporter.importCIFAR100(from: dir.path, to: coarse, labels: .coarse)
        let f = try ImageDataset(path: fine, split: "train"), c = try ImageDataset(path: coarse, split: "test")
        XCTAssertEqual(f.labels, train.map { Int32($0.fine) })
        XCTAssertEqual(c.labels, test.map { Int32($0.coarse) })
        XCTAssertEqual(f.classNames, DatasetFormats.fineNames)
        XCTAssertEqual(c.classNames, DatasetFormats.coarseNames)
        XCTAssertEqual(f.numClasses, 100); XCTAssertEqual(c.numClasses, 20)
        XCTAssertEqual(f.source, "cifar100"); XCTAssertEqual(c.source, "cifar100-coarse")
        let img = try f.image(5)
        for (y, x, ch) in [(0, 0, 0), (3, 17, 1), (31, 31, 2)] {
            XCTAssertEqual(img[(y * 32 + x) * 3 + ch], train[5].pixels[ch * 1024 + y * 32 + x])
        }
        // A truncated train.bin is named, and no output is left.
        let bad = dir.appendingPathComponent("cifar-100-binary/train.bin")
        try Data(count: 3074 + 1).write(to: bad)
        let out = dir.appendingPathComponent("bad.h5").path
        XCTAssertThrowsError(try CIFARImporter.importCIFAR100(from: dir.path, to: out)) {
            XCTAssertEqual("\($0)", "\(bad.path): size 3075 is not a multiple of the 3074-byte CIFAR-100 record (truncated?)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
    }
}

final class MNISTImporterTests: XCTestCase {
    func testPlainAndGzipIdx() throws {
        let dir = try makeTempDir(name)
        defer { try? FileManager.default.removeItem(at: dir) }
        for (gzip, kind) in [(false, MNISTImporter.Kind.mnist), (true, .fashionMNIST), (true, .kmnist)] {
            let folder = dir.appendingPathComponent("\(kind.rawValue)-\(gzip)").path
            let written = try DatasetFormats.writeMNIST(in: folder, train: 6, test: 4, gzip: gzip)
            let out = folder + ".h5"
            let counts = try MNISTImporter.importIdx(from: folder, to: out, kind: kind)
            XCTAssertEqual(counts.train, 6); XCTAssertEqual(counts.test, 4)
            for (split, w) in zip(["train", "test"], written) {
                let d = try ImageDataset(path: out, split: split)
                XCTAssertEqual(d.sampleShape, [28, 28, 1])
                XCTAssertEqual(d.labels, w.labels.map(Int32.init))
                XCTAssertEqual(try d.image(2), Array(w.images[(2 * 784)..<(3 * 784)]))
                XCTAssertEqual(d.classNames, kind.classes)
                XCTAssertEqual(d.source, kind.rawValue)
            }
        }
        let empty = dir.appendingPathComponent("none").path
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        XCTAssertThrowsError(try MNISTImporter.importIdx(from: empty, to: empty + ".h5")) {
            XCTAssertEqual("\($0)", "\(empty): no train-images-idx3-ubyte or train-images-idx3-ubyte.gz (expected the MNIST idx files)")
        }
        let folder = dir.appendingPathComponent("bad").path
        try DatasetFormats.writeMNIST(in: folder, train: 2, test: 2, gzip: false)
        try DatasetFormats.idx([2, 28, 28], [UInt8](repeating: 0, count: 100)).write(to: URL(fileURLWithPath: "\(folder)/train-images-idx3-ubyte"))
        XCTAssertThrowsError(try MNISTImporter.importIdx(from: folder, to: folder + ".h5")) {
            XCTAssertTrue("\($0)".hasPrefix("\(folder)/train-images-idx3-ubyte: truncated: 2 images of 28×28 needs 1568 bytes"), "\($0)")
        }
    }
}

final class ImageFolderImporterTests: XCTestCase {
    /// Pixel (y, x) of image `i` of class `k`: a pattern distinct per image.
    func pixels(_ k: Int, _ i: Int, side: Int) -> [UInt8] {
        (0..<(side * side * 3)).map { UInt8(truncatingIfNeeded: k * 60 + i * 9 + $0 % 3 * 40 + ($0 / 3) % side) }
    }

    func testPNGAndJPEGTreeWithValSplit() throws {
        let dir = try makeTempDir(name)
        defer { try? FileManager.default.removeItem(at: dir) }
        let root = dir.appendingPathComponent("flowers").path
        for (k, name) in ["rose", "daisy", "tulip"].enumerated() {
            try FileManager.default.createDirectory(atPath: "\(root)/\(name)", withIntermediateDirectories: true)
            for i in 0..<4 {
                let im = ImageCodec.Image(pixels: pixels(k, i, side: 16), width: 16, height: 16, channels: 3)
                if i % 2 == 0 { try ImageCodec.writePNG(im, to: "\(root)/\(name)/\(i).png") }
                else { try ImageCodec.writeJPEG(im, to: "\(root)/\(name)/\(i).JPG", quality: 100) }
            }
            try Data("not an image".utf8).write(to: URL(fileURLWithPath: "\(root)/\(name)/notes.txt"))
        }
        let out = dir.appendingPathComponent("f.h5").path
        let result = try ImageFolderImporter.importFolder(from: root, to: out, options: .init(size: 16, valFraction: 0.25))
        XCTAssertEqual(result.classes, ["daisy", "rose", "tulip"])
        XCTAssertEqual(result.counts, ["train": 9, "val": 3])
        let train = try ImageDataset(path: out, split: "train"), val = try ImageDataset(path: out, split: "val")
        XCTAssertEqual(train.classNames, ["daisy", "rose", "tulip"])
        XCTAssertEqual(train.labels.filter { $0 == 1 }.count, 3)
        XCTAssertEqual(val.labels.sorted(), [0, 1, 2])
        XCTAssertEqual(try DatasetFile.splits(in: out).sorted(), ["train", "val"])
        // The PNG 0.png of rose (class 1) survives exactly at its own size; JPEG at quality 100 closely.
        let all = try (0..<train.count).map { try train.image($0) } + (0..<val.count).map { try val.image($0) }
        XCTAssertTrue(all.contains(pixels(0, 0, side: 16)), "daisy/0.png stored exactly")
        let jpeg = pixels(1, 1, side: 16)
        let nearest = all.map { zip($0, jpeg).map { abs(Int($0) - Int($1)) }.max()! }.min()!
        XCTAssertLessThanOrEqual(nearest, 12, "rose/1.JPG decodes close to what was encoded")
        // Resized: 16×16 → 8×8, one channel.
        let small = dir.appendingPathComponent("s.h5").path
        try ImageFolderImporter.importFolder(from: root, to: small, options: .init(size: 8, channels: 1))
        let s = try ImageDataset(path: small, split: "train")
        XCTAssertEqual(s.sampleShape, [8, 8, 1]); XCTAssertEqual(s.count, 12)
        XCTAssertEqual(try DatasetFile.splits(in: small), ["train"])

        let broken = "\(root)/rose/9.png"
        try Data([0x89, 0x50, 0x4E, 0x47, 1, 2, 3]).write(to: URL(fileURLWithPath: broken))
        XCTAssertThrowsError(try ImageFolderImporter.importFolder(from: root, to: out + "2")) {
            XCTAssertTrue("\($0)".hasPrefix("\(broken): bad PNG: "), "\($0)")
        }
        try FileManager.default.removeItem(atPath: broken)
        let badJPEG = "\(root)/rose/9.jpg"
        try Data([0xFF, 0xD8, 0xFF, 0x00, 7, 7, 7, 7]).write(to: URL(fileURLWithPath: badJPEG))
        XCTAssertThrowsError(try ImageFolderImporter.importFolder(from: root, to: out + "3")) {
            XCTAssertTrue("\($0)".hasPrefix("\(badJPEG): bad JPEG: "), "\($0)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "3"))
    }

    /// PIL's BILINEAR: a constant image stays constant, the same size is the identity, and a
    /// 4×4 image resized to 2×2, 3×3 and 6 wide × 5 high gives Pillow 12's values (computed with
    /// `Image.fromarray(px, "L").resize((w, h), Image.BILINEAR)`), within 1 — Pillow rounds to
    /// 8 bits between its horizontal and vertical passes, this resize does not.
    func testResizeMatchesPillowBilinear() {
        XCTAssertEqual(ImageResize.resize([UInt8](repeating: 77, count: 5 * 7 * 3), height: 5, width: 7, channels: 3,
                                          toHeight: 3, toWidth: 11), [UInt8](repeating: 77, count: 3 * 11 * 3))
        let px: [UInt8] = [10, 20, 30, 40,
                           50, 60, 70, 80,
                           0, 0, 200, 200,
                           0, 0, 200, 200]
        XCTAssertEqual(ImageResize.resize(px, height: 4, width: 4, channels: 1, toHeight: 4, toWidth: 4), px)
        let pillow: [(h: Int, w: Int, values: [Int])] = [
            (2, 2, [36, 70, 33, 157]),
            (3, 3, [25, 37, 49, 27, 83, 139, 0, 100, 200]),
            (5, 6, [10, 15, 22, 28, 35, 40, 38, 43, 50, 56, 63, 68, 25, 28, 48, 118, 138, 140,
                    0, 0, 33, 167, 200, 200, 0, 0, 33, 167, 200, 200]),
        ]
        for (h, w, values) in pillow {
            let got = ImageResize.resize(px, height: 4, width: 4, channels: 1, toHeight: h, toWidth: w)
            XCTAssertLessThanOrEqual(zip(got, values).map { abs(Int($0) - $1) }.max()!, 1, "\(h)×\(w): \(got)")
        }
    }
}
