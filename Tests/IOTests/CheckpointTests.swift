import Foundation
import XCTest
@testable import IO
import TensorCore
import TestSupport

final class CheckpointTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws { dir = try makeTempDir(name) }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func sample(step: Int, scale: Float = 1) -> Checkpoint {
        let w = NamedTensor(name: "0.weight", shape: [2, 3], values: [1, 2, 3, 4, 5, 6].map { $0 * scale })
        let b = NamedTensor(name: "0.bias", shape: [2], values: [-1, 0.5])
        let rm = NamedTensor(name: "bn.running_mean", shape: [2], values: [0.1, 0.2])
        let m = CheckpointMetadata(step: step, epoch: 3, samplesSeen: step * 64, worldSize: 4, globalBatch: 64,
                                   seed: UInt64.max - 5, config: "model:\n  name: cifar_cnn\n",
                                   extraInts: ["optimizer_step": Int64(step)], extraDoubles: ["lr": 0.05],
                                   extraStrings: ["optimizer": "sgd"])
        return Checkpoint(metadata: m, model: [w, b, rm], counters: ["bn.num_batches_tracked": Int64(step)],
                          optimizer: [NamedTensor(name: "0.weight/momentum_buffer", shape: [2, 3], values: [Float](repeating: 0.25, count: 6)),
                                      NamedTensor(name: "0.bias/momentum_buffer", shape: [2], values: [7, 8])])
    }

    func testRoundTrip() throws {
        let p = dir.appendingPathComponent("ckpt-10.h5").path
        let c = sample(step: 10)
        try CheckpointFile.write(c, to: p)
        XCTAssertFalse(FileManager.default.fileExists(atPath: p + ".tmp"))
        let r = try CheckpointFile.read(p)
        XCTAssertEqual(r.model, c.model.sorted { $0.name < $1.name })
        XCTAssertEqual(r.counters, c.counters)
        XCTAssertEqual(r.optimizer, c.optimizer.sorted { $0.name < $1.name })
        XCTAssertEqual(r.slot("0.bias", "momentum_buffer")?.values, [7, 8])
        XCTAssertEqual(r.tensor("0.weight")?.shape, [2, 3])
        let m = r.metadata
        XCTAssertEqual([m.step, m.epoch, m.samplesSeen, m.worldSize, m.globalBatch], [10, 3, 640, 4, 64])
        XCTAssertEqual(m.seed, UInt64.max - 5)
        XCTAssertEqual(m.config, c.metadata.config)
        XCTAssertEqual(m.configSHA256, SHA256.hex(c.metadata.config))
        XCTAssertEqual(m.extraInts, ["optimizer_step": 10])
        XCTAssertEqual(m.extraDoubles, ["lr": 0.05])
        XCTAssertEqual(m.extraStrings, ["optimizer": "sgd"])
        XCTAssertNotNil(ISO8601DateFormatter().date(from: m.created), m.created)
        XCTAssertEqual(try CheckpointFile.readMetadata(p).step, 10)
        let f = try HDF5File.open(p)
        XCTAssertEqual(try f.intAttribute("complete"), 1)
        XCTAssertEqual(try f.stringAttribute("format"), "trainer-checkpoint")
        XCTAssertEqual(try f.storedType("model/bn.num_batches_tracked"), .int64)
        XCTAssertEqual(try f.shape("model/bn.num_batches_tracked"), [])
    }

    func testCorruptionIsDetected() throws {
        let p = dir.appendingPathComponent("c.h5").path
        try CheckpointFile.write(sample(step: 1), to: p)
        // a changed tensor: checksum mismatch
        do {
            let f = try HDF5File.open(p, mode: .readWrite)
            try f.write("model/0.bias", [Float(-1), 0.5000001], shape: [2])
            try f.close()
        }
        XCTAssertThrowsError(try CheckpointFile.read(p)) {
            XCTAssertTrue("\($0)".hasPrefix("\(p): checksum mismatch (stored sha256:"), "\($0)")
        }
        XCTAssertNoThrow(try CheckpointFile.read(p, verify: false))
        // no complete flag: incomplete
        try CheckpointFile.write(sample(step: 1), to: p)
        do {
            let f = try HDF5File.open(p, mode: .readWrite)
            try f.removeAttribute("complete")
            try f.close()
        }
        XCTAssertThrowsError(try CheckpointFile.read(p)) {
            XCTAssertEqual("\($0)", "\(p): incomplete checkpoint (no complete = 1): the writer was interrupted")
        }
        // truncated file: does not open
        try CheckpointFile.write(sample(step: 1), to: p)
        let size = try FileManager.default.attributesOfItem(atPath: p)[.size] as! Int
        XCTAssertEqual(truncate(p, off_t(size / 2)), 0)
        XCTAssertThrowsError(try CheckpointFile.read(p)) { XCTAssertTrue("\($0)".hasPrefix("\(p): "), "\($0)") }
        // not a checkpoint
        let other = dir.appendingPathComponent("o.h5").path
        try HDF5File.create(other).close()
        XCTAssertThrowsError(try CheckpointFile.read(other)) {
            XCTAssertEqual("\($0)", "\(other): not a trainer checkpoint (root attribute format != \"trainer-checkpoint\")")
        }
    }

    func testFailedWriteLeavesNothingBehind() throws {
        let p = dir.appendingPathComponent("missing/ckpt-1.h5").path
        XCTAssertThrowsError(try CheckpointFile.write(sample(step: 1), to: p)) {
            XCTAssertEqual("\($0)", "\(p): cannot write checkpoint: cannot create (missing directory or no permission?)")
        }
        let q = dir.appendingPathComponent("ckpt-2.h5").path
        var bad = sample(step: 2)
        bad.optimizer.append(NamedTensor(name: "noslot", shape: [1], values: [0]))
        XCTAssertThrowsError(try CheckpointFile.write(bad, to: q)) {
            XCTAssertEqual("\($0)", "\(q): cannot write checkpoint: noslot: optimizer slot names must be \"<key>/<slot>\"")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [])
    }

    func testDirectoryLatestValidAndPrune() throws {
        let d = CheckpointDirectory(dir.appendingPathComponent("run/ckpt").path)
        XCTAssertEqual(try d.list().count, 0)
        XCTAssertNil(try d.latestValid(warn: { XCTFail($0) }))
        for s in [100, 20, 300] { try d.write(sample(step: s, scale: Float(s))) }
        XCTAssertEqual(try d.list().map(\.step), [20, 100, 300])
        XCTAssertEqual(try d.latestValid(warn: { XCTFail($0) })?.step, 300)
        // truncate the newest: warned about in one line, previous returned
        XCTAssertEqual(truncate(d.filePath(step: 300), 1000), 0)
        var warnings: [String] = []
        XCTAssertEqual(try d.latestValid(warn: { warnings.append($0) })?.step, 100)
        XCTAssertEqual(warnings.count, 1)
        XCTAssertTrue(warnings[0].hasPrefix("warning: skipping invalid checkpoint \(d.filePath(step: 300)): "), warnings[0])
        XCTAssertFalse(warnings[0].contains("\n"))
        XCTAssertEqual(try CheckpointFile.read(d.filePath(step: 100)).tensor("0.weight")?.values, [100, 200, 300, 400, 500, 600])
        // prune: only 2 complete (20, 100) → nothing removed with keep 2
        XCTAssertEqual(try d.prune(keep: 2), [])
        _ = FileManager.default.createFile(atPath: d.filePath(step: 10) + ".tmp", contents: Data([1]))
        try d.write(sample(step: 400))
        let removed = try d.prune(keep: 2)
        XCTAssertEqual(Set(removed), [d.filePath(step: 20), d.filePath(step: 10) + ".tmp"])
        XCTAssertEqual(try d.list().map(\.step), [100, 300, 400])
        XCTAssertEqual(try d.latestValid(warn: { XCTFail($0) })?.step, 400)
    }

    /// A checkpoint of the reference resnet20 state is readable with plain h5py, its checksum
    /// reproduces with the documented recipe, and it loads into the PyTorch model by name.
    func testLoadsIntoPyTorchReferenceModel() throws {
        let fx = try Fixtures.models()
        var model: [NamedTensor] = [], counters: [String: Int64] = [:], slots: [NamedTensor] = []
        for k in try fx.keys("resnet20/init") {
            let key = "resnet20/init/\(k)"
            if try fx.storedType(key).kind == .integer { counters[k] = try fx.readScalar(key, as: Int64.self); continue }
            let t = NamedTensor(name: k, shape: try fx.shape(key), values: try fx.readFloats(key))
            model.append(t)
            if !k.contains("running_") { slots.append(NamedTensor(name: k + "/momentum_buffer", shape: t.shape, values: t.values.map { $0 * 0.5 })) }
        }
        let p = dir.appendingPathComponent("ckpt-7.h5").path
        let fixturePath = try Fixtures.url("models.h5").path
        try CheckpointFile.write(Checkpoint(metadata: CheckpointMetadata(step: 7, config: "x: 1\n"), model: model,
                                            counters: counters, optimizer: slots), to: p)
        let script = """
        import sys, hashlib, h5py, torch
        sys.path.insert(0, '\(Fixtures.referenceDirectory.path)')
        import models as M
        f = h5py.File('\(p)', 'r'); fx = h5py.File('\(fixturePath)', 'r')
        assert f.attrs['format'] == 'trainer-checkpoint' and f.attrs['complete'] == 1 and f.attrs['step'] == 7
        assert f.attrs['config_sha256'] == hashlib.sha256(b'x: 1\\n').hexdigest()
        keys = []
        f.visititems(lambda n, o: keys.append(n) if isinstance(o, h5py.Dataset) else None)
        h = hashlib.sha256()
        for k in sorted(keys, key=str.encode): h.update(k.encode() + b'\\0' + f[k][()].tobytes())
        assert f.attrs['checksum'] == 'sha256:' + h.hexdigest(), 'checksum'
        m = M.resnet_cifar(20)
        m.load_state_dict({k: torch.tensor(f['model'][k][()]) for k in f['model']}, strict=True)
        for k, v in m.state_dict().items():
            assert torch.equal(v, torch.tensor(fx['resnet20/init'][k][()])), k
        assert torch.equal(torch.tensor(f['optimizer/fc.weight/momentum_buffer'][()]), m.fc.weight.detach() * 0.5)
        """
        XCTAssertTrue(runPython(script), "h5py/PyTorch could not load or verify the checkpoint")
    }
}
