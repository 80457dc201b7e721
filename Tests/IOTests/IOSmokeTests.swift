import XCTest
@testable import IO

final class IOSmokeTests: XCTestCase {
    func testModuleLoads() { XCTAssertTrue(true) }
}
