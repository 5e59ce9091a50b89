// Single-thread FP32 FMA peak probe: the denominator for "% of peak" figures.
//
// Zen 4 retires one 512-bit FMA per cycle (two 256-bit pipes) with 4-cycle
// latency, so at least 4 independent SIMD16 chains are needed to saturate it;
// the probe runs 16 so that it also saturates cores with 2 full 512-bit pipes
// (2 x 4 = 8) with margin, while still fitting in 32 vector registers.

/// Runs FMA chains on the calling thread for about `seconds` (wall clock,
/// monotonic) and returns the best observed rate over short trials, in
/// single-precision GFLOP/s (one FMA lane = 2 FLOP). Reads 118 on the Zen 4
/// development machine (32 FLOP/cycle at ~3.7 GHz). Not meant for use during
/// training: it keeps a core busy for `seconds`.
public func measurePeakGFLOPs(seconds: Double) -> Double {
    let clock = ContinuousClock()
    let deadline = clock.now + .nanoseconds(Int64(max(seconds, 0.001) * 1e9))
    // Multiplier and addend come from a non-inlined function so the optimiser
    // cannot fold the chains; x <- x*m + a converges to a/(1-m) (no overflow,
    // no denormals).
    let (m, a) = peakProbeCoefficients()
    var best = 0.0
    var sink = SIMD16<Float>()
    var iterations = 1 << 10                 // doubled until one trial lasts >= 1 ms
    repeat {
        let start = clock.now
        sink += fmaChains(iterations: iterations, multiplier: m, addend: a)
        let elapsed = clock.now - start
        let secs = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        // 16 chains x 16 lanes x 2 FLOP per iteration.
        let gflops = Double(iterations) * 16 * 16 * 2 / max(secs, 1e-9) / 1e9
        if secs < 1e-3 {
            iterations *= 2                  // too short to time reliably: don't count it
        } else {
            best = max(best, gflops)
        }
    } while clock.now < deadline || best == 0
    peakProbeSink(sink)
    return best
}

@inline(never)
private func peakProbeCoefficients() -> (Float, Float) { (0.999_999, 1e-6) }

/// Keeps `value` observable so the chains cannot be dead-code eliminated.
@inline(never) @_optimize(none)
private func peakProbeSink(_ value: SIMD16<Float>) { _ = value }

@inline(never)
private func fmaChains(iterations: Int, multiplier: Float, addend: Float) -> SIMD16<Float> {
    let m = SIMD16<Float>(repeating: multiplier)
    let a = SIMD16<Float>(repeating: addend)
    var x0 = SIMD16<Float>(repeating: 0.01), x1 = SIMD16<Float>(repeating: 0.02)
    var x2 = SIMD16<Float>(repeating: 0.03), x3 = SIMD16<Float>(repeating: 0.04)
    var x4 = SIMD16<Float>(repeating: 0.05), x5 = SIMD16<Float>(repeating: 0.06)
    var x6 = SIMD16<Float>(repeating: 0.07), x7 = SIMD16<Float>(repeating: 0.08)
    var x8 = SIMD16<Float>(repeating: 0.09), x9 = SIMD16<Float>(repeating: 0.10)
    var xa = SIMD16<Float>(repeating: 0.11), xb = SIMD16<Float>(repeating: 0.12)
    var xc = SIMD16<Float>(repeating: 0.13), xd = SIMD16<Float>(repeating: 0.14)
    var xe = SIMD16<Float>(repeating: 0.15), xf = SIMD16<Float>(repeating: 0.16)
    for _ in 0..<iterations {
        x0 = a.addingProduct(x0, m); x1 = a.addingProduct(x1, m)
        x2 = a.addingProduct(x2, m); x3 = a.addingProduct(x3, m)
        x4 = a.addingProduct(x4, m); x5 = a.addingProduct(x5, m)
        x6 = a.addingProduct(x6, m); x7 = a.addingProduct(x7, m)
        x8 = a.addingProduct(x8, m); x9 = a.addingProduct(x9, m)
        xa = a.addingProduct(xa, m); xb = a.addingProduct(xb, m)
        xc = a.addingProduct(xc, m); xd = a.addingProduct(xd, m)
        xe = a.addingProduct(xe, m); xf = a.addingProduct(xf, m)
    }
    return ((x0 + x1) + (x2 + x3)) + ((x4 + x5) + (x6 + x7))
         + ((x8 + x9) + (xa + xb)) + ((xc + xd) + (xe + xf))
}
