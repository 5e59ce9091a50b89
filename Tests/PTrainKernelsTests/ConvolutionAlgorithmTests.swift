import Testing
import PTrainKernels

// Every ConvolutionAlgorithm, every pass it supports, against the direct
// definition (ReferenceKernels.swift, TapConvolutionTests.swift's
// `forEachProduct`), group by group; and ConvolutionChoice's routing.

/// (channels, height, width, filters, kernel (h, w), stride (h, w), padding (h, w), groups)
let algorithmCases: [(Int, Int, Int, Int, (Int, Int), (Int, Int), (Int, Int), Int)] = [
    (4, 5, 6, 6, (1, 1), (1, 1), (0, 0), 2),        // pointwise, grouped
    (3, 7, 9, 5, (3, 3), (1, 1), (1, 1), 1),        // same 3x3, odd sizes
    (4, 6, 5, 6, (3, 3), (1, 1), (0, 0), 2),        // valid 3x3, grouped
    (2, 5, 5, 3, (1, 1), (1, 1), (1, 1), 1),        // 1x1 with padding (pad > K - 1)
    (3, 9, 8, 4, (3, 3), (2, 2), (1, 1), 1),        // strided
    (32, 6, 6, 32, (3, 3), (2, 2), (1, 1), 2),      // strided, 16-channel panels per group
    (16, 6, 7, 16, (3, 3), (1, 1), (1, 1), 1),      // Winograd 3x3
    (16, 5, 5, 32, (5, 5), (1, 1), (2, 2), 1),      // Winograd 5x5
    (2, 4, 9, 3, (2, 5), (1, 1), (0, 2), 1),        // non-square kernel, unequal padding
    // Output planes of whole 16-pixel blocks: the tap algorithm adds bias and
    // relu in its copy-out (rows of 12: scalar tails; W2's conv1: 16 + 8).
    (3, 4, 12, 5, (3, 3), (1, 1), (1, 1), 1),
    (3, 24, 24, 6, (5, 5), (1, 1), (2, 2), 1),
    // Strided input gradients by phases (TapStridedGradient): ResNet's
    // transition (16-wide rows: the 8-wide scatter), 5x5/2, stride 3, kernel
    // smaller than the stride, unequal strides with pad > K - 1.
    (16, 32, 32, 32, (3, 3), (2, 2), (1, 1), 1),
    (3, 11, 10, 5, (5, 5), (2, 2), (2, 2), 1),
    (2, 10, 11, 3, (3, 3), (3, 3), (1, 0), 1),
    (4, 9, 8, 3, (2, 2), (3, 3), (0, 1), 1),
    (3, 9, 9, 4, (3, 3), (2, 1), (3, 0), 1),
    // Filter vectors (whole 16-filter blocks, fewer than 16 channels, stride
    // 1, depth C * KH * KW >= 100): LeNet's conv2 (one 10-pixel block per
    // row, no padding); two 12-pixel blocks and four filter blocks; rows of 29 (blocks 10, 10,
    // 9) and a plane's 11-pixel tail; non-square kernels whose weight
    // gradient splits the kernel rows (5-wide: 2 + 1; 3-wide: 4 + 1); a
    // 7-wide kernel (forward only); 15 channels.
    (6, 14, 14, 16, (5, 5), (1, 1), (0, 0), 1),
    (5, 24, 24, 64, (5, 5), (1, 1), (2, 2), 1),
    (12, 7, 29, 32, (3, 3), (1, 1), (1, 1), 1),
    (7, 5, 4, 16, (3, 5), (1, 1), (1, 2), 1),
    (7, 6, 13, 16, (5, 3), (1, 1), (2, 1), 1),
    (3, 9, 9, 16, (7, 7), (1, 1), (3, 3), 1),
    (15, 4, 6, 16, (3, 3), (1, 1), (1, 0), 1),
    // Image-lane weight gradients (fewer than 16 filters, 3- or 5-wide
    // kernels): LeNet's conv1 (two blocks of 3 filters); rows of 17, 5
    // filters (blocks of 3 and 2); a 3x5 kernel with unequal padding.
    (1, 28, 28, 6, (5, 5), (1, 1), (2, 2), 1),
    (2, 5, 17, 3, (3, 3), (1, 1), (1, 1), 1),
    (3, 4, 20, 5, (3, 5), (1, 1), (0, 2), 1),
    // Image-lane input gradients (besides LeNet's conv2 and the 5x5 and 7x7
    // cases above): 13 channels in blocks of 6, 6 and 1, a 5x7 kernel with
    // pad K - 1 one way and none the other, rows of 9 (pitch 12, a partly
    // junk last block), dy planes of 30 (a 14-pixel tail); unequal padding.
    (13, 6, 9, 5, (5, 7), (1, 1), (4, 0), 1),
    (2, 7, 11, 3, (5, 5), (1, 1), (1, 2), 1),
    // Image-lane weight gradients with padding past K - 1 and a lone last
    // filter (7 = 3 + 3 + 1), a 3-wide kernel.
    (2, 5, 6, 7, (2, 3), (1, 1), (3, 4), 1),
]

