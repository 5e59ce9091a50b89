// The SIMD loops of depthwise convolutions (DepthwiseAlgorithm.swift): one
// channel plane against one KH x KW filter, 16 output columns per vector.
//
// Every loop reads a zero-padded plane through precomputed tap offsets, so
// the inner loops carry no bounds tests: the padding holds the image's
// border and the slack that the last, partial vector of a row reads. Only
// that vector's store is done lane by lane.

/// Floats per vector (loadVector/storeVector: WinogradTransforms.swift).
let depthwiseLanes = 16

/// `n` rounded up to whole vectors.
func depthwiseVectorWidth(_ n: Int) -> Int { (n + depthwiseLanes - 1) / depthwiseLanes * depthwiseLanes }

/// Stores (or adds, `accumulate`) the first `count` (1...16) lanes of `v` at `p`.
@inline(__always)
func storeLanes(_ v: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>, count: Int, accumulate: Bool) {
    if count == depthwiseLanes {
        storeVector(accumulate ? loadVector(p) + v : v, p)
    } else {
        for lane in 0..<count { p[lane] = accumulate ? p[lane] + v[lane] : v[lane] }
    }
}

/// `out[r, c] (=, or += when accumulate) sum over t of weights[t * weightStep]
/// * src[r * rowStep + taps[t] + c]` for r < rows, c < cols; `out` rows are
/// `outStride` floats apart. `src` must be readable up to column
/// `depthwiseVectorWidth(cols)` past each tap. Rows go four at a time so that
/// each tap's weight broadcast serves four vectors.
func depthwiseCorrelate(_ src: UnsafePointer<Float>, rowStep: Int, taps: UnsafeBufferPointer<Int>,
                        weights: UnsafePointer<Float>, weightStep: Int,
                        into out: UnsafeMutablePointer<Float>, rows: Int, cols: Int, outStride: Int, accumulate: Bool) {
    var r = 0
    while r + 4 <= rows {
        var c = 0
        while c < cols {
            var a0 = SIMD16<Float>(), a1 = SIMD16<Float>(), a2 = SIMD16<Float>(), a3 = SIMD16<Float>()
            let base = src + r * rowStep + c
            for t in 0..<taps.count {
                let w = SIMD16<Float>(repeating: weights[t * weightStep]), p = base + taps[t]
                a0 += w * loadVector(p)
                a1 += w * loadVector(p + rowStep)
                a2 += w * loadVector(p + 2 * rowStep)
                a3 += w * loadVector(p + 3 * rowStep)
            }
            let count = min(depthwiseLanes, cols - c), o = out + r * outStride + c
            storeLanes(a0, o, count: count, accumulate: accumulate)
            storeLanes(a1, o + outStride, count: count, accumulate: accumulate)
            storeLanes(a2, o + 2 * outStride, count: count, accumulate: accumulate)
            storeLanes(a3, o + 3 * outStride, count: count, accumulate: accumulate)
            c += depthwiseLanes
        }
        r += 4
    }
    while r < rows {
        var c = 0
        while c < cols {
            var a = SIMD16<Float>()
            let base = src + r * rowStep + c
            for t in 0..<taps.count { a += SIMD16<Float>(repeating: weights[t * weightStep]) * loadVector(base + taps[t]) }
            storeLanes(a, out + r * outStride + c, count: min(depthwiseLanes, cols - c), accumulate: accumulate)
            c += depthwiseLanes
        }
        r += 1
    }
}

/// The transpose of `depthwiseCorrelate` (one row per step):
/// `dst[r * rowStep + taps[t] + c] += weights[t] * g[r * gStride + c]` for r <
/// rows and c < `depthwiseVectorWidth(cols)`; `g`'s slack columns must be
/// zero (they add zero) and `dst` writable as far as they reach.
func depthwiseScatter(_ g: UnsafePointer<Float>, gStride: Int, rows: Int, cols: Int, weights: UnsafePointer<Float>,
                      taps: UnsafeBufferPointer<Int>, into dst: UnsafeMutablePointer<Float>, rowStep: Int) {
    for r in 0..<rows {
        var c = 0
        while c < cols {
            let v = loadVector(g + r * gStride + c), base = dst + r * rowStep + c
            for t in 0..<taps.count {
                let p = base + taps[t]
                storeVector(loadVector(p) + SIMD16<Float>(repeating: weights[t]) * v, p)
            }
            c += depthwiseLanes
        }
    }
}

/// `dW[t] += sum over r < rows, c of g[r * gStride + c] * src[r * rowStep +
/// taps[t] + c]`, c over whole vectors of `cols` (`g`'s slack columns must be
/// zero and `src`'s finite). Taps go four at a time so that each load of `g`
/// serves four products.
func depthwiseTapSums(_ g: UnsafePointer<Float>, gStride: Int, rows: Int, cols: Int, _ src: UnsafePointer<Float>,
                      rowStep: Int, taps: UnsafeBufferPointer<Int>, into dW: UnsafeMutablePointer<Float>) {
    var t = 0
    while t < taps.count {
        // A short last block repeats its first tap in the missing slots and drops their sums.
        let n = min(4, taps.count - t)
        let o0 = taps[t], o1 = taps[t + min(1, n - 1)], o2 = taps[t + min(2, n - 1)], o3 = taps[t + min(3, n - 1)]
        var a0 = SIMD16<Float>(), a1 = SIMD16<Float>(), a2 = SIMD16<Float>(), a3 = SIMD16<Float>()
        for r in 0..<rows {
            let gr = g + r * gStride, sr = src + r * rowStep
            var c = 0
            while c < cols {
                let v = loadVector(gr + c), s = sr + c
                a0 += v * loadVector(s + o0)
                a1 += v * loadVector(s + o1)
                a2 += v * loadVector(s + o2)
                a3 += v * loadVector(s + o3)
                c += depthwiseLanes
            }
        }
        dW[t] += a0.sum()
        if n > 1 { dW[t + 1] += a1.sum() }
        if n > 2 { dW[t + 2] += a2.sum() }
        if n > 3 { dW[t + 3] += a3.sum() }
        t += n
    }
}
