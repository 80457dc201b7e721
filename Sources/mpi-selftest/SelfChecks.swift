import Distributed
import Foundation

/// Every collective of the Distributed target checked against values computed from the formula
/// each rank used to fill its buffer. Each rank runs the same checks (same count everywhere).
final class SelfChecks {
    let comm: Communicator
    private(set) var count = 0
    private(set) var failures: [String] = []
    var rank: Int { comm.rank }
    var size: Int { comm.size }

    init(_ comm: Communicator) { self.comm = comm }

    func check(_ ok: Bool, _ name: String, _ detail: @autoclosure () -> String = "") {
        count += 1
        if !ok {
            let line = "rank \(rank): FAIL \(name)" + (detail().isEmpty ? "" : ": \(detail())")
            failures.append(line)
            say(line)
        }
    }

    func runAll() {
        layout()
        sums()
        broadcasts()
        gathers()
        barrier()
        bucketer()
        nodeShared()
    }

    /// A node-shared buffer: every rank writes its part, then after `barrier()` every rank sees
    /// every part (the same bytes, not copies), and a size beyond the node's memory is refused.
    func nodeShared() {
        let n = 1 << 20
        guard let buffer = try? comm.makeNodeSharedBuffer(bytes: n) else { return check(false, "makeNodeSharedBuffer") }
        check(buffer.bytes.count == n && buffer.localSize == localSize && buffer.localRank == localRank, "node-shared layout")
        let part = (buffer.localRank * n / buffer.localSize)..<((buffer.localRank + 1) * n / buffer.localSize)
        for i in part { buffer.bytes[i] = UInt8(truncatingIfNeeded: i &* 31 &+ buffer.localRank) }
        buffer.barrier()
        var bad = -1
        for i in 0..<n {
            let owner = (0..<buffer.localSize).first { i < ($0 + 1) * n / buffer.localSize }!
            if buffer.bytes[i] != UInt8(truncatingIfNeeded: i &* 31 &+ owner) { bad = i; break }
        }
        check(bad < 0, "node-shared contents", "byte \(bad)")
        buffer.barrier()
        do {
            _ = try comm.makeNodeSharedBuffer(bytes: 1 << 50)
            check(false, "a 1 PB node-shared buffer was not refused")
        } catch {
            check("\(error)".contains("cannot allocate"), "node-shared refusal", "\(error)")
        }
    }

    /// Rank numbering and the per-host split (every test run is on one host).
    func layout() {
        let env = ProcessInfo.processInfo.environment
        if let s = env["OMPI_COMM_WORLD_SIZE"].flatMap(Int.init) { check(size == s, "size", "\(size) vs mpirun's \(s)") }
        if let r = env["OMPI_COMM_WORLD_RANK"].flatMap(Int.init) { check(rank == r, "rank", "\(rank) vs mpirun's \(r)") }
        check(localSize == size && localRank == rank, "local rank on one host",
              "local \(localRank)/\(localSize), world \(rank)/\(size)")
        check(defaultBLASThreads(localSize: comm.localSize) >= 1, "defaultBLASThreads")
    }
    var localSize: Int { comm.localSize }
    var localRank: Int { comm.localRank }

    func sums() {
        // Float sum: x[i] = (i mod 1024)/4 + rank + 1, exact in float for these sizes.
        let n = 100_003
        let xs = UnsafeMutableBufferPointer<Float>.allocate(capacity: n)
        defer { xs.deallocate() }
        for i in 0..<n { xs[i] = Float(i % 1024) * 0.25 + Float(rank + 1) }
        comm.allReduceSum(xs)
        let ranksSum = Float(size * (size + 1) / 2)
        var bad = -1
        for i in 0..<n where xs[i] != Float(size) * Float(i % 1024) * 0.25 + ranksSum { bad = i; break }
        check(bad < 0, "allReduceSum(Float)", bad < 0 ? "" : "element \(bad) is \(xs[bad])")

        // Double sum: y[i] = i + rank/1000.
        let ys = UnsafeMutableBufferPointer<Double>.allocate(capacity: 1000)
        defer { ys.deallocate() }
        for i in 0..<ys.count { ys[i] = Double(i) + Double(rank) * 1e-3 }
        comm.allReduceSum(ys)
        let rankTerm = 1e-3 * Double(size * (size - 1) / 2)
        check((0..<ys.count).allSatisfy { abs(ys[$0] - (Double(size * $0) + rankTerm)) < 1e-9 },
              "allReduceSum(Double)", "y[1] = \(ys[1])")

        check(comm.allReduceSum(Double(rank + 1)) == Double(size * (size + 1) / 2), "allReduceSum(scalar)")
        check(comm.allReduceMax(Double(rank) * 2.5) == Double(size - 1) * 2.5, "allReduceMax(scalar)")
        let ms = UnsafeMutableBufferPointer<Double>.allocate(capacity: 3)
        defer { ms.deallocate() }
        ms[0] = Double(rank); ms[1] = -Double(rank); ms[2] = rank == size / 2 ? 99 : 0
        comm.allReduceMax(ms)
        check(ms[0] == Double(size - 1) && ms[1] == 0 && ms[2] == 99, "allReduceMax(buffer)", "\(Array(ms))")
        check(comm.any(rank == size - 1), "any(true on one rank)")
        check(!comm.any(false), "any(false everywhere)")
    }

