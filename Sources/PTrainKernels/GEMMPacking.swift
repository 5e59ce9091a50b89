// SGEMM packing: copies blocks of op(A) and op(B) into the contiguous,
// micro-kernel-ordered layouts that GEMMMicroKernel.swift reads.
//
// Packing turns the transpose cases into the same inner loop, makes the
// micro-kernel's loads sequential, zero-pads edge panels so the micro-kernel
// never needs a bounds check, and folds alpha into A (m*k multiplies instead
// of m*n). A is always packed; B only when transposed or for a ragged last
// panel (GEMM.swift explains why a plain B is read in place).
//
// The transposing copies (A stored [m, k], B stored [n, k]) move 8x16 or 16x16
// blocks through registers with 4 rounds of even/odd "unzip" shuffles
// (vpermt2ps) instead of gathering scalars: ~3x faster packing, measured.
//
// Units are floats throughout; `i` indexes rows of C / op(A), `j` columns of
// C / op(B), `p` the shared k dimension.

/// Packs `alpha * op(A)[i0 ..< i0+mc, p0 ..< p0+kc]` into 8-row micro-panels.
///
/// Layout of `dst` (capacity `roundUp(mc, 8) * kc`): panel `q` (rows
/// `i0 + 8q ..< i0 + 8q + 8`) starts at `q * kc * 8`; inside it, k step `p`
/// holds the 8 row values at `p * 8 ..< p * 8 + 8`. Rows past `mc` are zero.
/// `op(A)` is `A` stored `[m, k]` (row stride `lda`), or with `transA` the
/// transpose of `A` stored `[k, m]`.
func packA(transA: Bool, a: UnsafePointer<Float>, lda: Int,
           i0: Int, p0: Int, mc: Int, kc: Int, alpha: Float,
           into dst: UnsafeMutablePointer<Float>) {
    let mr = gemmMR
    var panel = dst
    var i = 0
    while i < mc {
        let rows = min(mr, mc - i)
        if transA {
            // Stored [k, m]: the 8 values of one k step are contiguous.
            var src = a + (p0 * lda + i0 + i)
            if rows == mr {
                for p in 0..<kc {
                    let v = UnsafeRawPointer(src).loadUnaligned(as: SIMD8<Float>.self)
                    UnsafeMutableRawPointer(panel + p * mr).storeBytes(of: v * alpha, as: SIMD8<Float>.self)
                    src += lda
                }
            } else {
                for p in 0..<kc {
                    let d = panel + p * mr
                    for r in 0..<rows { d[r] = alpha * src[r] }
                    for r in rows..<mr { d[r] = 0 }
                    src += lda
                }
            }
        } else {
            // Stored [m, k]: each row is contiguous in p; interleave 8 rows with
            // 8x16 blocks transposed in registers (rows past `rows` read as zero).
            let src = a + ((i0 + i) * lda + p0)
            @inline(__always) func block(at p: Int) {
                var t = Block8x16(rows: src + p, stride: lda, count: rows)
                t.transpose()
                t.store(to: panel + p * mr, scale: alpha)
            }
            var p = 0
            while p + 16 <= kc {
                block(at: p)
                p += 16
            }
            if p < kc {
                if kc >= 16 {
                    block(at: kc - 16)   // overlaps the last block: rewrites equal values
                } else {
                    for p in 0..<kc {
                        let d = panel + p * mr
                        for r in 0..<rows { d[r] = alpha * src[r * lda + p] }
                        for r in rows..<mr { d[r] = 0 }
                    }
                }
            }
        }
        panel += kc * mr
        i += mr
    }
}

/// Width of the packed panel that holds `columns` (<= 32) columns of op(B):
/// 16 when the narrow 8x16 kernel will read it, else 32.
@inline(__always)
func packedPanelWidth(columns: Int) -> Int {
    columns > gemmNRNarrow ? gemmNR : gemmNRNarrow
}

