/// Where a run stands, in global terms only (independent of the number of ranks): the number of
/// optimizer steps taken. Epoch, step within the epoch and samples seen follow from it and the
/// global batch, so a resume on any number of ranks with the same global batch continues from
/// the same global sample.
public struct TrainingCursor: Equatable, Sendable {
    public var globalStep: Int
    public let stepsPerEpoch: Int
    public let globalBatch: Int

    public init(globalStep: Int = 0, stepsPerEpoch: Int, globalBatch: Int) {
        self.globalStep = globalStep; self.stepsPerEpoch = stepsPerEpoch; self.globalBatch = globalBatch
    }

    public var epoch: Int { globalStep / stepsPerEpoch }
    public var stepInEpoch: Int { globalStep % stepsPerEpoch }
    public var samplesSeen: Int { globalStep * globalBatch }
    public var atEpochEnd: Bool { globalStep > 0 && stepInEpoch == 0 }
    /// The cursor `steps` steps later.
    func advanced(by steps: Int) -> TrainingCursor {
        TrainingCursor(globalStep: globalStep + steps, stepsPerEpoch: stepsPerEpoch, globalBatch: globalBatch)
    }
}
