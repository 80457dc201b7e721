import CHDF5
import TensorCore
import Foundation

/// Reads the images of one split straight from the file by sample index: what a run uses when
/// the images stay on disk (`data.residency: stream`) and to fill a resident copy.
///
/// The dataset stays open (one open per reader, not per read); consecutive indices are read as
/// one hyperslab run. Before every read the file is checked against what was opened (device,
/// inode, size, modification time): a dataset rewritten or resized under a running job is an
/// error naming the file, never a silent read of other bytes.
///
/// Not thread-safe: one thread reads at a time (see `HDF5File.libraryIsThreadSafe` for
/// reading on a thread other than the one writing checkpoints).
public final class ImageRowReader {
    public let path: String
    /// "/train/images".
    public let key: String
    /// Rows (samples) and bytes per row (H·W·C).
    public let count: Int, rowBytes: Int
    public let layout: HDF5StorageLayout
    private let file: HDF5File
    private let dataset: hid_t
    private let fileSpace: hid_t
    private let identity: FileIdentity?
    /// Hyperslab start (4), count (4) and the memory space's dims (2), reused by every read.
    private let selection = UnsafeMutablePointer<hsize_t>.allocate(capacity: 10)

    public init(path: String, split: String) throws {
        self.path = path
        key = "/\(split)/\(DatasetFile.imagesKey)"
        identity = FileIdentity(path)
        file = try HDF5File.open(path)
        let shape = try file.shape(key)
        guard shape.count == 4, try file.storedType(key) == .uint8 else {
            throw IOError(file: path, key: key, "expected uint8 (N, H, W, C), got \(Shape.format(shape))")
        }
        count = shape[0]; rowBytes = shape[1] * shape[2] * shape[3]
        selection.initialize(repeating: 0, count: 10)
        for d in 1..<4 { selection[4 + d] = hsize_t(shape[d]) }
        layout = try file.storageLayout(key)
        dataset = try file.openDataset(key)
        fileSpace = H5Dget_space(dataset)
        guard fileSpace >= 0 else { H5Dclose(dataset); throw IOError(file: path, key: key, "cannot read dataspace") }
    }

    deinit { H5Sclose(fileSpace); H5Dclose(dataset); selection.deallocate() }

    /// Copies rows `indices` (any order, repeats allowed) into `images`, row j at j·rowBytes.
    public func read<C: Collection>(_ indices: C, into images: UnsafeMutableRawBufferPointer) throws where C.Element == Int {
        precondition(images.count >= indices.count * rowBytes, "ImageRowReader: buffer \(images.count) < \(indices.count) rows of \(rowBytes)")
        try checkUnchanged()
        var runStart = -1, runLength = 0, runSlot = 0, slot = 0
        for i in indices {
            precondition(i >= 0 && i < count, "ImageRowReader: row \(i) out of 0..<\(count) in \(key)")
            if runLength > 0 && i == runStart + runLength {
                runLength += 1
            } else {
                if runLength > 0 { try readRun(runStart..<(runStart + runLength), to: images.baseAddress! + runSlot * rowBytes) }
                runStart = i; runLength = 1; runSlot = slot
            }
            slot += 1
        }
        if runLength > 0 { try readRun(runStart..<(runStart + runLength), to: images.baseAddress! + runSlot * rowBytes) }
    }

    /// Copies the contiguous rows `rows` into `images` (one hyperslab read).
    public func read(rows: Range<Int>, into images: UnsafeMutableRawBufferPointer) throws {
        precondition(images.count >= rows.count * rowBytes && rows.lowerBound >= 0 && rows.upperBound <= count,
                     "ImageRowReader: rows \(rows) of \(count) into \(images.count) bytes")
        try checkUnchanged()
        if !rows.isEmpty { try readRun(rows, to: images.baseAddress!) }
    }

    /// Throws when the file at `path` is no longer the one opened, saying what changed.
    public func checkUnchanged() throws {
        guard let identity, identity != FileIdentity(path) else { return }
        let now = (try? HDF5File.open(path)).flatMap { try? $0.shape(key).first }
        let what = now.map { $0 == count ? "was rewritten (still \($0) samples)" : "now holds \($0) samples, the run started with \(count)" }
            ?? "was removed, replaced or truncated"
        throw IOError(file: path, key: key, "changed under the running job: \(what); restart the run to read the new file")
    }

    private func readRun(_ rows: Range<Int>, to destination: UnsafeMutableRawPointer) throws {
        // Whole rows of the (N, H, W, C) file space into a (rows, H·W·C) memory space.
        selection[0] = hsize_t(rows.lowerBound); selection[4] = hsize_t(rows.count)
        guard H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, selection, nil, selection + 4, nil) >= 0 else {
            throw IOError(file: path, key: key, "cannot select rows \(rows.lowerBound)..<\(rows.upperBound)")
        }
        selection[8] = hsize_t(rows.count); selection[9] = hsize_t(rowBytes)
        let memSpace = H5Screate_simple(2, selection + 8, nil)
        guard memSpace >= 0 else { throw IOError(file: path, key: key, "cannot create a memory dataspace") }
        defer { H5Sclose(memSpace) }
        guard H5Dread(dataset, trainer_h5t_native_uint8(), memSpace, fileSpace, trainer_h5p_default(), destination) >= 0 else {
            throw IOError(file: path, key: key, "cannot read rows \(rows.lowerBound)..<\(rows.upperBound) of this \(layout.description) dataset (a missing external file, a filter this HDF5 lacks, or a damaged file)")
        }
    }
}

/// What identifies the file behind a path for change detection: device, inode, size, mtime.
struct FileIdentity: Equatable {
    let device: UInt64, inode: UInt64, size: Int64, mtime: Int64, mtimeNanoseconds: Int64

    init?(_ path: String) {
        var s = stat()
        guard stat(path, &s) == 0 else { return nil }
        device = UInt64(s.st_dev); inode = UInt64(s.st_ino); size = Int64(s.st_size)
        mtime = Int64(s.st_mtim.tv_sec); mtimeNanoseconds = Int64(s.st_mtim.tv_nsec)
    }
}
