// The segmented SGEMM micro-kernels: k steps in tap segments
// (TapConvolution.swift), A unpacked with strided rows (WinogradConvolution.swift),
// or both (TapConvolution's weight gradients). Same body, contract and
// accumulation order as the plain ones (GEMMMicroKernel.swift).

/// The tap-segmented variants (TapConvolution.swift): `tapCount` segments of
/// `kc` k steps, segment s reading B at `b + taps[s]`.
@inline(__always)
func sgemmTapMicroKernel(rows: Int, width: Int, kc: Int, a: UnsafePointer<Float>,
                         b: UnsafePointer<Float>, bRowStride: Int, taps: UnsafePointer<Int>, tapCount: Int,
                         c: UnsafeMutablePointer<Float>, ldc: Int, beta: Float) {
    if width == gemmNR {
        if rows > 6 {
            sgemmTapKernel8x32(kc: kc, a: a, b: b, bRowStride: bRowStride, taps: taps, tapCount: tapCount,
                                     c: c, ldc: ldc, rows: rows, beta: beta)
        } else if rows > 4 {
            sgemmTapKernel6x32(kc: kc, a: a, b: b, bRowStride: bRowStride, taps: taps, tapCount: tapCount,
                                     c: c, ldc: ldc, rows: rows, beta: beta)
        } else {
            sgemmTapKernel4x32(kc: kc, a: a, b: b, bRowStride: bRowStride, taps: taps, tapCount: tapCount,
                                     c: c, ldc: ldc, rows: rows, beta: beta)
        }
    } else {
        if rows > 6 {
            sgemmTapKernel8x16(kc: kc, a: a, b: b, bRowStride: bRowStride, taps: taps, tapCount: tapCount,
                                     c: c, ldc: ldc, rows: rows, beta: beta)
        } else if rows > 4 {
            sgemmTapKernel6x16(kc: kc, a: a, b: b, bRowStride: bRowStride, taps: taps, tapCount: tapCount,
                                     c: c, ldc: ldc, rows: rows, beta: beta)
        } else {
            sgemmTapKernel4x16(kc: kc, a: a, b: b, bRowStride: bRowStride, taps: taps, tapCount: tapCount,
                                     c: c, ldc: ldc, rows: rows, beta: beta)
        }
    }
}

@inline(never)
func sgemmTapKernel8x32(kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, bRowStride: Int,
                              taps: UnsafePointer<Int>, tapCount: Int,
                              c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, beta: Float) {
    microKernel(height: 8, twoVectors: true, kc: kc, a: a, b: b, bRowStride: bRowStride,
                c: c, ldc: ldc, rows: rows, beta: beta, taps: taps, tapCount: tapCount)
}

@inline(never)
func sgemmTapKernel8x16(kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, bRowStride: Int,
                              taps: UnsafePointer<Int>, tapCount: Int,
                              c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, beta: Float) {
    microKernel(height: 8, twoVectors: false, kc: kc, a: a, b: b, bRowStride: bRowStride,
                c: c, ldc: ldc, rows: rows, beta: beta, taps: taps, tapCount: tapCount)
}

/// 6 rows: LeNet's 6-filter conv1 and the 6-channel input gradient of its
/// conv2 would spend a quarter of the 8-row kernel's FMAs on padding.
@inline(never)
func sgemmTapKernel6x32(kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, bRowStride: Int,
                              taps: UnsafePointer<Int>, tapCount: Int,
                              c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, beta: Float) {
    microKernel(height: 6, twoVectors: true, kc: kc, a: a, b: b, bRowStride: bRowStride,
                c: c, ldc: ldc, rows: rows, beta: beta, taps: taps, tapCount: tapCount)
}

@inline(never)
func sgemmTapKernel6x16(kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, bRowStride: Int,
                              taps: UnsafePointer<Int>, tapCount: Int,
                              c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, beta: Float) {
    microKernel(height: 6, twoVectors: false, kc: kc, a: a, b: b, bRowStride: bRowStride,
                c: c, ldc: ldc, rows: rows, beta: beta, taps: taps, tapCount: tapCount)
}

