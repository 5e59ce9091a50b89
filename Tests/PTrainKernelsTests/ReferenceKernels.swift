// Plain, obviously-correct twins of the SIMD kernels: direct loops over the
// definitions, accumulated in Double. The tests compare the fast kernels with
// these across many shapes.
import PTrainKernels

/// Random floats in [-1, 1) from a fixed linear congruential sequence
/// (tests need no dependency on the library's RNG).
func randomFloats(_ count: Int, seed: UInt64) -> [Float] {
    var s = seed &* 6364136223846793005 &+ 1442695040888963407
    return (0..<count).map { _ in
        s = s &* 6364136223846793005 &+ 1442695040888963407
        return Float(Int64(bitPattern: s) >> 40) / Float(1 << 23)
    }
}

/// Direct 2-D convolution-window gather: value of `image[c, iy, ix]` or 0 outside.
func tap(_ image: [Float], _ g: WindowGeometry, _ c: Int, _ iy: Int, _ ix: Int) -> Float? {
    guard iy >= 0, iy < g.height, ix >= 0, ix < g.width else { return nil }
    return image[(c * g.height + iy) * g.width + ix]
}

func referenceIm2col(_ image: [Float], _ g: WindowGeometry) -> [Float] {
    var col = [Float](repeating: 0, count: g.columnRows * g.columnCols)
    for c in 0..<g.channels { for ki in 0..<g.kernelH { for kj in 0..<g.kernelW {
        let row = (c * g.kernelH + ki) * g.kernelW + kj
        for oy in 0..<g.outH { for ox in 0..<g.outW {
            col[row * g.columnCols + oy * g.outW + ox] =
                tap(image, g, c, oy * g.strideH - g.padH + ki, ox * g.strideW - g.padW + kj) ?? 0
        } }
    } } }
    return col
}

func referenceMaxPool(_ x: [Float], _ g: WindowGeometry, batch: Int) -> [Float] {
    var y: [Float] = []
    for p in 0..<(batch * g.channels) {
        let plane = Array(x[(p * g.height * g.width)..<((p + 1) * g.height * g.width)])
        let pg = WindowGeometry(channels: 1, height: g.height, width: g.width, kernelH: g.kernelH, kernelW: g.kernelW,
                                strideH: g.strideH, strideW: g.strideW, padH: g.padH, padW: g.padW)
        for oy in 0..<g.outH { for ox in 0..<g.outW {
            var best = -Float.infinity
            for ki in 0..<g.kernelH { for kj in 0..<g.kernelW {
                if let v = tap(plane, pg, 0, oy * g.strideH - g.padH + ki, ox * g.strideW - g.padW + kj) { best = max(best, v) }
            } }
            y.append(best)
        } }
    }
    return y
}

func referenceAvgPool(_ x: [Float], _ g: WindowGeometry, batch: Int) -> [Float] {
    var y: [Float] = []
    for p in 0..<(batch * g.channels) {
        let plane = Array(x[(p * g.height * g.width)..<((p + 1) * g.height * g.width)])
        let pg = WindowGeometry(channels: 1, height: g.height, width: g.width, kernelH: g.kernelH, kernelW: g.kernelW,
                                strideH: g.strideH, strideW: g.strideW, padH: g.padH, padW: g.padW)
        for oy in 0..<g.outH { for ox in 0..<g.outW {
            var s = 0.0
            for ki in 0..<g.kernelH { for kj in 0..<g.kernelW {
                s += Double(tap(plane, pg, 0, oy * g.strideH - g.padH + ki, ox * g.strideW - g.padW + kj) ?? 0)
            } }
            y.append(Float(s / Double(g.kernelH * g.kernelW)))
        } }
    }
    return y
}

func assertClose(_ a: [Float], _ b: [Float], tolerance: Float = 1e-5, _ what: String) -> String? {
    guard a.count == b.count else { return "\(what): counts \(a.count) vs \(b.count)" }
    for i in 0..<a.count {
        let scale = max(1, abs(a[i]), abs(b[i]))
        if !(abs(a[i] - b[i]) <= tolerance * scale) && !(a[i] == b[i]) { return "\(what)[\(i)]: \(a[i]) vs \(b[i])" }
    }
    return nil
}
