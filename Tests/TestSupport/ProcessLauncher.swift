import Foundation
import XCTest

/// Starts the project's executables (directly or under mpirun) from tests, with a time limit,
/// and collects their exit status and combined output.
///
/// Executables are found, in order: `$TRAINER_BIN_DIR/<name>` (Launch/test points it at the
/// release build, so training runs in tests are fast), then the products folder of the test
/// bundle (the debug build `swift test` makes).
public enum ProcessLauncher {
    public struct Run {
        public let status: Int32
        public let output: String
        public let seconds: Double
        /// True when the process ended by a signal rather than exit.
        public let signalled: Bool
    }

    /// A started process whose output goes to a log file; `wait` collects it.
    public final class Started {
        public let process: Process
        let log: URL
        let handle: FileHandle
        let start = Date()
        let description: String
        init(process: Process, log: URL, handle: FileHandle, description: String) {
            self.process = process; self.log = log; self.handle = handle; self.description = description
        }
        public var pid: Int32 { process.processIdentifier }
        public var output: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }
        public var elapsed: Double { Date().timeIntervalSince(start) }

        /// Polls until `condition` holds (observed progress: a line in `output`, a file): true as
        /// soon as it does, false when the process ends first or `limit` seconds pass (a guard
        /// against hangs, far above any normal wait: callers decide from what happened, not from
        /// how long it took).
        public func waitFor(limit: Double, _ condition: () -> Bool) -> Bool {
            while elapsed < limit {
                if condition() { return true }
                if !process.isRunning { return condition() }
                usleep(500)
            }
            return condition()
        }

        /// Waits like `wait(limit:)` and also returns how long the process ran on after its
        /// output first satisfied `seen` (nil if it never did): how fast a job ends after a
        /// failure, timed from the failure, not from a start-up whose length depends on the load.
        public func wait(limit: Double, after seen: (String) -> Bool,
                         file: StaticString = #filePath, line: UInt = #line) -> (run: Run, secondsAfter: Double?) {
            var at: Date?
            while process.isRunning && elapsed < limit {
                if at == nil && seen(output) { at = Date() }
                usleep(20_000)
            }
            let run = wait(limit: max(0, limit - elapsed), file: file, line: line)
            if at == nil && seen(run.output) { at = Date() }
            return (run, at.map { Date().timeIntervalSince($0) })
        }

        /// Waits up to `limit` seconds; a process still running then is killed and reported.
        public func wait(limit: Double, file: StaticString = #filePath, line: UInt = #line) -> Run {
            while process.isRunning && elapsed < limit { usleep(20_000) }
            if process.isRunning {
                kill(-process.processIdentifier, SIGKILL)
                process.terminate()
                process.waitUntilExit()
                try? handle.close()
                let text = output
                try? FileManager.default.removeItem(at: log)
                XCTFail("\(description) still running after \(limit) s:\n\(text)", file: file, line: line)
                return Run(status: -1, output: text, seconds: limit, signalled: true)
            }
            process.waitUntilExit()
            let seconds = elapsed
            try? handle.close()
            let text = output
            try? FileManager.default.removeItem(at: log)
            return Run(status: process.terminationStatus, output: text, seconds: seconds,
                       signalled: process.terminationReason == .uncaughtSignal)
        }
    }

    /// Runs product `name` with `arguments` on `ranks` MPI ranks (nil: without mpirun).
    public static func run(_ name: String, _ arguments: [String], ranks: Int? = nil, limit: Double = 300,
                           directory: String? = nil, environment: [String: String] = [:],
                           file: StaticString = #filePath, line: UInt = #line) throws -> Run {
        try start(name, arguments, ranks: ranks, directory: directory, environment: environment)
            .wait(limit: limit, file: file, line: line)
    }

    /// Starts product `name` (under mpirun when `ranks` is given) without waiting.
    public static func start(_ name: String, _ arguments: [String], ranks: Int? = nil, directory: String? = nil,
                             environment: [String: String] = [:], mpiOptions: [String] = []) throws -> Started {
        let executable = try product(name)
        let process = Process()
        var description = ([name] + arguments).joined(separator: " ")
        if let ranks {
            guard let mpirun = findOnPath("mpirun") else { throw XCTSkip("mpirun not found on PATH") }
            process.executableURL = URL(fileURLWithPath: mpirun)
            process.arguments = mpirunOptions(ranks: ranks) + mpiOptions + [executable] + arguments
            description = "mpirun -n \(ranks) " + description
        } else {
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
        }
        process.environment = launchEnvironment().merging(environment) { _, new in new }
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("trainer-test-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        return Started(process: process, log: log, handle: handle, description: description)
    }

    /// mpirun flags for tests: root allowed, ranks may outnumber cores (binding off, ranks yield
    /// while waiting), shared memory and TCP on loopback only.
    public static func mpirunOptions(ranks: Int) -> [String] {
        ["--allow-run-as-root", "--oversubscribe", "--bind-to", "none", "--mca", "mpi_yield_when_idle", "1",
         "-n", String(ranks)]
    }

    /// The path of a built product (see the type's comment for the search order).
    public static func product(_ name: String) throws -> String {
        var candidates: [URL] = []
        if let dir = ProcessInfo.processInfo.environment["TRAINER_BIN_DIR"] { candidates.append(URL(fileURLWithPath: dir)) }
        candidates.append(URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent())
        candidates.append(Bundle.main.bundleURL)
        candidates.append(Bundle.main.bundleURL.deletingLastPathComponent())
        for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
            candidates.append(bundle.bundleURL.deletingLastPathComponent())
        }
        for dir in candidates {
            let path = dir.appendingPathComponent(name).path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        XCTFail("\(name) is not built next to the tests (looked in \(candidates.map(\.path))); run `swift build --product \(name)` with the same scratch path")
        throw XCTSkip("\(name) executable missing")
    }

    /// The test process may itself have initialised MPI as a singleton, which leaves OMPI_* and
    /// PMIX_* variables behind that would confuse a fresh mpirun: pass on everything else.
    public static func launchEnvironment() -> [String: String] {
        var env = ProcessInfo.processInfo.environment.filter { key, _ in
            !["OMPI_", "PMIX_", "ORTE_", "OPAL_"].contains { key.hasPrefix($0) }
        }
        env["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
        env["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
        return env
    }

    public static func findOnPath(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// A fresh temporary folder for one test, removed by the caller's `addTeardownBlock`.
    public static func temporaryDirectory(_ label: String) throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("trainer-\(label)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url.path
    }
}
