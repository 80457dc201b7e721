import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A static file server on 127.0.0.1 for download tests (`python3 -m http.server` on a port the
/// kernel picks), started by a test and stopped at its teardown. Ready once it has printed its
/// port — observed, not slept for.
public final class LoopbackHTTPServer {
    public let port: Int
    private let process: Process

    /// Serves `directory`; throws when python3 does not report its port within `limit` seconds.
    public init(directory: String, limit: Double = 60) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", directory]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        process = p
        var text = ""
        let start = Date()
        let reader = out.fileHandleForReading
        while Date().timeIntervalSince(start) < limit {
            let chunk = reader.availableData           // blocks until output or end
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
            if let r = text.range(of: #"port (\d+)"#, options: .regularExpression),
               let n = Int(text[r].dropFirst(5)) {
                port = n
                return
            }
        }
        p.terminate(); p.waitUntilExit()
        throw NSError(domain: "LoopbackHTTPServer", code: 1, userInfo: [NSLocalizedDescriptionKey: "http.server did not start: \(text)"])
    }

    public var baseURL: String { "http://127.0.0.1:\(port)/" }

    public func stop() {
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
    }

    deinit { stop() }

    /// A loopback port with nothing listening on it (bound once by the kernel's choice, then
    /// closed), for "unreachable" tests that must never touch an outside address.
    public static func closedPort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) }
        }
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        return Int(UInt16(bigEndian: addr.sin_port))
    }
}

/// Runs a command-line tool (tar, gzip, md5sum) to completion and returns its stdout; a
/// non-zero exit throws with its stderr.
@discardableResult
public func runTool(_ arguments: [String], directory: String? = nil) throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = arguments
    // Without the MPI singleton's variables: a script that starts mpirun (Launch/train) fails
    // silently after a test in this process has initialised MPI.
    p.environment = ProcessLauncher.launchEnvironment()
    if let directory { p.currentDirectoryURL = URL(fileURLWithPath: directory) }
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    let errText = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    p.waitUntilExit()
    guard p.terminationStatus == 0 else {
        throw NSError(domain: "runTool", code: Int(p.terminationStatus),
                      userInfo: [NSLocalizedDescriptionKey: "\(arguments.joined(separator: " ")) exited \(p.terminationStatus): \(errText)\(String(decoding: data, as: UTF8.self))"])
    }
    return String(decoding: data, as: UTF8.self)
}
