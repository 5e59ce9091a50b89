/// The parameter-free residual shortcut of the CIFAR ResNets (He et al. 2016,
/// option A): `[N, C, H, W]` -> `[N, channels, ceil(H/s), ceil(W/s)]`, taking
/// every s-th pixel and padding the new channels with zeros, split evenly
/// before and after the input's (as the common PyTorch port does). With
/// `channels == C` and `s == 1` it is the identity.
public final class PaddedShortcut: Layer {
    public let name: String
    public let typeName = "shortcut"
    public let inputShape: TensorShape
    public let outputShape: TensorShape
    public let parameterSpecs: [ParameterSpec] = []
    public let stride: Int
    /// Zero channels before the input's.
    public let padBefore: Int

    /// Callers check `channels >= input.channels`.
    public init(name: String, input: TensorShape, channels: Int, stride: Int) {
        self.name = name
        inputShape = input
        self.stride = stride
        outputShape = TensorShape(channels, (input.height + stride - 1) / stride, (input.width + stride - 1) / stride)
        padBefore = (channels - input.channels) / 2
    }

    /// Stride 1 and no added channels: the output is the input (the network
    /// stores nothing and skips the layer; see StoragePlan).
    public var isIdentity: Bool { stride == 1 && outputShape == inputShape }

    public var detail: String {
        if isIdentity { return "identity" }  // usually stored as its input, never run (StoragePlan)
        return "\(outputShape.channels) /\(stride)" + (padBefore > 0 || outputShape.channels > inputShape.channels ? " zero-pad" : "")
    }
    public var forwardFLOPs: Int { 0 }

    public func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, batch: Int, context: StepContext) {
        let (c, h, w) = (inputShape.channels, inputShape.height, inputShape.width)
        let (oh, ow) = (outputShape.height, outputShape.width)
        y.update(repeating: 0, count: batch * outputShape.count)
        for n in 0..<batch {
            for ch in 0..<c {
                let src = x + (n * c + ch) * h * w
                let dst = y + n * outputShape.count + (padBefore + ch) * oh * ow
                if stride == 1 { dst.update(from: src, count: h * w); continue }
                for i in 0..<oh {
                    for j in 0..<ow { dst[i * ow + j] = src[i * stride * w + j * stride] }
                }
            }
        }
    }

    public func backward(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                         _ dx: UnsafeMutablePointer<Float>?, batch: Int, context: StepContext) {
        guard let dx else { return }
        let (c, h, w) = (inputShape.channels, inputShape.height, inputShape.width)
        let (oh, ow) = (outputShape.height, outputShape.width)
        for n in 0..<batch {
            for ch in 0..<c {
                let g = dy + n * outputShape.count + (padBefore + ch) * oh * ow
                let d = dx + (n * c + ch) * h * w
                for i in 0..<oh {
                    for j in 0..<ow { d[i * stride * w + j * stride] += g[i * ow + j] }
                }
            }
        }
    }
}

// MARK: - config parser (keys documented in README "Config format")

extension PaddedShortcut {
    /// Keys `channels` (output channels, at least the input's) and `stride` (1).
    static func configured(_ m: ConfigMapping) throws -> LayerFactory {
        let channels = try m.int("channels", 1...Limits.channels)
        let stride = try m.int("stride", default: 1, 1...Limits.window)
        return { name, input in
            guard channels >= input.channels else {
                throw ShapeError("channels \(channels) is fewer than the input's \(input.channels); a zero-padding shortcut cannot drop channels (use a 1x1 conv2d projection)")
            }
            return PaddedShortcut(name: name, input: input, channels: channels, stride: stride)
        }
    }
}
