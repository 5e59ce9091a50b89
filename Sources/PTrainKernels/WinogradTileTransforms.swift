// The 2-D tile transforms of Winograd's passes (B^T d B, A^T M A and
// A dY A^T on one tile of 16 channels): two 1-D passes through a scratch
// tile for any variant, and F(4x4, 3x3)'s without the scratch tile: its
// intermediate rows stay in registers, a group of rows at a time, which
// halves the input transform's stores (a 64-byte store is the costliest
// memory operation here: one per cycle at best, two cycles where the
// vector unit is 256 bits wide). The register-resident transforms compute
// the same operations in the same order as the two passes: same bits.

/// Six vectors: the elements of one 1-D transform on 6 points.
typealias WinogradSix = (WinogradVector, WinogradVector, WinogradVector, WinogradVector, WinogradVector, WinogradVector)
/// Four vectors: the outputs of one 1-D F(4, 3) inverse transform.
typealias WinogradFour = (WinogradVector, WinogradVector, WinogradVector, WinogradVector)

/// The 2-D transforms of a tile: the source's element (i, j) at `s + i * rs
/// + j * cs`, the result's (k, l) at `d + k * dk + l * dl` (floats);
/// `scratch` holds `WinogradConvolution.scratchCount` floats.
protocol WinogradTileTransforms: WinogradTiles {
    /// `B^T d B`: alpha x alpha to alpha x alpha.
    static func inputTile(_ s: UnsafePointer<Float>, _ rs: Int, _ cs: Int, _ d: UnsafeMutablePointer<Float>, _ dk: Int, _ dl: Int,
                          scratch: UnsafeMutablePointer<Float>)
    /// `A^T M A`: alpha x alpha to m x m.
    static func outputTile(_ s: UnsafePointer<Float>, _ rs: Int, _ cs: Int, _ d: UnsafeMutablePointer<Float>, _ dk: Int, _ dl: Int,
                           scratch: UnsafeMutablePointer<Float>)
    /// `A q A^T`: m x m to alpha x alpha, each result vector stored as two
    /// 8-channel halves, at `d + k * dk + l * dl` and `half` floats after.
    static func gradientTile(_ s: UnsafePointer<Float>, _ rs: Int, _ cs: Int, _ d: UnsafeMutablePointer<Float>, _ dk: Int, _ dl: Int,
                             half: Int, scratch: UnsafeMutablePointer<Float>)
}

extension WinogradTileTransforms {
    // The defaults: two 1-D passes through the scratch tile (also the
    // reference the register-resident variants are tested against).
    @inline(__always)
    static func inputTile(_ s: UnsafePointer<Float>, _ rs: Int, _ cs: Int, _ d: UnsafeMutablePointer<Float>, _ dk: Int, _ dl: Int,
                          scratch: UnsafeMutablePointer<Float>) {
        inputTileTwoPass(s, rs, cs, d, dk, dl, scratch: scratch)
    }
    @inline(__always)
    static func outputTile(_ s: UnsafePointer<Float>, _ rs: Int, _ cs: Int, _ d: UnsafeMutablePointer<Float>, _ dk: Int, _ dl: Int,
                           scratch: UnsafeMutablePointer<Float>) {
        outputTileTwoPass(s, rs, cs, d, dk, dl, scratch: scratch)
    }
    @inline(__always)
    static func gradientTile(_ s: UnsafePointer<Float>, _ rs: Int, _ cs: Int, _ d: UnsafeMutablePointer<Float>, _ dk: Int, _ dl: Int,
                             half: Int, scratch: UnsafeMutablePointer<Float>) {
        gradientTileTwoPass(s, rs, cs, d, dk, dl, half: half, scratch: scratch)
    }

    /// Columns into the scratch tile (tmp[k][j] = (B^T d[., j])[k]), then rows.
    @inline(__always)
    static func inputTileTwoPass(_ s: UnsafePointer<Float>, _ rs: Int, _ cs: Int, _ d: UnsafeMutablePointer<Float>, _ dk: Int,
                                 _ dl: Int, scratch tmp: UnsafeMutablePointer<Float>) {
        twoPass(s, rs, cs, d, dk, dl, scratch: tmp, rows: alpha, input)
    }

    /// Columns into the scratch tile (tmp[i][b] = (A^T M[., b])[i]), then rows.
    @inline(__always)
    static func outputTileTwoPass(_ s: UnsafePointer<Float>, _ rs: Int, _ cs: Int, _ d: UnsafeMutablePointer<Float>, _ dk: Int,
                                  _ dl: Int, scratch tmp: UnsafeMutablePointer<Float>) {
        twoPass(s, rs, cs, d, dk, dl, scratch: tmp, rows: m, output)
    }

