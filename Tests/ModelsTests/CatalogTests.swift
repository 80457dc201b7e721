import XCTest
import Foundation
import NN
import Models
import TestSupport

/// Parameter counts, float buffers, state_dict key counts and forward MACs of every
/// catalog.json entry, exactly as PyTorch counts them.
final class CatalogTests: XCTestCase {
    func testCatalogCountsMatchPyTorch() throws {
        let catalog = try Fixtures.catalog()
        XCTAssertEqual(catalog.count, 13, "catalog.json entries")
        for name in catalog.keys.sorted() {
            let entry = try XCTUnwrap(catalog[name] as? [String: Any], name)
            let input = try XCTUnwrap(entry["input"] as? [Int], name)
            // torchvision's ImageNet models (224x224 inputs) keep their 1000-class head.
            let classes = input.last == 224 ? 1000 : 10
            let model = try ModelZoo.build(name: name, numClasses: classes, inChannels: input[0], inputShape: input, seed: 1)
            let s = model.summary
            XCTAssertEqual(s.params, entry["params"] as? Int, "\(name) params")
            XCTAssertEqual(s.buffersFloat, entry["buffers_float"] as? Int, "\(name) buffers_float")
            XCTAssertEqual(s.stateDictKeys, entry["state_dict_keys"] as? Int, "\(name) state_dict_keys")
            XCTAssertEqual(s.forwardMacs, entry["forward_macs"] as? Int, "\(name) forward_macs")
            XCTAssertEqual(s.rows.reduce(0) { $0 + $1.params }, s.params, "\(name): rows' params add up")
        }
    }

    func testSummaryJSONAndTable() throws {
        let model = try ModelZoo.build(name: "resnet20", numClasses: 10, seed: 0)
        let s = model.summary
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(s.json.utf8)) as? [String: Any])
        XCTAssertEqual(object["params"] as? Int, 272474)
        XCTAssertEqual(object["input"] as? [Int], [3, 32, 32])
        for key in ["buffers_float", "state_dict_keys", "forward_macs", "activation_bytes_per_image"] {
            XCTAssertNotNil(object[key] as? Int, key)
        }
        let layers = try XCTUnwrap(object["layers"] as? [[String: Any]])
        XCTAssertEqual(layers.count, s.rows.count)
        XCTAssertEqual(layers.first?["name"] as? String, "conv1")
        XCTAssertEqual(layers.first?["macs"] as? Int, 16 * 32 * 32 * 27)
        XCTAssertEqual(layers.last?["name"] as? String, "fc")
        XCTAssertTrue(s.table.contains("layer3.2.conv2"), "table lists every layer")
        XCTAssertTrue(s.table.contains("272,474"), "table totals")
        XCTAssertGreaterThan(s.activationBytesPerImage, 4 * 3 * 32 * 32)
    }
}
