import IO
import TensorCore

/// Assembles a rank's batch: reads its samples' images from the split's `SampleSource` and
/// their labels from the dataset, augments and normalises them into one reused input tensor
/// (B, C, H, W) and label buffer (B).
///
/// All buffers are allocated for the largest batch once; loading allocates nothing. Copying
/// from memory and augmenting 128 CIFAR images takes well under a millisecond, a fraction of a
/// percent of a training step, so it runs inline; only a source that reads the file
/// (`StreamedSamples`) reads ahead on a thread of its own.
public final class BatchLoader {
    public let dataset: ImageDataset
    let source: SampleSource
    public let augmentation: Augmentation
    /// Normalised images of the last load. (B, C, H, W)
    public let input: Tensor
    /// Labels of the last load. (B)
    public private(set) var labels: UnsafeMutableBufferPointer<Int32>
    private let raw: UnsafeMutableBufferPointer<UInt8>   // (B, H, W, C)
    private let capacity: Int

    /// `source`: where the images come from; nil: the dataset itself (opened `.memory` or `.file`).
    init(dataset: ImageDataset, source: SampleSource? = nil, augmentation: Augmentation, maxBatch: Int) {
        self.dataset = dataset; self.augmentation = augmentation; capacity = maxBatch
        self.source = source ?? DatasetSamples(dataset)
        input = Tensor(shape: [maxBatch, dataset.channels, dataset.height, dataset.width])
        labels = .allocate(capacity: maxBatch); labels.initialize(repeating: 0)
        raw = .allocate(capacity: maxBatch * dataset.imageBytes); raw.initialize(repeating: 0)
    }

    deinit { labels.deallocate(); raw.deallocate() }

    /// Per-sample input shape (C, H, W).
    public var imageShape: [Int] { [dataset.channels, dataset.height, dataset.width] }

    /// Loads `indices` (global sample indices of this rank's slice). With `augment`, every
    /// sample's crop and flip come from (seed, epoch, its global index).
    public func load<C: Collection>(_ indices: C, augment: Bool, seed: UInt64, epoch: Int) throws where C.Element == Int {
        let b = indices.count
        precondition(b <= capacity, "BatchLoader: batch of \(b) exceeds the \(capacity) it was built for")
        try source.read(indices, into: raw)
        for (slot, sample) in indices.enumerated() { labels[slot] = dataset.labels[sample] }
        input.resize([b, dataset.channels, dataset.height, dataset.width])
        let h = dataset.height, w = dataset.width, c = dataset.channels
        let plane = c * h * w
        for (slot, sample) in indices.enumerated() {
            augmentation.apply(src: raw.baseAddress! + slot * plane, height: h, width: w, channels: c,
                               dst: input.data + slot * plane, augment: augment,
                               seed: seed, epoch: epoch, sampleIndex: sample)
        }
    }

    /// Tells the source which samples the next `load` will ask for (it may start reading them).
    func prefetch<C: Collection>(_ indices: C) where C.Element == Int { source.prefetch(indices) }

    /// The first `count` labels of the last load.
    public func labels(count: Int) -> UnsafeBufferPointer<Int32> {
        UnsafeBufferPointer(start: labels.baseAddress, count: count)
    }
}
