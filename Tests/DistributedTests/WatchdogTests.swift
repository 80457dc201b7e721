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

/// The watchdog's thread runs when the machine lets it: these tests wait for what it reports,
/// and expect silence only where no collective stayed open past the timeout by their own clock.
final class WatchdogTests: XCTestCase {
    func testFiresOnceNamingOperationAndStep() {
        let reports = Reports()
        let w = Watchdog(timeout: 0.2) { reports.add($0) }
        defer { w.stop() }
        w.begin("MPI_Barrier", activity: "step 42")
        let start = Date()
        while reports.all.isEmpty && Date().timeIntervalSince(start) < 120 { usleep(5_000) }
        // Still open for many more poll intervals: a second report would be a bug.
        Thread.sleep(forTimeInterval: 1)
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
        var longest = 0.0
        for step in 0..<20 {
            let opened = Date()
            w.begin("MPI_Allreduce", activity: "step \(step)")
            Thread.sleep(forTimeInterval: 0.02)
            w.end()
            longest = max(longest, Date().timeIntervalSince(opened))
        }
        Thread.sleep(forTimeInterval: 0.4)  // nothing open: nothing to report
        // A collective the machine kept open past the timeout may rightly have been reported.
        if longest < 0.3 { XCTAssertEqual(reports.all, [], "longest collective \(longest) s") }
        let before = reports.all.count
        w.timeout = 0
        w.begin("MPI_Bcast", activity: "step 1")
        Thread.sleep(forTimeInterval: 0.5)
        w.end()
        XCTAssertEqual(reports.all.count, before, "a disabled watchdog reported: \(reports.all)")
    }
}
