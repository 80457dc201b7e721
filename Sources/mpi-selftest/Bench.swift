import Distributed
import Foundation

/// All-reduce timings: blocking float sums of several sizes (4 MB is the figure DESIGN.md
/// quotes) and the same 4 MB through the GradientBucketer. Times are the slowest rank's mean.
func runBench(_ comm: MPICommunicator) {
    func timed(iterations: Int, _ body: () -> Void) -> Double {
        for _ in 0..<3 { body() }
        comm.barrier()
        let t0 = Date()
        for _ in 0..<iterations { body() }
        return comm.allReduceMax(Date().timeIntervalSince(t0) / Double(iterations))
    }
    if comm.rank == 0 { say("all-reduce benchmark: \(comm.size) ranks on \(Set(comm.allGather(string: comm.hostname)).count) host(s)") }
    else { _ = comm.allGather(string: comm.hostname) }

    for bytes in [64 << 10, 1 << 20, 4 << 20, 16 << 20] {
        let n = bytes / 4
        let x = UnsafeMutableBufferPointer<Float>.allocate(capacity: n)
        x.initialize(repeating: 1)
        let seconds = timed(iterations: bytes >= (16 << 20) ? 10 : 40) { comm.allReduceSum(x) }
        if comm.rank == 0 {
            say(String(format: "allreduce %6.2f MB float: %8.3f ms  (%.2f GB/s algorithm bandwidth)",
                         Double(bytes) / 1048576, seconds * 1e3, Double(bytes) / seconds / 1e9))
        }
        if bytes == 4 << 20 {
            let b = GradientBucketer(communicator: comm, gradients: x, average: false)
            let s = timed(iterations: 40) { b.reset(); b.finish() }
            if comm.rank == 0 {
                say(String(format: "bucketed  %6.2f MB float: %8.3f ms  (%d buckets of %d MB, MPI_Iallreduce + MPI_Waitall)",
                             Double(bytes) / 1048576, s * 1e3, b.buckets.count, GradientBucketer.defaultBucketBytes >> 20))
            }
        }
        x.deallocate()
    }
}
