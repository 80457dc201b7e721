import XCTest
@testable import TensorCore

final class WorkerPoolTests: XCTestCase {
    func testParallelForRunsEveryIndexOnceOnItsStaticWorker() {
        for threads in [1, 2, 3] {
            let pool = WorkerPool(threads: threads)
            for count in [0, 1, 2, 7, 100] {
                var hits = [Int](repeating: 0, count: count), owner = [Int](repeating: -1, count: count)
                hits.withUnsafeMutableBufferPointer { h in
                    owner.withUnsafeMutableBufferPointer { o in
                        pool.parallelFor(count) { i, w in h[i] += 1; o[i] = w }
                    }
                }
                XCTAssertEqual(hits, [Int](repeating: 1, count: count), "threads \(threads), count \(count)")
                for i in 0..<count where count > 1 {
                    XCTAssertTrue(pool.range(of: owner[i], count: count).contains(i), "index \(i) ran on worker \(owner[i])")
                }
            }
        }
    }

    func testPartialSumsAddInWorkerOrderAndRepeatBitwise() {
        let pool = WorkerPool(threads: 2)
        func run() -> [Float] {
            let n = 1000
            pool.partials.prepare(count: 5)
            pool.parallelFor(n) { i, w in
                let s = pool.partials.slot(w)
                for j in 0..<5 { s[j] += Float(i + j).squareRoot() * 1e-3 + (i % 3 == 0 ? 1e4 : -1e4) }
            }
            var out = [Float](repeating: 0.5, count: 5)
            out.withUnsafeMutableBufferPointer { pool.partials.add(into: $0.baseAddress!) }
            // The same sums done in order by hand: worker 0's indices, then worker 1's.
            var expect = [Float](repeating: 0.5, count: 5)
            for w in 0..<2 {
                var part = [Float](repeating: 0, count: 5)
                for i in pool.range(of: w, count: n) {
                    for j in 0..<5 { part[j] += Float(i + j).squareRoot() * 1e-3 + (i % 3 == 0 ? 1e4 : -1e4) }
                }
                for j in 0..<5 { expect[j] += part[j] }
            }
            XCTAssertEqual(out, expect)
            return out
        }
        let first = run()
        for _ in 0..<20 { XCTAssertEqual(run(), first) }
    }

    /// Thousands of tasks back to back, each worker woken from its semaphore every time: every
    /// call returns only after all its indices ran, and each sees the writes of the call before
    /// it (a lost or left-over wake-up would break one of the two).
    func testBackToBackTasksAllCompleteAndSeeThePreviousWrites() {
        for threads in [2, 3, 4] {
            let pool = WorkerPool(threads: threads)
            let count = threads * 3
            var values = [Int](repeating: -1, count: count)
            values.withUnsafeMutableBufferPointer { v in
                for round in 0..<3000 {
                    pool.parallelFor(count) { i, _ in
                        if v[(i + 1) % count] != round - 1 && v[(i + 1) % count] != round { v[i] = -2; return }
                        v[i] = round
                    }
                    XCTAssertEqual(Array(v), [Int](repeating: round, count: count), "threads \(threads), round \(round)")
                }
            }
        }
    }

    func testScratchGrowsAndKeepsItsStorage() {
        let pool = WorkerPool(threads: 2)
        let a = pool.scratch(1, count: 100)
        XCTAssertEqual(pool.scratch(1, count: 50), a)
        XCTAssertGreaterThanOrEqual(pool.scratchCapacity, 100)
    }
}
