import Foundation
import CBLAS

/// Thin, typed entry points into OpenBLAS. Every matrix is row-major.
public enum BLAS {
    /// C ← alpha · op(A) · op(B) + beta · C, with op(A): M×K, op(B): K×N, C: M×N (row-major).
    @inlinable
    public static func sgemm(transA: Bool = false, transB: Bool = false,
                             m: Int, n: Int, k: Int, alpha: Float = 1,
                             a: UnsafePointer<Float>, lda: Int,
                             b: UnsafePointer<Float>, ldb: Int,
                             beta: Float = 0,
                             c: UnsafeMutablePointer<Float>, ldc: Int) {
        cblas_sgemm(CblasRowMajor,
                    transA ? CblasTrans : CblasNoTrans,
                    transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha,
                    a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// Number of threads OpenBLAS uses for the following calls in this process.
    public static var threads: Int {
        get { Int(openblas_get_num_threads()) }
        set { openblas_set_num_threads(Int32(newValue)) }
    }
}

extension BLAS {
    /// The kernel set OpenBLAS chose when it loaded ("Prescott", "Haswell", "SkylakeX", ...).
    public static var coreName: String { String(cString: openblas_get_corename()) }

    /// What `OPENBLAS_CORETYPE` should be when OpenBLAS did not recognise this CPU and fell back
    /// to a generic SSE3 kernel set although the CPU has AVX2/AVX-512 (OpenBLAS 0.3.21 does this
    /// on Intel Emerald Rapids: sgemm 24 instead of 134 GFLOP/s on one core); nil when its choice
    /// stands or the user set the variable.
    public static func betterCoreType(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        guard environment["OPENBLAS_CORETYPE"] == nil else { return nil }
        let generic: Set<String> = ["prescott", "core2", "penryn", "dunnington", "nehalem", "atom", "katmai",
                                    "coppermine", "northwood", "banias", "sandybridge"]
        guard generic.contains(coreName.lowercased()) else { return nil }
        switch trainer_cpu_vector_level() {
        case 2: return "SkylakeX"
        case 1: return "Haswell"
        default: return nil
        }
    }

    /// Re-executes this program with `OPENBLAS_CORETYPE` set when `betterCoreType()` names one
    /// (the variable is read only when the library loads, so the process must restart; the pid
    /// stays, so do it before MPI_Init). Returns when nothing needs to change or exec failed.
    public static func reexecWithBetterCoreType() {
        guard let core = betterCoreType() else { return }
        setenv("OPENBLAS_CORETYPE", core, 1)
        let args = CommandLine.arguments
        var argv: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
        execv("/proc/self/exe", &argv)
        for p in argv { free(p) }   // exec failed: carry on with the generic kernels
    }
}
