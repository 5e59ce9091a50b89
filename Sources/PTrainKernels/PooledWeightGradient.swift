// The weight gradient of a convolution whose fused relu's output is read
// only by a max pool, computed from the pool's gradient and argmax instead
// of from the convolution's full-size output gradient.
//
// The pool's backward would scatter each window's gradient to its argmax
// (masked where the pooled value is <= 0: the relu), giving dY with at most
// one nonzero per window; the weight gradient would then sum dY times every
// output pixel's input patch. Here each window's gradient multiplies its
// argmax pixel's patch directly: dY is never written or read (W2's conv1:
// 4.7 MB per shard of 32 each way), and the multiply-adds fall with the
// pool's reduction (3x3/2: 144 windows for 576 pixels per plane). The sums
// are the same terms in another order.

/// Floats of scratch `pooledWeightGradient` needs for convolution `g` and
/// the pool that reads it: one image's zero-padded input planes and patch
/// rows, and one pool plane's window gains and patch offsets.
public func pooledWeightGradientScratchFloats(_ g: WindowGeometry, pool: WindowGeometry) -> Int {
    let layout = PatchLayout(g)
    return layout.paddedFloats + layout.patchFloats + 2 * roundedWindows(pool)
}

/// A pool plane's windows rounded up to whole vectors.
private func roundedWindows(_ pool: WindowGeometry) -> Int { (pool.outH * pool.outW + 15) / 16 * 16 }

/// Whether `pooledWeightGradient` handles convolution `g`: no dilation,
/// kernel rows of at most 16 taps (one vector load each).
public func pooledWeightGradientSupports(_ g: WindowGeometry) -> Bool {
    g.dilationH == 1 && g.dilationW == 1 && g.kernelW <= 16
}

/// `dW += sum over windows of g_q * patch(argmax_q)`, `dB += sum of g_q`:
/// the weight (and bias) gradient of convolution `g` (one group, `outputs`
/// filters, OIHW `dW [outputs, C * KH * KW]`) when its output passed through a
/// relu into max pool `pool` (whose channels are the filters), from the
/// pool's output gradient `dy` and outputs `y` (`[batch, outputs, PH, PW]`,
/// samples `pooledStride` floats apart) and `argmax` (`[batch, outputs, PH, PW]`
/// contiguous: each window's winning pixel within its convolution output
/// plane, `maxPoolForward`'s). A window whose pooled value is <= 0 (the
/// relu's zero) or that has no argmax passes nothing. `x [batch, C, H, W]`,
/// samples `inputStride` apart. `scratch`: `pooledWeightGradientScratchFloats(g, pool: pool)`.
public func pooledWeightGradient(_ x: UnsafePointer<Float>, inputStride: Int, _ g: WindowGeometry, outputs: Int,
                                 pooledGradient dy: UnsafePointer<Float>, pooled y: UnsafePointer<Float>,
                                 argmax: UnsafePointer<Int32>, pool: WindowGeometry, pooledStride: Int, batch: Int,
                                 weightGradient dW: UnsafeMutablePointer<Float>, biasGradient dB: UnsafeMutablePointer<Float>?,
                                 scratch: UnsafeMutablePointer<Float>) {
    precondition(pooledWeightGradientSupports(g), "pooledWeightGradient: dilation or a kernel wider than 16")
    precondition(pool.channels == outputs && pool.height == g.outH && pool.width == g.outW,
                 "pooledWeightGradient: the pool does not read this convolution's output")
    let layout = PatchLayout(g)
    let windows = pool.outH * pool.outW, k = layout.patch
    let padded = scratch, patches = scratch + layout.paddedFloats
    let gains = patches + layout.patchFloats
    // Int32 offsets in the float scratch, through raw loads and stores (no rebinding).
    let offsets = UnsafeMutableRawPointer(gains + roundedWindows(pool))
    for n in 0..<batch {
        layout.pad(x + n * inputStride, into: padded)
        layout.gatherPatches(padded, into: patches)
        let planeDy = dy + n * pooledStride, planeY = y + n * pooledStride, winners = argmax + n * outputs * windows
        for o in 0..<outputs {
            windowTerms(windows: windows, gradients: planeDy + o * windows, pooled: planeY + o * windows,
                        argmax: winners + o * windows, pitch: layout.pitch, gains: gains, offsets: offsets)
            // The whole plane's windows per sweep, the sums in registers.
            // (A row of windows at a time, every filter, so that the row's
            // patches stay in L1, measured slower: the sweeps' set-up and
            // stores outweighed the L2 traffic saved.)
            let out = dW + o * k
            var v0 = 0
            while v0 < layout.vectors {
                let count = min(6, layout.vectors - v0)
                let from = patches + v0 * 16
                let sums = switch count {
                case 1: sweep(Count1.self, windows: windows, gains: gains, offsets: offsets, patches: from)
                case 2: sweep(Count2.self, windows: windows, gains: gains, offsets: offsets, patches: from)
                case 3: sweep(Count3.self, windows: windows, gains: gains, offsets: offsets, patches: from)
                case 4: sweep(Count4.self, windows: windows, gains: gains, offsets: offsets, patches: from)
                case 5: sweep(Count5.self, windows: windows, gains: gains, offsets: offsets, patches: from)
                default: sweep(Count6.self, windows: windows, gains: gains, offsets: offsets, patches: from)
                }
                for i in 0..<count {
                    let lo = (v0 + i) * 16
                    if k > lo { storeLanes(sums[i], out + lo, count: min(16, k - lo), accumulate: true) }
                    // Lane `k` (the patches' ones) is the bias gradient.
                    if let dB, k >= lo && k < lo + 16 { dB[o] += sums[i][k - lo] }
                }
                v0 += count
            }
        }
    }
}

