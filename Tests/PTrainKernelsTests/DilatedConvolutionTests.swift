import Testing
import PTrainKernels

// Dilated convolutions: im2col/col2im spread the taps D pixels apart, the
// forward pass equals the direct definition, and ConvolutionChoice sends
// every pass of a dilated shape to im2col (the other algorithms assume
// adjacent taps), unless it is depthwise (DepthwiseConvolutionTests.swift). The gradients are checked against finite differences of
// this forward pass in PTrainTests (LayerGradientTests.swift).

/// (channels, height, width, filters, kernel (h, w), stride (h, w), padding (h, w), dilation (h, w), groups)
let dilatedCases: [(Int, Int, Int, Int, (Int, Int), (Int, Int), (Int, Int), (Int, Int), Int)] = [
    (2, 9, 9, 3, (3, 3), (1, 1), (2, 2), (2, 2), 1),     // "same" width: im2col's shifted-plane copy
    (3, 10, 11, 4, (3, 3), (1, 1), (0, 0), (2, 3), 1),   // valid, unequal dilations
    (4, 11, 17, 4, (3, 2), (2, 2), (1, 1), (2, 2), 2),   // strided (col2im's stride-2 vectors), grouped
    (16, 8, 8, 16, (3, 3), (1, 1), (2, 2), (2, 2), 1),   // a shape Winograd would take undilated
    (2, 7, 12, 3, (1, 3), (1, 3), (0, 3), (1, 3), 1),    // 1xK at stride 3 (scalar path)
]

func dilatedShape(_ c: (Int, Int, Int, Int, (Int, Int), (Int, Int), (Int, Int), (Int, Int), Int)) -> ConvolutionShape {
    let g = WindowGeometry(channels: c.0 / c.8, height: c.1, width: c.2, kernelH: c.4.0, kernelW: c.4.1,
                           strideH: c.5.0, strideW: c.5.1, padH: c.6.0, padW: c.6.1, dilationH: c.7.0, dilationW: c.7.1)
    return ConvolutionShape(geometry: g, outputs: c.3 / c.8, groups: c.8)
}

/// Calls `body(yi, wi, xi)` for every product `w[wi] * x[xi]` that output
/// `y[yi]` sums over a batch of dense tensors (taps outside the image skipped):
/// `y[n, o, oy, ox] = sum over c, i, j of w[o, c, i, j] * x[n, g*C/g + c,
/// oy*SH - PH + i*DH, ox*SW - PW + j*DW]`, o in group g.
func forEachDilatedProduct(_ s: ConvolutionShape, batch: Int, _ body: (Int, Int, Int) -> Void) {
    let g = s.geometry, c = g.channels, plane = g.height * g.width
    for n in 0..<batch { for o in 0..<(s.groups * s.outputs) {
        let group = o / s.outputs
        for oy in 0..<g.outH { for ox in 0..<g.outW {
            for ch in 0..<c { for i in 0..<g.kernelH { for j in 0..<g.kernelW {
                let iy = oy * g.strideH - g.padH + i * g.dilationH, ix = ox * g.strideW - g.padW + j * g.dilationW
                guard iy >= 0, iy < g.height, ix >= 0, ix < g.width else { continue }
                body(((n * s.groups * s.outputs + o) * g.outH + oy) * g.outW + ox, ((o * c + ch) * g.kernelH + i) * g.kernelW + j,
                     ((n * s.groups + group) * c + ch) * plane + iy * g.width + ix)
            } } }
        } }
    } }
}

/// One pass by the direct definition, in Double: `forward` y, `inputGradient`
/// dx, `weightGradient` dW summed over the batch (`dy` unused by `forward`).
func dilatedReferencePass(_ pass: ConvolutionPass, _ s: ConvolutionShape, batch: Int, x: [Float], w: [Float], dy: [Float]) -> [Float] {
    let g = s.geometry
    let count = pass == .forward ? batch * s.groups * s.outputs * g.columnCols
        : pass == .inputGradient ? x.count : w.count
    var result = [Double](repeating: 0, count: count)
    forEachDilatedProduct(s, batch: batch) { yi, wi, xi in
        switch pass {
        case .forward: result[yi] += Double(w[wi]) * Double(x[xi])
        case .inputGradient: result[xi] += Double(dy[yi]) * Double(w[wi])
        case .weightGradient: result[wi] += Double(dy[yi]) * Double(x[xi])
        }
    }
    return result.map(Float.init)
}

@Test("dilated convolution: the forward pass equals the direct definition", arguments: dilatedCases.indices)
func dilatedForwardMatchesDefinition(_ index: Int) {
    let s = dilatedShape(dilatedCases[index]), g = s.geometry, batch = 3
    let x = randomFloats(batch * s.groups * g.channels * g.height * g.width, seed: 1)
    let w = randomFloats(s.groups * s.outputs * g.columnRows, seed: 2)
    let algorithm = ConvolutionChoice.choose(s, .forward).init(s, maxBatch: 4)
    var workspace = [Float](repeating: .nan, count: max(1, algorithm.workspaceFloats))
    var y = [Float](repeating: .nan, count: batch * s.groups * s.outputs * g.columnCols)
    workspace.withUnsafeMutableBufferPointer { ws in
        algorithm.forward(x, inputStride: x.count / batch, weights: w, into: &y, outputStride: y.count / batch, batch: batch,
                          workspace: ConvolutionWorkspace(floats: ws.baseAddress!, gemm: GEMMWorkspace()))
    }
    expectClose(y, dilatedReferencePass(.forward, s, batch: batch, x: x, w: w, dy: []), tolerance: 1e-5, "case \(index)")
}

@Test("dilated convolution: the output size counts the span D * (K - 1) + 1; every pass goes to im2col, which alone supports it")
func dilatedShapesGoToIm2col() {
    let g = dilatedShape(dilatedCases[1]).geometry
    #expect(g.isDilated && g.spanH == 5 && g.spanW == 7 && g.outH == 6 && g.outW == 5)
    // A 1x1 kernel spans one pixel whatever its dilation.
    #expect(!WindowGeometry(channels: 1, height: 4, width: 4, kernelH: 1, kernelW: 1, strideH: 1, strideW: 1,
                            padH: 0, padW: 0, dilationH: 3, dilationW: 2).isDilated)
    for c in dilatedCases {
        let s = dilatedShape(c)
        for pass in ConvolutionPass.allCases {
            #expect("\(ConvolutionChoice.choose(s, pass))" == "Im2ColAlgorithm")
            for other in algorithmTypes where ObjectIdentifier(other) != ObjectIdentifier(Im2ColAlgorithm.self) {
                let supported = other.supports(s, pass)
                #expect(!supported, "\(other) \(pass)")
            }
        }
    }
}
