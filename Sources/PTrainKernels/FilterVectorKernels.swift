// The micro-kernels of the filter-vector convolution (FilterVectorAlgorithm.swift):
// one SIMD16 lane per filter, so a vector holds one pixel's 16 filter outputs.
//
// Forward, a block of `count` (1...12) adjacent output pixels of one row:
//
//   acc[p] += W[c, ki, kj][16 filters] * broadcast(x[c, oy + ki, ox0 + p + kj])
//
// for every (c, ki, kj) in that order: one vector load of filter weights feeds
// `count` FMAs whose other operand is a broadcast from the input row (an
// embedded-broadcast memory operand). With 12 accumulators, 12 FMAs per 13
// loads: FMA-bound on a core that loads twice per cycle. Nothing is junk: a
// LeNet conv2 (6 -> 16 channels, 5x5 valid on 14x14) computes only its 10
// output columns, where the tap GEMM computes 14 of every padded row.
//
// Weight gradient, a block of `rows x kernelW` taps (at most 12) of one input
// channel, summed over one image's output pixels:
//
//   acc[r, kj] += dy[pixel][16 filters] * broadcast(x[c, oy + ki0 + r, ox + kj])
//
// one vector load of the (channels-last) output gradient per pixel feeds one
// FMA per tap of the block.
//
// Accumulation order: every output (every tap's gradient) is one accumulator,
// summed sequentially in the loop order above; results do not depend on the
// block a pixel or tap falls in.
//
// The `count` and `rows x kernelW` of a block are constants in each
// specialisation (`BlockCount`, the `switch`es below): LLVM then keeps every
// accumulator in a register. An accumulator array, even a fixed-size one, is stored to the
// stack after every FMA (measured 44 against 114 GFLOP/s on the LeNet conv2).

typealias FilterVector = SIMD16<Float>

/// A block size as a type: each kernel is a generic function specialised per
/// size, so its block size is a constant and its guards fold away. (An
/// always-inlined function called with literals was not inlined: the
/// specialisations came out as one function with a runtime size.)
private protocol BlockCount { static var value: Int { get } }
private enum Count1: BlockCount { static var value: Int { 1 } }
private enum Count2: BlockCount { static var value: Int { 2 } }
private enum Count3: BlockCount { static var value: Int { 3 } }
private enum Count4: BlockCount { static var value: Int { 4 } }
private enum Count5: BlockCount { static var value: Int { 5 } }
private enum Count6: BlockCount { static var value: Int { 6 } }
private enum Count7: BlockCount { static var value: Int { 7 } }
private enum Count8: BlockCount { static var value: Int { 8 } }
private enum Count9: BlockCount { static var value: Int { 9 } }
private enum Count10: BlockCount { static var value: Int { 10 } }
private enum Count11: BlockCount { static var value: Int { 11 } }
private enum Count12: BlockCount { static var value: Int { 12 } }

/// Output pixels per forward block at most (12 accumulators, the weight
/// vector and broadcast temporaries fit the 32 vector registers).
let filterVectorBlock = 12

/// `count` (1...12) adjacent output pixels, 16 filters: `out + p *
/// pixelStride` = the 16 filters' sums at pixel p, overwritten. `x` is the
/// input at the block's first window's top-left tap (padded planes: every
/// tap in bounds), rows `rowPitch` and channels `planePitch` floats apart;
/// `weights` the 16 filters' vectors `[channels, kernelH, kernelW][16]`.
@inline(never)
func filterVectorForwardBlock(count: Int, x: UnsafePointer<Float>, rowPitch: Int, planePitch: Int, channels: Int,
                              kernelH: Int, kernelW: Int, weights: UnsafePointer<Float>,
                              into out: UnsafeMutablePointer<Float>, pixelStride: Int) {
    switch count {
    case 1:
        filterVectorForwardBody(Count1.self, x: x, rowPitch: rowPitch, planePitch: planePitch,
                                channels: channels, kernelH: kernelH, kernelW: kernelW, weights: weights, into: out,
                                pixelStride: pixelStride)
    case 2:
        filterVectorForwardBody(Count2.self, x: x, rowPitch: rowPitch, planePitch: planePitch,
                                channels: channels, kernelH: kernelH, kernelW: kernelW, weights: weights, into: out,
                                pixelStride: pixelStride)
    case 3:
        filterVectorForwardBody(Count3.self, x: x, rowPitch: rowPitch, planePitch: planePitch,
                                channels: channels, kernelH: kernelH, kernelW: kernelW, weights: weights, into: out,
                                pixelStride: pixelStride)
    case 4:
        filterVectorForwardBody(Count4.self, x: x, rowPitch: rowPitch, planePitch: planePitch,
                                channels: channels, kernelH: kernelH, kernelW: kernelW, weights: weights, into: out,
                                pixelStride: pixelStride)
    case 5:
        filterVectorForwardBody(Count5.self, x: x, rowPitch: rowPitch, planePitch: planePitch,
                                channels: channels, kernelH: kernelH, kernelW: kernelW, weights: weights, into: out,
                                pixelStride: pixelStride)
    case 6:
        filterVectorForwardBody(Count6.self, x: x, rowPitch: rowPitch, planePitch: planePitch,
                                channels: channels, kernelH: kernelH, kernelW: kernelW, weights: weights, into: out,
                                pixelStride: pixelStride)
    case 7:
        filterVectorForwardBody(Count7.self, x: x, rowPitch: rowPitch, planePitch: planePitch,
                                channels: channels, kernelH: kernelH, kernelW: kernelW, weights: weights, into: out,
                                pixelStride: pixelStride)
    case 8:
        filterVectorForwardBody(Count8.self, x: x, rowPitch: rowPitch, planePitch: planePitch,
                                channels: channels, kernelH: kernelH, kernelW: kernelW, weights: weights, into: out,
                                pixelStride: pixelStride)
    case 9:
        filterVectorForwardBody(Count9.self, x: x, rowPitch: rowPitch, planePitch: planePitch,
                                channels: channels, kernelH: kernelH, kernelW: kernelW, weights: weights, into: out,
                                pixelStride: pixelStride)
    case 10:
        filterVectorForwardBody(Count10.self, x: x, rowPitch: rowPitch, planePitch: planePitch,
                                channels: channels, kernelH: kernelH, kernelW: kernelW, weights: weights, into: out,
                                pixelStride: pixelStride)
    case 11:
        filterVectorForwardBody(Count11.self, x: x, rowPitch: rowPitch, planePitch: planePitch,
                                channels: channels, kernelH: kernelH, kernelW: kernelW, weights: weights, into: out,
                                pixelStride: pixelStride)
    case 12:
        filterVectorForwardBody(Count12.self, x: x, rowPitch: rowPitch, planePitch: planePitch,
                                channels: channels, kernelH: kernelH, kernelW: kernelW, weights: weights, into: out,
                                pixelStride: pixelStride)
    default: preconditionFailure("a filter-vector block holds 1...\(filterVectorBlock) pixels, not \(count)")
    }
}