    /// `transform` (alpha vectors in, `rows` out) down each of the alpha
    /// source columns into the scratch tile, then along its `rows` rows.
    @inline(__always)
    private static func twoPass(_ s: UnsafePointer<Float>, _ rs: Int, _ cs: Int, _ d: UnsafeMutablePointer<Float>, _ dk: Int,
                                _ dl: Int, scratch tmp: UnsafeMutablePointer<Float>, rows: Int,
                                _ transform: (UnsafePointer<Float>, Int, UnsafeMutablePointer<Float>, Int) -> Void) {
        let tmpRow = 16 * alpha
        var source = s, column = tmp
        for _ in 0..<alpha { transform(source, rs, column, tmpRow); source += cs; column += 16 }
        var row = UnsafePointer(tmp), out = d
        for _ in 0..<rows { transform(row, 16, out, dl); row += tmpRow; out += dk }
    }

    /// Columns into the scratch tile (tmp[x][j] = (A q[., j])[x]), then each
    /// row through a second scratch row and out as halves.
    @inline(__always)
    static func gradientTileTwoPass(_ s: UnsafePointer<Float>, _ rs: Int, _ cs: Int, _ d: UnsafeMutablePointer<Float>, _ dk: Int,
                                    _ dl: Int, half: Int, scratch tmp: UnsafeMutablePointer<Float>) {
        let a = alpha, tmpRow = 16 * m, row = tmp + 16 * a * m
        var source = s, column = tmp
        for _ in 0..<m { gradient(source, rs, column, tmpRow); source += cs; column += 16 }
        var q = UnsafePointer(tmp), out = d
        for _ in 0..<a {
            gradient(q, 16, row, 16)
            var p = out
            for y in 0..<a {
                storeHalves(loadVector(row + 16 * y), p, half)
                p += dl
            }
            q += tmpRow; out += dk
        }
    }
}

@inline(__always)
func storeHalves(_ z: WinogradVector, _ p: UnsafeMutablePointer<Float>, _ half: Int) {
    UnsafeMutableRawPointer(p).storeBytes(of: z.lowHalf, as: SIMD8<Float>.self)
    UnsafeMutableRawPointer(p + half).storeBytes(of: z.highHalf, as: SIMD8<Float>.self)
}

@inline(__always)
func storeSix(_ v: WinogradSix, _ d: UnsafeMutablePointer<Float>, _ ds: Int) {
    storeVector(v.0, d); storeVector(v.1, d + ds); storeVector(v.2, d + 2 &* ds)
    storeVector(v.3, d + 3 &* ds); storeVector(v.4, d + 4 &* ds); storeVector(v.5, d + 5 &* ds)
}

@inline(__always)
func storeFour(_ v: WinogradFour, _ d: UnsafeMutablePointer<Float>, _ ds: Int) {
    storeVector(v.0, d); storeVector(v.1, d + ds); storeVector(v.2, d + 2 &* ds); storeVector(v.3, d + 3 &* ds)
}

/// `f` down each of the six columns of a 6x6 tile (column j at `s + j *
/// cs`, its elements `rs` apart). The register-resident transforms keep the
/// results' elements they need; the compiler drops the rest and their loads.
@inline(__always)
private func sixColumns<T>(_ s: UnsafePointer<Float>, _ rs: Int, _ cs: Int,
                           _ f: (WinogradVector, WinogradVector, WinogradVector, WinogradVector, WinogradVector, WinogradVector) -> T)
    -> (T, T, T, T, T, T) {
    @inline(__always) func column(_ j: Int) -> T {
        let p = s + j &* cs
        return f(loadVector(p), loadVector(p + rs), loadVector(p + 2 &* rs),
                 loadVector(p + 3 &* rs), loadVector(p + 4 &* rs), loadVector(p + 5 &* rs))
    }
    return (column(0), column(1), column(2), column(3), column(4), column(5))
}

extension WinogradF25: WinogradTileTransforms {}
/// On 8x8 tiles (W2's 64-channel conv2) register-resident transforms in
/// groups of 2-3 rows measured no faster (`perf`: input transform 6.6% vs
/// 6.7% of configs/bench/probes/winograd5x5-64.yaml): the GEMMs dominate.
extension WinogradF45: WinogradTileTransforms {}

extension WinogradF43: WinogradTileTransforms {
    /// Rows k = 0-2, then 3-5: each group transforms all six columns into
    /// 18 registers (the loads its rows do not use are dropped) and then its
    /// rows. 60 loads and 36 stores per tile instead of 72 and 72.
    @inline(__always)
    static func inputTile(_ s: UnsafePointer<Float>, _ rs: Int, _ cs: Int, _ d: UnsafeMutablePointer<Float>, _ dk: Int, _ dl: Int,
                          scratch: UnsafeMutablePointer<Float>) {
        do {
            let c = sixColumns(s, rs, cs, inputSix)
            storeSix(inputSix(c.0.0, c.1.0, c.2.0, c.3.0, c.4.0, c.5.0), d, dl)
            storeSix(inputSix(c.0.1, c.1.1, c.2.1, c.3.1, c.4.1, c.5.1), d + dk, dl)
            storeSix(inputSix(c.0.2, c.1.2, c.2.2, c.3.2, c.4.2, c.5.2), d + 2 &* dk, dl)
        }
        do {
            let c = sixColumns(s, rs, cs, inputSix)
            storeSix(inputSix(c.0.3, c.1.3, c.2.3, c.3.3, c.4.3, c.5.3), d + 3 &* dk, dl)
            storeSix(inputSix(c.0.4, c.1.4, c.2.4, c.3.4, c.4.4, c.5.4), d + 4 &* dk, dl)
            storeSix(inputSix(c.0.5, c.1.5, c.2.5, c.3.5, c.4.5, c.5.5), d + 5 &* dk, dl)
        }
    }

