// Max and average pooling over NCHW planes, any window, stride and padding
// (overlapping windows such as AlexNet's 3x3/2 included). Output size follows
// `WindowGeometry` (floor mode). Padded taps never win a max and, for average
// pooling, count in the divisor (PyTorch's default `count_include_pad=True`).

/// Max pooling of `x [N, C, H, W]` into `y [N, C, OH, OW]`. `argmax [N, C, OH, OW]`
/// receives the winning tap's index within its input plane (`iy * W + ix`), so
/// that backward routes the gradient without recomputing the max: the first
/// maximum in row-major order. A window with no in-image tap (possible only
/// with padding >= kernel) yields -inf and -1. `scratch` holds
/// `maxPoolScratchCount(g)` floats.
public func maxPoolForward(_ x: UnsafePointer<Float>, _ g: WindowGeometry, batch: Int,
                           _ y: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>,
                           scratch: UnsafeMutablePointer<Float>) {
    if maxPoolIsPlain2x2(g) {
        maxPool2x2(x, g, batch: batch, y, argmax: argmax)
    } else if g.strideH == 1 && g.strideW == 1 {
        maxPoolStride1(x, g, batch: batch, y, argmax: argmax)
    } else {
        maxPoolSeparable(x, g, batch: batch, y, argmax: argmax, scratch: scratch)
    }
}

