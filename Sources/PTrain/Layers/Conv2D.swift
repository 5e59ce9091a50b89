import PTrainKernels

/// 2-D convolution (cross-correlation, as in PyTorch) with groups:
/// `x [N, C, H, W]` -> `y [N, O, OH, OW]`, weights OIHW `[O, C/groups, KH, KW]`,
/// bias `[O]`. Lowered to GEMM through im2col: the columns of `chunk` images
/// sit side by side, `col [(C/g)*KH*KW, chunk*OH*OW]`, so one GEMM
/// `Y_g [O/g, chunk*OH*OW] = W_g x col` covers them (wide panels even for 8x8
/// or 10x10 outputs, and one long reduction for the weight gradient); the
/// result is copied into each image's NCHW block. `chunk` is as many images
/// as fit `columnBudget` floats of columns. Pointwise convolutions (1x1,
/// stride 1, no padding) read each image's input plane as its column matrix.
///
/// The input gradient of a "same" convolution (stride 1, output as large as
/// the input: 3x3 pad 1, 5x5 pad 2) is itself a same convolution: of `dy`
/// with the weights transposed to `[C, O, KH, KW]` and rotated 180 degrees.
/// That GEMM (`dx_g [C/g, cols] = W'_g [C/g, (O/g)*KH*KW] x im2col(dy_g)`)
/// has a long reduction, where the general route (`dcol = W^T dy`, reduction
/// over only O/g, then a col2im scatter) runs at half the speed for narrow
/// layers such as ResNet's 16-channel stage.
public final class Conv2D: StridedOutputLayer {
    public let name: String
    public let typeName = "conv2d"
    public let inputShape: TensorShape
    public let outputShape: TensorShape
    public let parameterSpecs: [ParameterSpec]
    public let filters: Int, groups: Int, hasBias: Bool
    /// Geometry of ONE group's input channels.
    public let geometry: WindowGeometry
    /// Floats between consecutive output samples: `outputShape.count`, or more
    /// when the output is a channel slice of a concatenation.
    public var outputSampleStride: Int
    /// 1x1, stride 1, no padding: the input plane already is the column matrix.
    private let isPointwise: Bool
    /// Stride 1 and output size = input size (not pointwise): the input
    /// gradient is computed as a convolution of `dy` (`gradientGeometry`).
    private let isSame: Bool
    /// One group of `dy` as the input of that convolution: O/g channels.
    private let gradientGeometry: WindowGeometry
    /// `[groups, C/g, (O/g)*KH*KW]`: the rotated, transposed weights (refreshed each backward).
    private var rotated: FloatBuffer?
    /// `[rows, chunk * cols]` im2col columns (also the column gradient in backward).
    private var column: FloatBuffer?
    /// `[O/g, chunk * cols]`: one group's outputs (or output gradients) of a chunk.
    private var staging: FloatBuffer?
    /// Images per GEMM (set by `allocate`; depends only on the layer and maxBatch,
    /// so results do not depend on the worker count).
    private var chunk = 1
    /// Column floats per chunk at most (512 KB: the columns stay in a core's
    /// L2 while the GEMM packs them), unless one image needs more.
    static let columnBudget = 1 << 17
    private var weight: UnsafeMutablePointer<Float>!, bias: UnsafeMutablePointer<Float>?
    private var dWeight: UnsafeMutablePointer<Float>!, dBias: UnsafeMutablePointer<Float>?

    /// Callers validate shapes first (`ModelBuilder`): channels and filters
    /// divisible by groups, output size >= 1.
    public init(name: String, input: TensorShape, filters: Int, kernel: (Int, Int), stride: (Int, Int) = (1, 1),
                padding: (Int, Int) = (0, 0), groups: Int = 1, bias: Bool = true, initScheme: InitScheme = .pytorch) {
        self.name = name
        self.filters = filters; self.groups = groups; hasBias = bias
        inputShape = input
        geometry = WindowGeometry(channels: input.channels / groups, height: input.height, width: input.width,
                                  kernelH: kernel.0, kernelW: kernel.1, strideH: stride.0, strideW: stride.1,
                                  padH: padding.0, padW: padding.1)
        outputShape = TensorShape(filters, geometry.outH, geometry.outW)
        outputSampleStride = outputShape.count
        isPointwise = kernel == (1, 1) && stride == (1, 1) && padding == (0, 0)
        isSame = !isPointwise && stride == (1, 1) && geometry.outH == input.height && geometry.outW == input.width
        gradientGeometry = WindowGeometry(channels: filters / groups, height: geometry.outH, width: geometry.outW,
                                          kernelH: kernel.0, kernelW: kernel.1, strideH: 1, strideW: 1,
                                          padH: kernel.0 - 1 - padding.0, padW: kernel.1 - 1 - padding.1)
        let fanIn = geometry.columnRows
        let fanOut = filters / groups * kernel.0 * kernel.1
        var specs = [ParameterSpec(name: "weight", shape: [filters, input.channels / groups, kernel.0, kernel.1],
                                   initializer: initScheme.weight(fanIn: fanIn, fanOut: fanOut))]
        if bias { specs.append(ParameterSpec(name: "bias", shape: [filters], initializer: initScheme.bias(fanIn: fanIn))) }
        parameterSpecs = specs
    }