/// One pool plane's window terms, 16 windows at a time: `gains[q]`, the
/// window's gradient where the pooled value is above the relu's zero and the
/// window has an argmax, else 0 (the scattered path's dY holds the same
/// zeros); `offsets[q]`, its argmax pixel's patch row, in floats (0 without
/// an argmax: multiplied by 0). No branch per window in the sweeps that follow
/// (skipping masked windows in them was a mispredicted branch about half the
/// time: 2x slower on W2's conv1).
@inline(__always)
private func windowTerms(windows: Int, gradients g: UnsafePointer<Float>, pooled y: UnsafePointer<Float>,
                         argmax at: UnsafePointer<Int32>, pitch: Int, gains: UnsafeMutablePointer<Float>,
                         offsets: UnsafeMutableRawPointer) {
    var q = 0
    let zero = SIMD16<Float>(), none = SIMD16<Int32>(repeating: 0), step = SIMD16<Int32>(repeating: Int32(pitch))
    while q + 16 <= windows {
        let yv = UnsafeRawPointer(y + q).loadUnaligned(as: SIMD16<Float>.self)
        let gv = UnsafeRawPointer(g + q).loadUnaligned(as: SIMD16<Float>.self)
        let av = UnsafeRawPointer(at + q).loadUnaligned(as: SIMD16<Int32>.self)
        let passes = (yv .> zero) .& (av .>= none)
        UnsafeMutableRawPointer(gains + q).storeBytes(of: zero.replacing(with: gv, where: passes), as: SIMD16<Float>.self)
        offsets.storeBytes(of: none.replacing(with: av &* step, where: passes), toByteOffset: 4 * q, as: SIMD16<Int32>.self)
        q += 16
    }
    while q < windows {
        let passes = y[q] > 0 && at[q] >= 0
        gains[q] = passes ? g[q] : 0
        offsets.storeBytes(of: passes ? at[q] &* Int32(pitch) : 0, toByteOffset: 4 * q, as: Int32.self)
        q += 1
    }
}

/// `sum over windows q of gains[q] * patch row at offsets[q]`, vectors
/// v < N.value of it from `patches` on: one plane of the pool (one
/// specialisation per vector count, `StaticCount`: no per-window tests of
/// it). Windows go in pairs, each into its own accumulators (two FMA chains
/// per vector: one chain's latency would bound the loop), added at the end.
@inline(__always)
private func sweep<N: StaticCount>(_: N.Type, windows: Int, gains: UnsafePointer<Float>, offsets: UnsafeRawPointer,
                                   patches: UnsafePointer<Float>) -> SIMD16x6 {
    var a = SIMD16x6(), b = SIMD16x6()
    @inline(__always) func add(_ sums: inout SIMD16x6, _ q: Int) {
        let s = SIMD16<Float>(repeating: gains[q])
        let r = UnsafeRawPointer(patches + Int(offsets.load(fromByteOffset: 4 * q, as: Int32.self)))
        @inline(__always) func patch(_ i: Int) -> SIMD16<Float> { r.loadUnaligned(fromByteOffset: 64 * i, as: SIMD16<Float>.self) }
        sums.v0 = sums.v0.addingProduct(s, patch(0))
        if N.value > 1 { sums.v1 = sums.v1.addingProduct(s, patch(1)) }
        if N.value > 2 { sums.v2 = sums.v2.addingProduct(s, patch(2)) }
        if N.value > 3 { sums.v3 = sums.v3.addingProduct(s, patch(3)) }
        if N.value > 4 { sums.v4 = sums.v4.addingProduct(s, patch(4)) }
        if N.value > 5 { sums.v5 = sums.v5.addingProduct(s, patch(5)) }
    }
    var q = 0
    while q + 2 <= windows {
        add(&a, q)
        add(&b, q + 1)
        q += 2
    }
    if q < windows { add(&a, q) }
    return SIMD16x6(a.v0 + b.v0, a.v1 + b.v1, a.v2 + b.v2, a.v3 + b.v3, a.v4 + b.v4, a.v5 + b.v5)
}

