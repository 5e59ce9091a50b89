// Separable max pooling (AlexNet's overlapping 3x3/2, with or without
// padding; in training every stride but 1 and 2x2/2, which have their own
// paths, in inference every window). For each output row, the window's
// in-image input rows are reduced column by column into a padded row (the
// column maximum and, for training, the plane index of its first
// occurrence), a chunk of rows at a time (`PoolRowLayout`), then each
// output takes the maximum of its window's columns of that row: K + K
// comparisons per output instead of K * K, every one a SIMD lane, and no
// clipped windows (the padded row's borders hold -inf).
//
// Ties resolve to the first maximum in row-major order, the rule of the
// reference and of PyTorch: within a window the row-major order of taps is
// the order of their plane indices `iy * W + ix`, so the column pass keeps
// the topmost of equal values (strict `>` going down) and the row pass
// prefers, among equal values, the smaller index. A border column holds
// (-inf, Int32.max): it never wins against an in-image tap, even one that is
// -inf, and a window of border only (padding >= kernel) reports -inf and -1.
// NaN inputs may pick a different tap than a K * K scan would; a step with
// a NaN activation is refused anyway.

/// The padded rows the separable kernels reduce into: up to `rows` output
/// rows at a time, each the image's columns at offset `padW`, -inf (index
/// Int32.max) elsewhere, wide enough for the 16-float loads of the stride-2
/// row pass. Row r's values start at `row(r)`, its Int32 indices `width`
/// floats later; after the rows, 16 floats for one group of outputs.
///
/// Why several rows: the row pass loads 16 floats at offsets that straddle
/// the column pass's stores. Read right after those stores, the loads cannot
/// be forwarded from the store buffer and wait for the stores to reach the
/// cache (perf: 25% of the row pass on one load, W2's 24x24 -> 12x12 pool).
/// Reducing a chunk of rows first and then reading them gives the stores
/// time to retire; 8 rows of 32 padded columns, values and indices, are 2 KB.
struct PoolRowLayout {
    /// Floats (and Int32s) in one padded row.
    let width: Int
    /// Output rows reduced before their row pass reads them (1...8).
    let rows: Int

    init(_ g: WindowGeometry) {
        let ow = g.outW
        // The row pass reads padded columns up to S (OW - 1) + KW - 1; the
        // stride-2 groups of 8 outputs read 16 floats from 2 s + kj, s <= max(OW, 8) - 8.
        let reach = max(g.padW + g.width, g.strideW * (ow - 1) + g.kernelW, 2 * max(ow, 8) + g.kernelW - 1)
        width = (reach + 15) / 16 * 16
        rows = max(1, min(8, g.outH))
    }

    /// Floats of scratch the kernels need.
    var scratchCount: Int { 2 * width * rows + 16 }

    /// Padded row `r` (values; its indices follow at `indices(row(r))`).
    func row(_ scratch: UnsafeMutablePointer<Float>, _ r: Int) -> UnsafeMutablePointer<Float> {
        scratch + 2 * width * r
    }

    /// The 16 floats for one group of outputs, after the rows.
    func group(_ scratch: UnsafeMutablePointer<Float>) -> UnsafeMutablePointer<Float> {
        scratch + 2 * width * rows
    }

    /// Fills every row with the border (-inf, Int32.max); the column passes
    /// later write only the image's columns.
    func reset(_ scratch: UnsafeMutablePointer<Float>, indices: Bool) {
        for r in 0..<rows {
            row(scratch, r).update(repeating: -.infinity, count: width)
            if indices { self.indices(row(scratch, r)).initializeMemory(as: Int32.self, repeating: .max, count: width) }
        }
    }

    /// The indices of the padded row whose values start at `row`.
    func indices(_ row: UnsafeMutablePointer<Float>) -> UnsafeMutableRawPointer {
        UnsafeMutableRawPointer(row + width)
    }
}

/// Floats of scratch `maxPoolForward` and `maxPoolValues` need.
public func maxPoolScratchCount(_ g: WindowGeometry) -> Int { PoolRowLayout(g).scratchCount }

/// The in-image input rows of output row `oy`'s windows (empty when the
/// window holds padding only).
@inline(__always)
private func windowRows(_ g: WindowGeometry, _ oy: Int) -> Range<Int> {
    let y0 = oy * g.strideH - g.padH
    let top = max(0, y0), bottom = min(g.height, y0 + g.kernelH)
    return top < bottom ? top..<bottom : 0..<0
}

