import PTrainKernels

/// 2-D convolution (cross-correlation, as in PyTorch) with groups:
/// `x [N, C, H, W]` -> `y [N, O, OH, OW]`, weights OIHW `[O, C/groups, KH, KW]`,
/// bias `[O]`. Each image and group is lowered to one GEMM through im2col:
/// `y_g [O/g, OH*OW] = W_g [O/g, (C/g)*KH*KW] x col_g`.
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
    private var column: FloatBuffer?
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
        if !isPointwise && column == nil { column = FloatBuffer(count: geometry.columnRows * geometry.columnCols) }
    }

    public func bind(parameters: [UnsafeMutablePointer<Float>], gradients: [UnsafeMutablePointer<Float>]) {
        weight = parameters[0]; dWeight = gradients[0]
        if hasBias { bias = parameters[1]; dBias = gradients[1] }
    }

    /// The column matrix of group `g` of image `image`: im2col into scratch, or
    /// the input itself for pointwise convolutions.
    private func columns(_ image: UnsafePointer<Float>, group: Int) -> UnsafePointer<Float> {
        let groupInput = image + group * geometry.channels * inputShape.spatial
        if isPointwise { return groupInput }
        im2col(groupInput, geometry, column!.pointer)
        return UnsafePointer(column!.pointer)
    }

    public func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, batch: Int, context: StepContext) {
        let rows = geometry.columnRows, cols = geometry.columnCols, og = filters / groups
        for n in 0..<batch {
            let image = x + n * inputShape.count
            for g in 0..<groups {
                let col = columns(image, group: g)
                sgemm(transA: false, transB: false, m: og, n: cols, k: rows, alpha: 1,
                      a: weight + g * og * rows, lda: rows, b: col, ldb: cols, beta: 0,
                      c: y + n * outputSampleStride + g * og * cols, ldc: cols, workspace: context.gemm)
            }
            if let bias { addChannelBias(y + n * outputSampleStride, bias, batch: 1, channels: filters, spatial: cols) }
        }
    }

    public func backward(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                         _ dx: UnsafeMutablePointer<Float>?, batch: Int, context: StepContext) {
        let rows = geometry.columnRows, cols = geometry.columnCols, og = filters / groups
        for n in 0..<batch {
            let image = x + n * inputShape.count
            for g in 0..<groups {
                let dyG = dy + n * outputSampleStride + g * og * cols
                let wG = weight + g * og * rows
                // dW_g[O/g, rows] += dy_g[O/g, cols] * col^T[cols, rows]
                let col = columns(image, group: g)
                sgemm(transA: false, transB: true, m: og, n: rows, k: cols, alpha: 1, a: dyG, lda: cols,
                      b: col, ldb: cols, beta: 1, c: dWeight + g * og * rows, ldc: rows, workspace: context.gemm)
                guard let dx else { continue }
                let dxG = dx + n * inputShape.count + g * geometry.channels * inputShape.spatial
                if isPointwise {  // dx_g[rows, cols] += W_g^T * dy_g
                    sgemm(transA: true, transB: false, m: rows, n: cols, k: og, alpha: 1, a: wG, lda: rows,
                          b: dyG, ldb: cols, beta: 1, c: dxG, ldc: cols, workspace: context.gemm)
                } else {  // dcol = W_g^T * dy_g, then scatter-add back to the image
                    sgemm(transA: true, transB: false, m: rows, n: cols, k: og, alpha: 1, a: wG, lda: rows,
                          b: dyG, ldb: cols, beta: 0, c: column!.pointer, ldc: cols, workspace: context.gemm)
                    col2imAccumulate(column!.pointer, geometry, dxG)
                }
            }
        }
        if let dBias {
            for n in 0..<batch {
                accumulateChannelBiasGradient(dy + n * outputSampleStride, dBias, batch: 1, channels: filters, spatial: cols)
            }
        }
    }
}