    public var detail: String {
        let g = geometry
        var s = "\(filters) \(g.kernelH)x\(g.kernelW)/\(g.strideH == g.strideW ? "\(g.strideH)" : "\(g.strideH)x\(g.strideW)")"
        if g.padH != 0 || g.padW != 0 { s += " pad \(g.padH == g.padW ? "\(g.padH)" : "\(g.padH)x\(g.padW)")" }
        if groups != 1 { s += " groups \(groups)" }
        return s
    }
    public var forwardFLOPs: Int { 2 * filters * geometry.columnRows * outputShape.spatial }

    public func allocate(maxBatch: Int) {
        guard !isPointwise, column == nil else { return }
        let rows = isSame ? max(geometry.columnRows, gradientGeometry.columnRows) : geometry.columnRows
        let perImage = rows * geometry.columnCols
        chunk = max(1, min(maxBatch, Self.columnBudget / max(perImage, 1)))
        column = FloatBuffer(count: perImage * chunk)
        staging = FloatBuffer(count: max(filters, inputShape.channels) / groups * geometry.columnCols * chunk)
        if isSame { rotated = FloatBuffer(count: filters * geometry.columnRows) }
    }

    /// `rotated[g][c][o][ki][kj] = weight[g*O/g + o][c][KH-1-ki][KW-1-kj]`.
    private func rotateWeights() {
        let og = filters / groups, cg = geometry.channels, kh = geometry.kernelH, kw = geometry.kernelW
        let r = rotated!.pointer
        for g in 0..<groups {
            for o in 0..<og {
                for c in 0..<cg {
                    let src = weight + ((g * og + o) * cg + c) * kh * kw
                    let dst = r + ((g * cg + c) * og + o) * kh * kw
                    for i in 0..<(kh * kw) { dst[i] = src[kh * kw - 1 - i] }
                }
            }
        }
    }

    public func bind(parameters: [UnsafeMutablePointer<Float>], gradients: [UnsafeMutablePointer<Float>]) {
        weight = parameters[0]; dWeight = gradients[0]
        if hasBias { bias = parameters[1]; dBias = gradients[1] }
    }

    /// im2col of group `g` of images `first ..< first + images`, side by side in `col`.
    private func fillColumns(_ x: UnsafePointer<Float>, first: Int, images: Int, group g: Int, into col: UnsafeMutablePointer<Float>) {
        let cols = geometry.columnCols
        for i in 0..<images { im2col(groupInput(x, first + i, g), geometry, col + i * cols, rowStride: images * cols) }
    }

    /// Input of group `g` of image `n`.
    private func groupInput(_ x: UnsafePointer<Float>, _ n: Int, _ g: Int) -> UnsafePointer<Float> {
        x + n * inputShape.count + g * geometry.channels * inputShape.spatial
    }

