/// Philox-4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011),
/// the counter-based generator also used by cuRAND, JAX and PyTorch's CUDA back end.
///
/// A counter-based generator turns (key, counter) into random bits with no hidden state, so
/// the random numbers for "sample 4711 of epoch 3" are a pure function of the seed and those
/// indices: the same on any machine, any number of ranks, and after a resume.
public struct Philox: Sendable {
    public let key: (UInt32, UInt32)
    /// 128-bit counter; `next()` advances the low word.
    public var counter: (UInt32, UInt32, UInt32, UInt32)
    private var block: (UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0)
    private var used = 4

    /// A stream identified by a 64-bit seed and up to three 32-bit indices
    /// (e.g. purpose, epoch, global sample index).
    public init(seed: UInt64, _ a: UInt32 = 0, _ b: UInt32 = 0, _ c: UInt32 = 0) {
        key = (UInt32(truncatingIfNeeded: seed), UInt32(truncatingIfNeeded: seed >> 32))
        counter = (0, a, b, c)
    }

    /// One Philox-4x32-10 block for an explicit counter.
    public static func block(key: (UInt32, UInt32),
                             counter: (UInt32, UInt32, UInt32, UInt32)) -> (UInt32, UInt32, UInt32, UInt32) {
        var (c0, c1, c2, c3) = counter
        var (k0, k1) = key
        for _ in 0..<10 {
            let p0 = UInt64(0xD251_1F53) &* UInt64(c0)
            let p1 = UInt64(0xCD9E_8D57) &* UInt64(c2)
            let n0 = UInt32(truncatingIfNeeded: p1 >> 32) ^ c1 ^ k0
            let n2 = UInt32(truncatingIfNeeded: p0 >> 32) ^ c3 ^ k1
            c1 = UInt32(truncatingIfNeeded: p1)
            c3 = UInt32(truncatingIfNeeded: p0)
            c0 = n0
            c2 = n2
            k0 &+= 0x9E37_79B9
            k1 &+= 0xBB67_AE85
        }
        return (c0, c1, c2, c3)
    }

    /// The next 32 random bits of this stream.
    public mutating func next() -> UInt32 {
        if used == 4 {
            block = Philox.block(key: key, counter: counter)
            counter.0 &+= 1
            used = 0
        }
        defer { used += 1 }
        switch used {
        case 0: return block.0
        case 1: return block.1
        case 2: return block.2
        default: return block.3
        }
    }

    /// Uniform in [0, 1) with 24 bits of resolution (exactly representable in Float).
    public mutating func uniform() -> Float {
        Float(next() >> 8) * (1.0 / 16_777_216.0)
    }

    /// Uniform in [low, high).
    public mutating func uniform(_ low: Float, _ high: Float) -> Float {
        low + (high - low) * uniform()
    }

    /// Uniform integer in 0..<bound (Lemire's multiply-shift; bias < 2⁻³² · bound).
    public mutating func below(_ bound: Int) -> Int {
        precondition(bound > 0, "Philox.below: bound must be positive, got \(bound)")
        return Int((UInt64(next()) &* UInt64(bound)) >> 32)
    }

    /// Standard normal by Box–Muller (two uniforms per draw; the second is discarded for simplicity).
    public mutating func normal() -> Float {
        let u1 = Double(next() >> 8 + 1) * (1.0 / 16_777_217.0)  // (0, 1]
        let u2 = Double(next() >> 8) * (1.0 / 16_777_216.0)
        return Float((-2.0 * _log(u1)).squareRoot() * _cos(2.0 * Double.pi * u2))
    }
}

import Foundation
@inline(__always) private func _log(_ x: Double) -> Double { Foundation.log(x) }
@inline(__always) private func _cos(_ x: Double) -> Double { Foundation.cos(x) }

extension Philox {
    /// Fisher–Yates permutation of 0..<n drawn from this stream.
    public mutating func permutation(_ n: Int) -> [Int] {
        var p = Array(0..<n)
        if n < 2 { return p }
        for i in stride(from: n - 1, to: 0, by: -1) {
            let j = below(i + 1)
            p.swapAt(i, j)
        }
        return p
    }
}
