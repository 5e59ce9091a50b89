import Testing
import PTrainKernels

/// Shapes for the window kernels: tiny, odd, overlapping and padded cases.
/// (channels, height, width, kernelH, kernelW, stride, pad)
let windowCases: [(Int, Int, Int, Int, Int, Int, Int)] = [
    (1, 1, 1, 1, 1, 1, 0), (1, 3, 3, 3, 3, 1, 0), (2, 7, 5, 3, 3, 1, 1), (3, 8, 8, 5, 5, 1, 2),
    (1, 28, 28, 5, 5, 1, 2), (6, 14, 14, 5, 5, 1, 0), (3, 9, 9, 3, 3, 2, 1), (2, 24, 24, 3, 3, 2, 0),
    (4, 7, 7, 2, 2, 2, 0), (1, 33, 31, 3, 1, 3, 1), (2, 6, 6, 1, 1, 1, 0), (5, 12, 12, 3, 3, 2, 0),
    (2, 33, 34, 3, 3, 1, 1),  // a "same" convolution on a wide plane (im2col's block copy)
    (3, 32, 32, 3, 3, 2, 1),  // ResNet's transition: col2im's stride-2 vectors (8 and 4 wide) and scalar tail
    (2, 21, 40, 3, 5, 2, 2),  // stride 2, 18 outputs per row: 8 + 8 vectors then a scalar tail
]

/// `maxPoolForward` with outputs, argmax and a scratch of its own, which
/// starts as NaN (the kernel must not read scratch it did not write).
func maxPoolWithArgmax(_ x: [Float], _ g: WindowGeometry, batch: Int) -> (y: [Float], argmax: [Int32]) {
    let count = batch * g.channels * g.outH * g.outW
    var y = [Float](repeating: .nan, count: count), arg = [Int32](repeating: -7, count: count)
    var scratch = [Float](repeating: .nan, count: maxPoolScratchCount(g))
    x.withUnsafeBufferPointer { xs in y.withUnsafeMutableBufferPointer { ys in arg.withUnsafeMutableBufferPointer { a in
        scratch.withUnsafeMutableBufferPointer {
            maxPoolForward(xs.baseAddress!, g, batch: batch, ys.baseAddress!, argmax: a.baseAddress!, scratch: $0.baseAddress!)
        }
    } } }
    return (y, arg)
}

func geometry(_ c: (Int, Int, Int, Int, Int, Int, Int)) -> WindowGeometry {
    WindowGeometry(channels: c.0, height: c.1, width: c.2, kernelH: c.3, kernelW: c.4,
                   strideH: c.5, strideW: c.5, padH: c.6, padW: min(c.6, c.4 / 2))
}

@Test("im2col matches the direct gather", arguments: windowCases.indices)
func im2colMatchesReference(_ i: Int) {
    let g = geometry(windowCases[i])
    let image = randomFloats(g.channels * g.height * g.width, seed: UInt64(i))
    var col = [Float](repeating: .nan, count: g.columnRows * g.columnCols)
    image.withUnsafeBufferPointer { src in col.withUnsafeMutableBufferPointer { im2col(src.baseAddress!, g, $0.baseAddress!) } }
    #expect(col == referenceIm2col(image, g))
}