    public func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, batch: Int, context: StepContext) {
        let rows = geometry.columnRows, cols = geometry.columnCols, og = filters / groups
        if isPointwise {
            for n in 0..<batch {
                for g in 0..<groups {
                    sgemm(transA: false, transB: false, m: og, n: cols, k: rows, alpha: 1,
                          a: weight + g * og * rows, lda: rows, b: groupInput(x, n, g), ldb: cols, beta: 0,
                          c: y + n * outputSampleStride + g * og * cols, ldc: cols, workspace: context.gemm)
                }
            }
        } else {
            let col = column!.pointer, out = staging!.pointer
            var first = 0
            while first < batch {
                let images = min(chunk, batch - first), width = images * cols
                for g in 0..<groups {
                    fillColumns(x, first: first, images: images, group: g, into: col)
                    let direct = images == 1  // one image: the GEMM writes its NCHW block itself
                    sgemm(transA: false, transB: false, m: og, n: width, k: rows, alpha: 1,
                          a: weight + g * og * rows, lda: rows, b: col, ldb: width, beta: 0,
                          c: direct ? y + first * outputSampleStride + g * og * cols : out, ldc: direct ? cols : width,
                          workspace: context.gemm)
                    if direct { continue }
                    for i in 0..<images {
                        for o in 0..<og {
                            (y + (first + i) * outputSampleStride + (g * og + o) * cols).update(from: out + o * width + i * cols, count: cols)
                        }
                    }
                }
                first += images
            }
        }
        if let bias {
            for n in 0..<batch { addChannelBias(y + n * outputSampleStride, bias, batch: 1, channels: filters, spatial: cols) }
        }
    }

    public func backward(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                         _ dx: UnsafeMutablePointer<Float>?, batch: Int, context: StepContext) {
        let rows = geometry.columnRows, cols = geometry.columnCols, og = filters / groups
        if isSame && dx != nil { rotateWeights() }
        if isPointwise {
            for n in 0..<batch {
                for g in 0..<groups {
                    let dyG = dy + n * outputSampleStride + g * og * cols
                    // dW_g[O/g, rows] += dy_g[O/g, cols] * x_g^T[cols, rows]
                    sgemm(transA: false, transB: true, m: og, n: rows, k: cols, alpha: 1, a: dyG, lda: cols,
                          b: groupInput(x, n, g), ldb: cols, beta: 1, c: dWeight + g * og * rows, ldc: rows, workspace: context.gemm)
                    guard let dx else { continue }
                    // dx_g[rows, cols] += W_g^T * dy_g
                    sgemm(transA: true, transB: false, m: rows, n: cols, k: og, alpha: 1, a: weight + g * og * rows, lda: rows,
                          b: dyG, ldb: cols, beta: 1, c: dx + n * inputShape.count + g * geometry.channels * inputShape.spatial,
                          ldc: cols, workspace: context.gemm)
                }
            }
        } else {
            let col = column!.pointer, gathered = staging!.pointer
            var first = 0
            while first < batch {
                let images = min(chunk, batch - first), width = images * cols
                for g in 0..<groups {
                    fillColumns(x, first: first, images: images, group: g, into: col)
                    // The chunk's output gradient as one [O/g, width] matrix.
                    let dyG: UnsafePointer<Float>, ld: Int
                    if images == 1 {
                        dyG = dy + first * outputSampleStride + g * og * cols
                        ld = cols
                    } else {
                        for i in 0..<images {
                            for o in 0..<og {
                                (gathered + o * width + i * cols).update(from: dy + (first + i) * outputSampleStride + (g * og + o) * cols, count: cols)
                            }
                        }
                        dyG = UnsafePointer(gathered)
                        ld = width
                    }
                    // dW_g[O/g, rows] += dY_g[O/g, width] * col^T[width, rows]
                    sgemm(transA: false, transB: true, m: og, n: rows, k: width, alpha: 1, a: dyG, lda: ld,
                          b: col, ldb: width, beta: 1, c: dWeight + g * og * rows, ldc: rows, workspace: context.gemm)
                    guard let dx else { continue }
                    if isSame {
                        sameInputGradient(dy, group: g, first: first, images: images, dx: dx, context: context)
                        continue
                    }
                    // dcol = W_g^T * dY_g (into the columns' buffer), scattered back into each image.
                    sgemm(transA: true, transB: false, m: rows, n: width, k: og, alpha: 1, a: weight + g * og * rows, lda: rows,
                          b: dyG, ldb: ld, beta: 0, c: col, ldc: width, workspace: context.gemm)
                    for i in 0..<images {
                        col2imAccumulate(col + i * cols, geometry, dx + (first + i) * inputShape.count + g * geometry.channels * inputShape.spatial,
                                         rowStride: width)
                    }
                }
                first += images
            }
        }
        if let dBias {
            for n in 0..<batch {
                accumulateChannelBiasGradient(dy + n * outputSampleStride, dBias, batch: 1, channels: filters, spatial: cols)
            }
        }
    }

    /// `dx_g += W'_g x im2col(dy_g)` for the images `first ..< first + images`
    /// of the chunk. The columns of `dy` replace the input's columns in
    /// `column`, and the result passes through `staging` (the weight gradient
    /// is done with both).
    private func sameInputGradient(_ dy: UnsafePointer<Float>, group g: Int, first: Int, images: Int,
                                   dx: UnsafeMutablePointer<Float>, context: StepContext) {
        let cols = geometry.columnCols, cg = geometry.channels, og = filters / groups
        let rows = gradientGeometry.columnRows, width = images * cols
        let col = column!.pointer
        for i in 0..<images {
            im2col(dy + (first + i) * outputSampleStride + g * og * cols, gradientGeometry, col + i * cols, rowStride: width)
        }
        let w = rotated!.pointer + g * cg * rows
        let dxG = dx + first * inputShape.count + g * cg * inputShape.spatial
        if images == 1 {
            sgemm(transA: false, transB: false, m: cg, n: cols, k: rows, alpha: 1, a: w, lda: rows, b: col, ldb: width,
                  beta: 1, c: dxG, ldc: cols, workspace: context.gemm)
            return
        }
        let out = staging!.pointer
        sgemm(transA: false, transB: false, m: cg, n: width, k: rows, alpha: 1, a: w, lda: rows, b: col, ldb: width,
              beta: 0, c: out, ldc: width, workspace: context.gemm)
        for i in 0..<images {
            for c in 0..<cg {
                accumulate(out + c * width + i * cols, into: dxG + i * inputShape.count + c * inputShape.spatial, count: cols)
            }
        }
    }
}
