import Testing
import PTrainKernels

// DepthwiseAlgorithm (one input channel and one filter per group) against the
// reference convolution of ConvolutionAlgorithmTests.swift (`runTwice`:
// strided samples, two runs through one workspace filled with NaN), and the
// routing of depthwise shapes to it.

/// (channels (= filters = groups), height, width, kernel (h, w), stride (h, w), padding (h, w), dilation (h, w))
let depthwiseCases: [(Int, Int, Int, (Int, Int), (Int, Int), (Int, Int), (Int, Int))] = [
    (3, 7, 9, (3, 3), (1, 1), (1, 1), (1, 1)),      // "same" 3x3, odd sizes, one partial vector per row
    (2, 16, 16, (3, 3), (1, 1), (1, 1), (1, 1)),    // rows of exactly one vector
    (2, 9, 37, (3, 3), (1, 1), (1, 1), (1, 1)),     // two whole vectors and a partial one per row
    (3, 11, 13, (5, 5), (1, 1), (2, 2), (1, 1)),    // "same" 5x5
    (2, 6, 7, (3, 3), (1, 1), (0, 0), (1, 1)),      // valid: the input gradient's frame pads by 2
    (3, 9, 8, (3, 3), (2, 2), (1, 1), (1, 1)),      // strided: two column phases, scattered input gradient
    (2, 17, 35, (5, 5), (2, 2), (2, 2), (1, 1)),    // strided 5x5, odd sizes
    (2, 10, 11, (3, 3), (1, 1), (2, 2), (2, 2)),    // "same" dilated 3x3
    (2, 13, 12, (3, 3), (2, 2), (2, 2), (2, 2)),    // strided and dilated
    (2, 8, 9, (3, 2), (3, 1), (0, 3), (1, 2)),      // unequal kernel, strides, padding (> span - 1) and dilations
    (4, 5, 5, (1, 1), (1, 1), (0, 0), (1, 1)),      // 1x1
]

func depthwiseShape(_ c: (Int, Int, Int, (Int, Int), (Int, Int), (Int, Int), (Int, Int))) -> ConvolutionShape {
    let g = WindowGeometry(channels: 1, height: c.1, width: c.2, kernelH: c.3.0, kernelW: c.3.1, strideH: c.4.0, strideW: c.4.1,
                           padH: c.5.0, padW: c.5.1, dilationH: c.6.0, dilationW: c.6.1)
    return ConvolutionShape(geometry: g, outputs: 1, groups: c.0)
}

@Test("depthwise convolution: every pass equals the reference convolution (3 images planned for 4, strided samples, run twice through one workspace filled with NaN each time)",
      arguments: depthwiseCases.indices)
func depthwiseMatchesReference(_ index: Int) {
    let s = depthwiseShape(depthwiseCases[index])
    for pass in ConvolutionPass.allCases {
        let (got, expected) = runTwice(DepthwiseAlgorithm.self, pass, s, batch: 3)
        let scale = max(1, expected.map { abs($0) }.max() ?? 1)
        expectClose(got.map { $0 / scale }, expected.map { $0 / scale }, tolerance: 1e-5, "\(pass) case \(index)")
    }
}

@Test("depthwise convolution: choose picks it for every pass of one channel and one filter per group, and only then")
func depthwiseChoice() {
    for c in depthwiseCases {
        for pass in ConvolutionPass.allCases {
            #expect("\(ConvolutionChoice.choose(depthwiseShape(c), pass, winograd: true))" == "DepthwiseAlgorithm")
        }
    }
    let geometry = WindowGeometry(channels: 1, height: 8, width: 8, kernelH: 3, kernelW: 3, strideH: 1, strideW: 1, padH: 1, padW: 1)
    // A channel multiplier of 2 (two filters per group) and two channels per group fall back.
    #expect(!DepthwiseAlgorithm.supports(ConvolutionShape(geometry: geometry, outputs: 2, groups: 8), .forward))
    let pairs = WindowGeometry(channels: 2, height: 8, width: 8, kernelH: 3, kernelW: 3, strideH: 1, strideW: 1, padH: 1, padW: 1)
    #expect(!DepthwiseAlgorithm.supports(ConvolutionShape(geometry: pairs, outputs: 1, groups: 8), .weightGradient))
}
