import PTrainKernels

/// Average pooling `[N, C, H, W]` -> `[N, C, OH, OW]`; padded taps count in
/// the divisor (PyTorch's default `count_include_pad=True`).
public final class AvgPool2D: Layer {
    public let name: String
    public let typeName = "avgpool"
    public let inputShape: TensorShape
    public let outputShape: TensorShape
    public let parameterSpecs: [ParameterSpec] = []
    public let geometry: WindowGeometry

    public init(name: String, input: TensorShape, kernel: (Int, Int), stride: (Int, Int), padding: (Int, Int) = (0, 0)) {
        self.name = name
        inputShape = input
        geometry = WindowGeometry(channels: input.channels, height: input.height, width: input.width,
                                  kernelH: kernel.0, kernelW: kernel.1, strideH: stride.0, strideW: stride.1,
                                  padH: padding.0, padW: padding.1)
        outputShape = TensorShape(input.channels, geometry.outH, geometry.outW)
    }

    public var detail: String { poolDetail(geometry) }
    public var forwardFLOPs: Int { outputShape.count * geometry.kernelH * geometry.kernelW }

    public func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, batch: Int, context: StepContext) {
        avgPoolForward(x, geometry, batch: batch, y)
    }

    public func backward(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                         _ dx: UnsafeMutablePointer<Float>?, batch: Int, context: StepContext) {
        guard let dx else { return }
        avgPoolBackward(dy, geometry, batch: batch, dx)
    }
}

// MARK: - config parser (keys documented in README "Config format")

extension AvgPool2D {
    static func configured(_ m: ConfigMapping) throws -> LayerFactory {
        let k = try poolingKeys(m)
        return { name, input in
            try checkWindow(input: input, kernel: k.kernel, stride: k.stride, padding: k.padding, pooling: true)
            return AvgPool2D(name: name, input: input, kernel: k.kernel, stride: k.stride, padding: k.padding)
        }
    }
}