let algorithmTypes: [any ConvolutionAlgorithm.Type] = [
    DepthwiseAlgorithm.self, PointwiseAlgorithm.self, FilterVectorAlgorithm.self, ImageLaneAlgorithm.self,
    TapAlgorithm.self, WindowAlgorithm.self, WinogradAlgorithm.self, Im2ColAlgorithm.self,
]

func convolutionShape(_ c: (Int, Int, Int, Int, (Int, Int), (Int, Int), (Int, Int), Int)) -> ConvolutionShape {
    let g = WindowGeometry(channels: c.0 / c.7, height: c.1, width: c.2, kernelH: c.4.0, kernelW: c.4.1,
                           strideH: c.5.0, strideW: c.5.1, padH: c.6.0, padW: c.6.1)
    return ConvolutionShape(geometry: g, outputs: c.3 / c.7, groups: c.7)
}

/// The reference of one pass over a batch, group by group: `forward` y,
/// `inputGradient` dx, `weightGradient` dW (dense tensors; the batch summed
/// into dW). Dilated shapes go by the direct definition
/// (DilatedConvolutionTests.swift), which TapConvolution's lacks.
func referencePass(_ pass: ConvolutionPass, _ s: ConvolutionShape, batch: Int, x: [Float], w: [Float], dy: [Float]) -> [Float] {
    let g = s.geometry
    if g.isDilated { return dilatedReferencePass(pass, s, batch: batch, x: x, w: w, dy: dy) }
    let plan = TapConvolution(channels: g.channels, height: g.height, width: g.width, outputs: s.outputs,
                              kernelH: g.kernelH, kernelW: g.kernelW, padH: g.padH, padW: g.padW,
                              strideH: g.strideH, strideW: g.strideW)
    let inGroup = g.channels * g.height * g.width, outGroup = s.outputs * g.columnCols, wGroup = s.outputs * g.columnRows
    var result = [Float](repeating: 0, count: pass == .forward ? batch * s.groups * outGroup
                                                : pass == .inputGradient ? batch * s.groups * inGroup : s.groups * wGroup)
    for n in 0..<batch {
        for k in 0..<s.groups {
            let xs = Array(x[(n * s.groups + k) * inGroup..<(n * s.groups + k + 1) * inGroup])
            let dys = Array(dy[(n * s.groups + k) * outGroup..<(n * s.groups + k + 1) * outGroup])
            let ws = Array(w[k * wGroup..<(k + 1) * wGroup])
            switch pass {
            case .forward:
                result.replaceSubrange((n * s.groups + k) * outGroup..<(n * s.groups + k + 1) * outGroup,
                                       with: referenceConvolution(xs, ws, plan))
            case .inputGradient:
                result.replaceSubrange((n * s.groups + k) * inGroup..<(n * s.groups + k + 1) * inGroup,
                                       with: referenceInputGradient(dys, ws, plan))
            case .weightGradient:
                for (i, v) in referenceWeightGradient(xs, dys, plan).enumerated() { result[k * wGroup + i] += v }
            }
        }
    }
    return result
}

