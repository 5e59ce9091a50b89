/// Every pass through im2col columns of `chunk` images side by side,
/// `col [(C/g)*KH*KW, chunk*OH*OW]`, one group at a time: `y = W col`,
/// `dW += dY col^T` (one long reduction per chunk) and `dcol = W^T dY`
/// scattered back by col2im. Any shape; the fallback for the passes no
/// other algorithm supports (strided input gradients, strided weight
/// gradients of channels off 16-channel panels, pad > K - 1, dilation).
///
/// Workspace, in order: the columns (also the column gradient) and one
/// group's outputs (or output gradients) of a chunk, `[O/g, chunk*OH*OW]`.
public struct Im2ColAlgorithm: ConvolutionAlgorithm {
    public static let name = "im2col"
    let shape: ConvolutionShape
    /// Images per GEMM: as many as fit `columnBudget` floats of columns
    /// (at least one).
    let chunk: Int
    /// Offset of the gathered outputs in the workspace, in floats.
    let gathered: Int
    public let workspaceFloats: Int
    /// Column floats per chunk at most (512 KB: the columns stay in a core's
    /// L2 while the GEMM packs them), unless one image needs more.
    static let columnBudget = 1 << 17

    public static func supports(_ shape: ConvolutionShape, _ pass: ConvolutionPass) -> Bool { true }

    public init(_ shape: ConvolutionShape, maxBatch: Int) {
        self.shape = shape
        let perImage = shape.geometry.columnRows * shape.outputPlane
        chunk = max(1, min(maxBatch, Self.columnBudget / max(perImage, 1)))
        gathered = alignedFloats(perImage * chunk)
        workspaceFloats = gathered + shape.outputs * shape.outputPlane * chunk
    }

    /// Calls `body(first image, images, group)` for every chunk and group.
    private func forEachChunk(batch: Int, _ body: (Int, Int, Int) -> Void) {
        var first = 0
        while first < batch {
            let images = min(chunk, batch - first)
            for g in 0..<shape.groups { body(first, images, g) }
            first += images
        }
    }

    /// im2col of group `g` of images `first ..< first + images`, side by side in `col`.
    private func fillColumns(_ x: UnsafePointer<Float>, inputStride: Int, first: Int, images: Int, group g: Int,
                             into col: UnsafeMutablePointer<Float>) {
        let cols = shape.outputPlane
        for i in 0..<images {
            im2col(x + (first + i) * inputStride + shape.inputGroupOffset(g), shape.geometry, col + i * cols,
                   rowStride: images * cols)
        }
    }

    /// Group `g` of the output (gradient) of images `first ..< first +
    /// images` as one `[O/g, images * OH*OW]` matrix and its row stride: in
    /// place for one image, else gathered into `into`.
    private func gather(_ dy: UnsafePointer<Float>, outputStride: Int, first: Int, images: Int, group g: Int,
                        into: UnsafeMutablePointer<Float>) -> (UnsafePointer<Float>, Int) {
        let cols = shape.outputPlane, width = images * cols
        if images == 1 { return (dy + first * outputStride + shape.outputGroupOffset(g), cols) }
        for i in 0..<images {
            for o in 0..<shape.outputs {
                (into + o * width + i * cols).update(from: dy + (first + i) * outputStride + shape.outputGroupOffset(g) + o * cols,
                                                     count: cols)
            }
        }
        return (UnsafePointer(into), width)
    }

    public func forward(_ x: UnsafePointer<Float>, inputStride: Int, weights: UnsafePointer<Float>,
                        into y: UnsafeMutablePointer<Float>, outputStride: Int, batch: Int, workspace: ConvolutionWorkspace) {
        let rows = shape.geometry.columnRows, cols = shape.outputPlane, og = shape.outputs
        let col = workspace.floats, out = workspace.floats + gathered
        forEachChunk(batch: batch) { first, images, g in
            let width = images * cols
            fillColumns(x, inputStride: inputStride, first: first, images: images, group: g, into: col)
            // y_g[O/g, width] = W_g[O/g, rows] * col[rows, width], then each image's columns out.
            gemm(transA: false, transB: false, m: og, n: width, k: rows, alpha: 1, a: weights + g * shape.groupWeights,
                  lda: rows, b: col, ldb: width, beta: 0, c: out, ldc: width, workspace: workspace.gemm)
            for i in 0..<images {
                for o in 0..<og {
                    (y + (first + i) * outputStride + shape.outputGroupOffset(g) + o * cols).update(from: out + o * width + i * cols,
                                                                                                    count: cols)
                }
            }
        }
    }

    public func inputGradient(_ dy: UnsafePointer<Float>, outputStride: Int, weights: UnsafePointer<Float>,
                              into dx: UnsafeMutablePointer<Float>, inputStride: Int, batch: Int,
                              workspace: ConvolutionWorkspace) {
        let rows = shape.geometry.columnRows, cols = shape.outputPlane, og = shape.outputs
        let col = workspace.floats
        forEachChunk(batch: batch) { first, images, g in
            let width = images * cols
            let (dyG, ld) = gather(dy, outputStride: outputStride, first: first, images: images, group: g,
                                   into: workspace.floats + gathered)
            // dcol = W_g^T * dY_g, scattered back into each image.
            gemm(transA: true, transB: false, m: rows, n: width, k: og, alpha: 1, a: weights + g * shape.groupWeights,
                  lda: rows, b: dyG, ldb: ld, beta: 0, c: col, ldc: width, workspace: workspace.gemm)
            for i in 0..<images {
                col2imAccumulate(col + i * cols, shape.geometry, dx + (first + i) * inputStride + shape.inputGroupOffset(g),
                                 rowStride: width)
            }
        }
    }

    public func weightGradient(_ x: UnsafePointer<Float>, inputStride: Int, _ dy: UnsafePointer<Float>, outputStride: Int,
                               into dW: UnsafeMutablePointer<Float>, batch: Int, workspace: ConvolutionWorkspace) {
        let rows = shape.geometry.columnRows, cols = shape.outputPlane, og = shape.outputs
        let col = workspace.floats
        forEachChunk(batch: batch) { first, images, g in
            let width = images * cols
            fillColumns(x, inputStride: inputStride, first: first, images: images, group: g, into: col)
            let (dyG, ld) = gather(dy, outputStride: outputStride, first: first, images: images, group: g,
                                   into: workspace.floats + gathered)
            // dW_g[O/g, rows] += dY_g[O/g, width] * col^T[width, rows]
            gemm(transA: false, transB: true, m: og, n: rows, k: width, alpha: 1, a: dyG, lda: ld,
                  b: col, ldb: width, beta: 1, c: dW + g * shape.groupWeights, ldc: rows, workspace: workspace.gemm)
        }
    }
}
