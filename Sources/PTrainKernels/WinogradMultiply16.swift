// The Winograd element GEMMs of a 16-channel, 16-filter layer (ResNet-20's
// first stage, W3): `M_e [tiles, 16] = V_e [tiles, 16] x U_e [16, 16]` for each
// of the alpha^2 elements e.
//
// Through the general micro-kernel each call did 16 k steps of 8 FMAs (k is
// the 16 channels) and then stored: call, set-up and stores cost about half
// as much again as the FMAs (`perf`: the 8x16 kernel ran at ~65% of peak, 16%
// of W3's evaluation). U_e is 16 vectors: here it stays in registers while
// the element's tiles stream past, 8 tiles (8 accumulators) at a time, each
// k step an FMA with the tile's broadcast channel value. 16 + 8 of the 32
// vector registers. The sums are the micro-kernel's (from zero, one FMA per
// channel in channel order), so the products are bitwise the same.

/// Eight rows of M in registers: row i accumulates tile `i`'s channels.
private struct EightRows {
    var c0 = SIMD16<Float>(), c1 = SIMD16<Float>(), c2 = SIMD16<Float>(), c3 = SIMD16<Float>()
    var c4 = SIMD16<Float>(), c5 = SIMD16<Float>(), c6 = SIMD16<Float>(), c7 = SIMD16<Float>()

    /// Channel k of the 8 tiles at `a` (rows 16 floats apart) times U's row k.
    @inline(__always)
    mutating func step(_ a: UnsafePointer<Float>, _ k: Int, _ u: SIMD16<Float>) {
        c0 = c0.addingProduct(a[k], u)
        c1 = c1.addingProduct(a[16 + k], u)
        c2 = c2.addingProduct(a[32 + k], u)
        c3 = c3.addingProduct(a[48 + k], u)
        c4 = c4.addingProduct(a[64 + k], u)
        c5 = c5.addingProduct(a[80 + k], u)
        c6 = c6.addingProduct(a[96 + k], u)
        c7 = c7.addingProduct(a[112 + k], u)
    }

    @inline(__always)
    func store(_ m: UnsafeMutablePointer<Float>) {
        let raw = UnsafeMutableRawPointer(m)
        raw.storeBytes(of: c0, toByteOffset: 0, as: SIMD16<Float>.self)
        raw.storeBytes(of: c1, toByteOffset: 64, as: SIMD16<Float>.self)
        raw.storeBytes(of: c2, toByteOffset: 128, as: SIMD16<Float>.self)
        raw.storeBytes(of: c3, toByteOffset: 192, as: SIMD16<Float>.self)
        raw.storeBytes(of: c4, toByteOffset: 256, as: SIMD16<Float>.self)
        raw.storeBytes(of: c5, toByteOffset: 320, as: SIMD16<Float>.self)
        raw.storeBytes(of: c6, toByteOffset: 384, as: SIMD16<Float>.self)
        raw.storeBytes(of: c7, toByteOffset: 448, as: SIMD16<Float>.self)
    }
}

/// `m [tiles, 16] = v [tiles, 16] x u [16, 16]` (all rows 16 floats apart):
/// whole groups of 8 tiles with `u` in registers, the last `tiles % 8`
/// through the 8x16 micro-kernel (the same sums).
@inline(never)
func winogradMultiply16(_ v: UnsafePointer<Float>, _ u: UnsafePointer<Float>, tiles: Int, into m: UnsafeMutablePointer<Float>) {
    @inline(__always) func row(_ k: Int) -> SIMD16<Float> { UnsafeRawPointer(u + 16 * k).loadUnaligned(as: SIMD16<Float>.self) }
    let u0 = row(0), u1 = row(1), u2 = row(2), u3 = row(3), u4 = row(4), u5 = row(5), u6 = row(6), u7 = row(7)
    let u8 = row(8), u9 = row(9), u10 = row(10), u11 = row(11), u12 = row(12), u13 = row(13), u14 = row(14), u15 = row(15)
    var r = 0
    while r &+ 8 <= tiles {
        let a = v + 16 &* r
        var rows = EightRows()
        rows.step(a, 0, u0); rows.step(a, 1, u1); rows.step(a, 2, u2); rows.step(a, 3, u3)
        rows.step(a, 4, u4); rows.step(a, 5, u5); rows.step(a, 6, u6); rows.step(a, 7, u7)
        rows.step(a, 8, u8); rows.step(a, 9, u9); rows.step(a, 10, u10); rows.step(a, 11, u11)
        rows.step(a, 12, u12); rows.step(a, 13, u13); rows.step(a, 14, u14); rows.step(a, 15, u15)
        rows.store(m + 16 &* r)
        r &+= 8
    }
    if r < tiles {
        sgemmRowsMicroKernel(rows: tiles - r, width: gemmNRNarrow, kc: 16, a: v + 16 * r, lda: 16, b: u, bRowStride: 16,
                             c: m + 16 * r, ldc: 16, beta: 0)
    }
}
