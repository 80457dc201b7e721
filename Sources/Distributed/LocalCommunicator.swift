import Foundation
import TensorCore

/// A job of one rank: every collective is the identity. Used by unit tests and by runs started
/// without mpirun that do not want MPI at all.
public final class LocalCommunicator: Communicator {
    public let rank = 0
    public let size = 1
    public let localRank = 0
    public let localSize = 1
    public let hostname: String
    public var activity = "start-up"
    /// Kept for the protocol: a single rank never waits on another.
    public var collectiveTimeout = Watchdog.defaultTimeout

    public init() { hostname = hostName() }

    public func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) {}
    public func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) {}
    public func allReduceMax(_ buffer: UnsafeMutableBufferPointer<Double>) {}

    public func broadcast(_ buffer: UnsafeMutableBufferPointer<Float>, root: Int) {
        precondition(root == 0, "LocalCommunicator.broadcast: root \(root) outside a job of 1 rank")
    }

    public func broadcast(bytes: inout [UInt8], root: Int) {
        precondition(root == 0, "LocalCommunicator.broadcast: root \(root) outside a job of 1 rank")
    }

    public func allGather(string: String) -> [String] { [string] }
    public func barrier() {}

    public func abort(code: Int32, message: String) -> Never {
        printError("rank 0: \(message)")
        exit(code)
    }
}
