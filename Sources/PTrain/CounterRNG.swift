// Counter-based random numbers: every draw is a pure function of a key
// (seed, stream, indices), so results never depend on which thread or worker
// asks, or in which order. Used for initialisation, epoch permutations,
// dropout masks and augmentation (keyed by seed, epoch, sample index).

/// SplitMix64 finaliser: a bijective 64-bit mixer with good avalanche.
@inline(__always)
public func mix64(_ z0: UInt64) -> UInt64 {
    var z = z0 &+ 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}

/// Named streams so that two uses of the same seed never share draws.
public enum RandomStream: UInt64, Sendable {
    case initialisation = 1, shuffle = 2, dropout = 3, augmentation = 4, synthetic = 5, search = 6
    /// The validation hold-out of the training split (`data.validation: FRACTION`).
    case validation = 7
    /// The architecture half of the training split (`train.architecture.split`),
    /// and that half's epoch order.
    case architecture = 8
}

/// A small generator whose state starts from a key. Value type: copying it
/// forks the sequence; it is never shared between threads.
public struct CounterRNG: Sendable {
    public private(set) var state: UInt64

    /// Generator keyed by `(seed, stream, a, b, c)`.
    public init(seed: UInt64, stream: RandomStream, _ a: UInt64 = 0, _ b: UInt64 = 0, _ c: UInt64 = 0) {
        var s = mix64(seed ^ (stream.rawValue &* 0xD1B5_4A32_D192_ED03))
        s = mix64(s ^ a); s = mix64(s ^ (b &* 0x8CB9_2BA7_2F3D_8DD7)); s = mix64(s ^ (c &* 0xA24B_AED4_963E_E407))
        state = s
    }

    /// Next 64 random bits.
    @inline(__always)
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return mix64(state)
    }

    /// Uniform in [0, 1) with 24 bits of resolution.
    @inline(__always)
    public mutating func uniform() -> Float { Float(next() >> 40) * (1.0 / 16_777_216.0) }

    /// Uniform in [0, 1) with 53 bits.
    public mutating func uniformDouble() -> Double { Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0) }

    /// Uniform integer in 0..<bound (bound > 0), without modulo bias (Lemire).
    public mutating func below(_ bound: Int) -> Int {
        precondition(bound > 0)
        let b = UInt64(bound)
        var m = next().multipliedFullWidth(by: b)
        if m.low < b {
            let t = (0 &- b) % b
            while m.low < t { m = next().multipliedFullWidth(by: b) }
        }
        return Int(m.high)
    }

    /// Standard normal (Box-Muller, one value per two uniforms).
    public mutating func normal() -> Float {
        let u1 = max(uniformDouble(), 1e-300), u2 = uniformDouble()
        return Float((-2 * u1.log_()).squareRoot() * cosine(2 * Double.pi * u2))
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
@inline(__always) private func cosine(_ x: Double) -> Double { cos(x) }
extension Double { @inline(__always) fileprivate func log_() -> Double { log(self) } }

/// The permutation of `0..<count` used for `epoch` (Fisher-Yates keyed by
/// seed, stream and epoch; the architecture half of a search has its own stream).
public func epochPermutation(count: Int, seed: UInt64, epoch: Int, stream: RandomStream = .shuffle) -> [Int] {
    var order = Array(0..<count)
    var rng = CounterRNG(seed: seed, stream: stream, UInt64(epoch))
    if count > 1 {
        for i in stride(from: count - 1, to: 0, by: -1) {
            order.swapAt(i, rng.below(i + 1))
        }
    }
    return order
}
