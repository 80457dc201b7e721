import Foundation
import IO
import TestSupport
import XCTest

/// PyTorch interop (Launch/to_torch.py, Launch/from_torch.py), run when python3 can import
/// torch, h5py and numpy (skipped otherwise; CI installs them).
///
/// The way out: a trainer checkpoint loads with strict=True into the reference model —
/// Tests/Reference/models.py (the fixtures' source) and to_torch.py's own copy —
/// and PyTorch's eval-mode logits equal `trainer predict`'s within 1e-4 relative.
/// The way back: a PyTorch state_dict written by from_torch.py starts a run (`model.init_from`):
/// the trainer's initial parameters are the torch ones bit for bit, and training goes on with
/// finite losses.
final class InteropTests: XCTestCase {
    static let launch = Fixtures.repoRoot.appendingPathComponent("Launch").path

    func testCheckpointsLoadIntoPyTorchWithTheSameEvalLogits() throws {
        try PythonRunner.requireTorch()
        let kit = try CheckpointTestKit(self, label: "to-torch")
        try PythonRunner.run("""
            import h5py, numpy as np
            rng = np.random.default_rng(5)
            with h5py.File("in_f32.h5", "w") as f: f["images"] = rng.standard_normal((12, 3, 16, 16)).astype(np.float32)
            with h5py.File("data.h5") as d, h5py.File("in_u8.h5", "w") as f: f["images"] = d["test/images"][:12]
            """, directory: kit.root)
        for model in ["cifar_cnn", "resnet20", "densenet_bc_40_k12"] {
            // Two training steps, so BN running statistics and weights are not at their init.
            let config = try kit.write("\(model).cfg", """
                model: {name: \(model), num_classes: 10}
                data: {path: data.h5, augment: {crop_padding: 2, flip: true}}
                train: {epochs: 1, batch_size: 32, seed: 2, blas_threads: 1}
                optimizer: {name: sgd, lr: 0.05, momentum: 0.9}
                checkpoint: {every_epochs: 0}
                """)
            let run = try kit.train(config, dir: model, extra: ["--stop-at-step", "2"])
            XCTAssertEqual(run.status, 0, run.output)
            let ckpt = kit.path("\(model)/ckpt-2.h5")
            for input in ["in_f32", "in_u8"] {
                let p = try ProcessLauncher.run("trainer", ["predict", config, "--checkpoint", ckpt, "--input", "\(input).h5",
                                                            "--output", "\(model)-\(input)-swift.h5"], directory: kit.root)
                XCTAssertEqual(p.status, 0, p.output)
            }
            let result = try PythonRunner.run("""
                import importlib.util, json, os, sys
                import h5py, numpy as np, torch
                sys.path.insert(0, \(PythonRunner.quote(Self.launch)))
                import to_torch
                ckpt, model = \(PythonRunner.quote(ckpt)), \(PythonRunner.quote(model))
                sd, attrs = to_torch.read_checkpoint(ckpt)          # checks complete = 1 and the checksum
                nets = {"to_torch": to_torch.load(ckpt)}
                ref = \(PythonRunner.quote(Fixtures.referenceDirectory.appendingPathComponent("models.py").path))
                spec = importlib.util.spec_from_file_location("reference_models", ref)
                m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
                net = m.zoo(model)
                net.load_state_dict(sd, strict=True)
                nets["reference"] = net.eval()
                x = torch.from_numpy(h5py.File("in_f32.h5")["images"][()])
                with h5py.File("data.h5") as d:
                    mean, std = np.asarray(d.attrs["mean"], np.float32), np.asarray(d.attrs["std"], np.float32)
                    u8 = h5py.File("in_u8.h5")["images"][()]
                xu = torch.from_numpy(((u8.astype(np.float32) / 255 - mean) / std).transpose(0, 3, 1, 2).copy())
                def rel(a, b): return float(np.linalg.norm(a.astype(np.float64) - b) / np.linalg.norm(b.astype(np.float64)))
                out = {}
                for name, net in nets.items():
                    with torch.no_grad():
                        out[name + "/f32"] = rel(h5py.File(model + "-in_f32-swift.h5")["logits"][()], net(x).numpy())
                        out[name + "/u8"] = rel(h5py.File(model + "-in_u8-swift.h5")["logits"][()], net(xu).numpy())
                print("RESULT " + json.dumps(out))
                """, directory: kit.root)
            let errors = try PythonRunner.result(result)
            print("\(model): relative errors of trainer predict vs PyTorch eval logits: \(errors.sorted { $0.key < $1.key })")
            XCTAssertEqual(errors.count, 4, "\(model): \(result)")
            for (name, error) in errors {
                XCTAssertLessThanOrEqual(error, 1e-4, "\(model) \(name): PyTorch eval logits vs trainer predict, relative error \(error)")
            }
        }
    }