@Test("im2col and col2im with a row stride: images side by side in one column matrix", arguments: windowCases.indices)
func stridedColumns(_ i: Int) {
    let g = geometry(windowCases[i])
    let images = 3, cols = g.columnCols, stride = images * cols
    let planes = (0..<images).map { randomFloats(g.channels * g.height * g.width, seed: UInt64(500 + 10 * i + $0)) }
    var wide = [Float](repeating: .nan, count: g.columnRows * stride)
    wide.withUnsafeMutableBufferPointer { w in
        for (k, p) in planes.enumerated() { p.withUnsafeBufferPointer { im2col($0.baseAddress!, g, w.baseAddress! + k * cols, rowStride: stride) } }
    }
    for (k, p) in planes.enumerated() {
        let reference = referenceIm2col(p, g)
        for r in 0..<g.columnRows { #expect(Array(wide[(r * stride + k * cols)..<(r * stride + (k + 1) * cols)]) == Array(reference[(r * cols)..<((r + 1) * cols)])) }
    }
    // col2im of image k's block equals col2im of the same block stored contiguously.
    let c = randomFloats(g.columnRows * stride, seed: UInt64(600 + i))
    for k in 0..<images {
        var strided = [Float](repeating: 0.5, count: planes[0].count), contiguous = strided
        var block = [Float](repeating: 0, count: g.columnRows * cols)
        for r in 0..<g.columnRows { for j in 0..<cols { block[r * cols + j] = c[r * stride + k * cols + j] } }
        c.withUnsafeBufferPointer { src in strided.withUnsafeMutableBufferPointer { col2imAccumulate(src.baseAddress! + k * cols, g, $0.baseAddress!, rowStride: stride) } }
        block.withUnsafeBufferPointer { src in contiguous.withUnsafeMutableBufferPointer { col2imAccumulate(src.baseAddress!, g, $0.baseAddress!) } }
        #expect(strided == contiguous)
    }
}

@Test("col2im equals the direct scatter-add, bit for bit", arguments: windowCases.indices)
func col2imMatchesReference(_ i: Int) {
    let g = geometry(windowCases[i])
    let c = randomFloats(g.columnRows * g.columnCols, seed: UInt64(70 + i))
    let base = randomFloats(g.channels * g.height * g.width, seed: UInt64(90 + i))
    // The direct definition, in col2im's order: row (c, ki, kj), then (oy, ox).
    var expected = base
    for ch in 0..<g.channels {
        for ki in 0..<g.kernelH {
            for kj in 0..<g.kernelW {
                let row = (ch * g.kernelH + ki) * g.kernelW + kj
                for oy in 0..<g.outH {
                    for ox in 0..<g.outW {
                        let iy = oy * g.strideH - g.padH + ki, ix = ox * g.strideW - g.padW + kj
                        guard iy >= 0, iy < g.height, ix >= 0, ix < g.width else { continue }
                        expected[(ch * g.height + iy) * g.width + ix] += c[row * g.columnCols + oy * g.outW + ox]
                    }
                }
            }
        }
    }
    var got = base
    c.withUnsafeBufferPointer { src in got.withUnsafeMutableBufferPointer { col2imAccumulate(src.baseAddress!, g, $0.baseAddress!) } }
    #expect(got == expected)
}

@Test("col2im accumulates the exact adjoint of im2col", arguments: windowCases.indices)
func col2imIsAdjointOfIm2col(_ i: Int) {
    // <im2col(x), c> == <x, col2im(c)> for random x, c: the defining property of the gradient.
    let g = geometry(windowCases[i])
    let x = randomFloats(g.channels * g.height * g.width, seed: UInt64(100 + i))
    let c = randomFloats(g.columnRows * g.columnCols, seed: UInt64(200 + i))
    let colX = referenceIm2col(x, g)
    var back = [Float](repeating: 1, count: x.count)  // starts at 1: col2im must ADD
    c.withUnsafeBufferPointer { src in back.withUnsafeMutableBufferPointer { col2imAccumulate(src.baseAddress!, g, $0.baseAddress!) } }
    let lhs = zip(colX, c).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
    let rhs = zip(x, back).reduce(0.0) { $0 + Double($1.0) * Double($1.1 - 1) }
    #expect(abs(lhs - rhs) <= 1e-4 * max(1, abs(lhs)))
}

/// Window case i as a max pool: without its padding where more than half
/// a window would be padding (a window of padding only has no argmax).
func maxPoolGeometry(_ i: Int) -> WindowGeometry {
    let g = geometry(windowCases[i])
    guard g.padH * 2 > g.kernelH || g.padW * 2 > g.kernelW else { return g }
    return WindowGeometry(channels: g.channels, height: g.height, width: g.width, kernelH: g.kernelH, kernelW: g.kernelW,
                          strideH: g.strideH, strideW: g.strideW, padH: 0, padW: 0)
}

@Test("max pooling matches the reference and routes gradients to the argmax", arguments: windowCases.indices)
func maxPoolMatchesReference(_ i: Int) {
    let g = maxPoolGeometry(i)
    let batch = 2
    let x = randomFloats(batch * g.channels * g.height * g.width, seed: UInt64(300 + i))
    let outCount = batch * g.channels * g.outH * g.outW
    let (y, arg) = maxPoolWithArgmax(x, g, batch: batch)
    #expect(y == referenceMaxPool(x, g, batch: batch))
    // Backward: every output's gradient lands on an input holding the max.
    let dy = randomFloats(outCount, seed: UInt64(400 + i))
    var dx = [Float](repeating: 0, count: x.count)
    dy.withUnsafeBufferPointer { d in arg.withUnsafeBufferPointer { a in dx.withUnsafeMutableBufferPointer {
        maxPoolBackward(d.baseAddress!, argmax: a.baseAddress!, g, batch: batch, $0.baseAddress!)
    } } }
    var expected = [Float](repeating: 0, count: x.count)
    let planeIn = g.height * g.width, planeOut = g.outH * g.outW
    for o in 0..<outCount {
        let p = o / planeOut
        #expect(x[p * planeIn + Int(arg[o])] == y[o])
        expected[p * planeIn + Int(arg[o])] += dy[o]
    }
    #expect(dx == expected)
}

@Test("max pool backward over rectified inputs: written over stale dx and masked by y > 0, it gives the added gradient with the relu's mask applied after, bit for bit",
      arguments: windowCases.indices)
func maxPoolBackwardMasksRectifiedInput(_ i: Int) {
    let g = maxPoolGeometry(i)
    let batch = 2
    // A relu's output: many zeros, and every other plane dead (all zeros:
    // each window's maximum there is 0, whatever the window's size).
    let planeIn = g.height * g.width
    let x = randomFloats(batch * g.channels * planeIn, seed: UInt64(800 + i)).enumerated().map { k, v in
        (k / planeIn) % 2 == 1 ? 0 : max(v - 0.3, 0)
    }
    let (y, arg) = maxPoolWithArgmax(x, g, batch: batch)
    let dy = randomFloats(y.count, seed: UInt64(900 + i))
    // The separate passes: add into zeros, then the mask x > 0 (as `rectifyGradient`: 0 + g or 0).
    var expected = [Float](repeating: 0, count: x.count)
    dy.withUnsafeBufferPointer { d in arg.withUnsafeBufferPointer { a in expected.withUnsafeMutableBufferPointer {
        maxPoolBackward(d.baseAddress!, argmax: a.baseAddress!, g, batch: batch, $0.baseAddress!)
    } } }
    x.withUnsafeBufferPointer { xs in expected.withUnsafeMutableBufferPointer { rectifyGradient(xs.baseAddress!, $0.baseAddress!, count: x.count) } }
    var got = [Float](repeating: 7, count: x.count)   // stale values: overwritten
    var masked = dy   // masked in place
    masked.withUnsafeMutableBufferPointer { d in arg.withUnsafeBufferPointer { a in y.withUnsafeBufferPointer { ys in
        got.withUnsafeMutableBufferPointer {
            maxPoolBackward(d.baseAddress!, argmax: a.baseAddress!, g, batch: batch, $0.baseAddress!, overwrite: true,
                            rectified: ys.baseAddress!)
        }
    } } }
    #expect(got.map(\.bitPattern) == expected.map(\.bitPattern))
    // Not vacuous: the mask drops some routed gradients and keeps others.
    #expect(zip(y, dy).contains { $0 == 0 && $1 != 0 } && got.contains { $0 != 0 })
}

@Test("max pooling without argmax (inference, separable) gives the values of the argmax path, padded and clipped windows included",
      arguments: windowCases.indices)
func maxPoolValuesMatchArgmaxPath(_ i: Int) {
    let c = windowCases[i]
    // Every window shape of the cases with and without padding (a window of
    // padding only, possible when pad >= kernel, gives -inf in both paths).
    for pad in Set([0, c.6, c.3 / 2]) {
        let g = WindowGeometry(channels: c.0, height: c.1, width: c.2, kernelH: c.3, kernelW: c.4,
                               strideH: c.5, strideW: c.5, padH: pad, padW: min(pad, c.4))
        guard g.outH >= 1, g.outW >= 1 else { continue }
        let batch = 2
        let x = randomFloats(batch * g.channels * g.height * g.width, seed: UInt64(600 + i))
        let outCount = batch * g.channels * g.outH * g.outW
        let expected = maxPoolWithArgmax(x, g, batch: batch).y
        var got = [Float](repeating: .nan, count: outCount)
        var scratch = [Float](repeating: .nan, count: maxPoolScratchCount(g))
        x.withUnsafeBufferPointer { xs in
            got.withUnsafeMutableBufferPointer { ys in scratch.withUnsafeMutableBufferPointer {
                maxPoolValues(xs.baseAddress!, g, batch: batch, ys.baseAddress!, scratch: $0.baseAddress!)
            } }
        }
        #expect(got == expected, "pad \(pad)")
        #expect(got == referenceMaxPool(x, g, batch: batch), "pad \(pad)")
    }
}

@Test("max pooling of pitched planes (a convolution's staged outputs) reads only the planes' columns and rows",
      arguments: windowCases.indices)
func maxPoolValuesOfPitchedPlanes(_ i: Int) {
    let g = geometry(windowCases[i])
    guard g.outH >= 1, g.outW >= 1 else { return }
    let planes = 2 * g.channels, rowPitch = g.width + 5, planePitch = g.height * rowPitch + 3
    let x = randomFloats(planes * g.height * g.width, seed: UInt64(700 + i))
    // Everything outside the planes' columns is larger than any value: read, it would win.
    var pitched = [Float](repeating: 1e30, count: planes * planePitch)
    for p in 0..<planes { for r in 0..<g.height { for c in 0..<g.width {
        pitched[p * planePitch + r * rowPitch + c] = x[(p * g.height + r) * g.width + c]
    } } }
    var got = [Float](repeating: .nan, count: planes * g.outH * g.outW)
    var scratch = [Float](repeating: .nan, count: maxPoolScratchCount(g))
    pitched.withUnsafeBufferPointer { xs in
        got.withUnsafeMutableBufferPointer { ys in scratch.withUnsafeMutableBufferPointer {
            maxPoolValues(xs.baseAddress!, g, planes: planes, rowPitch: rowPitch, planePitch: planePitch, ys.baseAddress!,
                          scratch: $0.baseAddress!)
        } }
    }
    #expect(got == referenceMaxPool(x, g, batch: 2))
}

@Test("average pooling matches the reference; backward is its adjoint", arguments: windowCases.indices)
func avgPoolMatchesReference(_ i: Int) {
    let g = geometry(windowCases[i])
    let batch = 2
    let x = randomFloats(batch * g.channels * g.height * g.width, seed: UInt64(500 + i))
    let outCount = batch * g.channels * g.outH * g.outW
    var y = [Float](repeating: 0, count: outCount)
    x.withUnsafeBufferPointer { xs in y.withUnsafeMutableBufferPointer { avgPoolForward(xs.baseAddress!, g, batch: batch, $0.baseAddress!) } }
    #expect(assertClose(y, referenceAvgPool(x, g, batch: batch), "avgpool") == nil)
    let dy = randomFloats(outCount, seed: UInt64(600 + i))
    var dx = [Float](repeating: 0, count: x.count)
    dy.withUnsafeBufferPointer { d in dx.withUnsafeMutableBufferPointer { avgPoolBackward(d.baseAddress!, g, batch: batch, $0.baseAddress!) } }
    let lhs = zip(y, dy).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
    let rhs = zip(x, dx).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
    #expect(abs(lhs - rhs) <= 1e-4 * max(1, abs(lhs)))
}

@Test("2x2/2 max pooling (8- and 16-wide SIMD groups, overlapped last groups, narrow rows as one group but at the batch's end): values and the first maximum's index, ties included", arguments: [(28, 28), (10, 10), (9, 37), (2, 16), (8, 9), (6, 7), (3, 13), (4, 33), (5, 18)])
func maxPool2x2FirstMaximum(_ size: (Int, Int)) {
    let g = WindowGeometry(channels: 3, height: size.0, width: size.1, kernelH: 2, kernelW: 2, strideH: 2, strideW: 2, padH: 0, padW: 0)
    let batch = 2, planeIn = g.height * g.width, planeOut = g.outH * g.outW
    // Values from {0, 1, 2}: most windows hold ties, which must resolve to the first tap in row-major order.
    let x = randomFloats(batch * g.channels * planeIn, seed: UInt64(size.1)).map { Float(Int(($0 + 1) * 1.5)) }
    let (y, arg) = maxPoolWithArgmax(x, g, batch: batch)
    for p in 0..<(batch * g.channels) {
        for oy in 0..<g.outH {
            for ox in 0..<g.outW {
                var best = -Float.infinity, at = -1
                for (ki, kj) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                    let i = (2 * oy + ki) * g.width + 2 * ox + kj
                    if x[p * planeIn + i] > best { best = x[p * planeIn + i]; at = i }
                }
                #expect(y[p * planeOut + oy * g.outW + ox] == best && arg[p * planeOut + oy * g.outW + ox] == Int32(at))
            }
        }
    }
}

