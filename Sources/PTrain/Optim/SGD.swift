import PTrainKernels

/// Stochastic gradient descent with momentum, Nesterov momentum and L2 weight
/// decay, with PyTorch's `torch.optim.SGD` semantics (dampening 0):
///
///     g = grad + wd * w
///     v = mu * v + g                   (v starts at 0; first step v = g)
///     step = nesterov ? g + mu * v : v
///     w -= lr * step
///
/// Works on any contiguous slice of the flat arenas, so each worker can update
/// its own slice after the gradient reduction.
public struct SGD: Sendable {
    public var config: OptimizerConfig
    public init(config: OptimizerConfig) { self.config = config }

    /// Updates `count` parameters in place with learning rate `lr`;
    /// `velocity` is the momentum buffer (same layout), unused when mu == 0;
    /// `gradientScale` multiplies the gradient first (gradient clipping; 1
    /// leaves it as it is).
    public func update(parameters w: UnsafeMutablePointer<Float>, gradients g: UnsafePointer<Float>,
                       velocity v: UnsafeMutablePointer<Float>, count: Int, learningRate lr: Float,
                       gradientScale: Float = 1) {
        let wd = Float(config.weightDecay), mu = Float(config.momentum)
        let vlr = SIMD16<Float>(repeating: lr), vwd = SIMD16<Float>(repeating: wd), vmu = SIMD16<Float>(repeating: mu)
        let vscale = SIMD16<Float>(repeating: gradientScale)
        var i = 0
        while i + 16 <= count {
            var wv = UnsafeRawPointer(w + i).loadUnaligned(as: SIMD16<Float>.self)
            var gv = UnsafeRawPointer(g + i).loadUnaligned(as: SIMD16<Float>.self) * vscale
            gv.addProduct(vwd, wv)
            if mu != 0 {
                var vv = UnsafeRawPointer(v + i).loadUnaligned(as: SIMD16<Float>.self)
                vv = vv * vmu + gv
                UnsafeMutableRawPointer(v + i).storeBytes(of: vv, as: SIMD16<Float>.self)
                gv = config.nesterov ? gv + vmu * vv : vv
            }
            wv.addProduct(-vlr, gv)
            UnsafeMutableRawPointer(w + i).storeBytes(of: wv, as: SIMD16<Float>.self)
            i += 16
        }
        // The scalar tail rounds exactly as the SIMD body (the same fused
        // multiply-adds), so results never depend on where a range is cut.
        while i < count {
            var gi = (g[i] * gradientScale).addingProduct(wd, w[i])
            if mu != 0 {
                v[i] = v[i] * mu + gi
                gi = config.nesterov ? gi + mu * v[i] : v[i]
            }
            w[i] = w[i].addingProduct(-lr, gi)
            i += 1
        }
    }
}
