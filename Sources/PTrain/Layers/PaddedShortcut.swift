/// The parameter-free residual shortcut of the CIFAR ResNets (He et al. 2016,
/// option A): `[N, C, H, W]` -> `[N, channels, ceil(H/s), ceil(W/s)]`, taking
/// every s-th pixel and padding the new channels with zeros, split evenly
/// before and after the input's (as the common PyTorch port does). With
/// `channels == C` and `s == 1` it is the identity.
public final class PaddedShortcut: Layer, InputGradientOverwriting {
    public let name: String
    public let typeName = "shortcut"
    public let inputShape: TensorShape
    public let outputShape: TensorShape
    public let parameterSpecs: [ParameterSpec] = []
    public let stride: Int
    /// Zero channels before the input's.
    public let padBefore: Int

    /// `InputGradientOverwriting`: backward writes every input pixel, the
    /// ones no output reads as zeros.
    public var overwritesInputGradient: [Bool] = []
    public func canOverwriteInputGradient(_ k: Int) -> Bool { true }

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
        let (oh, ow) = (outputShape.height, outputShape.width), plane = oh * ow
        let padAfter = outputShape.channels - padBefore - c
        for n in 0..<batch {
            let out = y + n * outputShape.count
            // Only the added channels are zeroed: the rest is written once.
            out.update(repeating: 0, count: padBefore * plane)
            (out + (padBefore + c) * plane).update(repeating: 0, count: padAfter * plane)
            for ch in 0..<c {
                let src = x + (n * c + ch) * h * w
                let dst = out + (padBefore + ch) * plane
                if stride == 1 { dst.update(from: src, count: h * w); continue }
                for i in 0..<oh { subsampleRow(src + i * stride * w, into: dst + i * ow, width: w, count: ow) }
            }
        }
    }

    /// `dst[j] = src[j * stride]` for `j < count` (`src` holds `width` floats).
    /// Stride 2 takes the even lanes of 16-float loads while they lie within
    /// the row.
    @inline(__always)
    private func subsampleRow(_ src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>, width: Int, count: Int) {
        var j = 0
        if stride == 2 {
            while 2 * j + 16 <= width {
                let v = UnsafeRawPointer(src + 2 * j).loadUnaligned(as: SIMD16<Float>.self)
                UnsafeMutableRawPointer(dst + j).storeBytes(of: v.evenHalf, as: SIMD8<Float>.self)
                j += 8
            }
        }
        while j < count { dst[j] = src[j * stride]; j += 1 }
    }

    public func backward(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                         _ dx: UnsafeMutablePointer<Float>?, batch: Int, context: StepContext) {
        guard let dx else { return }
        let (c, h, w) = (inputShape.channels, inputShape.height, inputShape.width)
        let (oh, ow) = (outputShape.height, outputShape.width)
        let overwrite = overwritesInputGradient.first == true
        for n in 0..<batch {
            for ch in 0..<c {
                let g = dy + n * outputShape.count + (padBefore + ch) * oh * ow
                let d = dx + (n * c + ch) * h * w
                if overwrite {
                    // Rows no output reads (every input row is written).
                    for row in 0..<h where row % stride != 0 || row / stride >= oh { (d + row * w).update(repeating: 0, count: w) }
                }
                for i in 0..<oh { scatterRow(g + i * ow, into: d + i * stride * w, width: w, count: ow, overwrite: overwrite) }
            }
        }
    }

    /// `dst[j * stride] += src[j]` for `j < count`, the other pixels of the
    /// row untouched (stride 2: the even lanes of 16-float loads, as in
    /// forward). `overwrite`: the row's other pixels become 0 and the added
    /// ones `0 + src[j]`, without reading the row.
    @inline(__always)
    private func scatterRow(_ src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>, width: Int, count: Int,
                            overwrite: Bool) {
        var j = 0
        if stride == 2 {
            while 2 * j + 16 <= width {
                let p = UnsafeMutableRawPointer(dst + 2 * j)
                var v = overwrite ? SIMD16<Float>(repeating: 0) : p.loadUnaligned(as: SIMD16<Float>.self)
                v.evenHalf += UnsafeRawPointer(src + j).loadUnaligned(as: SIMD8<Float>.self)
                p.storeBytes(of: v, as: SIMD16<Float>.self)
                j += 8
            }
        }
        if overwrite { (dst + j * stride).update(repeating: 0, count: width - j * stride) }
        while j < count { dst[j * stride] += src[j]; j += 1 }
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