@inline(never)
private func filterVectorForwardBody<N: BlockCount>(_: N.Type, x: UnsafePointer<Float>, rowPitch: Int, planePitch: Int,
                                                    channels: Int, kernelH: Int, kernelW: Int, weights: UnsafePointer<Float>,
                                                    into out: UnsafeMutablePointer<Float>, pixelStride: Int) {
    let n = N.value
    var a0 = FilterVector(), a1 = FilterVector(), a2 = FilterVector(), a3 = FilterVector()
    var a4 = FilterVector(), a5 = FilterVector(), a6 = FilterVector(), a7 = FilterVector()
    var a8 = FilterVector(), a9 = FilterVector(), a10 = FilterVector(), a11 = FilterVector()
    var w = weights
    for c in 0..<channels {
        for ki in 0..<kernelH {
            let row = x + c * planePitch + ki * rowPitch
            for kj in 0..<kernelW {
                let f = UnsafeRawPointer(w).loadUnaligned(as: FilterVector.self)
                w += 16
                let r = row + kj
                @inline(__always) func b(_ p: Int) -> FilterVector { FilterVector(repeating: r[p]) }
                a0 = a0.addingProduct(b(0), f)
                if n > 1 { a1 = a1.addingProduct(b(1), f) }
                if n > 2 { a2 = a2.addingProduct(b(2), f) }
                if n > 3 { a3 = a3.addingProduct(b(3), f) }
                if n > 4 { a4 = a4.addingProduct(b(4), f) }
                if n > 5 { a5 = a5.addingProduct(b(5), f) }
                if n > 6 { a6 = a6.addingProduct(b(6), f) }
                if n > 7 { a7 = a7.addingProduct(b(7), f) }
                if n > 8 { a8 = a8.addingProduct(b(8), f) }
                if n > 9 { a9 = a9.addingProduct(b(9), f) }
                if n > 10 { a10 = a10.addingProduct(b(10), f) }
                if n > 11 { a11 = a11.addingProduct(b(11), f) }
            }
        }
    }
    @inline(__always) func put(_ p: Int, _ v: FilterVector) {
        UnsafeMutableRawPointer(out + p * pixelStride).storeBytes(of: v, as: FilterVector.self)
    }
    put(0, a0)
    if n > 1 { put(1, a1) }
    if n > 2 { put(2, a2) }
    if n > 3 { put(3, a3) }
    if n > 4 { put(4, a4) }
    if n > 5 { put(5, a5) }
    if n > 6 { put(6, a6) }
    if n > 7 { put(7, a7) }
    if n > 8 { put(8, a8) }
    if n > 9 { put(9, a9) }
    if n > 10 { put(10, a10) }
    if n > 11 { put(11, a11) }
}

/// Kernel widths the weight-gradient blocks are specialised for, and the
/// kernel rows per block (`rows * kernelW <= 12` taps).
func filterVectorGradientRows(kernelW: Int) -> Int? {
    switch kernelW {
    case 3: 4
    case 5: 2
    default: nil
    }
}