/// (height, width, kernel, padding, stride) of the separable max pool's cases.
let separablePoolCases = [
    (24, 24, 3, 1, 2), (12, 12, 3, 1, 2), (40, 37, 3, 1, 2), (35, 36, 2, 1, 2), (27, 33, 3, 0, 2), (30, 30, 5, 2, 2),
    (55, 55, 3, 0, 2), (13, 13, 3, 0, 2),  // the 2012 AlexNet's pools: 8-wide groups with overlap, and 6 outputs
    (5, 5, 3, 1, 2), (7, 9, 3, 0, 2), (9, 17, 2, 0, 2),  // rows of < 8 and < 16 columns, fewer than 8 outputs
    (11, 11, 3, 3, 2), (6, 8, 2, 3, 3),  // padding >= kernel: windows of padding only
    (19, 11, 3, 3, 2),  // 12 output rows: a padding-only row in the second chunk of 8
    (31, 29, 3, 1, 3), (16, 16, 4, 0, 4), (9, 20, 3, 1, 1),  // strides 3 and 4; 1 (its own path)
    (6, 31, 3, 1, 2), (5, 16, 2, 0, 2), (7, 36, 4, 1, 2),  // exactly 16 and 8 outputs; an even kernel over 18
]

@Test("separable max pooling (8-wide row groups, overlapped or short; 16-, 8- and 1-wide column passes; padding-only windows; other strides): values and the first maximum's index, ties included; the inference kernel's values",
      arguments: separablePoolCases)