@inline(never)
func sgemmTapKernel4x32(kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, bRowStride: Int,
                              taps: UnsafePointer<Int>, tapCount: Int,
                              c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, beta: Float) {
    microKernel(height: 4, twoVectors: true, kc: kc, a: a, b: b, bRowStride: bRowStride,
                c: c, ldc: ldc, rows: rows, beta: beta, taps: taps, tapCount: tapCount)
}

@inline(never)
func sgemmTapKernel4x16(kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, bRowStride: Int,
                              taps: UnsafePointer<Int>, tapCount: Int,
                              c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, beta: Float) {
    microKernel(height: 4, twoVectors: false, kc: kc, a: a, b: b, bRowStride: bRowStride,
                c: c, ldc: ldc, rows: rows, beta: beta, taps: taps, tapCount: tapCount)
}

/// The unpacked-A variants (see `aRowStride` above): `a` row i of step p at
/// `a[i*lda + p]`, read for i < rows only.
@inline(__always)
func sgemmRowsMicroKernel(rows: Int, width: Int, kc: Int, a: UnsafePointer<Float>, lda: Int,
                          b: UnsafePointer<Float>, bRowStride: Int,
                          c: UnsafeMutablePointer<Float>, ldc: Int, beta: Float) {
    if width == gemmNR {
        if rows > 4 {
            sgemmRowsKernel8x32(kc: kc, a: a, lda: lda, b: b, bRowStride: bRowStride, c: c, ldc: ldc, rows: rows, beta: beta)
        } else {
            sgemmRowsKernel4x32(kc: kc, a: a, lda: lda, b: b, bRowStride: bRowStride, c: c, ldc: ldc, rows: rows, beta: beta)
        }
    } else {
        if rows > 4 {
            sgemmRowsKernel8x16(kc: kc, a: a, lda: lda, b: b, bRowStride: bRowStride, c: c, ldc: ldc, rows: rows, beta: beta)
        } else {
            sgemmRowsKernel4x16(kc: kc, a: a, lda: lda, b: b, bRowStride: bRowStride, c: c, ldc: ldc, rows: rows, beta: beta)
        }
    }
}

@inline(never)
func sgemmRowsKernel8x32(kc: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, bRowStride: Int,
                               c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, beta: Float) {
    microKernel(height: 8, twoVectors: true, kc: kc, a: a, b: b, bRowStride: bRowStride,
                c: c, ldc: ldc, rows: rows, beta: beta, aRowStride: lda)
}

@inline(never)
func sgemmRowsKernel8x16(kc: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, bRowStride: Int,
                               c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, beta: Float) {
    microKernel(height: 8, twoVectors: false, kc: kc, a: a, b: b, bRowStride: bRowStride,
                c: c, ldc: ldc, rows: rows, beta: beta, aRowStride: lda)
}

@inline(never)
func sgemmRowsKernel4x32(kc: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, bRowStride: Int,
                               c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, beta: Float) {
    microKernel(height: 4, twoVectors: true, kc: kc, a: a, b: b, bRowStride: bRowStride,
                c: c, ldc: ldc, rows: rows, beta: beta, aRowStride: lda)
}

@inline(never)
func sgemmRowsKernel4x16(kc: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, bRowStride: Int,
                               c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, beta: Float) {
    microKernel(height: 4, twoVectors: false, kc: kc, a: a, b: b, bRowStride: bRowStride,
                c: c, ldc: ldc, rows: rows, beta: beta, aRowStride: lda)
}

