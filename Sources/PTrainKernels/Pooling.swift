// Max and average pooling over NCHW planes, any window, stride and padding
// (overlapping windows such as AlexNet's 3x3/2 included). Output size follows
// `WindowGeometry` (floor mode). Padded taps never win a max and, for average
// pooling, count in the divisor (PyTorch's default `count_include_pad=True`).

/// Max pooling of `x [N, C, H, W]` into `y [N, C, OH, OW]`. `argmax [N, C, OH, OW]`
/// receives the winning tap's index within its input plane (`iy * W + ix`), so
/// that backward routes the gradient without recomputing the max. A window with
/// no in-image tap (possible only with padding >= kernel) yields -inf and -1.
public func maxPoolForward(_ x: UnsafePointer<Float>, _ g: WindowGeometry, batch: Int,
                           _ y: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>) {
    if maxPoolIsPlain2x2(g) {
        maxPool2x2(x, g, batch: batch, y, argmax: argmax)
        return
    }
    if g.strideH == 1 && g.strideW == 1 {
        maxPoolStride1(x, g, batch: batch, y, argmax: argmax)
        return
    }
    let oh = g.outH, ow = g.outW, planeIn = g.height * g.width, planeOut = oh * ow
    // Outputs whose window lies wholly inside the image take the fast path:
    // no clipping, and a branch-free running max (data-dependent branches
    // mispredict about half the time on real activations).
    let oxLo = min(ow, (g.padW + g.strideW - 1) / g.strideW)
    let oxHi = max(oxLo, min(ow, (g.width + g.padW - g.kernelW) / g.strideW + 1))
    for p in 0..<(batch * g.channels) {
        let src = x + p * planeIn
        let dst = y + p * planeOut
        let idx = argmax + p * planeOut
        for oy in 0..<oh {
            let y0 = oy * g.strideH - g.padH
            let ky0 = max(0, -y0), ky1 = min(g.kernelH, g.height - y0)
            let rowInside = ky0 == 0 && ky1 == g.kernelH
            // Stride 2 with at least 8 horizontally complete windows (AlexNet's
            // 3x3/2): those 8 at a time, the last group overlapping the one
            // before (rewriting equal values); the rest below.
            var simdDone = 0..<0
            if g.strideW == 2 && oxHi - oxLo >= 8 && ky0 < ky1 {
                var ox = oxLo
                while ox < oxHi {
                    let start = min(ox, oxHi - 8), x0 = 2 * start - g.padW
                    // The 16-float loads reach one float past the 8th window's
                    // last tap: load one float early (odd lanes) when that
                    // float would leave the row.
                    let early = 2 * (start + 7) - g.padW + g.kernelW >= g.width
                    guard !early || x0 >= 1 else { break }
                    maxPoolStride2x8(src, g, rows: (y0 + ky0)..<(y0 + ky1), x0: x0, early: early,
                                     into: dst + oy * ow + start, argmax: idx + oy * ow + start)
                    simdDone = oxLo..<(start + 8)
                    ox = start + 8
                }
            }
            var ox = 0
            while ox < ow {
                if simdDone.contains(ox) {
                    ox = simdDone.upperBound
                    continue
                }
                if rowInside && ox >= oxLo && ox < oxHi {
                    // Interior run: every window is complete.
                    let x0 = ox * g.strideW - g.padW
                    let first = y0 * g.width + x0
                    var best = src[first]
                    var bestIndex = first
                    for ki in 0..<g.kernelH {
                        let row = first + ki * g.width
                        for kj in 0..<g.kernelW {
                            let v = src[row + kj]
                            let better = v > best
                            best = better ? v : best
                            bestIndex = better ? row + kj : bestIndex
                        }
                    }
                    dst[oy * ow + ox] = best
                    idx[oy * ow + ox] = Int32(truncatingIfNeeded: bestIndex)
                    ox += 1
                    continue
                }
                let x0 = ox * g.strideW - g.padW
                let kx0 = max(0, -x0), kx1 = min(g.kernelW, g.width - x0)
                var best = -Float.infinity
                var bestIndex: Int32 = -1
                if ky0 < ky1 && kx0 < kx1 {
                    for ki in ky0..<ky1 {
                        let row = (y0 + ki) * g.width + x0
                        for kj in kx0..<kx1 where src[row + kj] > best || bestIndex < 0 {
                            best = src[row + kj]
                            bestIndex = Int32(row + kj)
                        }
                    }
                }
                dst[oy * ow + ox] = best
                idx[oy * ow + ox] = bestIndex
                ox += 1
            }
        }
    }
}

