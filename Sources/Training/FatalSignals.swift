import Foundation

/// Names the rank when a process crashes. A crash (SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGFPE,
/// SIGABRT; a failed precondition or fatalError ends a Swift process with SIGILL or SIGTRAP)
/// cannot be turned into an `abort` — nothing but async-signal-safe calls may run — so the
/// handler writes one line, `rank 1: fatal signal 11 (SIGSEGV); the job is ending`, with a
/// single write(2) of a message prepared at install time, then hands the signal to the handler
/// installed before it (Swift's crash backtrace, Open MPI's, or the default action), so the
/// process still dies of that signal. mpirun sees a rank die by a signal and kills the other
/// ranks at once ("mpirun noticed that process rank 1 ... exited on signal 11").
public enum FatalSignals {
    public static let signals: [(number: Int32, name: String)] = [
        (SIGSEGV, "SIGSEGV"), (SIGBUS, "SIGBUS"), (SIGILL, "SIGILL"), (SIGTRAP, "SIGTRAP"),
        (SIGFPE, "SIGFPE"), (SIGABRT, "SIGABRT"),
    ]

    /// Bytes reserved for each signal's message; messages are indexed by signal number.
    static let slot = 160
    static let maxSignal = 32
    nonisolated(unsafe) static var messages: UnsafeMutablePointer<UInt8>? = nil
    nonisolated(unsafe) static var lengths: UnsafeMutablePointer<Int>? = nil
    nonisolated(unsafe) static var previous: UnsafeMutablePointer<sigaction>? = nil
    nonisolated(unsafe) private static var installedRank: Int? = nil

    /// Installs the handlers (again, to update the rank: call it after MPI_Init, which installs
    /// Open MPI's own handlers, so this one runs first and chains to them).
    public static func install(rank: Int) {
        if messages == nil {
            messages = .allocate(capacity: slot * maxSignal); messages!.initialize(repeating: 0, count: slot * maxSignal)
            lengths = .allocate(capacity: maxSignal); lengths!.initialize(repeating: 0, count: maxSignal)
            previous = .allocate(capacity: maxSignal); previous!.initialize(repeating: sigaction(), count: maxSignal)
            installAlternateStack()
        }
        for (number, name) in signals {
            let text = Array("rank \(rank): fatal signal \(number) (\(name)); the job is ending\n".utf8.prefix(slot))
            text.withUnsafeBufferPointer { (messages! + Int(number) * slot).update(from: $0.baseAddress!, count: $0.count) }
            lengths![Int(number)] = text.count
        }
        guard installedRank == nil else { installedRank = rank; return }
        installedRank = rank
        for (number, _) in signals {
            var action = sigaction()
            action.__sigaction_handler.sa_sigaction = fatalSignalHandler
            action.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER
            sigemptyset(&action.sa_mask)
            sigaction(number, &action, previous! + Int(number))
        }
    }

    /// A stack overflow delivers SIGSEGV on the overflowed stack: give the handler its own.
    private static func installAlternateStack() {
        var current = stack_t()
        sigaltstack(nil, &current)
        guard Int(current.ss_flags) & Int(SS_DISABLE) != 0 else { return }   // someone (Swift, Open MPI) set one
        let size = 64 * 1024
        var stack = stack_t()
        stack.ss_sp = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
        stack.ss_size = size
        stack.ss_flags = 0
        sigaltstack(&stack, nil)
    }
}

/// Writes the prepared line, then hands the signal to the previous handler with the original
/// `info` and `context` (so Swift's backtracer shows the crashed thread's real stack), and makes
/// sure the process dies of the signal. Async-signal-safe calls only (write, sigaction, signal,
/// raise).
private func fatalSignalHandler(_ number: Int32, _ info: UnsafeMutablePointer<siginfo_t>?, _ context: UnsafeMutableRawPointer?) {
    let n = Int(number)
    if n > 0 && n < FatalSignals.maxSignal, let messages = FatalSignals.messages, let lengths = FatalSignals.lengths,
       let previous = FatalSignals.previous {
        _ = write(STDERR_FILENO, messages + n * FatalSignals.slot, lengths[n])
        var old = previous[n]
        sigaction(number, &old, nil)
        let raw = unsafeBitCast(old.__sigaction_handler.sa_handler, to: Int.self)
        let isDefaultOrIgnore = raw == unsafeBitCast(SIG_DFL, to: Int.self) || raw == unsafeBitCast(SIG_IGN, to: Int.self)
        if !isDefaultOrIgnore {
            if old.sa_flags & SA_SIGINFO != 0 {
                old.__sigaction_handler.sa_sigaction?(number, info, context)
            } else {
                old.__sigaction_handler.sa_handler?(number)
            }
        }
    }
    // Still alive: no previous handler, or it returned expecting a faulting instruction to run
    // again, but this signal may have come from kill or raise. Die of it either way.
    signal(number, SIG_DFL)
    raise(number)
}
