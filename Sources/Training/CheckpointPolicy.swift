import Config
import Distributed
import Models
import NN

/// When to write checkpoints and how a run resumes (filled in with the checkpoint format).
final class CheckpointPolicy {
    let config: RunConfig
    let communicator: Communicator
    init(config: RunConfig, communicator: Communicator) { self.config = config; self.communicator = communicator }

    func isDue(cursor: TrainingCursor, finished: Bool) -> Bool { false }
    func save(model: Model, optimizer: Optimizer, runner: StepRunner, cursor: TrainingCursor) throws {}
    func resume(model: Model, optimizer: Optimizer, runner: StepRunner, cursor: inout TrainingCursor) throws -> Bool { false }
}