/// Eight horizontally adjacent, horizontally complete windows of a stride-2
/// max pool over the input rows `rows` (the window's rows inside the image),
/// starting at input column `x0`: tap (iy, kj) of the eight windows is the
/// even lanes of 16 floats loaded at `iy * W + x0 + kj` (with `early`, the odd
/// lanes of 16 loaded one float before: the caller uses it when the last
/// lane would leave the row). Taps are compared in the scalar path's order
/// (row-major, strict `>`), so values and argmax indices are the same.
@inline(__always)
private func maxPoolStride2x8(_ src: UnsafePointer<Float>, _ g: WindowGeometry, rows: Range<Int>, x0: Int, early: Bool,
                              into dst: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>) {
    let lanes = SIMD8<Int32>(0, 2, 4, 6, 8, 10, 12, 14)
    var best = SIMD8<Float>(repeating: 0), at = SIMD8<Int32>(repeating: 0)
    var first = true
    for iy in rows {
        let row = iy * g.width + x0
        for kj in 0..<g.kernelW {
            let v = early ? UnsafeRawPointer(src + row + kj - 1).loadUnaligned(as: SIMD16<Float>.self).oddHalf
                          : UnsafeRawPointer(src + row + kj).loadUnaligned(as: SIMD16<Float>.self).evenHalf
            let index = lanes &+ Int32(truncatingIfNeeded: row + kj)
            if first {
                best = v; at = index; first = false
            } else {
                let better = v .> best
                best.replace(with: v, where: better)
                at.replace(with: index, where: better)
            }
        }
    }
    UnsafeMutableRawPointer(dst).storeBytes(of: best, as: SIMD8<Float>.self)
    UnsafeMutableRawPointer(argmax).storeBytes(of: at, as: SIMD8<Int32>.self)
}

/// The 2x2/2 unpadded case (LeNet's pools), 8 outputs at a time: the even
/// and odd lanes of 16 inputs from each of the window's two rows are its four
/// taps, compared in the generic path's order (row-major, strict `>`), so the
/// values and argmax indices are the same.
@inline(__always)
private func maxPool2x2(_ x: UnsafePointer<Float>, _ g: WindowGeometry, batch: Int,
                        _ y: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>) {
    let oh = g.outH, ow = g.outW, w = g.width, planeIn = g.height * w, planeOut = oh * ow
    let lanes = SIMD8<Int32>(0, 2, 4, 6, 8, 10, 12, 14)
    for p in 0..<(batch * g.channels) {
        let src = x + p * planeIn, dst = y + p * planeOut, idx = argmax + p * planeOut
        for oy in 0..<oh {
            let r0 = 2 * oy * w, r1 = r0 + w
            var ox = 0
            while ox + 8 <= ow {
                let top = UnsafeRawPointer(src + r0 + 2 * ox).loadUnaligned(as: SIMD16<Float>.self)
                let bottom = UnsafeRawPointer(src + r1 + 2 * ox).loadUnaligned(as: SIMD16<Float>.self)
                let base = lanes &+ Int32(truncatingIfNeeded: r0 + 2 * ox)
                var best = top.evenHalf, at = base
                var better = top.oddHalf .> best
                best.replace(with: top.oddHalf, where: better); at.replace(with: base &+ 1, where: better)
                better = bottom.evenHalf .> best
                best.replace(with: bottom.evenHalf, where: better); at.replace(with: base &+ Int32(w), where: better)
                better = bottom.oddHalf .> best
                best.replace(with: bottom.oddHalf, where: better); at.replace(with: base &+ Int32(w + 1), where: better)
                UnsafeMutableRawPointer(dst + oy * ow + ox).storeBytes(of: best, as: SIMD8<Float>.self)
                UnsafeMutableRawPointer(idx + oy * ow + ox).storeBytes(of: at, as: SIMD8<Int32>.self)
                ox += 8
            }
            while ox < ow {
                var best = src[r0 + 2 * ox], at = r0 + 2 * ox
                @inline(__always) func consider(_ tap: Int) { if src[tap] > best { best = src[tap]; at = tap } }
                consider(r0 + 2 * ox + 1); consider(r1 + 2 * ox); consider(r1 + 2 * ox + 1)
                dst[oy * ow + ox] = best
                idx[oy * ow + ox] = Int32(truncatingIfNeeded: at)
                ox += 1
            }
        }
    }
}

