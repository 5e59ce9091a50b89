import PTrainKernels

/// Fully connected layer: `y[n, o] = sum_i x[n, i] * W[o, i] + b[o]`.
/// Input of any shape is read as its flattening `[N, I]`; output `[N, O]`.
/// Weights `[O, I]` as in PyTorch `nn.Linear`.
public final class Dense: Layer, InferencePreparing {
    public let name: String
    public let typeName = "dense"
    public let inputShape: TensorShape
    public let outputShape: TensorShape
    public let parameterSpecs: [ParameterSpec]
    public let hasBias: Bool
    private var weight: UnsafeMutablePointer<Float>!, bias: UnsafeMutablePointer<Float>?
    private var dWeight: UnsafeMutablePointer<Float>!, dBias: UnsafeMutablePointer<Float>?
    /// Set when the step computes this layer's weight gradient over the
    /// whole batch (`BatchWeightGradients`): backward then records its x and
    /// dy there (at `StepContext.shard`) instead of accumulating dW and db.
    var batchGradient: BatchWeightGradients.Slot?
    /// Inference: `W^T [I, O]`, prepared once per evaluation
    /// (`InferencePreparing`), or nil.
    private var transposedWeight: UnsafePointer<Float>?

    public init(name: String, input: TensorShape, units: Int, bias: Bool = true, initScheme: InitScheme = .pytorch) {
        self.name = name
        inputShape = input
        outputShape = TensorShape(units)
        hasBias = bias
        var specs = [ParameterSpec(name: "weight", shape: [units, input.count],
                                   initializer: initScheme.weight(fanIn: input.count, fanOut: units))]
        if bias { specs.append(ParameterSpec(name: "bias", shape: [units], initializer: initScheme.bias(fanIn: input.count))) }
        parameterSpecs = specs
    }

    public var detail: String { "\(inputShape.count) -> \(outputShape.count)\(hasBias ? "" : " no bias")" }
    public var forwardFLOPs: Int { 2 * inputShape.count * outputShape.count }

    public func bind(parameters: [UnsafeMutablePointer<Float>], gradients: [UnsafeMutablePointer<Float>]) {
        weight = parameters[0]; dWeight = gradients[0]
        if hasBias { bias = parameters[1]; dBias = gradients[1] }
    }

    public func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, batch: Int, context: StepContext) {
        let i = inputShape.count, o = outputShape.count
        if !context.training, let transposedWeight {
            // x [N, I] * W^T [I, O], W^T read in place by the packed GEMM's
            // outer-product micro-kernel (docs/kernels.md, "Prepared
            // inference weights"): the inner products would re-read x from
            // L2 for every 4 outputs.
            gemm(transA: false, transB: false, m: batch, n: o, k: i, alpha: 1, a: x, lda: i,
                 b: transposedWeight, ldb: o, beta: 0, c: y, ldc: o, workspace: context.gemm)
        } else {
            gemm(transA: false, transB: true, m: batch, n: o, k: i, alpha: 1, a: x, lda: i,
                 b: weight, ldb: i, beta: 0, c: y, ldc: o, workspace: context.gemm)
        }
        if let bias {
            for n in 0..<batch { accumulate(bias, into: y + n * o, count: o) }
        }
    }

    public func backward(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                         _ dx: UnsafeMutablePointer<Float>?, batch: Int, context: StepContext) {
        let i = inputShape.count, o = outputShape.count
        if let dx {  // dx[N, I] += dy[N, O] * W[O, I]
            gemm(transA: false, transB: false, m: batch, n: i, k: o, alpha: 1, a: dy, lda: o,
                  b: weight, ldb: i, beta: 1, c: dx, ldc: i, workspace: context.gemm)
        }
        if let batchGradient {
            batchGradient.record(x: x, dy: dy, batch: batch, shard: context.shard)
            return
        }
        // dW[O, I] += dy^T[O, N] * x[N, I]
        gemm(transA: true, transB: false, m: o, n: i, k: batch, alpha: 1, a: dy, lda: o,
              b: x, ldb: i, beta: 1, c: dWeight, ldc: i, workspace: context.gemm)
        if let dBias {
            for n in 0..<batch { accumulate(dy + n * o, into: dBias, count: o) }
        }
    }
}

extension Dense {
    /// The largest W^T prepared (2M floats, 8 MiB): one that stays in the L3
    /// cache between batches. Larger ones keep the inner products: read in
    /// place, W^T streams from memory along hundreds of rows at once, and
    /// for W4's fc6 (151 MB) the forward ran only ~20% faster for 223 MB more
    /// peak RSS (docs/kernels.md, "Prepared inference weights").
    public static let maxPreparedFloats = 1 << 21

    public var preparedFloats: Int {
        let count = inputShape.count * outputShape.count
        return count <= Self.maxPreparedFloats ? count : 0
    }

    public var preparationScratchFloats: Int { 0 }

    public func prepareInference(into buffer: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>, gemm: GEMMWorkspace?) {
        transposeMatrix(weight, rows: outputShape.count, cols: inputShape.count, into: buffer)
    }

    public func usePrepared(_ prepared: UnsafePointer<Float>?) { transposedWeight = prepared }
}

// MARK: - config parser (keys documented in README "Config format")

extension Dense {
    static func configured(_ m: ConfigMapping) throws -> LayerFactory {
        let units = try m.int("units", 1...Limits.units)
        let bias = try m.bool("bias", default: true)
        let scheme = try initScheme(m)
        return { name, input in
            try Limits.check(parameters: Double(units) * Double(input.count), outputs: Double(units),
                             flops: 2 * Double(units) * Double(input.count))
            return Dense(name: name, input: input, units: units, bias: bias, initScheme: scheme)
        }
    }
}