    func broadcasts() {
        let root = size - 1
        let n = 70_001
        let xs = UnsafeMutableBufferPointer<Float>.allocate(capacity: n)
        defer { xs.deallocate() }
        for i in 0..<n { xs[i] = rank == root ? Float(i) * 3 + 7 : -1 }
        comm.broadcast(xs, root: root)
        check((0..<n).allSatisfy { xs[$0] == Float($0) * 3 + 7 }, "broadcast(Float) from \(root)")

        // Bytes: root 1 % size sends 1000 + root bytes; the others start with a different length.
        let byteRoot = 1 % size
        var bytes: [UInt8] = rank == byteRoot ? (0..<(1000 + byteRoot)).map { UInt8($0 % 251) } : [1, 2, 3]
        comm.broadcast(bytes: &bytes, root: byteRoot)
        check(bytes.count == 1000 + byteRoot && bytes.indices.allSatisfy { bytes[$0] == UInt8($0 % 251) },
              "broadcast(bytes) from \(byteRoot)", "got \(bytes.count) bytes")

        var empty: [UInt8] = rank == 0 ? [] : [9, 9]
        comm.broadcast(bytes: &empty, root: 0)
        check(empty.isEmpty, "broadcast(empty bytes)", "got \(empty.count) bytes")

        let text = "config sha256 ✓ — größe \(size)"
        let got = comm.broadcast(string: rank == 0 ? text : "rank \(rank) text", root: 0)
        check(got == text, "broadcast(string)", "got \"\(got)\"")
    }

    func gathers() {
        let all = comm.allGather(string: "rank-\(rank)-" + String(repeating: "é", count: rank * 3))
        let expected = (0..<size).map { "rank-\($0)-" + String(repeating: "é", count: $0 * 3) }
        check(all == expected, "allGather(string)", "\(all)")
        let hosts = comm.allGather(string: comm.hostname)
        check(hosts.allSatisfy { $0 == comm.hostname } && !comm.hostname.isEmpty, "allGather(hostname)", "\(hosts)")
        let blank = comm.allGather(string: "")
        check(blank == Array(repeating: "", count: size), "allGather(empty strings)")
    }

    /// Rank 0 arrives 0.3 s late: every other rank must spend that long in the barrier.
    func barrier() {
        comm.barrier()
        if rank == 0 { usleep(300_000) }
        let t0 = Date()
        comm.barrier()
        let waited = Date().timeIntervalSince(t0)
        check(rank == 0 || waited > 0.2, "barrier waits for the late rank", "waited \(waited) s")
    }

    /// Bucketed all-reduce over a buffer filled from a formula, with buckets started in an order
    /// that differs between ranks and a blocking collective issued while buckets are in flight.
    func bucketer() {
        let n = 1_000_003
        let g = UnsafeMutableBufferPointer<Float>.allocate(capacity: n)
        defer { g.deallocate() }
        func fill() { for i in 0..<n { g[i] = Float(i % 1024) * 0.25 + Float(rank + 1) } }
        let ranksSum = Float(size * (size + 1) / 2)
        func verify(_ name: String, average: Bool) {
            var bad = -1
            for i in 0..<n {
                var want = Float(size) * Float(i % 1024) * 0.25 + ranksSum
                if average { want /= Float(size) }
                if abs(g[i] - want) > 1e-6 * abs(want) { bad = i; break }
            }
            check(bad < 0, name, bad < 0 ? "" : "element \(bad) is \(g[bad])")
        }

        let b = GradientBucketer(communicator: comm, gradients: g, bucketBytes: 256 << 10)
        let per = 65_536
        check(b.buckets.count == 16 && b.buckets.first!.lowerBound == 0 && b.buckets.last!.upperBound == n
              && zip(b.buckets, b.buckets.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound }
              && b.buckets.last!.count == per && b.buckets.allSatisfy { $0.count <= per },
              "bucket layout", "\(b.buckets.count) buckets, last \(b.buckets.last!)")

        // Step 1: rank-dependent, non-monotonic progress reports, plus a blocking all-reduce on
        // COMM_WORLD while a rank-dependent number of buckets is in flight.
        fill()
        b.reset()
        b.gradientsReady(below: n - 1)
        b.gradientsReady(below: n * 3 / 4 - rank * 65_536)
        b.gradientsReady(below: n * 9 / 10)
        let flag = comm.allReduceSum(Double(rank))
        check(flag == Double(size * (size - 1) / 2), "blocking all-reduce while buckets are in flight")
        b.gradientsReady(below: n / 2 - rank * 100_000)
        b.gradientsReady(below: 200_000)
        b.finish()
        verify("bucketed all-reduce, average, out-of-order starts", average: true)
        check(b.lastWaitSeconds >= 0 && b.finishedSteps == 1, "bucketer wait time measured")

        // Step 2: nothing reported during backward: finish() starts everything; sums only.
        fill()
        b.average = false
        b.reset()
        b.finish()
        verify("bucketed all-reduce, sum, all started by finish", average: false)

        // Step 3: explicit boundaries, everything reported ready at once.
        let c = GradientBucketer(communicator: comm, gradients: g, boundaries: [0, 10, 500_000, n - 1])
        check(c.buckets == [0..<10, 10..<500_000, 500_000..<(n - 1), (n - 1)..<n], "explicit boundaries", "\(c.buckets)")
        fill()
        c.reset()
        c.gradientsReady(below: 0)
        c.finish()
        verify("bucketed all-reduce, explicit boundaries", average: true)

        // Step 4: the same buffer through the plain blocking sum must agree with the bucketer.
        fill()
        comm.allReduceSum(g)
        verify("allReduceSum(Float) on the gradient buffer", average: false)
    }
}

/// One line to stdout, unbuffered: it must survive an abort that follows.
func say(_ line: String) {
    FileHandle.standardOutput.write((line + "\n").data(using: .utf8)!)
}
