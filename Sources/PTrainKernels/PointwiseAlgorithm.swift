/// 1x1 kernels (which no dilation spreads) at stride 1 without padding:
/// each image's group of input planes already is the column matrix
/// `[C/g, H*W]`, so every pass is one plain GEMM per image and group, with
/// no scratch.
public struct PointwiseAlgorithm: ConvolutionAlgorithm {
    public static let name = "pointwise"
    let shape: ConvolutionShape

    public static func supports(_ shape: ConvolutionShape, _ pass: ConvolutionPass) -> Bool {
        let g = shape.geometry
        return g.kernelH == 1 && g.kernelW == 1 && g.strideH == 1 && g.strideW == 1 && g.padH == 0 && g.padW == 0
    }

    public init(_ shape: ConvolutionShape, maxBatch: Int) {
        precondition(Self.supports(shape, .forward))
        self.shape = shape
    }

    public var workspaceFloats: Int { 0 }

    public func forward(_ x: UnsafePointer<Float>, inputStride: Int, weights: UnsafePointer<Float>,
                        into y: UnsafeMutablePointer<Float>, outputStride: Int, batch: Int, workspace: ConvolutionWorkspace) {
        let rows = shape.geometry.columnRows, cols = shape.outputPlane, og = shape.outputs
        for n in 0..<batch {
            for g in 0..<shape.groups {
                // y_g[O/g, cols] = W_g[O/g, rows] * x_g[rows, cols]
                gemm(transA: false, transB: false, m: og, n: cols, k: rows, alpha: 1, a: weights + g * shape.groupWeights,
                      lda: rows, b: x + n * inputStride + shape.inputGroupOffset(g), ldb: cols, beta: 0,
                      c: y + n * outputStride + shape.outputGroupOffset(g), ldc: cols, workspace: workspace.gemm)
            }
        }
    }

    public func inputGradient(_ dy: UnsafePointer<Float>, outputStride: Int, weights: UnsafePointer<Float>,
                              into dx: UnsafeMutablePointer<Float>, inputStride: Int, batch: Int,
                              workspace: ConvolutionWorkspace) {
        let rows = shape.geometry.columnRows, cols = shape.outputPlane, og = shape.outputs
        for n in 0..<batch {
            for g in 0..<shape.groups {
                // dx_g[rows, cols] += W_g^T * dy_g
                gemm(transA: true, transB: false, m: rows, n: cols, k: og, alpha: 1, a: weights + g * shape.groupWeights,
                      lda: rows, b: dy + n * outputStride + shape.outputGroupOffset(g), ldb: cols, beta: 1,
                      c: dx + n * inputStride + shape.inputGroupOffset(g), ldc: cols, workspace: workspace.gemm)
            }
        }
    }

    public func weightGradient(_ x: UnsafePointer<Float>, inputStride: Int, _ dy: UnsafePointer<Float>, outputStride: Int,
                               into dW: UnsafeMutablePointer<Float>, batch: Int, workspace: ConvolutionWorkspace) {
        let rows = shape.geometry.columnRows, cols = shape.outputPlane, og = shape.outputs
        for n in 0..<batch {
            for g in 0..<shape.groups {
                // dW_g[O/g, rows] += dy_g[O/g, cols] * x_g^T[cols, rows]
                gemm(transA: false, transB: true, m: og, n: rows, k: cols, alpha: 1,
                      a: dy + n * outputStride + shape.outputGroupOffset(g), lda: cols,
                      b: x + n * inputStride + shape.inputGroupOffset(g), ldb: cols, beta: 1,
                      c: dW + g * shape.groupWeights, ldc: rows, workspace: workspace.gemm)
            }
        }
    }
}