/// Walks the output rows of `planes` planes in chunks of `layout.rows`:
/// first `reduce(plane, rows, row)` for each row of the chunk whose windows
/// reach the image (`rows`: those input rows; `row`: its padded row), then
/// `emit(plane, oy, row)` for each row of the chunk, `row` nil when its
/// windows hold padding only. (Why chunks: `PoolRowLayout`.)
@inline(__always)
private func forEachRowChunk(_ g: WindowGeometry, _ layout: PoolRowLayout, planes: Int, scratch: UnsafeMutablePointer<Float>,
                             reduce: (_ plane: Int, _ rows: Range<Int>, _ row: UnsafeMutablePointer<Float>) -> Void,
                             emit: (_ plane: Int, _ oy: Int, _ row: UnsafeMutablePointer<Float>?) -> Void) {
    for p in 0..<planes {
        var oy0 = 0
        while oy0 < g.outH {
            let chunk = oy0..<min(g.outH, oy0 + layout.rows)
            for oy in chunk {
                let rows = windowRows(g, oy)
                if !rows.isEmpty { reduce(p, rows, layout.row(scratch, oy - oy0)) }
            }
            for oy in chunk {
                emit(p, oy, windowRows(g, oy).isEmpty ? nil : layout.row(scratch, oy - oy0))
            }
            oy0 = chunk.upperBound
        }
    }
}

/// `maxPoolForward` for strides other than 1 (see the file comment).
func maxPoolSeparable(_ x: UnsafePointer<Float>, _ g: WindowGeometry, batch: Int,
                      _ y: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>,
                      scratch: UnsafeMutablePointer<Float>) {
    let layout = PoolRowLayout(g)
    layout.reset(scratch, indices: true)
    let oh = g.outH, ow = g.outW, w = g.width, planeIn = g.height * w, planeOut = oh * ow
    let group = layout.group(scratch)
    forEachRowChunk(g, layout, planes: batch * g.channels, scratch: scratch, reduce: { p, rows, row in
        columnMaxima(x + p * planeIn, width: w, rows: rows, into: row + g.padW, indices: layout.indices(row) + 4 * g.padW)
    }, emit: { p, oy, row in
        let out = y + p * planeOut + oy * ow, at = argmax + p * planeOut + oy * ow
        guard let row else {   // the window holds padding only
            out.update(repeating: -.infinity, count: ow)
            at.update(repeating: -1, count: ow)
            return
        }
        if g.strideW == 2 && ow >= 8 {
            forEachGroupOf8(ow) { s in
                rowMaxStride2x8(row, layout, from: 2 * s, kernel: g.kernelW,
                                into: out + s, argmax: UnsafeMutableRawPointer(at + s))
            }
        } else if g.strideW == 2 {
            // Fewer than 8 outputs: one group into `group`, then its first `ow`.
            rowMaxStride2x8(row, layout, from: 0, kernel: g.kernelW, into: group, argmax: UnsafeMutableRawPointer(group + 8))
            out.update(from: group, count: ow)
            UnsafeMutableRawPointer(at).copyMemory(from: group + 8, byteCount: 4 * ow)
        } else {
            let rowIndices = layout.indices(row)
            for ox in 0..<ow {
                let c0 = ox * g.strideW
                var best = row[c0]
                var index = rowIndices.load(fromByteOffset: 4 * c0, as: Int32.self)
                for kj in 1..<max(1, g.kernelW) {
                    let v = row[c0 + kj], i = rowIndices.load(fromByteOffset: 4 * (c0 + kj), as: Int32.self)
                    if v > best || (v == best && i < index) { best = v; index = i }
                }
                out[ox] = best
                at[ox] = index == .max ? -1 : index
            }
        }
    })
}

/// Max pooling without argmax (inference), any stride: the column maxima
/// into the padded rows, then each window's maximum of them. The values are
/// `maxPoolForward`'s (max is order-free; only the sign of an all-zero max
/// and NaN propagation may differ). `scratch` holds `maxPoolScratchCount(g)`
/// floats.
public func maxPoolValues(_ x: UnsafePointer<Float>, _ g: WindowGeometry, batch: Int,
                          _ y: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>) {
    maxPoolValues(x, g, planes: batch * g.channels, rowPitch: g.width, planePitch: g.height * g.width, y, scratch: scratch)
}

