import Foundation
import IO
import TestSupport
import XCTest

/// `trainer data download` and `data ensure` against archives served from 127.0.0.1 (never an
/// outside address): a good archive is fetched, checked, kept, imported and trained on; a wrong
/// checksum is refused and leaves no dataset; an unreachable URL fails in seconds with one line;
/// offline, ensure writes the stand-in under its own name and the run says it is synthetic.
final class DatasetDownloadTests: XCTestCase {
    var root = ""
    var server: LoopbackHTTPServer!
    var archive = ""

    override func setUpWithError() throws {
        root = try ProcessLauncher.temporaryDirectory("download")
        let mirror = root + "/mirror"
        try FileManager.default.createDirectory(atPath: mirror, withIntermediateDirectories: true)
        try DatasetFormats.writeCIFAR100(in: root + "/src", train: 40, test: 10)
        archive = mirror + "/cifar-100-binary.tar.gz"
        try DatasetFormats.tarGz(archive, folder: root + "/src", member: "cifar-100-binary")
        server = try LoopbackHTTPServer(directory: mirror)
    }

    override func tearDownWithError() throws {
        server?.stop()
        try? FileManager.default.removeItem(atPath: root)
    }

    func write(_ name: String, _ text: String) throws -> String {
        let p = root + "/" + name
        try (text + "\n").write(toFile: p, atomically: true, encoding: .utf8)
        return p
    }

    func testGoodArchiveIsCheckedKeptImportedAndTrainsOneEpoch() throws {
        let entry = DatasetDownload.Entry(name: "cifar100", baseURL: server.baseURL,
                                          files: [.init(name: "cifar-100-binary.tar.gz", md5: try DatasetFormats.md5sum(archive))])
        let out = root + "/data/cifar100.h5"
        var said: [String] = []
        let counts = try DatasetDownload.download(entry, to: out, say: { said.append($0) })
        XCTAssertEqual(counts.train, 40); XCTAssertEqual(counts.test, 10)
        XCTAssertEqual(said.first, "downloading \(server.baseURL)cifar-100-binary.tar.gz")
        let kept = root + "/data/cifar100/cifar-100-binary.tar.gz"
        XCTAssertEqual(try DatasetFormats.md5sum(kept), try DatasetFormats.md5sum(archive))
        XCTAssertEqual(try ImageDataset(path: out, split: "train").source, "cifar100")
        // Kept and checked: a second import needs no server.
        server.stop()
        said = []
        try DatasetDownload.download(entry, to: out, say: { said.append($0) })
        XCTAssertEqual(said.first, "using \(kept) (checksum ok)")

        let config = try write("c100.cfg", """
            model:
              name: layers
              input: [3, 32, 32]
              layers:
                - conv: {out: 4, kernel: 3, stride: 2, padding: 1}
                - relu
                - adaptive_avgpool: {out: 1}
                - flatten
                - linear: {out: 100}
            data: {path: data/cifar100.h5}
            train: {epochs: 1, batch_size: 10, blas_threads: 1}
            checkpoint: {dir: run}
            """)
        let run = try ProcessLauncher.run("trainer", ["train", config], limit: 300, directory: root)
        XCTAssertEqual(run.status, 0, run.output)
        XCTAssertTrue(run.output.contains("data data/cifar100.h5 (source: cifar100): 40 train / 10 test images"), run.output)
        XCTAssertTrue(run.output.contains("steps per epoch of 10 (10 per rank); 1 epoch\n"), run.output)
        XCTAssertFalse(run.output.contains("1 epochs"), run.output)
    }