    func testStateDictFromPyTorchInitialisesTraining() throws {
        try PythonRunner.requireTorch()
        let kit = try CheckpointTestKit(self, label: "from-torch")
        // A DDP-style .pt file ('module.' prefixes) of a freshly initialised torch resnet20.
        try PythonRunner.run("""
            import sys, torch
            sys.path.insert(0, \(PythonRunner.quote(Self.launch)))
            import to_torch
            torch.manual_seed(9)
            net = to_torch.zoo("resnet20", 10, 3)
            with torch.no_grad():
                for k, v in net.state_dict().items():
                    if k.endswith("running_var"): v.uniform_(0.5, 2.0)
                    elif k.endswith("running_mean"): v.normal_()
            torch.save({"state_dict": {"module." + k: v for k, v in net.state_dict().items()}}, "torch.pt")
            """, directory: kit.root)
        let written = try PythonRunner.run(process: "python3", [Self.launch + "/from_torch.py", "torch.pt", "init.h5", "--model", "resnet20"],
                                           directory: kit.root)
        XCTAssertTrue(written.contains("checked against resnet20 with strict=True"), written)
        // The file passes the trainer's own validation (format, complete, checksum).
        let initial = try CheckpointFile.read(kit.path("init.h5"))
        XCTAssertEqual(initial.metadata.step, 0)

        let base = """
            model: {name: resnet20, num_classes: 10, init_from: init.h5}
            data: {path: data.h5, augment: {crop_padding: 2, flip: true}}
            train: {epochs: 1, batch_size: 32, seed: 2, blas_threads: 1}
            checkpoint: {every_epochs: 0}
            log: {every_steps: 1}
            """
        // lr 0: one step leaves every parameter as loaded, so the step-1 checkpoint shows the
        // trainer's initial parameters.
        let frozen = try kit.write("frozen.cfg", base + "\noptimizer: {name: sgd, lr: 0.0, momentum: 0.9}")
        let run0 = try kit.train(frozen, dir: "frozen", extra: ["--stop-at-step", "1"])
        XCTAssertEqual(run0.status, 0, run0.output)
        XCTAssertTrue(run0.output.contains("initialised the model from init.h5"), run0.output)
        let after = try CheckpointFile.read(kit.path("frozen/ckpt-1.h5"))
        let loaded = Dictionary(uniqueKeysWithValues: initial.model.map { ($0.name, $0.values) })
        var compared = 0
        for t in after.model where !t.name.hasSuffix("running_mean") && !t.name.hasSuffix("running_var") {
            XCTAssertEqual(t.values.map(\.bitPattern), loaded[t.name]?.map(\.bitPattern), "\(t.name): not the torch value")
            compared += 1
        }
        XCTAssertEqual(compared, 65, "resnet20 has 65 parameter tensors")
        let check = try PythonRunner.run("""
            import sys, h5py, numpy as np, torch
            sd = torch.load("torch.pt")["state_dict"]
            f = h5py.File("frozen/ckpt-1.h5")
            bad = [k for k, v in sd.items() if "running" not in k and v.dtype == torch.float32
                   and not np.array_equal(f["model/" + k[len("module."):]][()], v.numpy())]
            print("RESULT {\\"mismatched\\": %d}" % len(bad))
            """, directory: kit.root)
        XCTAssertEqual(try PythonRunner.result(check)["mismatched"], 0, check)

        let live = try kit.write("live.cfg", base + "\noptimizer: {name: sgd, lr: 0.05, momentum: 0.9}")
        let run = try kit.train(live, dir: "live", extra: ["--stop-at-step", "4"])
        XCTAssertEqual(run.status, 0, run.output)
        let losses = try CheckpointTestKit.metricsRows(kit.path("live/metrics.csv")).compactMap { Double($0.fields[4]) }
        XCTAssertEqual(losses.count, 4, run.output)
        XCTAssertTrue(losses.allSatisfy(\.isFinite), "losses \(losses)")
    }
}

/// Runs python3 snippets and scripts for the interop tests.
enum PythonRunner {
    static func requireTorch() throws {
        guard (try? run("import torch, h5py, numpy", directory: NSTemporaryDirectory())) != nil else {
            throw XCTSkip("python3 with torch, h5py and numpy is not available")
        }
    }

    /// Runs `code` with python3 in `directory`; throws with the output when it fails.
    @discardableResult
    static func run(_ code: String, directory: String) throws -> String {
        try run(process: "python3", ["-c", code], directory: directory)
    }

    @discardableResult
    static func run(process name: String, _ arguments: [String], directory: String, limit: Double = 300) throws -> String {
        guard let exe = ProcessLauncher.findOnPath(name) else { throw XCTSkip("\(name) not found on PATH") }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = arguments
        p.currentDirectoryURL = URL(fileURLWithPath: directory)
        p.environment = ProcessLauncher.launchEnvironment()
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("py-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        defer { try? handle.close(); try? FileManager.default.removeItem(at: log) }
        p.standardOutput = handle; p.standardError = handle
        try p.run()
        let start = Date()
        while p.isRunning && Date().timeIntervalSince(start) < limit { usleep(20_000) }
        if p.isRunning { p.terminate(); p.waitUntilExit() }
        p.waitUntilExit()
        let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        guard p.terminationStatus == 0 else {
            throw PythonError(description: "\(name) \(arguments.first == "-c" ? "-c <script>" : arguments.joined(separator: " ")) failed with status \(p.terminationStatus):\n\(output)")
        }
        return output
    }

    struct PythonError: Error, CustomStringConvertible { let description: String }

    /// The JSON object on the line starting with "RESULT ".
    static func result(_ output: String) throws -> [String: Double] {
        guard let line = output.split(separator: "\n").last(where: { $0.hasPrefix("RESULT ") }),
              let object = try JSONSerialization.jsonObject(with: Data(line.dropFirst(7).utf8)) as? [String: Any] else {
            throw PythonError(description: "no RESULT line in:\n\(output)")
        }
        return object.compactMapValues { ($0 as? NSNumber)?.doubleValue }
    }

    /// A Python string literal.
    static func quote(_ s: String) -> String {
        "'" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
    }
}