/// Floats of scratch `maxPoolValues` needs: one input row and slack for
/// its 16-float loads.
public func maxPoolScratchCount(_ g: WindowGeometry) -> Int { g.width + 16 }

/// Whether `maxPoolForward` takes its 2x2/2 SIMD path (then as fast as
/// `maxPoolValues`, argmax included).
public func maxPoolIsPlain2x2(_ g: WindowGeometry) -> Bool {
    g.kernelH == 2 && g.kernelW == 2 && g.strideH == 2 && g.strideW == 2 && g.padH == 0 && g.padW == 0
}

/// Max pooling without argmax (inference), separably: for each output row,
/// the element-wise max of its window's in-image input rows into `scratch`
/// (`maxPoolScratchCount` floats), then each output's max along its window's
/// in-image columns of that row: K + K compares per output instead of K * K,
/// and no indices. The values are `maxPoolForward`'s (max is order-free;
/// only the sign of an all-zero max and NaN propagation may differ).
public func maxPoolValues(_ x: UnsafePointer<Float>, _ g: WindowGeometry, batch: Int,
                          _ y: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>) {
    let oh = g.outH, ow = g.outW, w = g.width, planeIn = g.height * w, planeOut = oh * ow
    // Outputs whose window is horizontally complete, as in maxPoolForward.
    let oxLo = min(ow, (g.padW + g.strideW - 1) / g.strideW)
    let oxHi = max(oxLo, min(ow, (w + g.padW - g.kernelW) / g.strideW + 1))
    for p in 0..<(batch * g.channels) {
        let src = x + p * planeIn, dst = y + p * planeOut
        for oy in 0..<oh {
            let y0 = oy * g.strideH - g.padH
            let ky0 = max(0, -y0), ky1 = min(g.kernelH, g.height - y0)
            let out = dst + oy * ow
            guard ky0 < ky1 else {
                out.update(repeating: -.infinity, count: ow)   // the window holds padding only
                continue
            }
            // Vertical: the max of the window's rows.
            copyRow(src + (y0 + ky0) * w, to: scratch, count: w)
            for ki in (ky0 + 1)..<ky1 {
                let row = src + (y0 + ki) * w
                var i = 0
                while i + 16 <= w {
                    let v = UnsafeRawPointer(row + i).loadUnaligned(as: SIMD16<Float>.self)
                    let m = UnsafeRawPointer(scratch + i).loadUnaligned(as: SIMD16<Float>.self)
                    UnsafeMutableRawPointer(scratch + i).storeBytes(of: m.replacing(with: v, where: v .> m), as: SIMD16<Float>.self)
                    i += 16
                }
                while i < w { scratch[i] = max(scratch[i], row[i]); i += 1 }
            }
            // Horizontal. Stride 2: 8 complete windows at a time (the even
            // lanes of 16 floats per tap; the loads' last float is slack),
            // the last group overlapping the one before.
            var ox = 0
            if g.strideW == 2 && oxHi - oxLo >= 8 {
                var start = oxLo
                while start < oxHi {
                    let first = min(start, oxHi - 8), x0 = 2 * first - g.padW
                    var best = UnsafeRawPointer(scratch + x0).loadUnaligned(as: SIMD16<Float>.self).evenHalf
                    for kj in 1..<g.kernelW {
                        let v = UnsafeRawPointer(scratch + x0 + kj).loadUnaligned(as: SIMD16<Float>.self).evenHalf
                        best.replace(with: v, where: v .> best)
                    }
                    UnsafeMutableRawPointer(out + first).storeBytes(of: best, as: SIMD8<Float>.self)
                    start = first + 8
                }
                // The clipped windows before and after.
                for o in 0..<oxLo { out[o] = clippedRowMax(scratch, g, ox: o) }
                for o in oxHi..<ow { out[o] = clippedRowMax(scratch, g, ox: o) }
                continue
            }
            while ox < ow {
                out[ox] = clippedRowMax(scratch, g, ox: ox)
                ox += 1
            }
        }
    }
}

