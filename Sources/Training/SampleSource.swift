import Foundation
import IO

/// Where a split's images come from while a run reads them (`data.residency`): the loader asks
/// for samples by index and never learns whether they lie in this process, in memory shared by
/// the node's ranks, or in the file.
protocol SampleSource: AnyObject {
    /// Copies the images of `indices` (any order, repeats allowed) into `images` (B, H, W, C).
    func read<C: Collection>(_ indices: C, into images: UnsafeMutableBufferPointer<UInt8>) throws where C.Element == Int
    /// The samples the next `read` will ask for, so a source that reads the file can start now.
    func prefetch<C: Collection>(_ indices: C) where C.Element == Int
    /// Waits for a started prefetch and returns its error, if it failed (a step boundary asks,
    /// so that the ranks can stop together rather than one by one inside the next step).
    func settle() -> Error?
    /// Seconds spent waiting for data since the last call.
    func takeWaitSeconds() -> Double
}

extension SampleSource {
    func prefetch<C: Collection>(_ indices: C) where C.Element == Int {}
    func settle() -> Error? { nil }
    func takeWaitSeconds() -> Double { 0 }
}

/// Images held in memory, (N, H, W, C) bytes: a private copy (`memory`) or the node's shared
/// one (`shared`); `owner` keeps the region alive.
final class ResidentSamples: SampleSource {
    private let images: UnsafeRawBufferPointer
    private let imageBytes: Int
    private let owner: AnyObject?
    private let release: (() -> Void)?

    init(images: UnsafeRawBufferPointer, imageBytes: Int, owner: AnyObject?, release: (() -> Void)? = nil) {
        self.images = images; self.imageBytes = imageBytes; self.owner = owner; self.release = release
    }

    deinit { release?() }

    func read<C: Collection>(_ indices: C, into out: UnsafeMutableBufferPointer<UInt8>) throws where C.Element == Int {
        precondition(out.count >= indices.count * imageBytes, "ResidentSamples: buffer \(out.count) < \(indices.count) images")
        let count = images.count / imageBytes
        for (slot, i) in indices.enumerated() {
            precondition(i >= 0 && i < count, "ResidentSamples: sample \(i) out of 0..<\(count)")
            (UnsafeMutableRawPointer(out.baseAddress!) + slot * imageBytes)
                .copyMemory(from: images.baseAddress! + i * imageBytes, byteCount: imageBytes)
        }
    }
}

/// The images of an `ImageDataset` opened `.memory` or `.file` (evaluation and prediction
/// commands, which open their split themselves).
final class DatasetSamples: SampleSource {
    private let dataset: ImageDataset
    private var labels: [Int32] = []

    init(_ dataset: ImageDataset) { self.dataset = dataset }

    func read<C: Collection>(_ indices: C, into images: UnsafeMutableBufferPointer<UInt8>) throws where C.Element == Int {
        if labels.count < indices.count { labels = Array(repeating: 0, count: indices.count) }
        try labels.withUnsafeMutableBufferPointer { try dataset.read(indices: indices, images: images, labels: $0) }
    }
}
