import Testing
import PTrainKernels

// ImageLaneAlgorithm past one group of 16 images (the generic
// algorithm tests run 3), and its promise that an image's gradient does not
// depend on which lane, or which group, it ran in.

/// LeNet's conv2 (input gradient), a 13-channel 5x7 kernel with unequal
/// padding (input gradient) and LeNet's conv1 (both gradients).
let imageLaneCases: [(Int, Int, Int, Int, (Int, Int), (Int, Int), (Int, Int), Int)] = [
    (6, 14, 14, 16, (5, 5), (1, 1), (0, 0), 1),
    (13, 6, 9, 5, (5, 7), (1, 1), (4, 1), 1),
    (1, 28, 28, 6, (5, 5), (1, 1), (2, 2), 1),
]

@Test("image lanes: 19 images (a full group of 16 and 3 in a second) equal the direct gradients", arguments: imageLaneCases.indices)
func imageLanesTwoGroups(_ index: Int) {
    let s = convolutionShape(imageLaneCases[index])
    let passes = [ConvolutionPass.inputGradient, .weightGradient].filter { ImageLaneAlgorithm.supports(s, $0) }
    #expect(!passes.isEmpty)
    for pass in passes {
        let (got, expected) = runTwice(ImageLaneAlgorithm.self, pass, s, batch: 19)
        let scale = max(1, expected.map { abs($0) }.max() ?? 1)
        expectClose(got.map { $0 / scale }, expected.map { $0 / scale }, tolerance: 1e-5, "image lanes \(pass) case \(index)")
    }
}

@Test("image lanes: each image's input gradient is bitwise the same alone as in lane 3 of 19 or in the second group", arguments: imageLaneCases.indices)
func imageLanesIndependentOfGrouping(_ index: Int) {
    let s = convolutionShape(imageLaneCases[index])
    guard ImageLaneAlgorithm.supports(s, .inputGradient) else { return }
    let g = s.geometry
    let inCount = g.channels * g.height * g.width, outCount = s.outputs * g.columnCols
    let batch = 19
    let w = randomFloats(s.outputs * g.columnRows, seed: 7), dy = randomFloats(batch * outCount, seed: 8)
    let algorithm = ImageLaneAlgorithm(s, maxBatch: batch)
    var workspace = [Float](repeating: .nan, count: algorithm.workspaceFloats)
    let gemm = GEMMWorkspace()
    func gradient(first: Int, count: Int) -> [Float] {
        var dx = [Float](repeating: 0, count: count * inCount)
        workspace.withUnsafeMutableBufferPointer { ws in
            dx.withUnsafeMutableBufferPointer { out in
                dy.withUnsafeBufferPointer { d in
                    algorithm.inputGradient(d.baseAddress! + first * outCount, outputStride: outCount, weights: w,
                                            into: out.baseAddress!, inputStride: inCount, batch: count,
                                            workspace: ConvolutionWorkspace(floats: ws.baseAddress!, gemm: gemm))
                }
            }
        }
        return dx
    }
    let all = gradient(first: 0, count: batch)
    for n in [0, 3, 15, 16, 18] {
        let alone = gradient(first: n, count: 1)
        let inBatch = all[n * inCount..<(n + 1) * inCount]
        #expect(zip(inBatch, alone).allSatisfy { $0.bitPattern == $1.bitPattern }, "image \(n) differs from its gradient alone")
    }
    // Not vacuous: the gradient is not all zeros.
    #expect(all.contains { $0 != 0 })
}
