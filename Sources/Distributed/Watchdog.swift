import Foundation

/// Turns a hang into an error: every blocking collective is bracketed by `begin`/`end`, and a
/// background thread that finds one still open after `timeout` seconds calls `onTimeout` with a
/// message naming the operation and the caller's activity (MPICommunicator then aborts the job).
///
/// A collective that never completes almost always means another rank died or took a different
/// path (a mismatched collective); without the watchdog the job would sit idle until the batch
/// system's wall-time limit.
public final class Watchdog: @unchecked Sendable {
    private let lock = NSLock()
    private var _timeout: Double
    private var operation: StaticString = ""
    private var operationActivity = ""
    /// Monotonic start time of the open collective; nil when none is open.
    private var startedAt: Double?
    private var fired = false
    private var stopped = false
    private let onTimeout: @Sendable (String) -> Void

    /// Default for `train.collective_timeout`: long enough for a slow checkpoint on rank 0.
    public static let defaultTimeout: Double = 600

    /// `timeout` in seconds; 0 or less disables the check. `onTimeout` runs on the watchdog's
    /// thread, at most once per open collective.
    public init(timeout: Double = Watchdog.defaultTimeout, onTimeout: @escaping @Sendable (String) -> Void) {
        _timeout = timeout
        self.onTimeout = onTimeout
        let thread = Thread { [weak self] in
            while let me = self, me.poll() { }
        }
        thread.name = "collective-watchdog"
        thread.stackSize = 1 << 18
        thread.start()
    }

    deinit { stop() }

    /// Seconds a collective may stay open before `onTimeout`; ≤ 0 turns the watchdog off.
    public var timeout: Double {
        get { lock.lock(); defer { lock.unlock() }; return _timeout }
        set { lock.lock(); _timeout = newValue; lock.unlock() }
    }

    /// Marks the start of a blocking collective (not nestable: one open at a time).
    @inline(__always)
    public func begin(_ operation: StaticString, activity: String) {
        let now = monotonicSeconds()
        lock.lock()
        self.operation = operation; operationActivity = activity; startedAt = now; fired = false
        lock.unlock()
    }

    /// Marks the end of the collective opened by `begin`.
    @inline(__always)
    public func end() {
        lock.lock(); startedAt = nil; lock.unlock()
    }

    /// Ends the background thread (at the latest one poll interval later).
    public func stop() {
        lock.lock(); stopped = true; lock.unlock()
    }

    /// One check; returns false when the thread should end. Sleeps between checks for a tenth of
    /// the timeout, at most one second, so short test timeouts are still honoured promptly.
    private func poll() -> Bool {
        lock.lock()
        if stopped { lock.unlock(); return false }
        let timeout = _timeout
        var message: String?
        if timeout > 0, let start = startedAt, !fired {
            let open = monotonicSeconds() - start
            if open > timeout {
                fired = true
                message = "collective '\(operation)' at \(operationActivity) has not completed after "
                    + "\(String(format: "%.0f", open)) s (collective_timeout \(String(format: "%g", timeout)) s); "
                    + "another rank has probably failed, hung, or called a different collective"
            }
        }
        lock.unlock()
        if let message { onTimeout(message) }
        let interval = timeout > 0 ? Swift.min(1.0, Swift.max(0.01, timeout / 10)) : 1.0
        usleep(UInt32(interval * 1e6))
        return true
    }
}
