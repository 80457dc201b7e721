import Config
import Distributed
import Foundation
import IO
import TestSupport
import XCTest
@testable import Training

/// Every residency hands the loader the same bytes for the same indices (in one process, with
/// the size-1 communicator), and the stream's prefetch is only a hint: a read of other indices
/// than the prefetched ones is still right.
final class SampleSourceTests: XCTestCase {
    func testEveryResidencyReadsTheSameImages() throws {
        let dir = try ProcessLauncher.temporaryDirectory("sources")
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/d.h5"
        try SyntheticDataset.write(path: path, options: .init(trainCount: 50, testCount: 8, height: 4, width: 4, seed: 2))
        let reference = try ImageDataset(path: path, split: "train")
        let comm = LocalCommunicator()
        let batches: [[Int]] = [[3, 4, 5, 9, 0], [49, 48, 1, 2, 2], [10, 11, 12, 13, 14]]
        for residency in DataResidency.allCases {
            let config = try RunConfig.parse(text: "model: {name: cifar_cnn}\ndata: {path: \(path), residency: \(residency.rawValue)}\ntrain: {epochs: 1, batch_size: 5}\n",
                                             file: "t.cfg")
            let data = try TrainingData.open(config, comm)
            let placed = try SplitResidency.place(data, config: config, comm: comm, trainBatch: 5, evalBatch: 8)
            XCTAssertEqual(placed.residency, residency == .auto ? .shared : residency)
            for (k, batch) in batches.enumerated() {
                // Prefetch the next batch but, once, read another one first.
                if k == 1 { placed.train.prefetch(batches[2]) }
                var got = [UInt8](repeating: 0, count: batch.count * reference.imageBytes)
                try got.withUnsafeMutableBufferPointer { try placed.train.read(batch, into: $0) }
                XCTAssertEqual(got, try batch.flatMap { try reference.image($0) }, "\(residency) batch \(k)")
                if k + 1 < batches.count { placed.train.prefetch(batches[k + 1]) }
            }
            XCTAssertNil(placed.train.settle())
        }
    }
}