/// Runs `pass` twice on `batch` images (samples `gap` floats apart beyond
/// their size, as in a concatenation) through one workspace, filled with NaN
/// before each run (it is shared with other layers: a pass may rely on none
/// of its contents): the forward output must be the same both times, the
/// gradients accumulate twice onto what their buffers held. Returns the
/// outputs (dense) and their expectation.
func runTwice<A: ConvolutionAlgorithm>(_ type: A.Type, _ pass: ConvolutionPass, _ s: ConvolutionShape,
                                       batch: Int) -> (got: [Float], expected: [Float]) {
    let g = s.geometry, gap = 3
    let inCount = s.groups * g.channels * g.height * g.width, outCount = s.groups * s.outputs * g.columnCols
    let wCount = s.groups * s.outputs * g.columnRows
    let x = randomFloats(batch * inCount, seed: 1), w = randomFloats(wCount, seed: 2), dy = randomFloats(batch * outCount, seed: 3)
    let algorithm = A(s, maxBatch: batch + 1)
    var workspace = [Float](repeating: 0, count: max(1, algorithm.workspaceFloats))
    let gemm = GEMMWorkspace()
    func strided(_ dense: [Float], _ count: Int) -> [Float] {
        (0..<batch).flatMap { Array(dense[$0 * count..<($0 + 1) * count]) + [Float](repeating: .nan, count: gap) }
    }
    func dense(_ strided: [Float], _ count: Int) -> [Float] {
        (0..<batch).flatMap { Array(strided[$0 * (count + gap)..<$0 * (count + gap) + count]) }
    }
    let xs = strided(x, inCount), dys = strided(dy, outCount)
    let reference = referencePass(pass, s, batch: batch, x: x, w: w, dy: dy)
    let base = randomFloats(reference.count, seed: 4)
    var out = pass == .forward ? strided([Float](repeating: .nan, count: batch * outCount), outCount)
        : pass == .inputGradient ? strided(base, inCount) : base
    for _ in 0..<2 {
        for i in workspace.indices { workspace[i] = .nan }
        workspace.withUnsafeMutableBufferPointer { ws in
            out.withUnsafeMutableBufferPointer { o in
                let work = ConvolutionWorkspace(floats: ws.baseAddress!, gemm: gemm)
                switch pass {
                case .forward:
                    algorithm.forward(xs, inputStride: inCount + gap, weights: w, into: o.baseAddress!,
                                      outputStride: outCount + gap, batch: batch, workspace: work)
                case .inputGradient:
                    algorithm.inputGradient(dys, outputStride: outCount + gap, weights: w, into: o.baseAddress!,
                                            inputStride: inCount + gap, batch: batch, workspace: work)
                case .weightGradient:
                    algorithm.weightGradient(xs, inputStride: inCount + gap, dys, outputStride: outCount + gap,
                                             into: o.baseAddress!, batch: batch, workspace: work)
                }
            }
        }
    }
    switch pass {
    case .forward: return (dense(out, outCount), reference)
    case .inputGradient: return (dense(out, inCount), zip(base, reference).map { $0 + 2 * $1 })
    case .weightGradient: return (out, zip(base, reference).map { $0 + 2 * $1 })
    }
}

@Test("convolution algorithms: every supported pass equals the direct convolution (3 images planned for 4, strided samples, run twice through one workspace filled with NaN each time)",
      arguments: algorithmCases.indices)
