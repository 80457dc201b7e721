import XCTest
import NN
import TensorCore
import Models

/// Pins what a checkpoint writes for a given architecture and seed: every state_dict key in
/// order, its shape and its initial bytes (Philox, so the same on every machine), as recorded
/// SHA-256s; and the same for the BN-folded model (its arithmetic is in double, also
/// machine-independent). A change to how keys are formed, to declaration order or to
/// initialisation shows up here. Trained bytes are not pinned: BLAS kernels differ by CPU.
final class StateDictPinTests: XCTestCase {
    /// SHA-256 over (key, shape, bytes) of every entry in state_dict order, and over the keys alone.
    private func fingerprint(_ model: Model) -> (state: String, keys: String) {
        var state = SHA256(), keys = SHA256()
        for (key, entry) in model.stateEntries {
            keys.update(key + "\n")
            state.update("\(key) \(entry.shape)\n")
            switch entry {
            case .counter(let c): withUnsafeBytes(of: c.value.littleEndian) { state.update($0) }
            default: state.update(UnsafeRawBufferPointer(entry.floats!))
            }
        }
        return (SHA256.hex(digest: state.finalize()), SHA256.hex(digest: keys.finalize()))
    }

    /// Deterministic non-trivial BN statistics and affine parameters, so the fold pin covers the arithmetic.
    private func randomiseBatchNorms(_ model: Model) {
        var rng = Philox(seed: 29)
        for b in model.store.buffers {
            for i in 0..<b.count { b.value[i] = b.name.hasSuffix("running_var") ? rng.uniform(0.2, 3) : rng.uniform(-1, 1) }
        }
        for c in model.store.counters { c.value = 5 }
    }

    private func check(_ model: Model, keys: Int, state: String, keyHash: String, file: StaticString = #filePath, line: UInt = #line) {
        let got = fingerprint(model)
        XCTAssertEqual(model.store.stateKeys.count, keys, "\(model.name): state_dict entries", file: file, line: line)
        XCTAssertEqual(got.keys, keyHash, "\(model.name): keys", file: file, line: line)
        XCTAssertEqual(got.state, state, "\(model.name): keys, shapes and bytes", file: file, line: line)
    }

    private func layerList() throws -> Model {
        let b = try LayerListBuilder(inputShape: [3, 16, 16])
        try b.conv(out: 6, kernel: 3, padding: 1); try b.batchnorm(); try b.activation(.relu)
        try b.maxpool(kernel: 2); try b.flatten(); try b.dropout(p: 0.5); try b.linear(out: 10)
        try b.batchnorm()
        return try b.build(seed: 7, numClasses: 10)
    }

    /// Bottleneck blocks, the ImageNet stem and projection shortcuts in every stage, small enough for a debug build.
    private func smallBottleneckResNet() throws -> Model {
        try ResNet.build(block: .bottleneck, blocks: [2, 1], widths: [4, 8], stem: .imagenet, numClasses: 10,
                         inputShape: [3, 32, 32], seed: 7, name: "resnet_bottleneck")
    }

    func testInitialStateDictsArePinned() throws {
        check(try ModelZoo.build(name: "cifar_cnn", numClasses: 10, inputShape: [3, 16, 16], seed: 7),
              keys: 18, state: "397326f994445bca2a43dfad80eca3a7d16c130dd62a28f64a45fbfb4e038e87",
              keyHash: "e87523b000923b28b88a3f2e2492ebf4340b4285713efda2653e7423331779ed")
        check(try ModelZoo.build(name: "resnet20", numClasses: 10, inputShape: [3, 16, 16], seed: 7),
              keys: 128, state: "19f0c2b09ca762f260a5ed0e345dac681cd525f2f06978ae0aff340b933220d8",
              keyHash: "ea0fec5606cc94e3542cfd5a9629acc55c84471226a1152af3e3d8d45479a7d0")
        check(try smallBottleneckResNet(),
              keys: 74, state: "c6872c83aad6ba759a3ea6184563b9ed2f124a1a836939f29225049bc9a7744c",
              keyHash: "2ba0f6381faf56293817a60685233eec2af483471bb73ed6c7eb8cca134d4370")
        check(try ModelZoo.build(name: "densenet_bc_40_k12", numClasses: 10, inputShape: [3, 16, 16], seed: 7),
              keys: 236, state: "6d036f07e3ac81fdfecbe9b6bc2f41a1fe50b31ed2c0519e5e9eab63f64a614f",
              keyHash: "6defeadff1e5eba2b9a8ba84ed4b304674e72a5d63670cc88fbf497d6318848b")
        check(try layerList(), keys: 14, state: "e27fb824fec335eef8efe7289c82bd5ac4edbffdc5d20180f3281584fadfd4e3",
              keyHash: "59b7dabd6229c30293bdea23e2a99539a4ffe122c5a288333721abd999f6bcf6")
    }

    func testFoldedStateDictsArePinned() throws {
        let cases: [(Model, Int, String, String)] = [
            (try ModelZoo.build(name: "resnet20", numClasses: 10, inputShape: [3, 16, 16], seed: 7), 44,
             "ccf608fd534faef2287b817d1c33d0fb085b8c1fb19fb641769ba546b3ee0b44",
             "89296820853bbc529aeb41d5b9d7e965a03433b9470ab950826331744e3be5cd"),
            (try smallBottleneckResNet(), 26,
             "072a41233f76c7eb6789f406873b60a9f44465484c5c81c491a28056b667d67a",
             "901b9071c8c90f0681821af26f8ede19e29eab7d693d560448c503fce0f91dd8"),
            (try ModelZoo.build(name: "densenet_bc_40_k12", numClasses: 10, inputShape: [3, 16, 16], seed: 7), 164,
             "a1f2e2b75211ab2557616e4225c146c763bc86f2b8bc406a72af1bd4e7415609",
             "9446aec889ca075c57c9abb2d35fbae915520f6885f8132074b1a19e74ef84a7"),
            (try layerList(), 9,
             "008a568f76e25a0f4cfa7eafacfedb7d3dea96081226d3244f1d31825271114a",
             "5867699803e9d50bf71d855c3330c282e376b7af245566b6adf01b1a27e6ef56"),
        ]
        for (model, keys, state, keyHash) in cases {
            randomiseBatchNorms(model)
            check(try BatchNormFolding.fold(model).model, keys: keys, state: state, keyHash: keyHash)
        }
    }
}