/// `maxPoolValues` over `planes` planes of `g.height x g.width` values whose
/// rows are `rowPitch` floats apart and whose planes are `planePitch` apart
/// (a convolution's staged outputs, `TapAlgorithm`'s pooled store), into
/// `planes` contiguous output planes of `g.outH x g.outW`. Reads only the
/// planes' `g.width` columns of each row.
public func maxPoolValues(_ x: UnsafePointer<Float>, _ g: WindowGeometry, planes: Int, rowPitch: Int, planePitch: Int,
                          _ y: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>) {
    precondition(rowPitch >= g.width && planePitch >= g.height * rowPitch - (rowPitch - g.width))
    if maxPoolIsNarrowStride2(g) {
        maxPoolNarrowStride2(x, g, planes: planes, rowPitch: rowPitch, planePitch: planePitch, y)
        return
    }
    let layout = PoolRowLayout(g)
    layout.reset(scratch, indices: false)
    let oh = g.outH, ow = g.outW, planeOut = oh * ow
    let group = layout.group(scratch)
    forEachRowChunk(g, layout, planes: planes, scratch: scratch, reduce: { p, rows, row in
        columnMaxima(x + p * planePitch, width: g.width, pitch: rowPitch, rows: rows, into: row + g.padW)
    }, emit: { p, oy, row in
        let out = y + p * planeOut + oy * ow
        guard let row else {
            out.update(repeating: -.infinity, count: ow)
            return
        }
        if g.strideW == 2 && ow >= 8 {
            forEachGroupOf8(ow) { s in
                UnsafeMutableRawPointer(out + s).storeBytes(of: rowMaxStride2x8(row, from: 2 * s, kernel: g.kernelW),
                                                            as: SIMD8<Float>.self)
            }
        } else if g.strideW == 2 {
            UnsafeMutableRawPointer(group).storeBytes(of: rowMaxStride2x8(row, from: 0, kernel: g.kernelW), as: SIMD8<Float>.self)
            out.update(from: group, count: ow)
        } else {
            for ox in 0..<ow {
                let c0 = ox * g.strideW
                var best = row[c0]
                for kj in 1..<max(1, g.kernelW) { best = max(best, row[c0 + kj]) }
                out[ox] = best
            }
        }
    })
}

/// Calls `body(start)` for groups of 8 outputs covering `count >= 8`
/// outputs: 0, 8, ..., the last at `count - 8`, overlapping the one before
/// (whose equal results it rewrites).
@inline(__always)
private func forEachGroupOf8(_ count: Int, _ body: (Int) -> Void) {
    var start = 0
    while start < count {
        let s = min(start, count - 8)
        body(s)
        start = s + 8
    }
}

/// The maxima of eight stride-2 windows of the padded row of values from
/// padded column `from` (inference: no indices).
@inline(__always)
private func rowMaxStride2x8(_ values: UnsafePointer<Float>, from c0: Int, kernel: Int) -> SIMD8<Float> {
    var best = UnsafeRawPointer(values + c0).loadUnaligned(as: SIMD16<Float>.self).evenHalf
    for kj in 1..<max(1, kernel) {
        let v = UnsafeRawPointer(values + c0 + kj).loadUnaligned(as: SIMD16<Float>.self).evenHalf
        best.replace(with: v, where: v .> best)
    }
    return best
}

/// Eight stride-2 windows of the padded row starting at padded column
/// `from`: tap kj of the eight is the even lanes of 16 values (and indices)
/// loaded at `from + kj`. Larger value wins; equal values, the smaller index.
/// Writes 8 maxima to `into` and their indices (Int32, -1 for border only) to `argmax`.
@inline(__always)
private func rowMaxStride2x8(_ row: UnsafeMutablePointer<Float>, _ layout: PoolRowLayout, from c0: Int, kernel: Int,
                             into out: UnsafeMutablePointer<Float>, argmax: UnsafeMutableRawPointer) {
    let indices = UnsafeRawPointer(layout.indices(row))
    var best = UnsafeRawPointer(row + c0).loadUnaligned(as: SIMD16<Float>.self).evenHalf
    var at = indices.loadUnaligned(fromByteOffset: 4 * c0, as: SIMD16<Int32>.self).evenHalf
    for kj in 1..<max(1, kernel) {
        let v = UnsafeRawPointer(row + c0 + kj).loadUnaligned(as: SIMD16<Float>.self).evenHalf
        let i = indices.loadUnaligned(fromByteOffset: 4 * (c0 + kj), as: SIMD16<Int32>.self).evenHalf
        let better = (v .> best) .| ((v .== best) .& (i .< at))
        best.replace(with: v, where: better)
        at.replace(with: i, where: better)
    }
    // Int32.max (the border) -> -1: only it overflows to Int32.min when
    // incremented (a masked replace compiled to a scalar loop).
    at |= (at &+ 1) & Int32.min
    UnsafeMutableRawPointer(out).storeBytes(of: best, as: SIMD8<Float>.self)
    argmax.storeBytes(of: at, as: SIMD8<Int32>.self)
}

