import PTrainKernels

/// Locally-connected 2-D layer: a convolution whose weights are NOT shared
/// across positions (untied), as in DeepFace or the "local" layers of
/// cuda-convnet. `x [N, C, H, W]` -> `y [N, F, OH, OW]`, weights
/// `[OH, OW, F, C, KH, KW]` (one `[F, C*KH*KW]` matrix per output position),
/// bias `[F, OH, OW]` (untied too).
///
/// Each position is one GEMM over the shard: `Y_p [F, N] = W_p [F, K] x X_p [K, N]`
/// with `X_p` the position's receptive fields of every image (K = C*KH*KW),
/// gathered from per-image im2col columns.
public final class LocallyConnected2D: Layer {
    public let name: String
    public let typeName = "local2d"
    public let inputShape: TensorShape
    public let outputShape: TensorShape
    public let parameterSpecs: [ParameterSpec]
    public let filters: Int, hasBias: Bool
    public let geometry: WindowGeometry
    /// `[K, P]`: one image's im2col columns (P = OH*OW positions).
    private var column: FloatBuffer!
    /// `[P, K, maxBatch]`: every position's receptive fields over the shard;
    /// backward overwrites position p's block with its input gradient once
    /// that position's weight gradient is done.
    private var fields: FloatBuffer!
    /// `[F, maxBatch]`: one position's outputs (or output gradients).
    private var positionBlock: FloatBuffer!
    private var weight: UnsafeMutablePointer<Float>!, bias: UnsafeMutablePointer<Float>?
    private var dWeight: UnsafeMutablePointer<Float>!, dBias: UnsafeMutablePointer<Float>?

    /// Callers validate that the window fits (output size >= 1).
    public init(name: String, input: TensorShape, filters: Int, kernel: (Int, Int), stride: (Int, Int) = (1, 1),
                padding: (Int, Int) = (0, 0), bias: Bool = true, initScheme: InitScheme = .pytorch) {
        self.name = name
        self.filters = filters; hasBias = bias
        inputShape = input
        geometry = WindowGeometry(channels: input.channels, height: input.height, width: input.width,
                                  kernelH: kernel.0, kernelW: kernel.1, strideH: stride.0, strideW: stride.1,
                                  padH: padding.0, padW: padding.1)
        outputShape = TensorShape(filters, geometry.outH, geometry.outW)
        let fanIn = geometry.columnRows
        var specs = [ParameterSpec(name: "weight", shape: [geometry.outH, geometry.outW, filters, input.channels, kernel.0, kernel.1],
                                   initializer: initScheme.weight(fanIn: fanIn, fanOut: filters * kernel.0 * kernel.1))]
        if bias { specs.append(ParameterSpec(name: "bias", shape: [filters, geometry.outH, geometry.outW], initializer: initScheme.bias(fanIn: fanIn))) }
        parameterSpecs = specs
    }

    public var detail: String {
        let g = geometry
        var s = "\(filters) \(g.kernelH)x\(g.kernelW)/\(g.strideH == g.strideW ? "\(g.strideH)" : "\(g.strideH)x\(g.strideW)") untied"
        if g.padH != 0 || g.padW != 0 { s += " pad \(g.padH == g.padW ? "\(g.padH)" : "\(g.padH)x\(g.padW)")" }
        return s
    }
    public var forwardFLOPs: Int { 2 * filters * geometry.columnRows * outputShape.spatial }

    public func allocate(maxBatch: Int) {
        guard column == nil else { return }
        column = FloatBuffer(count: geometry.columnRows * geometry.columnCols)
        fields = FloatBuffer(count: geometry.columnCols * geometry.columnRows * maxBatch)
        positionBlock = FloatBuffer(count: filters * maxBatch)
    }

    public func bind(parameters: [UnsafeMutablePointer<Float>], gradients: [UnsafeMutablePointer<Float>]) {
        weight = parameters[0]; dWeight = gradients[0]
        if hasBias { bias = parameters[1]; dBias = gradients[1] }
    }