func algorithmsMatchReference(_ index: Int) {
    let s = convolutionShape(algorithmCases[index])
    for type in algorithmTypes {
        for pass in ConvolutionPass.allCases where type.supports(s, pass) {
            let (got, expected) = runTwice(type, pass, s, batch: 3)
            // Gradients sum over images and pixels: scale by their size.
            let scale = max(1, expected.map { abs($0) }.max() ?? 1)
            expectClose(got.map { $0 / scale }, expected.map { $0 / scale }, tolerance: 1e-5, "\(type) \(pass) case \(index)")
        }
    }
}

/// The algorithm `choose` picks for each pass, by name.
func chosen(_ c: (Int, Int, Int, Int, (Int, Int), (Int, Int), (Int, Int), Int), winograd: Bool = true) -> [String] {
    ConvolutionPass.allCases.map { "\(ConvolutionChoice.choose(convolutionShape(c), $0, winograd: winograd))" }
}

@Test("convolution choice: Winograd when allowed, else pointwise, filter vectors, taps, window planes and im2col by the shape's edges")
func choiceRoutes() {
    let resnet = (16, 32, 32, 16, (3, 3), (1, 1), (1, 1), 1)
    #expect(chosen(resnet) == ["WinogradAlgorithm", "WinogradAlgorithm", "WinogradAlgorithm"])
    #expect(chosen(resnet, winograd: false) == ["TapAlgorithm", "TapAlgorithm", "TapAlgorithm"])
    // Grouped: no Winograd; 8 channels per group: no tap weight gradient.
    #expect(chosen((16, 8, 8, 16, (3, 3), (1, 1), (1, 1), 2)) == ["TapAlgorithm", "TapAlgorithm", "WindowAlgorithm"])
    // LeNet's conv2 (5x5, fewer than 16 channels): image-lane input gradients.
    #expect(chosen((6, 12, 12, 16, (5, 5), (1, 1), (0, 0), 1)) == ["FilterVectorAlgorithm", "ImageLaneAlgorithm", "FilterVectorAlgorithm"])
    #expect(chosen((6, 12, 12, 8, (5, 5), (1, 1), (0, 0), 1)) == ["TapAlgorithm", "ImageLaneAlgorithm", "ImageLaneAlgorithm"])
    #expect(chosen((12, 32, 32, 16, (3, 3), (1, 1), (1, 1), 1)) == ["FilterVectorAlgorithm", "TapAlgorithm", "FilterVectorAlgorithm"])
    // ResNet-20's conv1 (depth 27): the taps.
    #expect(chosen((3, 32, 32, 16, (3, 3), (1, 1), (1, 1), 1)) == ["TapAlgorithm", "TapAlgorithm", "WindowAlgorithm"])
    // LeNet's conv1 (6 filters): image-lane gradients.
    #expect(chosen((1, 28, 28, 6, (5, 5), (1, 1), (2, 2), 1)) == ["TapAlgorithm", "ImageLaneAlgorithm", "ImageLaneAlgorithm"])
    #expect(chosen((3, 32, 32, 16, (7, 7), (1, 1), (3, 3), 1)) == ["FilterVectorAlgorithm", "ImageLaneAlgorithm", "WindowAlgorithm"])
    #expect(chosen((16, 32, 32, 32, (3, 3), (2, 2), (1, 1), 1)) == ["TapAlgorithm", "TapAlgorithm", "TapAlgorithm"])
    #expect(chosen((3, 32, 32, 64, (5, 5), (2, 2), (2, 2), 1)) == ["TapAlgorithm", "TapAlgorithm", "Im2ColAlgorithm"])
    #expect(chosen((16, 8, 8, 32, (1, 1), (1, 1), (0, 0), 1)) == ["PointwiseAlgorithm", "PointwiseAlgorithm", "PointwiseAlgorithm"])
    #expect(chosen((4, 8, 8, 4, (1, 1), (1, 1), (1, 1), 1)) == ["TapAlgorithm", "Im2ColAlgorithm", "WindowAlgorithm"])
    #expect(chosen((16, 8, 8, 16, (3, 3), (1, 1), (2, 2), 1), winograd: false) == ["TapAlgorithm", "TapAlgorithm", "TapAlgorithm"])
}