    func testWrongChecksumIsRefusedAndLeavesNoDataset() throws {
        let out = root + "/data/cifar100.h5"
        let run = try ProcessLauncher.run("trainer", ["data", "download", "cifar100", out, "--url", server.baseURL],
                                          limit: 120, directory: root)
        XCTAssertEqual(run.status, 1, run.output)
        let lines = run.output.split(separator: "\n").filter { !$0.hasPrefix("downloading") }
        XCTAssertEqual(lines.count, 1, run.output)
        XCTAssertTrue(lines[0].hasPrefix("trainer: \(server.baseURL)cifar-100-binary.tar.gz: checksum mismatch: MD5 "), run.output)
        XCTAssertTrue(lines[0].contains("expected the published 03b5dce01913d631647c71ecec9e9cb8; the file was deleted"), run.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: root + "/data/cifar100"), [])
    }

    func testUnreachableURLFailsInSecondsWithOneLine() throws {
        let url = "http://127.0.0.1:\(LoopbackHTTPServer.closedPort())/"
        let out = root + "/data/mnist.h5"
        let run = try ProcessLauncher.run("trainer", ["data", "download", "mnist", out, "--url", url], limit: 120, directory: root)
        XCTAssertEqual(run.status, 1, run.output)
        XCTAssertLessThan(run.seconds, 10, "an unreachable mirror must fail fast")
        let lines = run.output.split(separator: "\n").filter { !$0.hasPrefix("downloading") }
        XCTAssertEqual(lines.count, 1, run.output)
        XCTAssertTrue(lines[0].hasPrefix("trainer: \(url)train-images-idx3-ubyte.gz: cannot download: "), run.output)
        XCTAssertTrue(lines[0].hasSuffix("fetch it by hand and put it at \(root)/data/mnist/train-images-idx3-ubyte.gz (or give a mirror with --url), then run this again"), run.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
    }

    /// Offline: the stand-in is written as synthetic-mnist.h5 (MNIST's shape), never as
    /// mnist.h5; ensure names it on stdout; the run started on it prints its source.
    func testEnsureOfflineWritesANamedStandInAndTheRunSaysSo() throws {
        let config = try write("mnist.cfg", """
            model:
              name: layers
              input: [1, 28, 28]
              layers:
                - conv: {out: 4, kernel: 3, stride: 2}
                - relu
                - adaptive_avgpool: {out: 1}
                - flatten
                - linear: {out: 10}
            data: {path: data/mnist.h5}
            train: {epochs: 1, batch_size: 500, blas_threads: 1}
            checkpoint: {dir: run}
            """)
        let url = "http://127.0.0.1:\(LoopbackHTTPServer.closedPort())/"
        let ensure = try ProcessLauncher.run("trainer", ["data", "ensure", config, "--url", url], limit: 120, directory: root)
        XCTAssertEqual(ensure.status, 0, ensure.output)
        XCTAssertTrue(ensure.output.contains("\ndata.path=data/synthetic-mnist.h5\n"), ensure.output)
        XCTAssertTrue(ensure.output.contains("using the SYNTHETIC stand-in data/synthetic-mnist.h5 instead of data/mnist.h5"), ensure.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: root + "/data/mnist.h5"))
        let standIn = try ImageDataset(path: root + "/data/synthetic-mnist.h5", split: "train")
        XCTAssertEqual(standIn.source, "synthetic")
        XCTAssertEqual(standIn.sampleShape, [28, 28, 1])
        let run = try ProcessLauncher.run("trainer", ["train", config, "--set", "data.path=data/synthetic-mnist.h5"],
                                          limit: 300, directory: root)
        XCTAssertEqual(run.status, 0, run.output)
        XCTAssertTrue(run.output.contains("(source: synthetic)"), run.output)
    }

    /// Launch/train on a config whose dataset is missing, offline: it says so, writes the
    /// stand-in under its own name and points the run at it.
    func testLaunchTrainPointsTheRunAtTheStandIn() throws {
        guard ProcessLauncher.findOnPath("mpirun") != nil else { throw XCTSkip("mpirun not found on PATH") }
        let config = try write("launch.cfg", """
            model:
              name: layers
              input: [3, 32, 32]
              layers: [flatten, {linear: {out: 10}}]
            data: {path: \(root)/data/cifar10.h5}
            train: {epochs: 1, batch_size: 500, blas_threads: 1}
            checkpoint: {dir: \(root)/run}
            """)
        let bin = try ProcessLauncher.product("trainer")
        let url = "http://127.0.0.1:\(LoopbackHTTPServer.closedPort())/"
        let output = try runTool(["bash", "-c", "TRAINER_BIN='\(bin)' TRAINER_DATA_URL='\(url)' '\(repositoryRoot)/Launch/train' '\(config)' 2>&1"])
        XCTAssertTrue(output.contains("data: using the SYNTHETIC stand-in \(root)/data/synthetic-cifar10.h5 instead of \(root)/data/cifar10.h5"), output)
        XCTAssertTrue(output.contains("data \(root)/data/synthetic-cifar10.h5 (source: synthetic)"), output)
        XCTAssertTrue(output.contains("test acc"), output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: root + "/data/cifar10.h5"))
    }

    /// The import-<kind> commands on files in the real formats, each printing one summary line.
    func testImportCommands() throws {
        try DatasetFormats.writeMNIST(in: root + "/idx", train: 5, test: 3, gzip: true)
        let images = root + "/pics/cat"
        try FileManager.default.createDirectory(atPath: images, withIntermediateDirectories: true)
        for i in 0..<2 {
            try ImageCodec.writePNG(.init(pixels: [UInt8](repeating: UInt8(i * 90), count: 4 * 6 * 3), width: 6, height: 4, channels: 3),
                                    to: "\(images)/\(i).png")
        }
        let cases: [([String], String)] = [
            (["import-cifar100", archive, "c100.h5", "--coarse"], "wrote c100.h5: CIFAR-100, 40 train / 10 test images, 20 coarse classes"),
            (["import-idx", "idx", "f.h5", "--kind", "fashion-mnist"], "wrote f.h5: fashion-mnist, 5 train / 3 test images 28×28×1, 10 classes"),
            (["import-folder", "pics", "p.h5", "--size", "5"], "wrote p.h5: 2 train images 5×5×3, 1 class"),
        ]
        for (arguments, line) in cases {
            let run = try ProcessLauncher.run("trainer", ["data"] + arguments, limit: 120, directory: root)
            XCTAssertEqual(run.status, 0, run.output)
            XCTAssertEqual(run.output, line + "\n")
        }
        let bad = try ProcessLauncher.run("trainer", ["data", "import-idx", "idx", "k.h5", "--kind", "kmnit"], limit: 60, directory: root)
        XCTAssertEqual(bad.status, 1, bad.output)
        XCTAssertEqual(bad.output, "trainer: --kind: unknown 'kmnit' (expected one of: mnist, fashion-mnist, kmnist)\n")
    }
}
