import XCTest
@testable import Distributed

/// A stand-in for `size` ranks that all hold the same buffer: a sum multiplies by `size`.
/// It records every all-reduce so the bucketer's start order and timing can be checked.
private final class ReplicatedCommunicator: Communicator {
    let rank = 0, localRank = 0, hostname = "test"
    let size: Int
    var localSize: Int { size }
    var activity = ""
    var collectiveTimeout = 0.0
    var reduced: [(start: UnsafeMutablePointer<Float>, count: Int)] = []
    init(size: Int) { self.size = size }

    func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) {
        reduced.append((buffer.baseAddress!, buffer.count))
        for i in buffer.indices { buffer[i] *= Float(size) }
    }
    func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) { for i in buffer.indices { buffer[i] *= Double(size) } }
    func allReduceMax(_ buffer: UnsafeMutableBufferPointer<Double>) {}
    func broadcast(_ buffer: UnsafeMutableBufferPointer<Float>, root: Int) {}
    func broadcast(bytes: inout [UInt8], root: Int) {}
    func allGather(string: String) -> [String] { Array(repeating: string, count: size) }
    func barrier() {}
    func abort(code: Int32, message: String) -> Never { fatalError(message) }
}

final class GradientBucketerTests: XCTestCase {
    func testBucketsAreCutFromTheEndAndCoverTheBuffer() {
        let g = UnsafeMutableBufferPointer<Float>.allocate(capacity: 10_000)
        defer { g.deallocate() }
        let b = GradientBucketer(communicator: LocalCommunicator(), gradients: g, bucketBytes: 4096)  // 1024 floats
        XCTAssertEqual(b.buckets.count, 10)
        XCTAssertEqual(b.buckets.first, 0..<784)
        XCTAssertEqual(b.buckets.last, 8976..<10_000)
        XCTAssertTrue(zip(b.buckets, b.buckets.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound })

        let empty = GradientBucketer(communicator: LocalCommunicator(),
                                     gradients: UnsafeMutableBufferPointer(start: nil, count: 0))
        XCTAssertTrue(empty.buckets.isEmpty)
        empty.reset(); empty.gradientsReady(below: 0); empty.finish()
    }

    func testBucketsStartWhenFinishedAndInDescendingOrder() {
        let n = 10_000
        let g = UnsafeMutableBufferPointer<Float>.allocate(capacity: n)
        defer { g.deallocate() }
        for i in 0..<n { g[i] = Float(i % 97) }
        let comm = ReplicatedCommunicator(size: 4)
        let b = GradientBucketer(communicator: comm, gradients: g, bucketBytes: 4096)
        func startedOffsets() -> [Int] { comm.reduced.map { $0.start - g.baseAddress! } }

        b.reset()
        b.gradientsReady(below: 9_500)  // last bucket starts at 8976: not finished yet
        XCTAssertEqual(startedOffsets(), [])
        b.gradientsReady(below: 8_976)
        XCTAssertEqual(startedOffsets(), [8976])
        b.gradientsReady(below: 5_000)  // finishes 7952, 6928, 5904
        XCTAssertEqual(startedOffsets(), [8976, 7952, 6928, 5904])
        b.gradientsReady(below: 9_000)  // going back up starts nothing
        XCTAssertEqual(comm.reduced.count, 4)
        b.finish()                      // the rest, still last to first
        XCTAssertEqual(startedOffsets(), [8976, 7952, 6928, 5904, 4880, 3856, 2832, 1808, 784, 0])
        XCTAssertEqual(comm.reduced.reduce(0) { $0 + $1.count }, n)
        // Sum over 4 identical ranks divided by 4: the original values.
        XCTAssertTrue((0..<n).allSatisfy { g[$0] == Float($0 % 97) })
        XCTAssertEqual(b.finishedSteps, 1)
        XCTAssertEqual(b.totalWaitSeconds, b.lastWaitSeconds, "one step: the total is that step's wait")

        comm.reduced.removeAll()
        b.average = false
        b.reset()
        b.gradientsReady(below: 0)
        XCTAssertEqual(comm.reduced.count, 10)
        b.finish()
        XCTAssertEqual(comm.reduced.count, 10)
        XCTAssertTrue((0..<n).allSatisfy { g[$0] == 4 * Float($0 % 97) })
        XCTAssertEqual(b.finishedSteps, 2)
        b.resetTimers()
        XCTAssertEqual(b.finishedSteps, 0)
        XCTAssertEqual(b.totalWaitSeconds, 0)
    }

    func testExplicitBoundaries() {
        let g = UnsafeMutableBufferPointer<Float>.allocate(capacity: 100)
        defer { g.deallocate() }
        let b = GradientBucketer(communicator: LocalCommunicator(), gradients: g, boundaries: [0, 30, 99])
        XCTAssertEqual(b.buckets, [0..<30, 30..<99, 99..<100])
    }
}
