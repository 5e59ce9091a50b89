// Config keys and bounds shared by the layers' parsers (each parser is an
// extension in its layer's file; `LayerRegistry` maps `type:` names to them).

/// The `init` key of layers with weights (default `pytorch`).
func initScheme(_ m: ConfigMapping) throws -> InitScheme {
    try m.option("init", default: .pytorch)
}

/// Pooling keys: `kernel`, `stride` (default: the kernel), `padding` (default 0).
func poolingKeys(_ m: ConfigMapping) throws -> (kernel: (Int, Int), stride: (Int, Int), padding: (Int, Int)) {
    let kernel = try m.intPair("kernel", 1...Limits.window)
    let stride = try m.intPair("stride", default: kernel, 1...Limits.window)
    let padding = try m.intPair("padding", default: (0, 0), 0...Limits.window)
    return (kernel, stride, padding)
}

/// A sliding window must fit the (padded) input and leave at least one output.
func checkWindow(input: TensorShape, kernel: (Int, Int), stride: (Int, Int), padding: (Int, Int),
                 dilation: (Int, Int) = (1, 1), pooling: Bool = false) throws {
    let h = input.height + 2 * padding.0, w = input.width + 2 * padding.1
    if kernel.0 > h || kernel.1 > w {
        throw ShapeError("kernel \(kernel.0)x\(kernel.1) does not fit the input \(input) padded by \(padding.0)x\(padding.1) (\(h)x\(w))")
    }
    let span = (dilation.0 * (kernel.0 - 1) + 1, dilation.1 * (kernel.1 - 1) + 1)
    if span.0 > h || span.1 > w {
        throw ShapeError("kernel \(kernel.0)x\(kernel.1) dilated by \(dilation.0)x\(dilation.1) spans \(span.0)x\(span.1), "
                         + "which does not fit the input \(input) padded by \(padding.0)x\(padding.1) (\(h)x\(w))")
    }
    if pooling && (padding.0 * 2 > kernel.0 || padding.1 * 2 > kernel.1) {
        throw ShapeError("padding \(padding.0)x\(padding.1) must be at most half the kernel \(kernel.0)x\(kernel.1)")
    }
}

/// Bounds that keep every size computation far from integer overflow (a
/// config can ask for anything; the arithmetic must never trap).
enum Limits {
    static let channels = 1 << 20
    static let units = 1 << 26
    static let window = 1 << 16

    /// One layer may hold at most 2^46 parameters (256 TiB of floats), output
    /// 2^40 values per sample and cost 2^56 FLOPs per sample.
    static func check(parameters: Double, outputs: Double, flops: Double) throws {
        if parameters > 0x1p46 { throw ShapeError("\(Int(parameters)) parameters is beyond ptrain's limit of 2^46 per layer") }
        if outputs > 0x1p40 { throw ShapeError("\(Int(outputs)) outputs per sample is beyond ptrain's limit of 2^40") }
        if flops > 0x1p56 { throw ShapeError("\(flops) FLOPs per sample is beyond ptrain's limit of 2^56") }
    }
}