/// Tap-segmented with A unpacked (`aRowStride` above): the weight gradients'
/// dY, `a` row i (output channel) at `a + i*lda`, read only for i < rows.
@inline(__always)
func sgemmRowsTapMicroKernel(rows: Int, width: Int, kc: Int, a: UnsafePointer<Float>, lda: Int,
                             b: UnsafePointer<Float>, bRowStride: Int, taps: UnsafePointer<Int>, tapCount: Int,
                             c: UnsafeMutablePointer<Float>, ldc: Int, beta: Float) {
    if width == gemmNR {
        if rows > 6 {
            sgemmRowsTapKernel8x32(kc: kc, a: a, lda: lda, b: b, bRowStride: bRowStride, taps: taps, tapCount: tapCount,
                                         c: c, ldc: ldc, rows: rows, beta: beta)
        } else if rows > 4 {
            sgemmRowsTapKernel6x32(kc: kc, a: a, lda: lda, b: b, bRowStride: bRowStride, taps: taps, tapCount: tapCount,
                                         c: c, ldc: ldc, rows: rows, beta: beta)
        } else {
            sgemmRowsTapKernel4x32(kc: kc, a: a, lda: lda, b: b, bRowStride: bRowStride, taps: taps, tapCount: tapCount,
                                         c: c, ldc: ldc, rows: rows, beta: beta)
        }
    } else {
        if rows > 6 {
            sgemmRowsTapKernel8x16(kc: kc, a: a, lda: lda, b: b, bRowStride: bRowStride, taps: taps, tapCount: tapCount,
                                         c: c, ldc: ldc, rows: rows, beta: beta)
        } else if rows > 4 {
            sgemmRowsTapKernel6x16(kc: kc, a: a, lda: lda, b: b, bRowStride: bRowStride, taps: taps, tapCount: tapCount,
                                         c: c, ldc: ldc, rows: rows, beta: beta)
        } else {
            sgemmRowsTapKernel4x16(kc: kc, a: a, lda: lda, b: b, bRowStride: bRowStride, taps: taps, tapCount: tapCount,
                                         c: c, ldc: ldc, rows: rows, beta: beta)
        }
    }
}

@inline(never)
func sgemmRowsTapKernel8x32(kc: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, bRowStride: Int,
                                  taps: UnsafePointer<Int>, tapCount: Int,
                                  c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, beta: Float) {
    microKernel(height: 8, twoVectors: true, kc: kc, a: a, b: b, bRowStride: bRowStride,
                c: c, ldc: ldc, rows: rows, beta: beta, taps: taps, tapCount: tapCount, aRowStride: lda)
}

@inline(never)
func sgemmRowsTapKernel8x16(kc: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, bRowStride: Int,
                                  taps: UnsafePointer<Int>, tapCount: Int,
                                  c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, beta: Float) {
    microKernel(height: 8, twoVectors: false, kc: kc, a: a, b: b, bRowStride: bRowStride,
                c: c, ldc: ldc, rows: rows, beta: beta, taps: taps, tapCount: tapCount, aRowStride: lda)
}

@inline(never)
func sgemmRowsTapKernel6x32(kc: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, bRowStride: Int,
                                  taps: UnsafePointer<Int>, tapCount: Int,
                                  c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, beta: Float) {
    microKernel(height: 6, twoVectors: true, kc: kc, a: a, b: b, bRowStride: bRowStride,
                c: c, ldc: ldc, rows: rows, beta: beta, taps: taps, tapCount: tapCount, aRowStride: lda)
}

@inline(never)
func sgemmRowsTapKernel6x16(kc: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, bRowStride: Int,
                                  taps: UnsafePointer<Int>, tapCount: Int,
                                  c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, beta: Float) {
    microKernel(height: 6, twoVectors: false, kc: kc, a: a, b: b, bRowStride: bRowStride,
                c: c, ldc: ldc, rows: rows, beta: beta, taps: taps, tapCount: tapCount, aRowStride: lda)
}

@inline(never)
func sgemmRowsTapKernel4x32(kc: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, bRowStride: Int,
                                  taps: UnsafePointer<Int>, tapCount: Int,
                                  c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, beta: Float) {
    microKernel(height: 4, twoVectors: true, kc: kc, a: a, b: b, bRowStride: bRowStride,
                c: c, ldc: ldc, rows: rows, beta: beta, taps: taps, tapCount: tapCount, aRowStride: lda)
}

@inline(never)
func sgemmRowsTapKernel4x16(kc: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, bRowStride: Int,
                                  taps: UnsafePointer<Int>, tapCount: Int,
                                  c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, beta: Float) {
    microKernel(height: 4, twoVectors: false, kc: kc, a: a, b: b, bRowStride: bRowStride,
                c: c, ldc: ldc, rows: rows, beta: beta, taps: taps, tapCount: tapCount, aRowStride: lda)
}
