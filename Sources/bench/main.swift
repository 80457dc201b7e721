// trainer-bench: performance measurements, one subcommand each (kept a tiny dispatcher).
import Foundation
import TensorCore

BLAS.reexecWithBetterCoreType()

let arguments = Array(CommandLine.arguments.dropFirst())
switch arguments.first {
case "conv":
    exit(ConvBenchmark.run(arguments: Array(arguments.dropFirst())))
case "models":
    exit(ModelBenchmark.run(arguments: Array(arguments.dropFirst())))
default:
    let usage = """
        usage: trainer-bench <subcommand> [options]
          conv    cblas_sgemm vs conv2d forward+backward GFLOP/s (and PyTorch's), 1 thread
                  (trainer-bench conv --help for options)
          models  training img/s of whole models (and PyTorch's), batch 128, 1 thread
        """
    FileHandle.standardError.write(Data((usage + "\n").utf8))
    exit(arguments.first == "--help" || arguments.first == "-h" ? 0 : 2)
}
