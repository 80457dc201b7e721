import XCTest
import IO
import TensorCore
import TestSupport
@testable import NN

/// The conv2d cases of ops.h5 rerun with every algorithm and 1 or 2 worker threads, at the same
/// tolerances as OpsFixtureTests: Winograd F(2×2) and F(4×4) where a case is a 3×3 stride-1
/// "same" convolution, im2col + GEMM everywhere.
final class ConvAlgorithmFixtureTests: XCTestCase {
    func testConvCasesWithEveryAlgorithmAndThreadCount() throws {
        let file = try Fixtures.ops()
        var failures: [String] = [], lines: [String] = [], winogradRuns = 0
        for name in try file.keys("/") where try file.stringAttribute("op", at: name) == "conv2d" {
            let c = OpCase(file: file, group: name)
            for algorithm in [ConvAlgorithm.gemm, .winograd, .winogradF4] {
                for threads in [1, 2] {
                    var tile: Int?
                    let results = try c.runLayer(threads: threads) { store in
                        let w = try c.shape("weight")
                        let conv = try Conv2d(at: store.root, inputShape: try c.sampleShape(), outChannels: w[0], kernel: try c.int("kernel"),
                                              stride: try c.int("stride"), padding: try c.int("padding"), groups: try c.int("groups"),
                                              bias: c.has("bias"))
                        conv.algorithm = algorithm
                        tile = conv.winogradTile
                        return conv
                    }
                    if tile != nil { winogradRuns += 1 }
                    let label = "\(name) \(tile.map { "F(\($0)x\($0))" } ?? "gemm") \(threads) thread(s)"
                    for (key, value) in results.outputs.sorted(by: { $0.key < $1.key }) {
                        let err = relativeError(value, try c.floats(key))
                        let tol = tolerance(base: key == "y" ? 1e-5 : 1e-4, f32err: Fixtures.f32err(file, group: name, name: key))
                        if tile != nil { lines.append("\(label) \(key): \(String(format: "%.2e", err))") }
                        if !(err <= tol) { failures.append("\(label) \(key): relative error \(err) > \(tol)") }
                    }
                    failures.append(contentsOf: results.failures.map { "\(label): \($0)" })
                }
            }
        }
        print("ops.h5 conv cases by Winograd:\n  " + lines.joined(separator: "\n  "))
        XCTAssertGreaterThan(winogradRuns, 0, "no conv case of ops.h5 is a 3x3 stride-1 same convolution")
        XCTAssertTrue(failures.isEmpty, failures.joined(separator: "\n"))
    }
}
