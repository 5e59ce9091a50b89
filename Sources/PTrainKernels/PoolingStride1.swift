// Stride-1 pooling (DARTS's 3x3/1 candidates, Inception's pool branch).
// Each input row the window reads is first copied into a padded row (-inf
// borders for max, zeros for average), so every tap covers the whole output
// row: the inner loops are full-width vector loops with no clipping, even
// for 8-pixel rows. Taps are visited in the general path's row-major order,
// so each output sees the same comparisons (max) or additions (average)
// and the values are bitwise equal; padding never wins a max and adds 0.

/// Runs `body(paddedRow)` with a stack row of `width + 2 pad` floats whose
/// borders hold `border` (no heap allocation: the training step may call it).
@inline(__always)
private func withPaddedRow(width: Int, pad: Int, border: Float, _ body: (UnsafeMutablePointer<Float>) -> Void) {
    withUnsafeTemporaryAllocation(of: Float.self, capacity: width + 2 * pad) { buffer in
        let row = buffer.baseAddress!
        row.initialize(repeating: border, count: width + 2 * pad)
        body(row)
    }
}

/// Max pooling with stride 1 (see `maxPoolForward`): the strict `>` in tap
/// order from -inf, so a window's first in-image tap wins unless it is -inf
/// (the argmax of an all -inf window stays -1 here; the general path names
/// a tap, whose gradient is then routed the same way: none reaches it).
func maxPoolStride1(_ x: UnsafePointer<Float>, _ g: WindowGeometry, batch: Int,
                    _ y: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>) {
    let oh = g.outH, ow = g.outW, w = g.width, planeIn = g.height * w, planeOut = oh * ow
    let lanes16 = SIMD16<Int32>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
    let lanes8 = SIMD8<Int32>(0, 1, 2, 3, 4, 5, 6, 7)
    withPaddedRow(width: w, pad: g.padW, border: -.infinity) { padded in
        for p in 0..<(batch * g.channels) {
            let src = x + p * planeIn
            for oy in 0..<oh {
                let best = y + p * planeOut + oy * ow, at = argmax + p * planeOut + oy * ow
                best.update(repeating: -.infinity, count: ow)
                at.update(repeating: -1, count: ow)
                let y0 = oy - g.padH
                for ki in max(0, -y0)..<max(max(0, -y0), min(g.kernelH, g.height - y0)) {
                    let row = (y0 + ki) * w
                    (padded + g.padW).update(from: src + row, count: w)
                    for kj in 0..<g.kernelW {
                        // Output ox reads padded[ox + kj], input column ox + kj - pad.
                        let v = padded + kj, first = Int32(truncatingIfNeeded: row + kj - g.padW)
                        // The 16- and 8-lane loops are written out: one generic over the SIMD
                        // type was not specialised and ran 15x slower (12.2 against 0.84 ms,
                        // configs/bench/darts-ops.yaml).
                        if ow >= 16 {
                            // 16 columns at a time; the last group ends at the row's end
                            // (comparing a tap again with a best it set changes nothing).
                            var ox = 0
                            while ox < ow {
                                let o = min(ox, ow - 16)
                                let t = UnsafeRawPointer(v + o).loadUnaligned(as: SIMD16<Float>.self)
                                var b = UnsafeRawPointer(best + o).loadUnaligned(as: SIMD16<Float>.self)
                                var i = UnsafeRawPointer(at + o).loadUnaligned(as: SIMD16<Int32>.self)
                                let better = t .> b
                                b.replace(with: t, where: better)
                                i.replace(with: SIMD16<Int32>(repeating: first &+ Int32(o)) &+ lanes16, where: better)
                                UnsafeMutableRawPointer(best + o).storeBytes(of: b, as: SIMD16<Float>.self)
                                UnsafeMutableRawPointer(at + o).storeBytes(of: i, as: SIMD16<Int32>.self)
                                ox = o + 16
                            }
                        } else if ow >= 8 {
                            var ox = 0
                            while ox < ow {
                                let o = min(ox, ow - 8)
                                let t = UnsafeRawPointer(v + o).loadUnaligned(as: SIMD8<Float>.self)
                                var b = UnsafeRawPointer(best + o).loadUnaligned(as: SIMD8<Float>.self)
                                var i = UnsafeRawPointer(at + o).loadUnaligned(as: SIMD8<Int32>.self)
                                let better = t .> b
                                b.replace(with: t, where: better)
                                i.replace(with: SIMD8<Int32>(repeating: first &+ Int32(o)) &+ lanes8, where: better)
                                UnsafeMutableRawPointer(best + o).storeBytes(of: b, as: SIMD8<Float>.self)
                                UnsafeMutableRawPointer(at + o).storeBytes(of: i, as: SIMD8<Int32>.self)
                                ox = o + 8
                            }
                        } else {
                            for ox in 0..<ow where v[ox] > best[ox] {
                                best[ox] = v[ox]
                                at[ox] = first &+ Int32(ox)
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Average pooling with stride 1 (see `avgPoolForward`: padding counts).
func avgPoolStride1(_ x: UnsafePointer<Float>, _ g: WindowGeometry, batch: Int, _ y: UnsafeMutablePointer<Float>) {
    let oh = g.outH, ow = g.outW, w = g.width, planeIn = g.height * w, planeOut = oh * ow
    let inv = 1 / Float(g.kernelH * g.kernelW)
    withPaddedRow(width: w, pad: g.padW, border: 0) { padded in
        for p in 0..<(batch * g.channels) {
            let src = x + p * planeIn
            for oy in 0..<oh {
                let sum = y + p * planeOut + oy * ow
                sum.update(repeating: 0, count: ow)
                let y0 = oy - g.padH
                for ki in max(0, -y0)..<max(max(0, -y0), min(g.kernelH, g.height - y0)) {
                    (padded + g.padW).update(from: src + (y0 + ki) * w, count: w)
                    for kj in 0..<g.kernelW {
                        let v = padded + kj
                        for ox in 0..<ow { sum[ox] += v[ox] }
                    }
                }
                for ox in 0..<ow { sum[ox] *= inv }
            }
        }
    }
}

/// Gradient of `avgPoolStride1`, accumulated into `dx`: for each output row
/// and window row, the taps' shares summed in a padded row, whose inner
/// part is then added to the input row.
func avgPoolStride1Backward(_ dy: UnsafePointer<Float>, _ g: WindowGeometry, batch: Int, _ dx: UnsafeMutablePointer<Float>) {
    let oh = g.outH, ow = g.outW, w = g.width, planeIn = g.height * w, planeOut = oh * ow
    let inv = 1 / Float(g.kernelH * g.kernelW)
    withPaddedRow(width: max(w, ow), pad: g.kernelW, border: 0) { padded in
        let span = ow + g.kernelW - 1
        for p in 0..<(batch * g.channels) {
            let dst = dx + p * planeIn
            for oy in 0..<oh {
                let v = dy + p * planeOut + oy * ow
                // padded[ox + kj] collects output ox's share for tap kj (input column ox + kj - pad).
                padded.update(repeating: 0, count: span)
                for kj in 0..<g.kernelW {
                    let d = padded + kj
                    for ox in 0..<ow { d[ox] += v[ox] * inv }
                }
                let y0 = oy - g.padH
                let lo = max(0, -g.padW), hi = min(w, span - g.padW)
                for ki in max(0, -y0)..<max(max(0, -y0), min(g.kernelH, g.height - y0)) {
                    let row = dst + (y0 + ki) * w
                    for ix in lo..<max(lo, hi) { row[ix] += padded[ix + g.padW] }
                }
            }
        }
    }
}
