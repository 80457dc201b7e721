import Config
import Distributed
import Foundation
import IO

/// Puts the run's splits where `data.residency` says and hands out their `SampleSource`s:
/// `memory` (a copy per rank), `shared` (one copy per node, each rank of the node reading its
/// share of the rows, then a node barrier), `stream` (read from the file by a prefetch thread),
/// `auto` (shared when the node's copy takes at most half its available memory, else stream).
struct SplitResidency {
    let residency: DataResidency
    let train: SampleSource
    let eval: SampleSource
    /// Start-up lines for rank 0: the choice with its sizes, and any slow-read warning.
    let notes: [String]

    /// Collective: every rank calls it; a failure on any rank stops every rank with one line.
    static func place(_ data: TrainingData, config: RunConfig, comm: Communicator,
                      trainBatch: Int, evalBatch: Int) throws -> SplitResidency {
        let sameSplit = data.eval === data.train
        let bytes = data.train.totalImageBytes + (sameSplit ? 0 : data.eval.totalImageBytes)
        var notes: [String] = []
        let residency = choose(config.data.residency, bytes: bytes, comm: comm, notes: &notes)
        return try comm.agree("placing the dataset (data.residency: \(residency.rawValue))") {
            let train = try source(data.train, residency, comm: comm, batch: sameSplit ? Swift.max(trainBatch, evalBatch) : trainBatch, notes: &notes)
            let eval = sameSplit ? train : try source(data.eval, residency, comm: comm, batch: evalBatch, notes: &notes)
            return SplitResidency(residency: residency, train: train, eval: eval, notes: notes)
        }
    }

    /// `auto` resolved the same way on every rank: shared unless some node lacks the room.
    private static func choose(_ asked: DataResidency, bytes: Int, comm: Communicator, notes: inout [String]) -> DataResidency {
        guard asked == .auto else {
            let what = asked == .memory ? "a copy of the images per rank: \(formatBytes(bytes)) each"
                : asked == .shared ? "one copy of the images per node: \(formatBytes(bytes))"
                : "images read from the file while training (\(formatBytes(bytes))), labels in memory"
            notes.append("data.residency \(asked.rawValue): \(what)")
            return asked
        }
        let available = HostMemory.availableBytes
        let tight = comm.any(available.map { bytes > $0 / 2 } ?? false)
        let room = available.map { "\(formatBytes($0)) available on \(comm.hostname)" } ?? "available memory unknown"
        let chosen: DataResidency = tight ? .stream : .shared
        notes.append("data.residency auto: \(chosen.rawValue) (one copy of the images per node: \(formatBytes(bytes)); \(room); shared when it fits in half)")
        return chosen
    }

    private static func source(_ split: ImageDataset, _ residency: DataResidency, comm: Communicator, batch: Int,
                               notes: inout [String]) throws -> SampleSource {
        let reader = try ImageRowReader(path: split.path, split: split.split)
        let bytes = split.totalImageBytes
        switch residency {
        case .memory, .auto:
            let region = UnsafeMutableRawBufferPointer.allocate(byteCount: Swift.max(bytes, 1), alignment: 64)
            do { try reader.read(rows: 0..<split.count, into: region) } catch { region.deallocate(); throw error }
            return ResidentSamples(images: UnsafeRawBufferPointer(region), imageBytes: split.imageBytes, owner: nil,
                                   release: { region.deallocate() })
        case .shared:
            return try fillShared(split, reader: reader, comm: comm)
        case .stream:
            return try stream(split, reader: reader, batch: batch, notes: &notes)
        }
    }

    /// The node's ranks each read rows [r·N/R, (r+1)·N/R) into the window, then meet at a barrier
    /// (reached even when a read failed, so no rank of the node is left waiting).
    private static func fillShared(_ split: ImageDataset, reader: ImageRowReader, comm: Communicator) throws -> SampleSource {
        let buffer: NodeSharedBuffer
        do { buffer = try comm.makeNodeSharedBuffer(bytes: split.totalImageBytes) } catch {
            throw TrainingError("\(split.path): /\(split.split)/images (data.residency: shared): \(error); use data.residency: stream")
        }
        let part = (buffer.localRank * split.count / buffer.localSize)..<((buffer.localRank + 1) * split.count / buffer.localSize)
        var failure: Error?
        do {
            let region = UnsafeMutableRawBufferPointer(rebasing: buffer.bytes[(part.lowerBound * split.imageBytes)...])
            try reader.read(rows: part, into: region)
        } catch { failure = error }
        buffer.barrier()
        if let failure { throw failure }
        return ResidentSamples(images: UnsafeRawBufferPointer(buffer.bytes), imageBytes: split.imageBytes, owner: buffer)
    }

    /// A prefetching reader, checked by reading the first and the last sample now (an unreadable
    /// file fails at start-up on every rank together, not inside a step).
    private static func stream(_ split: ImageDataset, reader: ImageRowReader, batch: Int, notes: inout [String]) throws -> SampleSource {
        let probe = UnsafeMutableRawBufferPointer.allocate(byteCount: reader.rowBytes, alignment: 64)
        defer { probe.deallocate() }
        try reader.read(rows: 0..<1, into: probe)
        try reader.read(rows: (reader.count - 1)..<reader.count, into: probe)
        if reader.layout.kind != .contiguous {
            notes.append("data: \(split.path): /\(split.split)/images is \(reader.layout.description): streaming reads whole chunks (and decompresses them) for every sample, slower than a contiguous dataset (h5repack -l CONTI makes one)")
        }
        let threaded = HDF5File.libraryIsThreadSafe
        if !threaded { notes.append("data: this HDF5 library is not thread-safe: stream reads happen inside the step, not ahead of it") }
        return StreamedSamples(reader: reader, maxBatch: batch, prefetching: threaded)
    }
}