func maxPoolSeparableFirstMaximum(_ c: (Int, Int, Int, Int, Int)) {
    let (h, w, k, pad, stride) = c
    let g = WindowGeometry(channels: 2, height: h, width: w, kernelH: k, kernelW: k, strideH: stride, strideW: stride, padH: pad, padW: pad)
    let batch = 2, planeIn = h * w, planeOut = g.outH * g.outW
    // Values from {0, 1, 2}: most windows hold ties. A third of the zeros
    // become -inf, which an in-image tap still beats the border with (the
    // stride-1 path names no tap for an all -inf window: left out there).
    let x = randomFloats(batch * g.channels * planeIn, seed: UInt64(h * w + k)).enumerated().map { i, r in
        let v = Float(Int((r + 1) * 1.5))
        return v == 0 && i % 3 == 0 && stride > 1 ? -Float.infinity : v
    }
    let (y, arg) = maxPoolWithArgmax(x, g, batch: batch)
    var mismatches = 0
    for p in 0..<(batch * g.channels) {
        for oy in 0..<g.outH {
            for ox in 0..<g.outW {
                // First in-image maximum in row-major order.
                var best = -Float.infinity, at = -1
                for ki in 0..<k {
                    for kj in 0..<k {
                        let iy = stride * oy - pad + ki, ix = stride * ox - pad + kj
                        guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
                        if at < 0 || x[p * planeIn + iy * w + ix] > best { best = x[p * planeIn + iy * w + ix]; at = iy * w + ix }
                    }
                }
                let o = p * planeOut + oy * g.outW + ox
                if y[o] != best || arg[o] != Int32(at) { mismatches += 1 }
            }
        }
    }
    #expect(mismatches == 0)
    // The inference kernel (no argmax) gives the same values.
    var values = [Float](repeating: .nan, count: y.count)
    var scratch = [Float](repeating: .nan, count: maxPoolScratchCount(g))
    x.withUnsafeBufferPointer { xs in values.withUnsafeMutableBufferPointer { ys in scratch.withUnsafeMutableBufferPointer {
        maxPoolValues(xs.baseAddress!, g, batch: batch, ys.baseAddress!, scratch: $0.baseAddress!)
    } } }
    #expect(values == y)
}

