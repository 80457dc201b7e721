import XCTest
@testable import Config
import TensorCore

/// `train.threads` (with `blas_threads`, its former name) and `model.conv_algorithm`.
final class PerformanceKeysTests: XCTestCase {
    private func parse(train: String = "", model: String = "") throws -> RunConfig {
        try RunConfig.parse(text: """
            model:
              name: resnet20
            \(model.isEmpty ? "" : "  " + model)
            data:
              path: data/x.h5
            train:
              epochs: 1
            \(train.isEmpty ? "" : "  " + train)
            """, file: "perf.cfg")
    }

    private func problem(train: String = "", model: String = "") -> String {
        do { _ = try parse(train: train, model: model); return "accepted" } catch { return "\(error)" }
    }

    func testThreadsAndItsFormerName() throws {
        XCTAssertNil(try parse().train.threads, "default: cores ÷ local ranks, decided at start-up")
        XCTAssertEqual(try parse(train: "threads: 2").train.threads, 2)
        XCTAssertNil(try parse(train: "threads: auto").train.threads)
        XCTAssertEqual(try parse(train: "blas_threads: 3").train.threads, 3, "the former name still works")
        XCTAssertEqual(try parse(train: "blas_threads: 3").train.blasThreads, 3)
        XCTAssertTrue(problem(train: "threads: 0").contains("train.threads: must be >= 1"), problem(train: "threads: 0"))
        XCTAssertTrue(problem(train: "threads: many").contains("expected an integer or 'auto'"))
        let both = problem(train: "threads: 2\n  blas_threads: 1")
        XCTAssertTrue(both.contains("train.blas_threads") && both.contains("give only train.threads"), both)
        XCTAssertEqual(try parse(train: "threads: 2\n  blas_threads: 2").train.threads, 2, "agreeing values are fine")
    }

    func testConvAlgorithm() throws {
        XCTAssertEqual(try parse().model.convAlgorithm, .auto, "the plan (Winograd forward and ∂input, GEMM ∂weight) is the default")
        for a in ConvAlgorithm.allCases {
            XCTAssertEqual(try parse(model: "conv_algorithm: \(a.rawValue)").model.convAlgorithm, a)
        }
        let typo = problem(model: "conv_algorithm: winogard")
        XCTAssertTrue(typo.contains("model.conv_algorithm") && typo.contains("did you mean 'winograd'"), typo)
        let canonical = try parse(model: "conv_algorithm: auto").canonicalText
        XCTAssertTrue(canonical.contains("conv_algorithm: auto"), canonical)
    }
}
