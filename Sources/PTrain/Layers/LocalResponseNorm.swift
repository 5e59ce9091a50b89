import PTrainKernels

/// Local response normalisation across channels (AlexNet, 2012), with
/// PyTorch's `nn.LocalResponseNorm` semantics:
///
///     s[c] = k + (alpha / n) * sum_{c' = c - n/2}^{c + (n-1)/2} x[c']^2    (channels outside are 0)
///     y[c] = x[c] * s[c]^-beta
///
/// AlexNet's setting is n = 5, k = 2, alpha = 1e-4, beta = 0.75. Input and
/// output `[N, C, H, W]`; the scale `s` is kept for backward.
public final class LocalResponseNorm: Layer {
    public let name: String
    public let typeName = "lrn"
    public let inputShape: TensorShape
    public var outputShape: TensorShape { inputShape }
    public let parameterSpecs: [ParameterSpec] = []
    public let size: Int
    public let alpha: Float, beta: Float, k: Float
    /// `[maxBatch, C, H, W]`: s of the last forward.
    private var scales: FloatBuffer?

    public init(name: String, input: TensorShape, size: Int, alpha: Float, beta: Float, k: Float) {
        self.name = name
        inputShape = input
        self.size = size; self.alpha = alpha; self.beta = beta; self.k = k
    }

    public var detail: String { String(format: "n %d a %g b %g k %g", size, alpha, beta, k) }
    /// Per element: n multiply-adds for the window, a power, a multiply.
    public var forwardFLOPs: Int { inputShape.count * (2 * size + 4) }

    public func allocate(maxBatch: Int) {
        if scales == nil { scales = FloatBuffer(count: maxBatch * inputShape.count) }
    }

    public func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, batch: Int, context: StepContext) {
        let channels = inputShape.channels, plane = inputShape.spatial
        let a = alpha / Float(size)
        let s = scales!.pointer
        for n in 0..<batch {
            let xn = x + n * inputShape.count, sn = s + n * inputShape.count, yn = y + n * inputShape.count
            for c in 0..<channels {
                let sc = sn + c * plane
                sc.update(repeating: k, count: plane)
                for c2 in max(0, c - size / 2)...min(channels - 1, c + (size - 1) / 2) {
                    let xc = xn + c2 * plane
                    for i in 0..<plane { sc[i] += a * xc[i] * xc[i] }
                }
                let xc = xn + c * plane, yc = yn + c * plane
                for i in 0..<plane { yc[i] = xc[i] * sc[i].pow_(-beta) }
            }
        }
    }

    /// dx[j] += dy[j] s[j]^-beta - (2 alpha beta / n) x[j] sum_{i: j in window(i)} dy[i] y[i] / s[i]
    public func backward(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                         _ dx: UnsafeMutablePointer<Float>?, batch: Int, context: StepContext) {
        guard let dx else { return }
        let channels = inputShape.channels, plane = inputShape.spatial
        let coefficient = 2 * alpha * beta / Float(size)
        let s = scales!.pointer
        for n in 0..<batch {
            let off = n * inputShape.count
            for j in 0..<channels {
                let base = off + j * plane
                for p in 0..<plane { dx[base + p] += dy[base + p] * s[base + p].pow_(-beta) }
                // Channels i whose window holds j: i in [j - (n-1)/2, j + n/2].
                for i in max(0, j - (size - 1) / 2)...min(channels - 1, j + size / 2) {
                    let bi = off + i * plane
                    for p in 0..<plane {
                        dx[base + p] -= coefficient * x[base + p] * dy[bi + p] * y[bi + p] / s[bi + p]
                    }
                }
            }
        }
    }
}

// MARK: - config parser (keys documented in README "Config format")

extension LocalResponseNorm {
    /// Keys `size`, `alpha`, `beta`, `k`; defaults are AlexNet's (5, 1e-4, 0.75, 2).
    static func configured(_ m: ConfigMapping) throws -> LayerFactory {
        let size = try m.int("size", default: 5, 1...Limits.channels)
        let alpha = Float(try m.double("alpha", default: 1e-4, 0...1e6))
        let beta = Float(try m.double("beta", default: 0.75, 0...100))
        let k = Float(try m.double("k", default: 2, 0...1e6, openLower: true))
        return { LocalResponseNorm(name: $0, input: $1, size: size, alpha: alpha, beta: beta, k: k) }
    }
}
