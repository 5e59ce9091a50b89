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

    /// `scales`, `terms` and `powers` (`NetworkFootprint` counts them).
    public func ownedFloats(maxBatch: Int) -> Int { maxBatch * inputShape.count + inputShape.count + inputShape.spatial }

    public func allocate(maxBatch: Int) {
        if scales == nil { scales = FloatBuffer(count: maxBatch * inputShape.count) }
        if terms == nil { terms = FloatBuffer(count: inputShape.count) }
        if powers == nil { powers = FloatBuffer(count: inputShape.spatial) }
    }

    /// `[C, H, W]`: backward's `dy y / s` of one sample (reused per sample).
    private var terms: FloatBuffer?
    /// `[H, W]`: backward's `s^-beta` of one channel plane.
    private var powers: FloatBuffer?

    /// `out[i] = base[i]^-beta` over `count` floats: for AlexNet's beta 0.75
    /// (and 0.5, 1) square roots and a division, which vectorise, instead of
    /// one `pow` call per element (LRN cost as much as conv1 on W4 with it).
    private func negativePower(_ base: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, count: Int) {
        switch beta {
        case 0.75: for i in 0..<count { let r = base[i].squareRoot(); out[i] = 1 / (r * r.squareRoot()) }
        case 0.5: for i in 0..<count { out[i] = 1 / base[i].squareRoot() }
        case 1: for i in 0..<count { out[i] = 1 / base[i] }
        default: for i in 0..<count { out[i] = base[i].pow_(-beta) }
        }
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
                // y = x s^-beta, the power written into y first.
                let xc = xn + c * plane, yc = yn + c * plane
                negativePower(sc, yc, count: plane)
                for i in 0..<plane { yc[i] *= xc[i] }
            }
        }
    }

    /// dx[j] += dy[j] s[j]^-beta - (2 alpha beta / n) x[j] sum_{i: j in window(i)} dy[i] y[i] / s[i]
    /// (the terms dy y / s computed once per element, then summed per window).
    public func backward(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                         _ dx: UnsafeMutablePointer<Float>?, batch: Int, context: StepContext) {
        guard let dx else { return }
        let channels = inputShape.channels, plane = inputShape.spatial
        let coefficient = 2 * alpha * beta / Float(size)
        let s = scales!.pointer, t = terms!.pointer, power = powers!.pointer
        for n in 0..<batch {
            let off = n * inputShape.count
            for i in 0..<inputShape.count { t[i] = dy[off + i] * y[off + i] / s[off + i] }
            for j in 0..<channels {
                let base = off + j * plane
                let d = dx + base, g = dy + base, xj = x + base
                for i in max(0, j - (size - 1) / 2)...min(channels - 1, j + size / 2) {
                    let ti = t + i * plane
                    for p in 0..<plane { d[p] -= coefficient * xj[p] * ti[p] }
                }
                negativePower(s + base, power, count: plane)
                for p in 0..<plane { d[p] += g[p] * power[p] }
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