/// Column maxima of the input rows `rows` of a `width`-wide plane into
/// `values`, with the plane index of each column's topmost maximum into
/// `indices` (Int32s): the winning row's offset is carried, the column's
/// added once at the store (adding it per row compiled to four shuffles).
/// Overlapping last vectors recompute equal results. The 16- and 8-lane
/// loops are written out, as in PoolingStride1.swift: a loop generic over
/// the SIMD type was not specialised there and ran 15x slower.
@inline(__always)
private func columnMaxima(_ src: UnsafePointer<Float>, width w: Int, rows: Range<Int>,
                          into values: UnsafeMutablePointer<Float>, indices: UnsafeMutableRawPointer) {
    let lanes16 = SIMD16<Int32>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
    let lanes8 = SIMD8<Int32>(0, 1, 2, 3, 4, 5, 6, 7)
    if w >= 16 {
        var i = 0
        while i < w {
            let c = min(i, w - 16)
            var best = UnsafeRawPointer(src + rows.lowerBound * w + c).loadUnaligned(as: SIMD16<Float>.self)
            var at = SIMD16<Int32>(repeating: Int32(truncatingIfNeeded: rows.lowerBound * w))
            for r in rows.dropFirst() {
                let v = UnsafeRawPointer(src + r * w + c).loadUnaligned(as: SIMD16<Float>.self)
                let better = v .> best
                best.replace(with: v, where: better)
                at.replace(with: SIMD16<Int32>(repeating: Int32(truncatingIfNeeded: r * w)), where: better)
            }
            UnsafeMutableRawPointer(values + c).storeBytes(of: best, as: SIMD16<Float>.self)
            indices.storeBytes(of: at &+ lanes16 &+ Int32(truncatingIfNeeded: c), toByteOffset: 4 * c, as: SIMD16<Int32>.self)
            i = c + 16
        }
    } else if w >= 8 {
        var i = 0
        while i < w {
            let c = min(i, w - 8)
            var best = UnsafeRawPointer(src + rows.lowerBound * w + c).loadUnaligned(as: SIMD8<Float>.self)
            var at = SIMD8<Int32>(repeating: Int32(truncatingIfNeeded: rows.lowerBound * w))
            for r in rows.dropFirst() {
                let v = UnsafeRawPointer(src + r * w + c).loadUnaligned(as: SIMD8<Float>.self)
                let better = v .> best
                best.replace(with: v, where: better)
                at.replace(with: SIMD8<Int32>(repeating: Int32(truncatingIfNeeded: r * w)), where: better)
            }
            UnsafeMutableRawPointer(values + c).storeBytes(of: best, as: SIMD8<Float>.self)
            indices.storeBytes(of: at &+ lanes8 &+ Int32(truncatingIfNeeded: c), toByteOffset: 4 * c, as: SIMD8<Int32>.self)
            i = c + 8
        }
    } else {
        for c in 0..<w {
            var best = src[rows.lowerBound * w + c], at = rows.lowerBound * w + c
            for r in rows.dropFirst() where src[r * w + c] > best { best = src[r * w + c]; at = r * w + c }
            values[c] = best
            indices.storeBytes(of: Int32(truncatingIfNeeded: at), toByteOffset: 4 * c, as: Int32.self)
        }
    }
}

/// Column maxima without indices (inference), of rows `pitch` floats apart.
@inline(__always)
private func columnMaxima(_ src: UnsafePointer<Float>, width w: Int, pitch: Int, rows: Range<Int>,
                          into values: UnsafeMutablePointer<Float>) {
    if w >= 16 {
        var i = 0
        while i < w {
            let c = min(i, w - 16)
            var best = UnsafeRawPointer(src + rows.lowerBound * pitch + c).loadUnaligned(as: SIMD16<Float>.self)
            for r in rows.dropFirst() {
                let v = UnsafeRawPointer(src + r * pitch + c).loadUnaligned(as: SIMD16<Float>.self)
                best.replace(with: v, where: v .> best)
            }
            UnsafeMutableRawPointer(values + c).storeBytes(of: best, as: SIMD16<Float>.self)
            i = c + 16
        }
    } else if w >= 8 {
        var i = 0
        while i < w {
            let c = min(i, w - 8)
            var best = UnsafeRawPointer(src + rows.lowerBound * pitch + c).loadUnaligned(as: SIMD8<Float>.self)
            for r in rows.dropFirst() {
                let v = UnsafeRawPointer(src + r * pitch + c).loadUnaligned(as: SIMD8<Float>.self)
                best.replace(with: v, where: v .> best)
            }
            UnsafeMutableRawPointer(values + c).storeBytes(of: best, as: SIMD8<Float>.self)
            i = c + 8
        }
    } else {
        for c in 0..<w {
            var best = src[rows.lowerBound * pitch + c]
            for r in rows.dropFirst() { best = max(best, src[r * pitch + c]) }
            values[c] = best
        }
    }
}
