import ArgumentParser
import TensorCore

/// `trainer`: the command line. Each subcommand lives in its own file and only parses
/// arguments; the work is done by the Training target.
@main
struct TrainerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trainer",
        abstract: "Data-parallel CNN training over MPI: one process per rank, gradients all-reduced every step.",
        discussion: """
            Examples:
              Launch/train -n 4 configs/cifar.cfg     set up, build, fetch data, train
              mpirun -n 4 trainer configs/cifar.cfg   train on 4 ranks
              trainer summary configs/cifar.cfg       layers, shapes, parameters, MACs
              trainer data download cifar10           fetch and import data/cifar10.h5

            The short form `trainer CONFIG` means `trainer train CONFIG`.
            """,
        version: trainerVersion,
        subcommands: [Train.self, Summary.self, Evaluate.self, Predict.self, FoldBN.self, DataCommand.self],
        defaultSubcommand: Train.self)

    /// Restarts once with OpenBLAS's fast kernels when it did not recognise the CPU (before MPI_Init).
    static func main() {
        BLAS.reexecWithBetterCoreType()
        main(nil)
    }
}