    /// Output rows 0-1, then 2-3, each from the six columns' two values in
    /// 12 registers: 60 loads and 16 stores per tile instead of 60 and 40.
    @inline(__always)
    static func outputTile(_ s: UnsafePointer<Float>, _ rs: Int, _ cs: Int, _ d: UnsafeMutablePointer<Float>, _ dk: Int, _ dl: Int,
                           scratch: UnsafeMutablePointer<Float>) {
        do {
            let c = sixColumns(s, rs, cs, outputFour)
            storeFour(outputFour(c.0.0, c.1.0, c.2.0, c.3.0, c.4.0, c.5.0), d, dl)
            storeFour(outputFour(c.0.1, c.1.1, c.2.1, c.3.1, c.4.1, c.5.1), d + dk, dl)
        }
        do {
            let c = sixColumns(s, rs, cs, outputFour)
            storeFour(outputFour(c.0.2, c.1.2, c.2.2, c.3.2, c.4.2, c.5.2), d + 2 &* dk, dl)
            storeFour(outputFour(c.0.3, c.1.3, c.2.3, c.3.3, c.4.3, c.5.3), d + 3 &* dk, dl)
        }
    }

    /// Result rows 0-2, then 3-5, each from the four columns' three values
    /// in 12 registers, stored straight as halves.
    @inline(__always)
    static func gradientTile(_ s: UnsafePointer<Float>, _ rs: Int, _ cs: Int, _ d: UnsafeMutablePointer<Float>, _ dk: Int, _ dl: Int,
                             half: Int, scratch: UnsafeMutablePointer<Float>) {
        @inline(__always) func column(_ j: Int) -> WinogradSix {
            let p = s + j &* cs
            return gradientSix(loadVector(p), loadVector(p + rs), loadVector(p + 2 &* rs), loadVector(p + 3 &* rs))
        }
        @inline(__always) func store(_ v: WinogradSix, _ p: UnsafeMutablePointer<Float>) {
            storeHalves(v.0, p, half); storeHalves(v.1, p + dl, half); storeHalves(v.2, p + 2 &* dl, half)
            storeHalves(v.3, p + 3 &* dl, half); storeHalves(v.4, p + 4 &* dl, half); storeHalves(v.5, p + 5 &* dl, half)
        }
        do {
            let c0 = column(0), c1 = column(1), c2 = column(2), c3 = column(3)
            store(gradientSix(c0.0, c1.0, c2.0, c3.0), d)
            store(gradientSix(c0.1, c1.1, c2.1, c3.1), d + dk)
            store(gradientSix(c0.2, c1.2, c2.2, c3.2), d + 2 &* dk)
        }
        do {
            let c0 = column(0), c1 = column(1), c2 = column(2), c3 = column(3)
            store(gradientSix(c0.3, c1.3, c2.3, c3.3), d + 3 &* dk)
            store(gradientSix(c0.4, c1.4, c2.4, c3.4), d + 4 &* dk)
            store(gradientSix(c0.5, c1.5, c2.5, c3.5), d + 5 &* dk)
        }
    }
}

/// One F(4x4, 3x3) tile transform, register-resident or through the
/// scratch tile: the kernel tests' access to both (arguments as
/// `WinogradTileTransforms`'; `half` only for `.gradient`).
@_spi(Testing)
public enum WinogradTileProbe {
    public static let alpha = 6, m = 4
    public enum Pass: Sendable, CaseIterable { case input, output, gradient }

    public static func run(_ pass: Pass, twoPass: Bool, _ s: UnsafePointer<Float>, _ rs: Int, _ cs: Int,
                           _ d: UnsafeMutablePointer<Float>, _ dk: Int, _ dl: Int, half: Int, scratch: UnsafeMutablePointer<Float>) {
        typealias T = WinogradF43
        switch (pass, twoPass) {
        case (.input, false): T.inputTile(s, rs, cs, d, dk, dl, scratch: scratch)
        case (.input, true): T.inputTileTwoPass(s, rs, cs, d, dk, dl, scratch: scratch)
        case (.output, false): T.outputTile(s, rs, cs, d, dk, dl, scratch: scratch)
        case (.output, true): T.outputTileTwoPass(s, rs, cs, d, dk, dl, scratch: scratch)
        case (.gradient, false): T.gradientTile(s, rs, cs, d, dk, dl, half: half, scratch: scratch)
        case (.gradient, true): T.gradientTileTwoPass(s, rs, cs, d, dk, dl, half: half, scratch: scratch)
        }
    }
}