/// Packs `op(B)[p0 ..< p0+kc, j0 ..< j0+nc]` into column micro-panels.
///
/// Layout of `dst` (capacity `kc * roundUp(nc, 32)`): panel `q` (columns
/// `j0 + 32q ..< j0 + 32q + 32`) starts at `q * kc * 32`; inside it, k step `p`
/// holds the panel's row at `p * w ..< p * w + w` where `w` is
/// `packedPanelWidth(columns:)` of the panel (32, or 16 for a last panel of at
/// most 16 columns). Columns past `nc` are zero.
/// `op(B)` is `B` stored `[k, n]` (row stride `ldb`), or with `transB` the
/// transpose of `B` stored `[n, k]`.
func packB(transB: Bool, b: UnsafePointer<Float>, ldb: Int,
           p0: Int, j0: Int, kc: Int, nc: Int,
           into dst: UnsafeMutablePointer<Float>) {
    let nr = gemmNR
    var panel = dst
    var j = 0
    while j < nc {
        let cols = min(nr, nc - j)
        let w = packedPanelWidth(columns: cols)
        if transB {
            // Stored [n, k]: column j of op(B) is the contiguous row j of B.
            // 16x16 blocks transposed in registers; rows past `cols` read as zero.
            let src = b + ((j0 + j) * ldb + p0)
            @inline(__always) func blocks(at p: Int) {
                for half in 0..<(w / 16) {
                    var t = Block16x16(rows: src + (half * 16 * ldb + p), stride: ldb,
                                       count: cols - half * 16)
                    t.transpose()
                    t.store(to: panel + (p * w + half * 16), stride: w)
                }
            }
            var p = 0
            while p + 16 <= kc {
                blocks(at: p)
                p += 16
            }
            if p < kc {
                if kc >= 16 {
                    blocks(at: kc - 16)   // overlaps the last block: rewrites equal values
                } else {
                    for p in 0..<kc {
                        let d = panel + p * w
                        for c in 0..<cols { d[c] = src[c * ldb + p] }
                        for c in cols..<w { d[c] = 0 }
                    }
                }
            }
        } else {
            // Stored [k, n]: one k step of the panel is a contiguous run.
            var src = b + (p0 * ldb + j0 + j)
            if cols == nr {
                for p in 0..<kc {
                    let s = UnsafeRawPointer(src)
                    let d = UnsafeMutableRawPointer(panel + p * nr)
                    d.storeBytes(of: s.loadUnaligned(as: SIMD16<Float>.self), as: SIMD16<Float>.self)
                    d.storeBytes(of: s.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self),
                                 toByteOffset: 64, as: SIMD16<Float>.self)
                    src += ldb
                }
            } else {
                for p in 0..<kc {
                    let d = panel + p * w
                    for v in stride(from: 0, to: w, by: 16) {
                        UnsafeMutableRawPointer(d + v).storeBytes(of: SIMD16<Float>(), as: SIMD16<Float>.self)
                    }
                    var c = 0
                    if cols >= 16 {
                        UnsafeMutableRawPointer(d).storeBytes(
                            of: UnsafeRawPointer(src).loadUnaligned(as: SIMD16<Float>.self), as: SIMD16<Float>.self)
                        c = 16
                    }
                    while c < cols { d[c] = src[c]; c += 1 }
                    src += ldb
                }
            }
        }
        panel += kc * nr
        j += nr
    }
}

// MARK: - In-register transposes

/// Splits the 32 lanes `x ++ y` into even and odd lanes ("unzip"). On a matrix
/// stored as rows, one round of unzipping row pairs rotates the bits of the
/// flat element index right by one; log2(columns) = 4 rounds therefore turn
/// `[R, 16]` row-major into `[16, R]` row-major. Lowers to vpermt2ps.
///
/// Spelled lane by lane rather than with `SIMD32.evenHalf`/`oddHalf`: those are
/// stdlib generics whose specialisations the optimiser may outline into calls
/// (measured: 2-3x slower packing); lane inserts here always fold to shuffles.
@inline(__always)
func unzip(_ x: SIMD16<Float>, _ y: SIMD16<Float>) -> (even: SIMD16<Float>, odd: SIMD16<Float>) {
    (SIMD16(x[0], x[2], x[4], x[6], x[8], x[10], x[12], x[14], y[0], y[2], y[4], y[6], y[8], y[10], y[12], y[14]),
     SIMD16(x[1], x[3], x[5], x[7], x[9], x[11], x[13], x[15], y[1], y[3], y[5], y[7], y[9], y[11], y[13], y[15]))
}

/// A 16x16 block of floats in 16 registers: `r_i` is row i.
struct Block16x16 {
    var r0, r1, r2, r3, r4, r5, r6, r7, r8, r9, r10, r11, r12, r13, r14, r15: SIMD16<Float>

    /// Loads 16 rows of 16 floats, row i at `rows + i * stride`.
    ///
    /// Only the first `count` rows are read (count may be <= 0 or >= 16); the
    /// others are zero.
    @inline(__always)
    init(rows: UnsafePointer<Float>, stride: Int, count: Int = 16) {
        @inline(__always) func row(_ i: Int) -> SIMD16<Float> {
            i < count ? UnsafeRawPointer(rows + i * stride).loadUnaligned(as: SIMD16<Float>.self) : SIMD16()
        }
        r0 = row(0)
        r1 = row(1)
        r2 = row(2)
        r3 = row(3)
        r4 = row(4)
        r5 = row(5)
        r6 = row(6)
        r7 = row(7)
        r8 = row(8)
        r9 = row(9)
        r10 = row(10)
        r11 = row(11)
        r12 = row(12)
        r13 = row(13)
        r14 = row(14)
        r15 = row(15)
    }