    public func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, batch: Int, context: StepContext) {
        let k = geometry.columnRows, positions = geometry.columnCols, f = filters
        for n in 0..<batch {
            im2col(x + n * inputShape.count, geometry, column.pointer)
            for r in 0..<k {
                for p in 0..<positions { fields.pointer[(p * k + r) * batch + n] = column.pointer[r * positions + p] }
            }
        }
        let out = positionBlock.pointer
        for p in 0..<positions {
            gemm(transA: false, transB: false, m: f, n: batch, k: k, alpha: 1, a: weight + p * f * k, lda: k,
                  b: fields.pointer + p * k * batch, ldb: batch, beta: 0, c: out, ldc: batch, workspace: context.gemm)
            for o in 0..<f {
                let b = bias?[o * positions + p] ?? 0
                for n in 0..<batch { y[(n * f + o) * positions + p] = out[o * batch + n] + b }
            }
        }
    }

    public func backward(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                         _ dx: UnsafeMutablePointer<Float>?, batch: Int, context: StepContext) {
        let k = geometry.columnRows, positions = geometry.columnCols, f = filters
        let g = positionBlock.pointer
        for p in 0..<positions {
            for o in 0..<f {
                var s: Float = 0
                for n in 0..<batch { let v = dy[(n * f + o) * positions + p]; g[o * batch + n] = v; s += v }
                dBias?[o * positions + p] += s
            }
            let block = fields.pointer + p * k * batch
            // dW_p [F, K] += dY_p [F, N] x X_p^T
            gemm(transA: false, transB: true, m: f, n: k, k: batch, alpha: 1, a: g, lda: batch, b: block, ldb: batch,
                  beta: 1, c: dWeight + p * f * k, ldc: k, workspace: context.gemm)
            // dX_p [K, N] = W_p^T x dY_p, into the position's (now used) fields.
            if dx != nil {
                gemm(transA: true, transB: false, m: k, n: batch, k: f, alpha: 1, a: weight + p * f * k, lda: k,
                      b: g, ldb: batch, beta: 0, c: block, ldc: batch, workspace: context.gemm)
            }
        }
        guard let dx else { return }
        for n in 0..<batch {
            for r in 0..<k {
                for p in 0..<positions { column.pointer[r * positions + p] = fields.pointer[(p * k + r) * batch + n] }
            }
            col2imAccumulate(column.pointer, geometry, dx + n * inputShape.count)
        }
    }
}

// MARK: - config parser (keys documented in README "Config format")

extension LocallyConnected2D {
    /// Keys as conv2d's (without groups): `filters`, `kernel`, `stride`, `padding`, `bias`, `init`.
    static func configured(_ m: ConfigMapping) throws -> LayerFactory {
        let filters = try m.int("filters", 1...Limits.channels)
        let kernel = try m.intPair("kernel", 1...Limits.window)
        let stride = try m.intPair("stride", default: (1, 1), 1...Limits.window)
        let padding = try m.intPair("padding", default: (0, 0), 0...Limits.window)
        let bias = try m.bool("bias", default: true)
        let scheme = try initScheme(m)
        return { name, input in
            try checkWindow(input: input, kernel: kernel, stride: stride, padding: padding)
            let positions = Double((input.height + 2 * padding.0 - kernel.0) / stride.0 + 1) * Double((input.width + 2 * padding.1 - kernel.1) / stride.1 + 1)
            let fanIn = Double(input.channels) * Double(kernel.0) * Double(kernel.1)
            try Limits.check(parameters: positions * Double(filters) * fanIn, outputs: Double(filters) * positions,
                             flops: 2 * Double(filters) * fanIn * positions)
            return LocallyConnected2D(name: name, input: input, filters: filters, kernel: kernel, stride: stride,
                                      padding: padding, bias: bias, initScheme: scheme)
        }
    }
}
