// Max pooling without argmax (inference) of narrow planes with 3-wide,
// stride-2 windows: W2's overlapping 3x3/2 pool on 24x24 planes, folded
// into conv1's store (`PooledStore`), was an eighth of W2's inference.
//
// A plane row of up to 32 values is two vectors in registers. Each output
// row's window rows are reduced into them (column maxima), unzipped into
// even and odd columns, and the 3-wide windows are three lanes-wise maxima:
// window j covers columns 2j - padW ..< 2j - padW + 3, i.e. (padW 1) odd
// j - 1, even j and odd j, or (padW 0) even j, odd j and even j + 1. No
// padded row in scratch, no store-then-reload of the column maxima (the
// separable kernel's chunks of rows exist only to hide that reload).
// Columns past the plane are -inf, so clipped windows take their in-plane
// taps only. Max is order-free: the values are `maxPoolValues`'s (only
// the sign of an all-zero max and NaN propagation may differ, as there).

/// Whether `maxPoolNarrowStride2` takes this geometry: windows 3 wide with
/// stride 2 and horizontal padding 0 or 1, planes 17 to 32 wide. (Planes of
/// 16 or fewer columns would carry a second vector of padding; a version
/// with argmax ran W2's 12-wide second pool at 0.21-0.23 ms per shard
/// against the separable kernel's 0.16-0.19, and was not kept.) Such a
/// plane has at most 16 outputs per row: one vector.
func maxPoolIsNarrowStride2(_ g: WindowGeometry) -> Bool {
    g.kernelW == 3 && g.strideW == 2 && g.padW <= 1 && g.width > 16 && g.width <= 32
}

/// `maxPoolValues` for `maxPoolIsNarrowStride2` geometries: `planes` planes
/// of `g.height x g.width` values, rows `rowPitch` and planes `planePitch`
/// floats apart, into contiguous `[planes, outH, outW]`. Reads only the
/// planes' values (a row read past the last plane's end is gathered one
/// value at a time).
func maxPoolNarrowStride2(_ x: UnsafePointer<Float>, _ g: WindowGeometry, planes: Int, rowPitch: Int, planePitch: Int,
                          _ y: UnsafeMutablePointer<Float>) {
    precondition(maxPoolIsNarrowStride2(g))
    let ow = g.outW, planeOut = g.outH * ow, w = g.width
    // Floats from x up to the last value of the last plane: a 32-float row
    // load ending past it would read outside the caller's planes.
    let end = (planes - 1) * planePitch + (g.height - 1) * rowPitch + w
    let inf = -Float.infinity
    // The second vector's lanes past the plane's last column.
    let pastPlane = SIMD16<Int32>(16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31) .>= Int32(w)
    for p in 0..<planes {
        for oy in 0..<g.outH {
            let out = y + p * planeOut + oy * ow
            let y0 = oy * g.strideH - g.padH
            let top = max(0, y0), bottom = min(g.height, y0 + g.kernelH)
            guard top < bottom else {   // a window of padding only
                out.update(repeating: inf, count: ow)
                continue
            }
            var (a, b) = row(x, p * planePitch + top * rowPitch, width: w, end: end)
            for r in (top + 1)..<bottom {
                let (c, d) = row(x, p * planePitch + r * rowPitch, width: w, end: end)
                a.replace(with: c, where: c .> a)
                b.replace(with: d, where: d .> b)
            }
            b.replace(with: inf, where: pastPlane)
            let (even, odd) = unzip(a, b)
            // The window's third tap: odd j - 1 (padW 1) or even j + 1 (padW 0).
            let third = g.padW == 1
                ? SIMD16(inf, odd[0], odd[1], odd[2], odd[3], odd[4], odd[5], odd[6],
                         odd[7], odd[8], odd[9], odd[10], odd[11], odd[12], odd[13], odd[14])
                : SIMD16(even[1], even[2], even[3], even[4], even[5], even[6], even[7], even[8],
                         even[9], even[10], even[11], even[12], even[13], even[14], even[15], inf)
            var best = even
            best.replace(with: odd, where: odd .> best)
            best.replace(with: third, where: third .> best)
            storeLanes(best, out, count: ow, accumulate: false)
        }
    }
}

/// The plane row `offset` floats from `x` (17 to 32 wide) as two vectors
/// (columns 0-15 and 16-31; lanes past `width` unspecified), gathered one
/// value at a time where 32 floats from there would pass `end` (floats from
/// `x` to the end of the caller's last plane).
@inline(__always)
private func row(_ x: UnsafePointer<Float>, _ offset: Int, width: Int, end: Int) -> (SIMD16<Float>, SIMD16<Float>) {
    let p = x + offset
    if offset + 32 <= end {
        return (loadVector(p), loadVector(p + 16))
    }
    var a = SIMD16<Float>(repeating: -.infinity), b = a
    for k in 0..<16 { a[k] = p[k] }
    for k in 16..<width { b[k - 16] = p[k] }
    return (a, b)
}