    /// Row i is `row(i)` (called for i = 0 ..< 16 in order).
    @inline(__always)
    init(_ row: (Int) -> SIMD16<Float>) {
        r0 = row(0); r1 = row(1); r2 = row(2); r3 = row(3); r4 = row(4); r5 = row(5); r6 = row(6); r7 = row(7)
        r8 = row(8); r9 = row(9); r10 = row(10); r11 = row(11); r12 = row(12); r13 = row(13); r14 = row(14); r15 = row(15)
    }

    /// Row i (a constant after inlining and unrolling: the switch folds away).
    @inline(__always)
    func row(_ i: Int) -> SIMD16<Float> {
        switch i {
        case 0: r0; case 1: r1; case 2: r2; case 3: r3; case 4: r4; case 5: r5; case 6: r6; case 7: r7
        case 8: r8; case 9: r9; case 10: r10; case 11: r11; case 12: r12; case 13: r13; case 14: r14
        default: r15
        }
    }

    /// Calls `body(i, r_i)` for i = 0 ..< 16 in order.
    @inline(__always)
    func forEachRow(_ body: (Int, SIMD16<Float>) -> Void) {
        body(0, r0); body(1, r1); body(2, r2); body(3, r3); body(4, r4); body(5, r5); body(6, r6); body(7, r7)
        body(8, r8); body(9, r9); body(10, r10); body(11, r11); body(12, r12); body(13, r13); body(14, r14); body(15, r15)
    }

    /// In place: afterwards `r_j` holds what was column j.
    @inline(__always)
    mutating func transpose() {
        for _ in 0..<4 {
            let u0 = unzip(r0, r1)
            let u1 = unzip(r2, r3)
            let u2 = unzip(r4, r5)
            let u3 = unzip(r6, r7)
            let u4 = unzip(r8, r9)
            let u5 = unzip(r10, r11)
            let u6 = unzip(r12, r13)
            let u7 = unzip(r14, r15)
            r0 = u0.even; r1 = u1.even; r2 = u2.even; r3 = u3.even
            r4 = u4.even; r5 = u5.even; r6 = u6.even; r7 = u7.even
            r8 = u0.odd; r9 = u1.odd; r10 = u2.odd; r11 = u3.odd
            r12 = u4.odd; r13 = u5.odd; r14 = u6.odd; r15 = u7.odd
        }
    }

    /// Stores row i at `dst + i * stride`.
    @inline(__always)
    func store(to dst: UnsafeMutablePointer<Float>, stride: Int) {
        @inline(__always) func put(_ i: Int, _ v: SIMD16<Float>) {
            UnsafeMutableRawPointer(dst + i * stride).storeBytes(of: v, as: SIMD16<Float>.self)
        }
        put(0, r0); put(1, r1); put(2, r2); put(3, r3); put(4, r4); put(5, r5); put(6, r6); put(7, r7); put(8, r8); put(9, r9); put(10, r10); put(11, r11); put(12, r12); put(13, r13); put(14, r14); put(15, r15)
    }
}

/// An 8x16 block of floats in 8 registers: `r_i` is row i. Transposed, the 128
/// floats in order are the 16 columns of 8 values each: exactly 16 k steps of a
/// packed A micro-panel.
struct Block8x16 {
    var r0, r1, r2, r3, r4, r5, r6, r7: SIMD16<Float>

    /// Loads 8 rows of 16 floats, row i at `rows + i * stride`.
    ///
    /// Only the first `count` rows are read (count may be <= 0 or >= 8); the
    /// others are zero.
    @inline(__always)
    init(rows: UnsafePointer<Float>, stride: Int, count: Int = 8) {
        @inline(__always) func row(_ i: Int) -> SIMD16<Float> {
            i < count ? UnsafeRawPointer(rows + i * stride).loadUnaligned(as: SIMD16<Float>.self) : SIMD16()
        }
        r0 = row(0)
        r1 = row(1)
        r2 = row(2)
        r3 = row(3)
        r4 = row(4)
        r5 = row(5)
        r6 = row(6)
        r7 = row(7)
    }

    /// In place: afterwards `r_q` holds columns 2q and 2q+1 (8 values each).
    @inline(__always)
    mutating func transpose() {
        for _ in 0..<4 {
            let u0 = unzip(r0, r1)
            let u1 = unzip(r2, r3)
            let u2 = unzip(r4, r5)
            let u3 = unzip(r6, r7)
            r0 = u0.even; r1 = u1.even; r2 = u2.even; r3 = u3.even
            r4 = u0.odd; r5 = u1.odd; r6 = u2.odd; r7 = u3.odd
        }
    }

    /// Stores the 128 floats contiguously at `dst`, each multiplied by `scale`.
    @inline(__always)
    func store(to dst: UnsafeMutablePointer<Float>, scale: Float) {
        @inline(__always) func put(_ i: Int, _ v: SIMD16<Float>) {
            UnsafeMutableRawPointer(dst + i * 16).storeBytes(of: v * scale, as: SIMD16<Float>.self)
        }
        put(0, r0); put(1, r1); put(2, r2); put(3, r3); put(4, r4); put(5, r5); put(6, r6); put(7, r7)
    }
}
