import Foundation
import XCTest
@testable import Distributed

/// Messages the watchdog reported, safe to touch from its thread.
private final class Reports: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [String] = []
    func add(_ s: String) { lock.lock(); items.append(s); lock.unlock() }
    var all: [String] { lock.lock(); defer { lock.unlock() }; return items }
}

final class WatchdogTests: XCTestCase {
    func testFiresOnceNamingOperationAndStep() {
        let reports = Reports()
        let w = Watchdog(timeout: 0.2) { reports.add($0) }
        defer { w.stop() }
        w.begin("MPI_Barrier", activity: "step 42")
        Thread.sleep(forTimeInterval: 0.8)
        w.end()
        XCTAssertEqual(reports.all.count, 1, "\(reports.all)")
        let message = reports.all.first ?? ""
        XCTAssertTrue(message.contains("'MPI_Barrier'"), message)
        XCTAssertTrue(message.contains("step 42"), message)
    }

    func testQuickCollectivesAndDisabledTimeoutDoNotFire() {
        let reports = Reports()
        let w = Watchdog(timeout: 0.3) { reports.add($0) }
        defer { w.stop() }
        for step in 0..<20 {
            w.begin("MPI_Allreduce", activity: "step \(step)")
            Thread.sleep(forTimeInterval: 0.02)
            w.end()
        }
        Thread.sleep(forTimeInterval: 0.4)  // nothing open: nothing to report
        w.timeout = 0
        w.begin("MPI_Bcast", activity: "step 1")
        Thread.sleep(forTimeInterval: 0.5)
        w.end()
        XCTAssertEqual(reports.all, [])
    }
}