@Test("convolution algorithms: supports stops exactly at each algorithm's edges")
func algorithmSupportEdges() {
    let s = { convolutionShape($0) }
    // Image lanes: stride-1 input gradients, 15 channels at most, kernels of
    // 5 or more both ways, pad <= K - 1, one group, undilated.
    #expect(ImageLaneAlgorithm.supports(s((15, 9, 9, 4, (5, 5), (1, 1), (4, 4), 1)), .inputGradient))
    #expect(ImageLaneAlgorithm.supports(s((1, 9, 9, 4, (5, 7), (1, 1), (0, 0), 1)), .inputGradient))
    #expect(!ImageLaneAlgorithm.supports(s((16, 9, 9, 4, (5, 5), (1, 1), (2, 2), 1)), .inputGradient))
    #expect(!ImageLaneAlgorithm.supports(s((6, 9, 9, 4, (5, 4), (1, 1), (2, 2), 1)), .inputGradient))
    #expect(!ImageLaneAlgorithm.supports(s((6, 9, 9, 4, (4, 5), (1, 1), (2, 2), 1)), .inputGradient))
    #expect(!ImageLaneAlgorithm.supports(s((6, 9, 9, 4, (5, 5), (1, 1), (5, 4), 1)), .inputGradient))
    #expect(!ImageLaneAlgorithm.supports(s((6, 9, 9, 4, (5, 5), (1, 1), (4, 5), 1)), .inputGradient))
    #expect(!ImageLaneAlgorithm.supports(s((6, 9, 9, 4, (5, 5), (1, 2), (2, 2), 1)), .inputGradient))
    #expect(!ImageLaneAlgorithm.supports(s((12, 9, 9, 4, (5, 5), (1, 1), (2, 2), 2)), .inputGradient))
    #expect(!ImageLaneAlgorithm.supports(s((6, 9, 9, 4, (5, 5), (1, 1), (2, 2), 1)), .forward))
    #expect(!ImageLaneAlgorithm.supports(s((6, 9, 9, 16, (5, 5), (1, 1), (2, 2), 1)), .weightGradient))
    // Pointwise: 1x1 at stride 1 without padding only.
    #expect(PointwiseAlgorithm.supports(s((4, 5, 5, 4, (1, 1), (1, 1), (0, 0), 2)), .inputGradient))
    #expect(!PointwiseAlgorithm.supports(s((4, 5, 5, 4, (1, 1), (1, 1), (1, 1), 1)), .forward))
    #expect(!PointwiseAlgorithm.supports(s((4, 5, 5, 4, (1, 1), (2, 2), (0, 0), 1)), .forward))
    // Taps: every forward; input gradients at stride 1 with pad <= K - 1 and
    // strided ones with any padding (by phases); weight gradients on 16-channel panels.
    #expect(TapAlgorithm.supports(s((3, 9, 9, 4, (3, 3), (2, 2), (1, 1), 1)), .forward))
    #expect(TapAlgorithm.supports(s((3, 9, 9, 4, (3, 3), (1, 1), (2, 2), 1)), .inputGradient))
    #expect(!TapAlgorithm.supports(s((3, 9, 9, 4, (3, 3), (1, 1), (3, 3), 1)), .inputGradient))
    #expect(TapAlgorithm.supports(s((3, 9, 9, 4, (3, 3), (2, 2), (1, 1), 1)), .inputGradient))
    #expect(TapAlgorithm.supports(s((3, 9, 9, 4, (3, 3), (2, 1), (3, 0), 1)), .inputGradient))
    #expect(TapAlgorithm.supports(s((32, 9, 9, 4, (3, 3), (2, 2), (1, 1), 2)), .weightGradient))
    #expect(!TapAlgorithm.supports(s((32, 9, 9, 4, (3, 3), (1, 1), (1, 1), 4)), .weightGradient))
    // Filter vectors: one group, stride 1, undilated, whole 16-filter blocks,
    // fewer than 16 channels, depth C * KH * KW >= 100; no input gradient;
    // weight gradients of 3- and 5-wide kernels.
    #expect(FilterVectorAlgorithm.supports(s((15, 9, 9, 32, (3, 3), (1, 1), (1, 1), 1)), .forward))
    #expect(!FilterVectorAlgorithm.supports(s((16, 9, 9, 32, (3, 3), (1, 1), (1, 1), 1)), .forward))
    #expect(FilterVectorAlgorithm.supports(s((12, 9, 9, 16, (3, 3), (1, 1), (1, 1), 1)), .forward))
    #expect(!FilterVectorAlgorithm.supports(s((11, 9, 9, 16, (3, 3), (1, 1), (1, 1), 1)), .forward))
    #expect(!FilterVectorAlgorithm.supports(s((12, 9, 9, 24, (3, 3), (1, 1), (1, 1), 1)), .forward))
    #expect(!FilterVectorAlgorithm.supports(s((12, 9, 9, 16, (3, 3), (1, 2), (1, 1), 1)), .forward))
    #expect(!FilterVectorAlgorithm.supports(s((24, 9, 9, 32, (3, 3), (1, 1), (1, 1), 2)), .forward))
    let dilated = WindowGeometry(channels: 12, height: 9, width: 9, kernelH: 3, kernelW: 3, strideH: 1, strideW: 1,
                                 padH: 2, padW: 2, dilationH: 2, dilationW: 2)
    #expect(!FilterVectorAlgorithm.supports(ConvolutionShape(geometry: dilated, outputs: 16, groups: 1), .forward))
    #expect(!FilterVectorAlgorithm.supports(s((12, 9, 9, 16, (3, 3), (1, 1), (1, 1), 1)), .inputGradient))
    #expect(FilterVectorAlgorithm.supports(s((12, 9, 9, 16, (3, 5), (1, 1), (1, 1), 1)), .weightGradient))
    #expect(!FilterVectorAlgorithm.supports(s((12, 9, 9, 16, (3, 7), (1, 1), (1, 1), 1)), .weightGradient))
    // Pixel vectors: weight gradients only, one group, stride 1, fewer than
    // 16 filters, 3- or 5-wide kernels, rows of at least 16 outputs.
    // Image-lane weight gradients: stride 1, 15 filters at most, 3- or
    // 5-wide kernels, any padding, one group.
    #expect(ImageLaneAlgorithm.supports(s((1, 9, 16, 15, (3, 3), (1, 1), (1, 1), 1)), .weightGradient))
    #expect(ImageLaneAlgorithm.supports(s((1, 9, 5, 6, (4, 5), (1, 1), (6, 7), 1)), .weightGradient))
    #expect(!ImageLaneAlgorithm.supports(s((1, 9, 16, 16, (3, 3), (1, 1), (1, 1), 1)), .weightGradient))
    #expect(!ImageLaneAlgorithm.supports(s((1, 9, 22, 6, (7, 7), (1, 1), (0, 0), 1)), .weightGradient))
    #expect(!ImageLaneAlgorithm.supports(s((1, 9, 22, 6, (5, 4), (1, 1), (0, 0), 1)), .weightGradient))
    #expect(!ImageLaneAlgorithm.supports(s((1, 9, 33, 6, (3, 3), (1, 2), (1, 1), 1)), .weightGradient))
    #expect(!ImageLaneAlgorithm.supports(s((2, 9, 16, 6, (3, 3), (1, 1), (1, 1), 2)), .weightGradient))
    // Window planes: weight gradients at stride 1 only.
    #expect(WindowAlgorithm.supports(s((3, 9, 9, 4, (3, 3), (1, 1), (1, 1), 1)), .weightGradient))
    #expect(!WindowAlgorithm.supports(s((3, 9, 9, 4, (3, 3), (1, 2), (1, 1), 1)), .weightGradient))
    #expect(!WindowAlgorithm.supports(s((3, 9, 9, 4, (3, 3), (1, 1), (1, 1), 1)), .forward))
    #expect(!WindowAlgorithm.supports(s((3, 9, 9, 4, (3, 3), (1, 1), (1, 1), 1)), .inputGradient))
    // Winograd: WinogradConvolution.supports, and one group.
    #expect(WinogradAlgorithm.supports(s((16, 8, 8, 16, (3, 3), (1, 1), (1, 1), 1)), .weightGradient))
    #expect(!WinogradAlgorithm.supports(s((32, 8, 8, 32, (3, 3), (1, 1), (1, 1), 2)), .forward))
    #expect(!WinogradAlgorithm.supports(s((16, 8, 8, 8, (3, 3), (1, 1), (1, 1), 1)), .forward))
    // im2col: everything.
    #expect(ConvolutionPass.allCases.allSatisfy { Im2ColAlgorithm.supports(s((3, 9, 9, 4, (3, 3), (2, 1), (3, 0), 1)), $0) })
}

