import TensorCore

/// `data.val_split`: a deterministic hold-out of /train. A permutation of the training indices
/// from the run's seed (its own Philox stream, apart from the epoch order) sends its first
/// round(N · fraction) samples to validation and the rest to training, each list in file order.
/// It depends on the seed, N and the fraction only, so every rank and every number of ranks
/// holds out the same samples, and `trainer eval --split val` finds them again.
public enum ValidationSplit {
    public static func holdOut(count: Int, fraction: Double, seed: UInt64) -> (train: [Int], val: [Int]) {
        precondition(count >= 2 && fraction > 0 && fraction < 1, "ValidationSplit: need >= 2 samples and a fraction in (0, 1)")
        let held = Swift.min(count - 1, Swift.max(1, Int((Double(count) * fraction).rounded())))
        var rng = Philox(seed: seed, 0x5A3B_1E01, 0x76A1)
        let order = rng.permutation(count)
        return (Array(order[held...]).sorted(), Array(order[..<held]).sorted())
    }

    /// First 12 hex digits of the SHA-256 of the indices ("3,17,42"): printed at start-up, so
    /// two runs can be seen to hold out the same samples.
    public static func fingerprint(_ indices: [Int]) -> String {
        String(SHA256.hex(indices.map(String.init).joined(separator: ",")).prefix(12))
    }
}
