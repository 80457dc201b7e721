import Distributed
import Foundation
import IO

/// Images read from the file while the run trains (`data.residency: stream`): a prefetch thread
/// reads the next batch (hyperslab runs of consecutive indices) into a staging buffer while the
/// current step computes; `read` then copies it out, waiting only if the read is not done.
///
/// One thread touches the reader at a time: the prefetch thread while a prefetch is pending,
/// the caller (under the lock) otherwise. HDF5 itself is then called from two threads (this one
/// and the main thread writing checkpoints), which a thread-safe HDF5 build serialises; on a
/// build that is not, `prefetching` is off and every read happens inside `read`.
final class StreamedSamples: SampleSource {
    private let worker: Prefetcher
    private let thread: Thread?

    init(reader: ImageRowReader, maxBatch: Int, prefetching: Bool) {
        worker = Prefetcher(reader: reader, capacity: maxBatch)
        if prefetching {
            let w = worker
            let t = Thread { w.loop() }
            t.name = "prefetch \(reader.key)"
            t.start()
            thread = t
        } else {
            thread = nil
        }
    }

    deinit { worker.stop() }

    func read<C: Collection>(_ indices: C, into images: UnsafeMutableBufferPointer<UInt8>) throws where C.Element == Int {
        try worker.take(indices, into: UnsafeMutableRawBufferPointer(images))
    }

    func prefetch<C: Collection>(_ indices: C) where C.Element == Int {
        if thread != nil { worker.request(indices) }
    }

    func settle() -> Error? { worker.settle() }
    func takeWaitSeconds() -> Double { worker.takeWaitSeconds() }
}

/// The state the prefetch thread and the caller share, under one condition variable.
private final class Prefetcher: @unchecked Sendable {
    private enum State { case idle, pending, ready, failed(Error), stopping }
    private let reader: ImageRowReader
    private let condition = NSCondition()
    private var state = State.idle
    /// The requested indices (count `requestedCount`) and their images, in fixed buffers.
    private let requested: UnsafeMutableBufferPointer<Int>
    private var requestedCount = 0
    private let staging: UnsafeMutableRawBufferPointer
    private var waited = 0.0

    init(reader: ImageRowReader, capacity: Int) {
        self.reader = reader
        requested = .allocate(capacity: capacity)
        requested.initialize(repeating: 0)
        staging = .allocate(byteCount: capacity * reader.rowBytes, alignment: 64)
        staging.initializeMemory(as: UInt8.self, repeating: 0)
    }

    deinit { requested.deallocate(); staging.deallocate() }

    /// The thread: waits for a request, reads it, says it is done.
    func loop() {
        HDF5File.silenceErrorsOnThisThread()
        condition.lock()
        while true {
            while !isPending && !isStopping { condition.wait() }
            if isStopping { break }
            let n = requestedCount
            condition.unlock()
            var outcome = State.ready
            do { try reader.read(UnsafeBufferPointer(rebasing: requested[0..<n]), into: staging) } catch { outcome = .failed(error) }
            condition.lock()
            if !isStopping { state = outcome }
            condition.broadcast()
        }
        condition.unlock()
    }

    func request<C: Collection>(_ indices: C) where C.Element == Int {
        precondition(indices.count <= requested.count, "StreamedSamples: prefetch of \(indices.count) > \(requested.count)")
        condition.lock(); defer { condition.unlock() }
        waitWhilePending()
        var j = 0
        for i in indices { requested[j] = i; j += 1 }
        requestedCount = j
        state = .pending
        condition.broadcast()
    }

    /// The images of `indices`: the prefetched ones when they match, else read now.
    func take<C: Collection>(_ indices: C, into images: UnsafeMutableRawBufferPointer) throws where C.Element == Int {
        condition.lock(); defer { condition.unlock() }
        waitWhilePending()
        let bytes = indices.count * reader.rowBytes
        if matches(indices) {
            defer { state = .idle }
            if case .failed(let error) = state { throw error }
            if case .ready = state { images.baseAddress!.copyMemory(from: staging.baseAddress!, byteCount: bytes); return }
        }
        state = .idle
        let start = monotonicSeconds()
        try reader.read(indices, into: images)
        waited += monotonicSeconds() - start
    }

    func settle() -> Error? {
        condition.lock(); defer { condition.unlock() }
        waitWhilePending()
        if case .failed(let error) = state { return error }
        return nil
    }

    func takeWaitSeconds() -> Double {
        condition.lock(); defer { condition.unlock() }
        defer { waited = 0 }
        return waited
    }

    func stop() {
        condition.lock()
        state = .stopping
        condition.broadcast()
        condition.unlock()
    }

    private var isPending: Bool { if case .pending = state { return true } else { return false } }
    private var isStopping: Bool { if case .stopping = state { return true } else { return false } }

    /// Under the lock: until the thread has finished the pending read (the wait is data wait).
    private func waitWhilePending() {
        guard isPending else { return }
        let start = monotonicSeconds()
        while isPending { condition.wait() }
        waited += monotonicSeconds() - start
    }

    private func matches<C: Collection>(_ indices: C) -> Bool where C.Element == Int {
        guard indices.count == requestedCount, !isIdle else { return false }
        var j = 0
        for i in indices { if requested[j] != i { return false }; j += 1 }
        return true
    }

    private var isIdle: Bool { if case .idle = state { return true } else { return false } }
}
