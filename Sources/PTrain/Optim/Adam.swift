#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Adam and AdamW with PyTorch's `torch.optim.Adam` / `AdamW` semantics
/// (amsgrad off), at update number `t` (1-based: the updates this optimizer
/// state has applied, this one included):
///
///     g = grad (+ wd * w for Adam: L2 in the gradient)
///     w *= 1 - lr * wd                         (AdamW only: decoupled decay)
///     m = m + (1 - b1) * (g - m)               (first moment; starts at 0)
///     v = b2 * v + (1 - b2) * g * g            (second moment; starts at 0)
///     w -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
///
/// Works on any contiguous slice of the flat arenas; every element is
/// computed by the same vector code (the tail too), so results never depend
/// on where a worker's slice is cut.
public struct Adam: Sendable {
    public let config: OptimizerConfig
    public init(config: OptimizerConfig) { self.config = config }

    /// Updates `count` parameters in place. `m` and `v` are the moment
    /// buffers (same layout as `w`); `gradientScale` multiplies the gradient
    /// first (gradient clipping; 1 leaves it as it is).
    public func update(parameters w: UnsafeMutablePointer<Float>, gradients g: UnsafePointer<Float>,
                       firstMoment m: UnsafeMutablePointer<Float>, secondMoment v: UnsafeMutablePointer<Float>,
                       count: Int, learningRate lr: Float, step t: Int, gradientScale: Float) {
        let b1 = config.betas.0, b2 = config.betas.1, wd = Float(config.weightDecay)
        let decoupled = config.kind == .adamw
        let k = Constants(b1: Float(b1), b2: Float(b2), eps: Float(config.eps),
                          stepSize: lr / Float(1 - pow(b1, Double(t))),
                          bias2Root: Float(sqrt(1 - pow(b2, Double(t)))),
                          l2: decoupled ? 0 : wd, shrink: decoupled ? 1 - lr * wd : 1, scale: gradientScale)
        var i = 0
        while i + 16 <= count {
            var wv = UnsafeRawPointer(w + i).loadUnaligned(as: SIMD16<Float>.self)
            var mv = UnsafeRawPointer(m + i).loadUnaligned(as: SIMD16<Float>.self)
            var vv = UnsafeRawPointer(v + i).loadUnaligned(as: SIMD16<Float>.self)
            k.step(&wv, UnsafeRawPointer(g + i).loadUnaligned(as: SIMD16<Float>.self), &mv, &vv)
            UnsafeMutableRawPointer(w + i).storeBytes(of: wv, as: SIMD16<Float>.self)
            UnsafeMutableRawPointer(m + i).storeBytes(of: mv, as: SIMD16<Float>.self)
            UnsafeMutableRawPointer(v + i).storeBytes(of: vv, as: SIMD16<Float>.self)
            i += 16
        }
        guard i < count else { return }
        // The tail goes through the same vector code, zero-padded.
        var wv = SIMD16<Float>(), gv = SIMD16<Float>(), mv = SIMD16<Float>(), vv = SIMD16<Float>()
        for j in 0..<(count - i) { wv[j] = w[i + j]; gv[j] = g[i + j]; mv[j] = m[i + j]; vv[j] = v[i + j] }
        k.step(&wv, gv, &mv, &vv)
        for j in 0..<(count - i) { w[i + j] = wv[j]; m[i + j] = mv[j]; v[i + j] = vv[j] }
    }

    /// The per-update constants, as vectors.
    private struct Constants {
        let b1, oneMinusB1, b2, oneMinusB2, eps, stepSize, bias2Root, l2, shrink, scale: SIMD16<Float>
        init(b1: Float, b2: Float, eps: Float, stepSize: Float, bias2Root: Float, l2: Float, shrink: Float, scale: Float) {
            self.b1 = .init(repeating: b1); oneMinusB1 = .init(repeating: 1 - b1)
            self.b2 = .init(repeating: b2); oneMinusB2 = .init(repeating: 1 - b2)
            self.eps = .init(repeating: eps); self.stepSize = .init(repeating: stepSize)
            self.bias2Root = .init(repeating: bias2Root); self.l2 = .init(repeating: l2)
            self.shrink = .init(repeating: shrink); self.scale = .init(repeating: scale)
        }

        func step(_ w: inout SIMD16<Float>, _ grad: SIMD16<Float>, _ m: inout SIMD16<Float>, _ v: inout SIMD16<Float>) {
            var g = grad * scale
            g.addProduct(l2, w)
            w *= shrink
            m.addProduct(oneMinusB1, g - m)
            v = v * b2 + oneMinusB2 * (g * g)
            let denom = v.squareRoot() / bias2Root + eps
            w -= stepSize * m / denom
        }
    }
}
