import Foundation
import XCTest
@testable import IO
import TestSupport

/// A fresh temporary directory per test, removed afterwards.
func makeTempDir(_ name: String = #function) throws -> URL {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("io-tests-\(ProcessInfo.processInfo.processIdentifier)-\(name.filter { $0.isLetter || $0.isNumber })-\(UInt32.random(in: 0...UInt32.max))")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

final class HDF5FileTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws { dir = try makeTempDir(name) }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func testDatasetRoundTripEveryType() throws {
        let p = dir.appendingPathComponent("t.h5").path
        let f32: [Float] = [1.5, -2.25, 3e-8, 1e30, 0, -0.0]
        let f64: [Double] = [1.0 / 3.0, -1e-300, 2.5, 7]
        let i64: [Int64] = [Int64.min, -1, 0, Int64.max]
        let u8: [UInt8] = (0..<24).map { UInt8($0 * 10) }
        let i32: [Int32] = [-7, 9]
        do {
            let f = try HDF5File.create(p)
            try f.write("a/b/f32", f32, shape: [2, 3])
            try f.write("a/f64", f64, shape: [4])
            try f.write("/i64", i64, shape: [2, 2])
            try f.write("imgs", u8, shape: [4, 2, 3, 1])
            try f.write("i32", i32, shape: [2])
            try f.writeScalar("s", 2.5)
            try f.close()
        }
        let f = try HDF5File.open(p)
        XCTAssertEqual(try f.readFloats("/a/b/f32"), f32)
        XCTAssertEqual(try f.shape("a/b/f32"), [2, 3])
        XCTAssertEqual(try f.readDoubles("a/f64"), f64)
        XCTAssertEqual(try f.readInt64s("i64"), i64)
        XCTAssertEqual(try f.readUInt8s("imgs"), u8)
        XCTAssertEqual(try f.readInt32s("i32"), i32)
        XCTAssertEqual(try f.shape("imgs"), [4, 2, 3, 1])
        XCTAssertEqual(try f.shape("s"), [])
        XCTAssertEqual(try f.readScalar("s", as: Double.self), 2.5)
        XCTAssertEqual(try f.storedType("imgs"), .uint8)
        XCTAssertEqual(try f.storedType("i64"), .int64)
        XCTAssertEqual(try f.storedType("a/b/f32"), .float32)
        // conversion on read: uint8 → Int64 / Float, float64 → Float
        XCTAssertEqual(try f.readInt64s("imgs"), u8.map { Int64($0) })
        XCTAssertEqual(try f.readFloats("imgs"), u8.map { Float($0) })
        XCTAssertEqual(try f.readFloats("a/f64"), f64.map { Float($0) })
        // hyperslab: rows 1..<3 of (4, 2, 3, 1)
        XCTAssertEqual(try f.readRows("imgs", rows: 1..<3, as: UInt8.self), Array(u8[6..<18]))
        XCTAssertEqual(try f.readRows("imgs", rows: 3..<3, as: UInt8.self), [])
        XCTAssertThrowsError(try f.readRows("imgs", rows: 2..<5, as: UInt8.self))
        // groups
        XCTAssertEqual(try f.keys(), ["a", "i32", "i64", "imgs", "s"])
        XCTAssertEqual(try f.keys("a"), ["b", "f64"])
        XCTAssertTrue(f.contains("a/b/f32"))
        XCTAssertFalse(f.contains("a/x/f32"))
        XCTAssertFalse(f.contains("imgs/sub"))
        XCTAssertTrue(f.isGroup("/a/b"))
        XCTAssertTrue(f.isDataset("a/b/f32"))
        XCTAssertFalse(f.isDataset("a"))
    }

    func testAttributesRoundTripEveryKind() throws {
        let p = dir.appendingPathComponent("attrs.h5").path
        do {
            let f = try HDF5File.create(p)
            try f.createGroup("g/h")
            try f.write("g/d", [Float](repeating: 1, count: 3), shape: [3])
            try f.setAttribute("vstr", "héllo wörld")
            try f.setAttribute("fstr", "fixed", fixedLength: true)
            try f.setAttribute("int", Int64(-42), at: "g")
            try f.setAttribute("intPlain", 7, at: "g/h")
            try f.setAttribute("dbl", 0.125, at: "g/d")
            try f.setAttribute("dbls", [0.4914, 0.4822, 0.4465])
            try f.setAttribute("ints", [Int64(3), 4])
            try f.setAttribute("names", ["airplane", "automobile", "bird"])
            try f.setAttribute("fnames", ["a", "bcd"], fixedLength: true)
            try f.setAttribute("int", Int64(5), at: "g")          // replace
            try f.close()
        }
        let f = try HDF5File.open(p)
        XCTAssertEqual(try f.stringAttribute("vstr"), "héllo wörld")
        XCTAssertEqual(try f.stringAttribute("fstr"), "fixed")
        XCTAssertEqual(try f.intAttribute("int", at: "g"), 5)
        XCTAssertEqual(try f.intAttribute("intPlain", at: "/g/h"), 7)
        XCTAssertEqual(try f.doubleAttribute("dbl", at: "g/d"), 0.125)
        XCTAssertEqual(try f.doubleAttribute("int", at: "g"), 5)
        XCTAssertEqual(try f.doublesAttribute("dbls"), [0.4914, 0.4822, 0.4465])
        XCTAssertEqual(try f.int64sAttribute("ints"), [3, 4])
        XCTAssertEqual(try f.stringsAttribute("names"), ["airplane", "automobile", "bird"])
        XCTAssertEqual(try f.stringsAttribute("fnames"), ["a", "bcd"])
        XCTAssertEqual(try f.attributeNames(), ["dbls", "fnames", "fstr", "ints", "names", "vstr"])
        XCTAssertTrue(f.hasAttribute("dbl", at: "g/d"))
        XCTAssertFalse(f.hasAttribute("nope"))
        XCTAssertEqual(try f.attributeType("vstr").kind, .string)
        // wrong kinds are one-line errors naming the key
        XCTAssertThrowsError(try f.intAttribute("vstr")) { XCTAssertEqual("\($0)", "\(p): @vstr: holds string, expected an integer") }
        XCTAssertThrowsError(try f.intAttribute("dbl", at: "g/d")) { XCTAssertEqual("\($0)", "\(p): /g/d@dbl: holds float64, expected an integer") }
        XCTAssertThrowsError(try f.stringAttribute("dbls")) { XCTAssertEqual("\($0)", "\(p): @dbls: holds float64, expected a string") }
        XCTAssertThrowsError(try f.stringAttribute("missing")) { XCTAssertEqual("\($0)", "\(p): @missing: attribute not found") }
    }

    /// Files written by h5py (variable-length str attributes, numpy int64/float64 scalars).
    func testReadsH5pyWrittenFile() throws {
        let p = dir.appendingPathComponent("py.h5").path
        let script = """
        import h5py, numpy as np
        with h5py.File('\(p)', 'w') as f:
            f.attrs['classes'] = ['cat', 'dog']
            f.attrs['title'] = 'ünïcode'
            f.attrs['bytes'] = np.bytes_('raw')
            f.attrs['n'] = 3
            f.attrs['mean'] = np.array([0.5, 0.25])
            f.create_dataset('train/labels', data=np.array([1, 2, 3], dtype=np.int64))
        """
        guard runPython(script) else { throw XCTSkip("python3 with h5py not available") }
        let f = try HDF5File.open(p)
        XCTAssertEqual(try f.stringsAttribute("classes"), ["cat", "dog"])
        XCTAssertEqual(try f.stringAttribute("title"), "ünïcode")
        XCTAssertEqual(try f.stringAttribute("bytes"), "raw")
        XCTAssertEqual(try f.intAttribute("n"), 3)
        XCTAssertEqual(try f.doublesAttribute("mean"), [0.5, 0.25])
        XCTAssertEqual(try f.readUInt8s("train/labels"), [1, 2, 3])
    }

    func testErrorsAreOneLineNamingFileAndKey() throws {
        let p = dir.appendingPathComponent("e.h5").path
        XCTAssertThrowsError(try HDF5File.open(p)) { XCTAssertEqual("\($0)", "\(p): no such file") }
        let junk = dir.appendingPathComponent("junk.h5").path
        _ = FileManager.default.createFile(atPath: junk, contents: Data("not hdf5".utf8))
        XCTAssertThrowsError(try HDF5File.open(junk)) { XCTAssertEqual("\($0)", "\(junk): not an HDF5 file") }
        let f = try HDF5File.create(p)
        try f.write("train/x", [UInt8](repeating: 0, count: 4), shape: [4])
        XCTAssertThrowsError(try f.readFloats("/train/images")) { XCTAssertEqual("\($0)", "\(p): /train/images: not found") }
        XCTAssertThrowsError(try f.readFloats("train")) { XCTAssertEqual("\($0)", "\(p): /train: is a group, not a dataset") }
        XCTAssertThrowsError(try f.keys("train/x")) { XCTAssertEqual("\($0)", "\(p): /train/x: is not a group") }
        XCTAssertThrowsError(try f.write("y", [Float](repeating: 0, count: 3), shape: [2, 2])) {
            XCTAssertEqual("\($0)", "\(p): /y: shape [2, 2] needs 4 elements, got 3")
        }
        try f.close()
        let r = try HDF5File.open(p)
        XCTAssertThrowsError(try r.write("z", [Float(1)], shape: [1])) { XCTAssertEqual("\($0)", "\(p): /z: file is open read-only") }
        try r.close()
        XCTAssertThrowsError(try r.keys()) { XCTAssertEqual("\($0)", "\(p): file already closed") }
        let rw = try HDF5File.open(p, mode: .readWrite)
        try rw.write("z", [Float(1)], shape: [1])
        XCTAssertEqual(try rw.readFloats("z"), [1])
    }

    /// The shared PyTorch fixtures open and read through the wrapper.
    func testReadsOpsFixture() throws {
        let f = try Fixtures.ops()
        let groups = try f.keys()
        XCTAssertTrue(groups.contains("conv_k3_s1_p1"), "\(groups)")
        XCTAssertGreaterThan(groups.count, 20)
        XCTAssertEqual(try f.shape("conv_k3_s1_p1/x"), [2, 3, 9, 8])
        XCTAssertEqual(try f.stringAttribute("op", at: "conv_k3_s1_p1"), "conv2d")
        XCTAssertEqual(try f.intAttribute("stride", at: "conv_k3_s1_p1"), 1)
        let x = try f.readFloats("conv_k3_s1_p1/x")
        XCTAssertEqual(x.count, 2 * 3 * 9 * 8)
        XCTAssertEqual(relativeError(x, x), 0)
        let e = Fixtures.f32err(f, group: "conv_k3_s1_p1", name: "y")
        XCTAssertNotNil(e)
        XCTAssertEqual(tolerance(base: 1e-5, f32err: e), max(1e-5, 10 * e!))
    }

    func testRelativeErrorAndTolerance() {
        XCTAssertEqual(relativeError([1, 2], [1, 2]), 0)
        XCTAssertEqual(relativeError([3, 4], [0, 0]), 5, accuracy: 1e-12)
        XCTAssertEqual(relativeError([1, 0], [0, 1]), 2.0.squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(tolerance(base: 1e-4, f32err: nil), 1e-4)
        XCTAssertEqual(tolerance(base: 1e-4, f32err: 1e-4), 1e-3, accuracy: 1e-15)
    }
}

/// Runs a python3 script; false (with its stderr printed) when python3 or the script fails.
func runPython(_ script: String) -> Bool {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["python3", "-c", script]
    p.standardOutput = FileHandle.nullDevice
    let err = Pipe()
    p.standardError = err
    do { try p.run() } catch { return false }
    let message = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    if p.terminationStatus != 0 { FileHandle.standardError.write(message) }
    return p.terminationStatus == 0
}
