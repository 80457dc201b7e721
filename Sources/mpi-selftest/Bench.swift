import Distributed
import Foundation

/// All-reduce timings: blocking float sums of several sizes (4 MB is the figure DESIGN.md
/// quotes) and the same 4 MB through the GradientBucketer. Each iteration starts after a
/// barrier and counts the slowest rank; median and minimum over the iterations are printed,
/// since a shared machine's load makes the mean noisy.
func runBench(_ comm: Communicator) {
    func timed(iterations: Int, _ body: () -> Void) -> (median: Double, min: Double) {
        for _ in 0..<3 { body() }
        var times = [Double](repeating: 0, count: iterations)
        for k in 0..<iterations {
            comm.barrier()
            let t0 = Date()
            body()
            times[k] = Date().timeIntervalSince(t0)
        }
        times.withUnsafeMutableBufferPointer { comm.allReduceMax($0) }
        times.sort()
        return (times[iterations / 2], times[0])
    }
    let hosts = Set(comm.allGather(string: comm.hostname)).count
    if comm.rank == 0 { say("all-reduce benchmark: \(comm.size) ranks on \(hosts) host(s); slowest rank per iteration") }

    for bytes in [64 << 10, 1 << 20, 4 << 20, 16 << 20] {
        let n = bytes / 4
        let x = UnsafeMutableBufferPointer<Float>.allocate(capacity: n)
        x.initialize(repeating: 1)
        let iterations = bytes >= (16 << 20) ? 21 : 101
        let t = timed(iterations: iterations) { comm.allReduceSum(x) }
        if comm.rank == 0 {
            say(String(format: "allreduce %6.2f MB float: median %7.3f ms, min %7.3f ms  (median %.2f GB/s algorithm bandwidth)",
                       Double(bytes) / 1048576, t.median * 1e3, t.min * 1e3, Double(bytes) / t.median / 1e9))
        }
        if bytes == 4 << 20 {
            let b = GradientBucketer(communicator: comm, gradients: x, average: false)
            let s = timed(iterations: iterations) { b.reset(); b.finish() }
            if comm.rank == 0 {
                say(String(format: "bucketed  %6.2f MB float: median %7.3f ms, min %7.3f ms  (%d buckets of %d MB: MPI_Iallreduce + MPI_Waitall)",
                           Double(bytes) / 1048576, s.median * 1e3, s.min * 1e3, b.buckets.count,
                           GradientBucketer.defaultBucketBytes >> 20))
            }
        }
        x.deallocate()
    }
}
