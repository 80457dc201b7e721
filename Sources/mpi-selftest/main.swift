// Multi-rank self-test of the Distributed target, run under mpirun by Tests/DistributedTests:
//
//   mpirun -n 4 mpi-selftest              every collective against known answers; "OK <n> checks ..."
//   mpirun -n 2 mpi-selftest --bench      all-reduce timings (4 MB float and others)
//   mpirun -n 4 mpi-selftest --abort      rank 1 aborts while the others wait in a barrier
//   mpirun -n 2 mpi-selftest --watchdog   rank 0 never joins a barrier; the watchdog must abort
import Distributed
import Foundation

let comm = jobCommunicator()
let arguments = Set(CommandLine.arguments.dropFirst())

if arguments.contains("--abort") {
    comm.activity = "step 3"
    if comm.rank == 1 {
        usleep(200_000)
        comm.abort(code: 7, message: "selftest abort requested (the other ranks wait in a barrier)")
    }
    comm.barrier()
    say("rank \(comm.rank): barrier returned although rank 1 aborted")
    exit(1)
}

if arguments.contains("--watchdog") {
    comm.collectiveTimeout = 1
    comm.activity = "step 7"
    if comm.rank == 0 {
        sleep(60)  // never joins: the other ranks' watchdog must end the job first
    } else {
        comm.barrier()
    }
    say("rank \(comm.rank): the watchdog did not fire")
    exit(1)
}

if arguments.contains("--bench") {
    runBench(comm)
    comm.shutdown()
    exit(0)
}

comm.collectiveTimeout = 120  // a hang in a check fails the test instead of blocking it forever
let checks = SelfChecks(comm)
checks.runAll()
let failed = comm.any(!checks.failures.isEmpty)
if comm.rank == 0 {
    say(failed ? "FAILED (see the failing checks above)"
                 : "OK \(checks.count) checks on \(comm.size) ranks")
}
comm.shutdown()
exit(failed ? 1 : 0)
