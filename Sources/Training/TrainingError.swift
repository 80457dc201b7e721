import Distributed
import NN

/// A problem that stops the run, with the one line the user sees. Thrown where only this rank
/// may know of it; the top level then aborts the whole job (no rank may be left waiting).
public struct TrainingError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A stop every rank reaches at the same point (a failed `agree`, or a check whose inputs are
/// identical on every rank such as the batch size or the summed gradients). No abort is needed:
/// the `reporter` rank prints the one line and every rank shuts MPI down and exits with `code`.
public struct CollectiveStop: Error, CustomStringConvertible {
    public let description: String
    public let reporter: Int
    public let code: Int32
    public init(_ description: String, reporter: Int = 0, code: Int32 = ExitStatus.failure) {
        self.description = description; self.reporter = reporter; self.code = code
    }
}

extension Communicator {
    /// Runs `body` on every rank and agrees on the outcome: when any rank throws, every rank
    /// throws a `CollectiveStop` reported by the lowest failing rank with its own message, so
    /// the job stops together with one line (nobody is left waiting in the next collective).
    public func agree<T>(_ phase: String, _ body: () throws -> T) throws -> T {
        var result: Result<T, Error>
        do { result = .success(try body()) } catch { result = .failure(error) }
        let failed: Bool
        if case .failure = result { failed = true } else { failed = false }
        guard let lowest = lowestRank(where: failed) else { return try result.get() }
        var message = ""
        if case .failure(let e) = result { message = "\(e)" }
        if size > 1 { message = broadcast(string: message, root: lowest) }
        throw CollectiveStop(message, reporter: lowest)
    }
}

extension Communicator {
    /// The step boundary's one collective: true on every rank when any rank was asked to stop;
    /// throws a `CollectiveStop` on every rank, reported by the lowest failing rank, when any
    /// rank's `failure` is set (its data source failed reading ahead), so they stop together.
    func stopTogether(requested: Bool, failure: Error?) throws -> Bool {
        var flags: (Double, Double) = (requested ? 1 : 0, failure != nil ? Double(size - rank) : 0)
        if size > 1 {
            withUnsafeMutablePointer(to: &flags) {
                $0.withMemoryRebound(to: Double.self, capacity: 2) { allReduceMax(UnsafeMutableBufferPointer(start: $0, count: 2)) }
            }
        }
        if flags.1 > 0 {
            let reporter = size - Int(flags.1)
            let message = size > 1 ? broadcast(string: failure.map { "\($0)" } ?? "", root: reporter) : "\(failure!)"
            throw CollectiveStop(message, reporter: reporter)
        }
        return flags.0 > 0
    }
}

/// Sums BatchNorm statistics across ranks for sync BN (NN sees only this protocol).
final class CommunicatorReducer: StatisticsReducer {
    let communicator: Communicator
    init(_ communicator: Communicator) { self.communicator = communicator }
    func sumInPlace(_ values: UnsafeMutableBufferPointer<Float>) { communicator.allReduceSum(values) }
}
