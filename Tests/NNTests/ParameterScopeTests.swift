import XCTest
import NN

/// State keys follow from scopes: a layer built at `layer1.0.conv1` declares `layer1.0.conv1.weight`.
final class ParameterScopeTests: XCTestCase {
    func testKeysFollowTheScopeTree() throws {
        let store = ParameterStore()
        let block = store.root.scope("layer1").scope(0)
        XCTAssertEqual(block.path, "layer1.0")
        XCTAssertEqual(block.key("conv1"), "layer1.0.conv1")
        XCTAssertEqual(store.root.key("fc"), "fc", "the root adds no prefix")
        XCTAssertEqual(store.scope("layer1.0").path, block.path, "a dotted path names the same scope")
        let conv = try Conv2d(at: block.scope("conv1"), inputShape: [3, 8, 8], outChannels: 4, kernel: 3, bias: false)
        let bn = try BatchNorm(at: block.scope("bn1"), inputShape: conv.outputShape)
        let fc = try Linear(at: store.root.scope("fc"), inputShape: [6], outFeatures: 2)
        XCTAssertEqual(conv.name, "layer1.0.conv1")
        XCTAssertEqual(bn.name, "layer1.0.bn1")
        XCTAssertEqual(store.stateKeys, ["layer1.0.conv1.weight", "layer1.0.bn1.weight", "layer1.0.bn1.bias",
                                         "layer1.0.bn1.running_mean", "layer1.0.bn1.running_var",
                                         "layer1.0.bn1.num_batches_tracked", "fc.weight", "fc.bias"])
        XCTAssertEqual(fc.weight.name, "fc.weight")
    }

    func testRootLayersHaveBareKeys() throws {
        let store = ParameterStore()
        _ = try Linear(at: store.root, inputShape: [3], outFeatures: 2)
        XCTAssertEqual(store.stateKeys, ["weight", "bias"], "a lone layer's keys, as a PyTorch module's own state_dict")
    }
}
