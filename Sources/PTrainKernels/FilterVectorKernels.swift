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
// specialisation (`StaticCount`, the `switch`es below): LLVM then keeps every
// accumulator in a register. An accumulator array, even a fixed-size
// `InlineArray`, was stored to the stack after every FMA (measured 44
// against 114 GFLOP/s on LeNet's conv2).

typealias FilterVector = SIMD16<Float>

/// A kernel width known only at run time (`kernelW`).
private enum AnyWidth: StaticCount { static var value: Int { 0 } }

/// Output pixels per forward block at most (12 accumulators, the weight
/// vector and broadcast temporaries fit the 32 vector registers).
let filterVectorBlock = 12

/// One forward block's operands: `count` (1...12) adjacent output pixels,
/// 16 filters. `x` is the input at the block's first window's top-left tap
/// (padded planes: every tap in bounds), rows `rowPitch` and channels
/// `planePitch` floats apart; `weights` the 16 filters' vectors `[channels,
/// kernelH, kernelW][16]`; pixel p's 16 sums go to `out + p * pixelStride`.
struct FilterVectorBlock {
    var x: UnsafePointer<Float>
    let rowPitch: Int, planePitch: Int
    let channels: Int, kernelH: Int, kernelW: Int
    let weights: UnsafePointer<Float>
    var out: UnsafeMutablePointer<Float>
    let pixelStride: Int
}

/// Computes `block`'s `count` pixels (overwriting their sums).
@inline(never)
func filterVectorForward(_ block: FilterVectorBlock, count: Int) {
    // 3- and 5-wide kernels get their kj loop unrolled (constant trip count).
    switch block.kernelW {
    case 3: filterVectorForward(block, count: count, width: Count3.self)
    case 5: filterVectorForward(block, count: count, width: Count5.self)
    default: filterVectorForward(block, count: count, width: AnyWidth.self)
    }
}

private func filterVectorForward<KW: StaticCount>(_ b: FilterVectorBlock, count: Int, width: KW.Type) {
    switch count {
    case 1: filterVectorForwardBody(b, Count1.self, KW.self)
    case 2: filterVectorForwardBody(b, Count2.self, KW.self)
    case 3: filterVectorForwardBody(b, Count3.self, KW.self)
    case 4: filterVectorForwardBody(b, Count4.self, KW.self)
    case 5: filterVectorForwardBody(b, Count5.self, KW.self)
    case 6: filterVectorForwardBody(b, Count6.self, KW.self)
    case 7: filterVectorForwardBody(b, Count7.self, KW.self)
    case 8: filterVectorForwardBody(b, Count8.self, KW.self)
    case 9: filterVectorForwardBody(b, Count9.self, KW.self)
    case 10: filterVectorForwardBody(b, Count10.self, KW.self)
    case 11: filterVectorForwardBody(b, Count11.self, KW.self)
    case 12: filterVectorForwardBody(b, Count12.self, KW.self)
    default: preconditionFailure("a filter-vector block holds 1...\(filterVectorBlock) pixels, not \(count)")
    }
}

@inline(never)
private func filterVectorForwardBody<N: StaticCount, KW: StaticCount>(_ b: FilterVectorBlock, _: N.Type, _: KW.Type) {
    let n = N.value, kw = KW.value == 0 ? b.kernelW : KW.value
    var a0 = FilterVector(), a1 = FilterVector(), a2 = FilterVector(), a3 = FilterVector()
    var a4 = FilterVector(), a5 = FilterVector(), a6 = FilterVector(), a7 = FilterVector()
    var a8 = FilterVector(), a9 = FilterVector(), a10 = FilterVector(), a11 = FilterVector()
    var w = b.weights
    for c in 0..<b.channels {
        var row = b.x + c &* b.planePitch
        for _ in 0..<b.kernelH {
            for kj in 0..<kw {
                let f = UnsafeRawPointer(w).loadUnaligned(as: FilterVector.self)
                w += 16
                let r = row + kj
                @inline(__always) func x(_ p: Int) -> FilterVector { FilterVector(repeating: r[p]) }
                a0 = a0.addingProduct(x(0), f)
                if n > 1 { a1 = a1.addingProduct(x(1), f) }
                if n > 2 { a2 = a2.addingProduct(x(2), f) }
                if n > 3 { a3 = a3.addingProduct(x(3), f) }
                if n > 4 { a4 = a4.addingProduct(x(4), f) }
                if n > 5 { a5 = a5.addingProduct(x(5), f) }
                if n > 6 { a6 = a6.addingProduct(x(6), f) }
                if n > 7 { a7 = a7.addingProduct(x(7), f) }
                if n > 8 { a8 = a8.addingProduct(x(8), f) }
                if n > 9 { a9 = a9.addingProduct(x(9), f) }
                if n > 10 { a10 = a10.addingProduct(x(10), f) }
                if n > 11 { a11 = a11.addingProduct(x(11), f) }
            }
            row += b.rowPitch
        }
    }
    let out = b.out, stride = b.pixelStride
    @inline(__always) func put(_ p: Int, _ v: FilterVector) {
        UnsafeMutableRawPointer(out + p &* stride).storeBytes(of: v, as: FilterVector.self)
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
private func filterVectorGradientBody<R: StaticCount, KW: StaticCount>(_: R.Type, _: KW.Type, x: UnsafePointer<Float>, rowPitch: Int,
                                                                      dy: UnsafePointer<Float>, pixelStride: Int, outH: Int,
                                                                      outW: Int, into sums: UnsafeMutablePointer<Float>) {
    let kw = KW.value, n = R.value * kw
    var a0 = FilterVector(), a1 = FilterVector(), a2 = FilterVector(), a3 = FilterVector()
    var a4 = FilterVector(), a5 = FilterVector(), a6 = FilterVector(), a7 = FilterVector()
    var a8 = FilterVector(), a9 = FilterVector(), a10 = FilterVector(), a11 = FilterVector()
    var xRow = x, g = dy
    for _ in 0..<outH {
        for ox in 0..<outW {
            let d = UnsafeRawPointer(g).loadUnaligned(as: FilterVector.self)
            g += pixelStride
            let base = xRow + ox
            // Tap t of the block: kernel row t / kw, column t % kw.
            @inline(__always) func x(_ t: Int) -> FilterVector { FilterVector(repeating: base[(t / kw) &* rowPitch &+ t % kw]) }
            a0 = a0.addingProduct(d, x(0))
            if n > 1 { a1 = a1.addingProduct(d, x(1)) }
            if n > 2 { a2 = a2.addingProduct(d, x(2)) }
            if n > 3 { a3 = a3.addingProduct(d, x(3)) }
            if n > 4 { a4 = a4.addingProduct(d, x(4)) }
            if n > 5 { a5 = a5.addingProduct(d, x(5)) }
            if n > 6 { a6 = a6.addingProduct(d, x(6)) }
            if n > 7 { a7 = a7.addingProduct(d, x(7)) }
            if n > 8 { a8 = a8.addingProduct(d, x(8)) }
            if n > 9 { a9 = a9.addingProduct(d, x(9)) }
            if n > 10 { a10 = a10.addingProduct(d, x(10)) }
            if n > 11 { a11 = a11.addingProduct(d, x(11)) }
        }
        xRow += rowPitch
    }
    @inline(__always) func add(_ t: Int, _ v: FilterVector) {
        let p = UnsafeMutableRawPointer(sums + t &* 16)
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
