import PTrainKernels

/// Global average pooling `[N, C, H, W]` -> `[N, C, 1, 1]`: the mean of each
/// plane (ResNet's and DenseNet's head before the classifier).
public final class GlobalAvgPool: Layer {
    public let name: String
    public let typeName = "global_avgpool"
    public let inputShape: TensorShape
    public let outputShape: TensorShape
    public let parameterSpecs: [ParameterSpec] = []

    public init(name: String, input: TensorShape) {
        self.name = name
        inputShape = input
        outputShape = TensorShape(input.channels, 1, 1)
    }

    public var detail: String { "" }
    public var forwardFLOPs: Int { inputShape.count }

    public func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, batch: Int, context: StepContext) {
        let s = inputShape.spatial, inv = 1 / Float(s)
        for p in 0..<batch * inputShape.channels { y[p] = sum(x + p * s, count: s) * inv }
    }

    public func backward(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                         _ dx: UnsafeMutablePointer<Float>?, batch: Int, context: StepContext) {
        guard let dx else { return }
        let s = inputShape.spatial, inv = 1 / Float(s)
        for p in 0..<batch * inputShape.channels {
            let g = SIMD16<Float>(repeating: dy[p] * inv), q = dx + p * s
            var i = 0
            while i + 16 <= s {
                let v = UnsafeRawPointer(q + i).loadUnaligned(as: SIMD16<Float>.self) + g
                UnsafeMutableRawPointer(q + i).storeBytes(of: v, as: SIMD16<Float>.self)
                i += 16
            }
            while i < s { q[i] += dy[p] * inv; i += 1 }
        }
    }
}

// MARK: - config parser (keys documented in README "Config format")

extension GlobalAvgPool {
    static func configured(_ m: ConfigMapping) throws -> LayerFactory { { GlobalAvgPool(name: $0, input: $1) } }
}