/// Six accumulators of `sweep`, kept in registers.
private struct SIMD16x6 {
    var v0 = SIMD16<Float>(), v1 = SIMD16<Float>(), v2 = SIMD16<Float>(), v3 = SIMD16<Float>(), v4 = SIMD16<Float>(),
        v5 = SIMD16<Float>()
    init() {}
    init(_ v0: SIMD16<Float>, _ v1: SIMD16<Float>, _ v2: SIMD16<Float>, _ v3: SIMD16<Float>, _ v4: SIMD16<Float>,
         _ v5: SIMD16<Float>) {
        self.v0 = v0; self.v1 = v1; self.v2 = v2; self.v3 = v3; self.v4 = v4; self.v5 = v5
    }
    subscript(i: Int) -> SIMD16<Float> {
        switch i {
        case 0: v0
        case 1: v1
        case 2: v2
        case 3: v3
        case 4: v4
        default: v5
        }
    }
}

/// One image's padded input planes and its patch rows for convolution `g`.
/// Padded planes: `[C, H + 2 padH, W + 2 padW + 16]` (zero border; the 16
/// extra columns let a kernel row be read as one 16-lane vector from any
/// window's first column). Patch rows: one per output pixel (`oy * OW + ox`),
/// `pitch` floats apart, holding the window's `C * KH * KW` inputs in OIHW
/// order (`c * KH * KW + i * KW + j`), then a 1 (lane `C * KH * KW`: its
/// sum is the bias gradient); lanes past it are junk, which the sums' lanes
/// past the patch never leave.
private struct PatchLayout {
    let g: WindowGeometry
    /// Floats of one patch, vectors covering it, and floats between patch rows.
    let patch: Int, vectors: Int, pitch: Int
    let paddedH: Int, paddedW: Int

    init(_ g: WindowGeometry) {
        self.g = g
        patch = g.channels * g.kernelH * g.kernelW
        vectors = (patch + 1 + 15) / 16
        // The last kernel row is stored as a full vector at patch - KW; the ones at patch.
        pitch = (max(patch - g.kernelW + 16, patch + 1) + 15) / 16 * 16
        paddedH = g.height + 2 * g.padH
        paddedW = g.width + 2 * g.padW + 16
    }

    var paddedFloats: Int { g.channels * paddedH * paddedW }
    var patchFloats: Int { g.outH * g.outW * pitch }

    func pad(_ x: UnsafePointer<Float>, into padded: UnsafeMutablePointer<Float>) {
        padded.update(repeating: 0, count: paddedFloats)
        for c in 0..<g.channels {
            for r in 0..<g.height {
                (padded + (c * paddedH + r + g.padH) * paddedW + g.padW)
                    .update(from: x + (c * g.height + r) * g.width, count: g.width)
            }
        }
    }

    /// Each output pixel's patch: its C * KH kernel rows, each copied as a
    /// 16-lane vector at its place (the next row's store overwrites the lanes
    /// past KW).
    func gatherPatches(_ padded: UnsafePointer<Float>, into patches: UnsafeMutablePointer<Float>) {
        for oy in 0..<g.outH {
            for ox in 0..<g.outW {
                let row = UnsafeMutableRawPointer(patches + (oy * g.outW + ox) * pitch)
                var offset = 0
                for c in 0..<g.channels {
                    let plane = padded + c * paddedH * paddedW + oy * g.strideH * paddedW + ox * g.strideW
                    for i in 0..<g.kernelH {
                        let v = UnsafeRawPointer(plane + i * paddedW).loadUnaligned(as: SIMD16<Float>.self)
                        row.storeBytes(of: v, toByteOffset: offset * 4, as: SIMD16<Float>.self)
                        offset += g.kernelW
                    }
                }
                row.storeBytes(of: Float(1), toByteOffset: patch * 4, as: Float.self)
            }
        }
    }
}
