import XCTest
@testable import Distributed

final class DistributedSmokeTests: XCTestCase {
    func testModuleLoads() { XCTAssertTrue(true) }
}