@Test("a fused output epilogue (bias, affine, relu; per group's channels) equals the forward pass then the separate passes, bit for bit",
      arguments: algorithmCases.indices)
func fusedEpilogueMatchesSeparatePasses(_ index: Int) {
    let s = convolutionShape(algorithmCases[index])
    let g = s.geometry, batch = 3, channels = s.groups * s.outputs, spatial = g.columnCols
    let inCount = s.groups * g.channels * g.height * g.width, outCount = channels * spatial
    let x = randomFloats(batch * inCount, seed: 1), w = randomFloats(s.groups * s.outputs * g.columnRows, seed: 2)
    let bias = randomFloats(channels, seed: 5), scale = randomFloats(channels, seed: 6), shift = randomFloats(channels, seed: 7)
    let gemm = GEMMWorkspace()
    for type in algorithmTypes where type.supports(s, .forward) {
        let algorithm = type.init(s, maxBatch: batch)
        guard let fusing = algorithm as? any EpilogueFusing else { continue }
        var workspace = [Float](repeating: .nan, count: max(1, algorithm.workspaceFloats))
        var fused = [Float](repeating: .nan, count: batch * outCount), separate = fused
        for affine in [false, true] {
            bias.withUnsafeBufferPointer { b in scale.withUnsafeBufferPointer { a in shift.withUnsafeBufferPointer { c in
                let epilogue = ChannelEpilogue(bias: b.baseAddress!, scale: affine ? a.baseAddress! : nil,
                                               shift: affine ? c.baseAddress! : nil, rectify: true)
                workspace.withUnsafeMutableBufferPointer { ws in
                    let work = ConvolutionWorkspace(floats: ws.baseAddress!, gemm: gemm)
                    fused.withUnsafeMutableBufferPointer {
                        fusing.forward(x, inputStride: inCount, weights: w, into: $0.baseAddress!, outputStride: outCount,
                                       batch: batch, epilogue: epilogue, workspace: work)
                    }
                    separate.withUnsafeMutableBufferPointer {
                        algorithm.forward(x, inputStride: inCount, weights: w, into: $0.baseAddress!, outputStride: outCount,
                                          batch: batch, workspace: work)
                        epilogue.applySeparately($0.baseAddress!, sampleStride: outCount, batch: batch, channels: channels,
                                                 spatial: spatial)
                    }
                }
            } } }
            #expect(fused.map(\.bitPattern) == separate.map(\.bitPattern), "\(type) case \(index) affine \(affine)")
            #expect(fused.contains { $0 > 0 } && fused.contains { $0 == 0 })
        }
    }
}