/// The 16 filters' gradients of `rows x kernelW` taps (rows 1...4 for 3-wide
/// kernels, 1...2 for 5-wide) of one input channel, summed
/// over one image's `outH x outW` output pixels and added into `sums [rows *
/// kernelW][16]`. `x`: the channel's padded plane at the block's first kernel
/// row (pixel (oy, ox)'s tap (r, kj) at `x + (oy + r) * rowPitch + ox + kj`);
/// `dy`: the output gradient channels-last, pixel p's 16 filters at `dy + p * pixelStride`.
@inline(never)
func filterVectorGradientBlock(rows: Int, kernelW: Int, x: UnsafePointer<Float>, rowPitch: Int,
                               dy: UnsafePointer<Float>, pixelStride: Int, outH: Int, outW: Int,
                               into sums: UnsafeMutablePointer<Float>) {
    switch (rows, kernelW) {
    case (1, 3):
        filterVectorGradientBody(Count1.self, Count3.self, x: x, rowPitch: rowPitch, dy: dy, pixelStride: pixelStride,
                                 outH: outH, outW: outW, into: sums)
    case (2, 3):
        filterVectorGradientBody(Count2.self, Count3.self, x: x, rowPitch: rowPitch, dy: dy, pixelStride: pixelStride,
                                 outH: outH, outW: outW, into: sums)
    case (3, 3):
        filterVectorGradientBody(Count3.self, Count3.self, x: x, rowPitch: rowPitch, dy: dy, pixelStride: pixelStride,
                                 outH: outH, outW: outW, into: sums)
    case (4, 3):
        filterVectorGradientBody(Count4.self, Count3.self, x: x, rowPitch: rowPitch, dy: dy, pixelStride: pixelStride,
                                 outH: outH, outW: outW, into: sums)
    case (1, 5):
        filterVectorGradientBody(Count1.self, Count5.self, x: x, rowPitch: rowPitch, dy: dy, pixelStride: pixelStride,
                                 outH: outH, outW: outW, into: sums)
    case (2, 5):
        filterVectorGradientBody(Count2.self, Count5.self, x: x, rowPitch: rowPitch, dy: dy, pixelStride: pixelStride,
                                 outH: outH, outW: outW, into: sums)
    default: preconditionFailure("no filter-vector gradient block of \(rows) rows of \(kernelW) taps")
    }
}

@inline(never)
private func filterVectorGradientBody<R: BlockCount, KW: BlockCount>(_: R.Type, _: KW.Type, x: UnsafePointer<Float>, rowPitch: Int,
                                                                      dy: UnsafePointer<Float>, pixelStride: Int, outH: Int,
                                                                      outW: Int, into sums: UnsafeMutablePointer<Float>) {
    let kw = KW.value, n = R.value * kw
    var a0 = FilterVector(), a1 = FilterVector(), a2 = FilterVector(), a3 = FilterVector()
    var a4 = FilterVector(), a5 = FilterVector(), a6 = FilterVector(), a7 = FilterVector()
    var a8 = FilterVector(), a9 = FilterVector(), a10 = FilterVector(), a11 = FilterVector()
    for oy in 0..<outH {
        let xRow = x + oy * rowPitch, gRow = dy + oy * outW * pixelStride
        for ox in 0..<outW {
            let g = UnsafeRawPointer(gRow + ox * pixelStride).loadUnaligned(as: FilterVector.self)
            let base = xRow + ox
            // Tap t of the block: kernel row t / kw, column t % kw.
            @inline(__always) func b(_ t: Int) -> FilterVector { FilterVector(repeating: base[(t / kw) * rowPitch + t % kw]) }
            a0 = a0.addingProduct(g, b(0))
            if n > 1 { a1 = a1.addingProduct(g, b(1)) }
            if n > 2 { a2 = a2.addingProduct(g, b(2)) }
            if n > 3 { a3 = a3.addingProduct(g, b(3)) }
            if n > 4 { a4 = a4.addingProduct(g, b(4)) }
            if n > 5 { a5 = a5.addingProduct(g, b(5)) }
            if n > 6 { a6 = a6.addingProduct(g, b(6)) }
            if n > 7 { a7 = a7.addingProduct(g, b(7)) }
            if n > 8 { a8 = a8.addingProduct(g, b(8)) }
            if n > 9 { a9 = a9.addingProduct(g, b(9)) }
            if n > 10 { a10 = a10.addingProduct(g, b(10)) }
            if n > 11 { a11 = a11.addingProduct(g, b(11)) }
        }
    }
    @inline(__always) func add(_ t: Int, _ v: FilterVector) {
        let p = UnsafeMutableRawPointer(sums + t * 16)
        p.storeBytes(of: p.loadUnaligned(as: FilterVector.self) + v, as: FilterVector.self)
    }
    add(0, a0)
    if n > 1 { add(1, a1) }
    if n > 2 { add(2, a2) }
    if n > 3 { add(3, a3) }
    if n > 4 { add(4, a4) }
    if n > 5 { add(5, a5) }
    if n > 6 { add(6, a6) }
    if n > 7 { add(7, a7) }
    if n > 8 { add(8, a8) }
    if n > 9 { add(9, a9) }
    if n > 10 { add(10, a10) }
    if n > 11 { add(11, a11) }
}
