import PTrainKernels

/// Max pooling `[N, C, H, W]` -> `[N, C, OH, OW]`; any window, stride and
/// padding (overlapping 3x3/2 included). Remembers each output's winning input
/// position so backward routes gradients without recomputing the max.
public final class MaxPool2D: Layer, InputGradientOverwriting {
    public let name: String
    public let typeName = "maxpool"
    public let inputShape: TensorShape
    public let outputShape: TensorShape
    public let parameterSpecs: [ParameterSpec] = []
    public let geometry: WindowGeometry
    /// Each output's winning input position (`maxPoolForward`'s argmax),
    /// `[maxBatch, C, OH, OW]`; read by a convolution this pool's gradient
    /// is routed to (`Conv2D.routedPool`).
    private(set) var argmax: Int32Buffer?
    /// The padded rows of the separable kernels (`maxPoolScratchCount`);
    /// also the scratch of a convolution this pool is folded into
    /// (`Conv2D.foldedPool`), which runs in its place.
    private(set) var scratch: FloatBuffer?
    /// Set by the network: the input is a relu fused into the convolution
    /// before (its only reader is this pool, `StoragePlan.poolMasks`), and
    /// backward applies the relu's mask (`maxPoolBackward(rectified:)`),
    /// the convolution not (`Conv2D.readerMasksGradient`).
    public var masksRectifiedInput = false
    /// `InputGradientOverwriting`: each plane of dx zeroed right before its
    /// scatter, not the whole buffer in a pass of its own.
    public var overwritesInputGradient: [Bool] = []
    public func canOverwriteInputGradient(_ k: Int) -> Bool { true }
    /// Set by the network: the convolution before computes its weight
    /// gradient from this pool's gradient and argmax (`Conv2D.routedPool`),
    /// so backward has nothing to write.
    public var gradientRouted = false

    public init(name: String, input: TensorShape, kernel: (Int, Int), stride: (Int, Int), padding: (Int, Int) = (0, 0)) {
        self.name = name
        inputShape = input
        geometry = WindowGeometry(channels: input.channels, height: input.height, width: input.width,
                                  kernelH: kernel.0, kernelW: kernel.1, strideH: stride.0, strideW: stride.1,
                                  padH: padding.0, padW: padding.1)
        outputShape = TensorShape(input.channels, geometry.outH, geometry.outW)
    }

    public var detail: String { poolDetail(geometry) }
    /// One comparison per window tap.
    public var forwardFLOPs: Int { outputShape.count * geometry.kernelH * geometry.kernelW }

    public func allocate(maxBatch: Int) {
        if argmax == nil { argmax = Int32Buffer(count: maxBatch * outputShape.count) }
        if scratch == nil { scratch = FloatBuffer(count: maxPoolScratchCount(geometry)) }
    }

    /// Inference needs no argmax: the separable, index-free kernel (but
    /// 2x2/2 windows have a SIMD path with argmax that is as fast).
    public func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, batch: Int, context: StepContext) {
        if context.training || maxPoolIsPlain2x2(geometry) {
            maxPoolForward(x, geometry, batch: batch, y, argmax: argmax!.pointer, scratch: scratch!.pointer)
        } else {
            maxPoolValues(x, geometry, batch: batch, y, scratch: scratch!.pointer)
        }
    }

    public func backward(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                         _ dx: UnsafeMutablePointer<Float>?, batch: Int, context: StepContext) {
        guard let dx, !gradientRouted else { return }
        // A masking pool masks dy in place: this layer's own output gradient, no other reader.
        maxPoolBackward(dy, argmax: argmax!.pointer, geometry, batch: batch, dx,
                        overwrite: overwritesInputGradient.first == true, rectified: masksRectifiedInput ? y : nil)
    }
}

/// `3x3/2 pad 1` style description shared by the pooling layers.
func poolDetail(_ g: WindowGeometry) -> String {
    var s = "\(g.kernelH)x\(g.kernelW)/\(g.strideH == g.strideW ? "\(g.strideH)" : "\(g.strideH)x\(g.strideW)")"
    if g.padH != 0 || g.padW != 0 { s += " pad \(g.padH == g.padW ? "\(g.padH)" : "\(g.padH)x\(g.padW)")" }
    return s
}

// MARK: - config parser (keys documented in README "Config format")

extension MaxPool2D {
    static func configured(_ m: ConfigMapping) throws -> LayerFactory {
        let k = try poolingKeys(m)
        return { name, input in
            try checkWindow(input: input, kernel: k.kernel, stride: k.stride, padding: k.padding, pooling: true)
            return MaxPool2D(name: name, input: input, kernel: k.kernel, stride: k.stride, padding: k.padding)
        }
    }
}