/// The max of output column `ox`'s window over one (vertically reduced) row;
/// -inf when the window holds padding only.
@inline(__always)
private func clippedRowMax(_ row: UnsafePointer<Float>, _ g: WindowGeometry, ox: Int) -> Float {
    let x0 = ox * g.strideW - g.padW
    let kx0 = max(0, -x0), kx1 = min(g.kernelW, g.width - x0)
    var best = -Float.infinity
    for kj in kx0..<max(kx0, kx1) { best = max(best, row[x0 + kj]) }
    return best
}

/// `dx[argmax] += dy` for every output position (accumulates).
public func maxPoolBackward(_ dy: UnsafePointer<Float>, argmax: UnsafePointer<Int32>, _ g: WindowGeometry,
                            batch: Int, _ dx: UnsafeMutablePointer<Float>) {
    let planeIn = g.height * g.width, planeOut = g.outH * g.outW
    for p in 0..<(batch * g.channels) {
        let src = dy + p * planeOut
        let idx = argmax + p * planeOut
        let dst = dx + p * planeIn
        for o in 0..<planeOut where idx[o] >= 0 { dst[Int(idx[o])] += src[o] }
    }
}

/// Average pooling of `x [N, C, H, W]` into `y [N, C, OH, OW]`; divisor KH*KW
/// (padding counts, as in PyTorch's default).
public func avgPoolForward(_ x: UnsafePointer<Float>, _ g: WindowGeometry, batch: Int,
                           _ y: UnsafeMutablePointer<Float>) {
    if g.strideH == 1 && g.strideW == 1 { return avgPoolStride1(x, g, batch: batch, y) }
    let oh = g.outH, ow = g.outW, planeIn = g.height * g.width, planeOut = oh * ow
    let inv = 1 / Float(g.kernelH * g.kernelW)
    for p in 0..<(batch * g.channels) {
        let src = x + p * planeIn
        let dst = y + p * planeOut
        for oy in 0..<oh {
            let y0 = oy * g.strideH - g.padH
            let ky0 = max(0, -y0), ky1 = min(g.kernelH, g.height - y0)
            for ox in 0..<ow {
                let x0 = ox * g.strideW - g.padW
                let kx0 = max(0, -x0), kx1 = min(g.kernelW, g.width - x0)
                var s: Float = 0
                if ky0 < ky1 && kx0 < kx1 {
                    for ki in ky0..<ky1 {
                        let row = (y0 + ki) * g.width + x0
                        for kj in kx0..<kx1 { s += src[row + kj] }
                    }
                }
                dst[oy * ow + ox] = s * inv
            }
        }
    }
}

/// Gradient of `avgPoolForward`, accumulated into `dx`.
public func avgPoolBackward(_ dy: UnsafePointer<Float>, _ g: WindowGeometry, batch: Int,
                            _ dx: UnsafeMutablePointer<Float>) {
    if g.strideH == 1 && g.strideW == 1 { return avgPoolStride1Backward(dy, g, batch: batch, dx) }
    let oh = g.outH, ow = g.outW, planeIn = g.height * g.width, planeOut = oh * ow
    let inv = 1 / Float(g.kernelH * g.kernelW)
    for p in 0..<(batch * g.channels) {
        let src = dy + p * planeOut
        let dst = dx + p * planeIn
        for oy in 0..<oh {
            let y0 = oy * g.strideH - g.padH
            let ky0 = max(0, -y0), ky1 = min(g.kernelH, g.height - y0)
            for ox in 0..<ow {
                let x0 = ox * g.strideW - g.padW
                let kx0 = max(0, -x0), kx1 = min(g.kernelW, g.width - x0)
                guard ky0 < ky1 && kx0 < kx1 else { continue }
                let v = src[oy * ow + ox] * inv
                for ki in ky0..<ky1 {
                    let row = (y0 + ki) * g.width + x0
                    for kj in kx0..<kx1 { dst[row + kj] += v }
                }
            }
        }
    }
}
