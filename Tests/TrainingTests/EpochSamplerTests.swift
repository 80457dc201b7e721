import XCTest
@testable import Training

final class EpochSamplerTests: XCTestCase {
    /// Issue: the ranks' samples in an epoch are disjoint and together are all kept samples.
    func testRankSlicesAreDisjointAndCoverTheKeptSamples() {
        for ranks in [1, 2, 4] {
            let sampler = EpochSampler(datasetSize: 1003, globalBatch: 64, worldSize: ranks, seed: 11)
            for epoch in 0..<3 {
                let order = sampler.permutation(epoch: epoch)
                var seen: [Int] = []
                for step in 0..<sampler.stepsPerEpoch {
                    var perRank: [Set<Int>] = []
                    for rank in 0..<ranks { perRank.append(Set(sampler.indices(order: order, step: step, rank: rank))) }
                    for a in 0..<ranks { for b in (a + 1)..<ranks { XCTAssertTrue(perRank[a].isDisjoint(with: perRank[b])) } }
                    seen += perRank.flatMap { $0 }
                }
                XCTAssertEqual(seen.count, Set(seen).count, "a sample was visited twice in epoch \(epoch) on \(ranks) ranks")
                XCTAssertEqual(Set(seen), Set(order.prefix(sampler.stepsPerEpoch * 64)), "ranks \(ranks) epoch \(epoch)")
                XCTAssertEqual(seen.count, 1003 / 64 * 64)
            }
        }
    }

    /// N ranks visit, step by step, exactly the global batches 1 rank visits (what makes N ranks
    /// reproduce 1 rank, and a resume on another number of ranks continue exactly).
    func testGlobalBatchesDoNotDependOnTheNumberOfRanks() {
        let one = EpochSampler(datasetSize: 500, globalBatch: 32, worldSize: 1, seed: 3)
        let four = EpochSampler(datasetSize: 500, globalBatch: 32, worldSize: 4, seed: 3)
        let order = one.permutation(epoch: 2)
        XCTAssertEqual(order, four.permutation(epoch: 2))
        for step in 0..<one.stepsPerEpoch {
            let joined = (0..<4).flatMap { four.indices(order: order, step: step, rank: $0) }
            XCTAssertEqual(joined, Array(one.indices(order: order, step: step, rank: 0)))
        }
    }

    func testEpochsAreShuffledDifferentlyAndReproducibly() {
        let s = EpochSampler(datasetSize: 100, globalBatch: 10, worldSize: 2, seed: 5)
        XCTAssertNotEqual(s.permutation(epoch: 0), s.permutation(epoch: 1))
        XCTAssertEqual(s.permutation(epoch: 1), s.permutation(epoch: 1))
        XCTAssertEqual(EpochSampler(datasetSize: 100, globalBatch: 10, worldSize: 2, seed: 5, shuffle: false).permutation(epoch: 4),
                       Array(0..<100))
    }

    func testEvaluationShardsCoverTheSplitOnce() {
        for ranks in [1, 2, 3, 4] {
            let shards = (0..<ranks).map { evaluationShard(count: 1001, rank: $0, worldSize: ranks) }
            XCTAssertEqual(shards.flatMap { Array($0) }, Array(0..<1001))
        }
    }

    func testCursorArithmetic() {
        var c = TrainingCursor(stepsPerEpoch: 10, globalBatch: 64)
        c.globalStep = 25
        XCTAssertEqual(c.epoch, 2); XCTAssertEqual(c.stepInEpoch, 5); XCTAssertEqual(c.samplesSeen, 1600)
        c.globalStep = 30
        XCTAssertTrue(c.atEpochEnd)
    }
}