@Test("2x2/2 max pool backward written over stale dx (8-wide groups, overlapped last groups, odd heights and widths): the bits of adding into zeros, -0 included",
      arguments: [(28, 28), (17, 19), (10, 18), (6, 33)])
func maxPool2x2GradientWritten(_ size: (Int, Int)) {
    let g = WindowGeometry(channels: 3, height: size.0, width: size.1, kernelH: 2, kernelW: 2, strideH: 2, strideW: 2, padH: 0, padW: 0)
    #expect(g.outW >= 8)
    let batch = 2
    // Ties from {0, 1, 2}, and gradients with signed zeros.
    let x = randomFloats(batch * g.channels * g.height * g.width, seed: UInt64(size.1 + 40)).map { Float(Int(($0 + 1) * 1.5)) }
    let (_, arg) = maxPoolWithArgmax(x, g, batch: batch)
    let dy = randomFloats(arg.count, seed: UInt64(size.0 + 70)).enumerated().map { k, v in k % 5 == 0 ? -0.0 : v }
    var expected = [Float](repeating: 0, count: x.count)
    var got = [Float](repeating: 7, count: x.count)
    dy.withUnsafeBufferPointer { d in arg.withUnsafeBufferPointer { a in
        expected.withUnsafeMutableBufferPointer { maxPoolBackward(d.baseAddress!, argmax: a.baseAddress!, g, batch: batch, $0.baseAddress!) }
        got.withUnsafeMutableBufferPointer {
            maxPoolBackward(d.baseAddress!, argmax: a.baseAddress!, g, batch: batch, $0.baseAddress!, overwrite: true)
        }
    } }
    let same = got.map(\.bitPattern) == expected.map(\.bitPattern)
    #expect(same, "\(size)")
}
