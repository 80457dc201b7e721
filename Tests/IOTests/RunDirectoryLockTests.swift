import Foundation
import XCTest
@testable import IO
import TestSupport

/// The run directory's lock: exclusive while held, a left-over file taken over as stale, the
/// file removed on release. (Separate processes, kill -9 included: TrainingTests/RunRecordTests.)
final class RunDirectoryLockTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws { dir = try makeTempDir(name) }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func testASecondLockFailsNamingTheFolderAndTheHolder() throws {
        let folder = dir.appendingPathComponent("run").path
        let first = try RunDirectoryLock(folder: folder, host: "node7")
        XCTAssertNil(first.staleHolder)
        let text = try String(contentsOfFile: folder + "/lock", encoding: .utf8)
        XCTAssertTrue(text.hasPrefix("host node7\npid \(getpid())\nstarted "), text)
        // flock conflicts between open file descriptions, so a second open in this process is refused too.
        XCTAssertThrowsError(try RunDirectoryLock(folder: folder, host: "node8")) { e in
            let line = "\(e)"
            XCTAssertTrue(line.hasPrefix("\(folder): in use by another job (pid \(getpid()) on node7, started "), line)
            XCTAssertTrue(line.contains("another checkpoint.dir"), line)
            XCTAssertFalse(line.contains("\n"), line)
        }
        first.release()
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/lock"), "release removes the file")
        let second = try RunDirectoryLock(folder: folder, host: "node8")
        XCTAssertNil(second.staleHolder, "a released lock is not stale")
    }

    func testALeftOverLockFileIsTakenOverAsStale() throws {
        let folder = dir.path
        try "host gone\npid 4194303\nstarted 2026-01-01T00:00:00Z\n".write(toFile: folder + "/lock", atomically: true, encoding: .utf8)
        let lock = try RunDirectoryLock(folder: folder, host: "here")
        XCTAssertEqual(lock.staleHolder, "pid 4194303 on gone, started 2026-01-01T00:00:00Z")
        let text = try String(contentsOfFile: folder + "/lock", encoding: .utf8)
        XCTAssertTrue(text.hasPrefix("host here\npid \(getpid())\n"), "the holder is rewritten: \(text)")
    }

    func testAnUnwritableFolderIsOneLine() throws {
        let file = dir.appendingPathComponent("afile").path
        FileManager.default.createFile(atPath: file, contents: Data())
        XCTAssertThrowsError(try RunDirectoryLock(folder: file, host: "h")) { e in
            XCTAssertEqual("\(e)", "\(file): exists and is not a folder")
        }
    }
}