/// The 2x2/2 unpadded case (LeNet's pools), 8 or 16 outputs at a time: the
/// even and odd lanes of 16 (32) inputs from each of the window's two rows
/// are its four taps, compared in the generic path's order (row-major,
/// strict `>`), so the values and argmax indices are the same. A row of 9
/// to 16 outputs (W1's first pool: 14) is one 16-wide group, a row of fewer
/// than 8 (W1's second pool: 5) one 8-wide group: their lanes past the row
/// read the next rows and store junk over the next row's (or plane's)
/// first outputs, which are computed after it. Wider rows go 8 at a time
/// and end with a group that overlaps the one before (rewriting its equal
/// results). A row whose loads or stores would pass the end of the batch
/// goes 8 at a time, or one by one.
@inline(__always)
private func maxPool2x2(_ x: UnsafePointer<Float>, _ g: WindowGeometry, batch: Int,
                        _ y: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>) {
    let oh = g.outH, ow = g.outW, w = g.width, planeIn = g.height * w, planeOut = oh * ow
    let planes = batch * g.channels, inputEnd = planes * planeIn, outputEnd = planes * planeOut
    let lanes = SIMD8<Int32>(0, 2, 4, 6, 8, 10, 12, 14)
    let lanes16 = SIMD16<Int32>(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30)
    for p in 0..<planes {
        let src = x + p * planeIn, dst = y + p * planeOut, idx = argmax + p * planeOut
        for oy in 0..<oh {
            let r0 = 2 * oy * w, r1 = r0 + w
            if ow > 8 && ow <= 16 && p * planeIn + r1 + 32 <= inputEnd && p * planeOut + oy * ow + 16 <= outputEnd {
                // One 16-wide group (W1's first pool: 14 outputs). The
                // compare-and-blend chain is spelled out here and in the
                // 8-wide groups below: one generic function over both
                // vector types ran 30x slower (unspecialized SIMD generics).
                @inline(__always) func load(_ i: Int) -> SIMD16<Float> { UnsafeRawPointer(src + i).loadUnaligned(as: SIMD16<Float>.self) }
                let top = unzip(load(r0), load(r0 + 16)), bottom = unzip(load(r1), load(r1 + 16))
                let base = lanes16 &+ Int32(truncatingIfNeeded: r0)
                var best = top.even, at = base
                var better = top.odd .> best
                best.replace(with: top.odd, where: better); at.replace(with: base &+ 1, where: better)
                better = bottom.even .> best
                best.replace(with: bottom.even, where: better); at.replace(with: base &+ Int32(w), where: better)
                better = bottom.odd .> best
                best.replace(with: bottom.odd, where: better); at.replace(with: base &+ Int32(w + 1), where: better)
                UnsafeMutableRawPointer(dst + oy * ow).storeBytes(of: best, as: SIMD16<Float>.self)
                UnsafeMutableRawPointer(idx + oy * ow).storeBytes(of: at, as: SIMD16<Int32>.self)
                continue
            }
            var ox = 0
            var groups = ow >= 8 || (p * planeIn + r1 + 16 <= inputEnd && p * planeOut + oy * ow + 8 <= outputEnd)
            while groups {
                if ox + 8 >= ow { ox = max(0, ow - 8); groups = false }
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

/// Whether `maxPoolForward` takes its 2x2/2 SIMD path (then as fast as
/// `maxPoolValues`, argmax included).
public func maxPoolIsPlain2x2(_ g: WindowGeometry) -> Bool {
    g.kernelH == 2 && g.kernelW == 2 && g.strideH == 2 && g.strideW == 2 && g.padH == 0 && g.padW == 0
}

/// `dx[argmax] += dy` for every output position (accumulates), or with
/// `overwrite`, into each plane of dx zeroed first (the same bits: `0 + g`).
///
/// `rectified`: the pool's outputs y when its input is a relu's output
/// whose gradient mask is applied here instead of by the layer that fused
/// the relu (`MaxPool2D.masksRectifiedInput`): each plane of dy is first
/// masked IN PLACE where y <= 0 (`rectifyGradient`, 16 lanes at a time;
/// dy must be the caller's to change). y is the input at the argmax, so a
/// position gets all of its windows' gradients or only zeros, and the sums
/// are those of the mask applied to dx afterwards, bit for bit (`0 + g`;
/// adding +0 changes no sum, as one is -0 only when both terms are):
/// without that mask's pass over the full-size input gradient.
public func maxPoolBackward(_ dy: UnsafePointer<Float>, argmax: UnsafePointer<Int32>, _ g: WindowGeometry,
                            batch: Int, _ dx: UnsafeMutablePointer<Float>, overwrite: Bool = false,
                            rectified y: UnsafePointer<Float>? = nil) {
    let planeIn = g.height * g.width, planeOut = g.outH * g.outW
    for p in 0..<(batch * g.channels) {
        let src = dy + p * planeOut
        let idx = argmax + p * planeOut
        let dst = dx + p * planeIn
        if let y { rectifyGradient(y + p * planeOut, UnsafeMutablePointer(mutating: src), count: planeOut) }
        if overwrite && maxPoolIsPlain2x2(g) && g.outW >= 8 {
            maxPool2x2Gradient(src, argmax: idx, g, into: dst)
            continue
        }
        if overwrite { dst.update(repeating: 0, count: planeIn) }
        for o in 0..<planeOut where idx[o] >= 0 { dst[Int(idx[o])] += src[o] }
    }
}

/// One plane's input gradient of the 2x2/2 unpadded pool, written (not
/// added): each input pixel lies in at most one window, and gets `0 + dy`
/// of its window when it was the window's maximum (the bits of adding dy
/// into a zeroed plane, -0 included), else 0. 8 windows of a row at a
/// time, the even and odd lanes of each of the window's two input rows
/// interleaved; a row of 8+ windows ends with a group that overlaps the one
/// before (rewriting equal values). Rows and columns outside every window
/// (an odd height or width) are zero.
@inline(__always)
private func maxPool2x2Gradient(_ dy: UnsafePointer<Float>, argmax: UnsafePointer<Int32>, _ g: WindowGeometry,
                                into dx: UnsafeMutablePointer<Float>) {
    let oh = g.outH, ow = g.outW, w = g.width
    if g.height % 2 != 0 || w % 2 != 0 { dx.update(repeating: 0, count: g.height * w) }
    let lanes = SIMD8<Int32>(0, 2, 4, 6, 8, 10, 12, 14)
    // Lane by lane (folds to one shuffle; the generic swizzle subscript is
    // an outlined call).
    @inline(__always) func row(_ e: SIMD8<Float>, _ o: SIMD8<Float>) -> SIMD16<Float> {
        SIMD16(e[0], o[0], e[1], o[1], e[2], o[2], e[3], o[3], e[4], o[4], e[5], o[5], e[6], o[6], e[7], o[7])
    }
    for oy in 0..<oh {
        let r0 = 2 * oy * w, r1 = r0 + w
        var ox = 0, more = true
        while more {
            if ox + 8 >= ow { ox = ow - 8; more = false }
            let d = SIMD8<Float>(repeating: 0) + UnsafeRawPointer(dy + oy * ow + ox).loadUnaligned(as: SIMD8<Float>.self)
            let at = UnsafeRawPointer(argmax + oy * ow + ox).loadUnaligned(as: SIMD8<Int32>.self)
            let base = lanes &+ Int32(truncatingIfNeeded: r0 + 2 * ox), zero = SIMD8<Float>()
            let topEven = zero.replacing(with: d, where: at .== base), topOdd = zero.replacing(with: d, where: at .== base &+ 1)
            let bottomEven = zero.replacing(with: d, where: at .== base &+ Int32(w))
            let bottomOdd = zero.replacing(with: d, where: at .== base &+ Int32(w + 1))
            UnsafeMutableRawPointer(dx + r0 + 2 * ox).storeBytes(of: row(topEven, topOdd), as: SIMD16<Float>.self)
            UnsafeMutableRawPointer(dx + r1 + 2 * ox).storeBytes(of: row(bottomEven, bottomOdd), as: SIMD16<Float>.self)
            ox += 8
        }
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
