import Testing
@_spi(Testing) import PTrainKernels

// The register-resident 2-D tile transforms of F(4x4, 3x3) against the two 1-D passes through a scratch tile they replace: the same
// operations in the same order, so the same bits. Strides that are not the
// tile's own (a source row 3 tiles wide) catch a swapped row or column
// stride; the results are packed, so every float is written.

/// `count` floats from a fixed LCG in [-2, 2), with exact zeros and halves
/// mixed in.
private func tileValues(_ count: Int, seed: UInt64) -> [Float] {
    var state = seed
    return (0..<count).map { i in
        state = state &* 6364136223846793005 &+ 1442695040888963407
        let u = Float(state >> 40) / Float(1 << 24) * 4 - 2
        return i % 13 == 0 ? 0 : i % 11 == 0 ? 0.5 : u
    }
}

@Test("winograd tiles: the register-resident transforms give the two-pass transforms' bits (F(4x4, 3x3): input, output, gradient)",
      arguments: WinogradTileProbe.Pass.allCases)
func tileTransformsMatchTwoPass(pass: WinogradTileProbe.Pass) {
    let a = WinogradTileProbe.alpha
    // Source element (i, j) at i * rs + j * cs; results (k, l) at k * dk + l * dl
    // (gradient: 8-float halves, the high ones `half` floats later).
    let cs = 16, rs = 3 * a * cs
    let edge = pass == .output ? WinogradTileProbe.m : a
    let dl = pass == .gradient ? 8 : 16, dk = edge * dl, half = edge * dk
    let outCount = pass == .gradient ? 2 * half : edge * dk
    let source = tileValues(rs * a, seed: UInt64(a * 10 + outCount))
    var fused = [Float](repeating: .nan, count: outCount), reference = fused
    var scratch = [Float](repeating: 0, count: WinogradConvolution.scratchCount)
    source.withUnsafeBufferPointer { s in
        scratch.withUnsafeMutableBufferPointer { t in
            fused.withUnsafeMutableBufferPointer {
                WinogradTileProbe.run(pass, twoPass: false, s.baseAddress!, rs, cs, $0.baseAddress!, dk, dl, half: half,
                                      scratch: t.baseAddress!)
            }
            reference.withUnsafeMutableBufferPointer {
                WinogradTileProbe.run(pass, twoPass: true, s.baseAddress!, rs, cs, $0.baseAddress!, dk, dl, half: half,
                                      scratch: t.baseAddress!)
            }
        }
    }
    #expect(fused.map(\.bitPattern) == reference.map(\.bitPattern))
    #expect(!fused.contains { $0.isNaN }, "every result element is written")
}
