// Conv2D's config parser, beside Conv2D.swift (which holds the layer and is
// near the 450-line bound). Keys documented in README "Config format".

extension Conv2D {
    /// The `algorithm` key.
    public enum Algorithm: String, ConfigOption {
        /// Winograd tiles where they apply (WinogradConvolution.swift).
        case auto
        /// Never Winograd.
        case direct
    }

    static func configured(_ m: ConfigMapping) throws -> LayerFactory {
        let filters = try m.int("filters", 1...Limits.channels)
        let kernel = try m.intPair("kernel", 1...Limits.window)
        let stride = try m.intPair("stride", default: (1, 1), 1...Limits.window)
        let padding = try m.intPair("padding", default: (0, 0), 0...Limits.window)
        let dilation = try m.intPair("dilation", default: (1, 1), 1...Limits.window)
        let groups = try m.int("groups", default: 1, 1...Limits.channels)
        let bias = try m.bool("bias", default: true)
        let scheme = try initScheme(m)
        let winograd = try m.option("algorithm", default: Algorithm.auto) == .auto
        return { name, input in
            guard input.channels % groups == 0, filters % groups == 0 else {
                throw ShapeError("input channels \(input.channels) and filters \(filters) must both be divisible by groups \(groups)")
            }
            try checkWindow(input: input, kernel: kernel, stride: stride, padding: padding, dilation: dilation)
            // The span of a dilated kernel: D * (K - 1) + 1 pixels (< 2^33: no overflow).
            let span = (dilation.0 * (kernel.0 - 1) + 1, dilation.1 * (kernel.1 - 1) + 1)
            let outH = Double((input.height + 2 * padding.0 - span.0) / stride.0 + 1)
            let outW = Double((input.width + 2 * padding.1 - span.1) / stride.1 + 1)
            let fanIn = Double(input.channels / groups) * Double(kernel.0) * Double(kernel.1)
            try Limits.check(parameters: Double(filters) * fanIn, outputs: Double(filters) * outH * outW,
                             flops: 2 * Double(filters) * fanIn * outH * outW)
            return Conv2D(name: name, input: input, filters: filters, kernel: kernel, stride: stride,
                          padding: padding, dilation: dilation, groups: groups, bias: bias, initScheme: scheme, winograd: winograd)
        }
    }
}
