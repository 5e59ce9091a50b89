/// Builds one layer from its name and input shape; throws `ShapeError` when
/// the input shape does not fit the layer's configuration.
public typealias LayerFactory = (_ name: String, _ input: TensorShape) throws -> any Layer

/// Builds one graph node from its name and the shapes of its inputs.
public typealias NodeFactory = (_ name: String, _ inputs: [TensorShape]) throws -> any Layer

/// A layer's shape does not fit its input; `ModelSpec` adds the config location.
public struct ShapeError: Error { public let message: String; public init(_ m: String) { message = m } }

/// Config `type:` -> the parser of that layer's keys. Adding a layer is one
/// file (the layer, with its `configured` parser) plus one line here.
public enum LayerRegistry {
    public static var parsers: [String: (ConfigMapping) throws -> NodeFactory] { [
        "conv2d": single(Conv2D.configured),
        "conv1d": single(Conv1D.configured),
        "local2d": single(LocallyConnected2D.configured),
        "reshape": single(Reshape.configured),
        "dense": single(Dense.configured),
        "maxpool": single(MaxPool2D.configured),
        "avgpool": single(AvgPool2D.configured),
        "global_avgpool": single(GlobalAvgPool.configured),
        "flatten": single(Reshape.flattening),
        "relu": single(ReLU.configured),
        "sigmoid": single(Sigmoid.configured),
        "dropout": single(Dropout.configured),
        "lrn": single(LocalResponseNorm.configured),
        "batchnorm": single(BatchNorm.configured),
        "shortcut": single(PaddedShortcut.configured),
        "add": Add.configured,
        "concat": Concat.configured,
    ] }

    public static var typeNames: [String] { parsers.keys.sorted() }

    /// Types that read two or more inputs (`inputs: [a, b, ...]`).
    public static let joinTypes: Set<String> = ["add", "concat"]

    /// Wraps a one-input parser as a node parser.
    static func single(_ parser: @escaping (ConfigMapping) throws -> LayerFactory) -> (ConfigMapping) throws -> NodeFactory {
        { m in
            let factory = try parser(m)
            return { name, inputs in
                guard inputs.count == 1 else { throw ShapeError("takes one input, but \(inputs.count) are given") }
                return try factory(name, inputs[0])
            }
        }
    }
}

// MARK: - per-layer config parsers (keys documented in README "Config format")

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
        let groups = try m.int("groups", default: 1, 1...Limits.channels)
        let bias = try m.bool("bias", default: true)
        let scheme = try initScheme(m)
        let winograd = try m.option("algorithm", default: Algorithm.auto) == .auto
        return { name, input in
            guard input.channels % groups == 0, filters % groups == 0 else {
                throw ShapeError("input channels \(input.channels) and filters \(filters) must both be divisible by groups \(groups)")
            }
            try checkWindow(input: input, kernel: kernel, stride: stride, padding: padding)
            let outH = Double((input.height + 2 * padding.0 - kernel.0) / stride.0 + 1)
            let outW = Double((input.width + 2 * padding.1 - kernel.1) / stride.1 + 1)
            let fanIn = Double(input.channels / groups) * Double(kernel.0) * Double(kernel.1)
            try Limits.check(parameters: Double(filters) * fanIn, outputs: Double(filters) * outH * outW,
                             flops: 2 * Double(filters) * fanIn * outH * outW)
            return Conv2D(name: name, input: input, filters: filters, kernel: kernel, stride: stride,
                          padding: padding, groups: groups, bias: bias, initScheme: scheme, winograd: winograd)
        }
    }
}

extension Conv1D {
    /// Keys as conv2d's, with single integers: `filters`, `kernel`, `stride`, `padding`, `groups`, `bias`, `init`.
    static func configured(_ m: ConfigMapping) throws -> LayerFactory {
        let filters = try m.int("filters", 1...Limits.channels)
        let kernel = try m.int("kernel", 1...Limits.window)
        let stride = try m.int("stride", default: 1, 1...Limits.window)
        let padding = try m.int("padding", default: 0, 0...Limits.window)
        let groups = try m.int("groups", default: 1, 1...Limits.channels)
        let bias = try m.bool("bias", default: true)
        let scheme = try initScheme(m)
        return { name, input in
            guard input.height == 1 else {
                throw ShapeError("conv1d reads [channels, length] samples, but the input is \(input) (reshape it first)")
            }
            guard input.channels % groups == 0, filters % groups == 0 else {
                throw ShapeError("input channels \(input.channels) and filters \(filters) must both be divisible by groups \(groups)")
            }
            try checkWindow(input: input, kernel: (1, kernel), stride: (1, stride), padding: (0, padding))
            let length = Double((input.width + 2 * padding - kernel) / stride + 1)
            let fanIn = Double(input.channels / groups * kernel)
            try Limits.check(parameters: Double(filters) * fanIn, outputs: Double(filters) * length, flops: 2 * Double(filters) * fanIn * length)
            return Conv1D(name: name, input: input, filters: filters, kernel: kernel, stride: stride, padding: padding,
                          groups: groups, bias: bias, initScheme: scheme)
        }
    }
}

extension LocallyConnected2D {
    /// Keys as conv2d's (without groups): `filters`, `kernel`, `stride`, `padding`, `bias`, `init`.
    static func configured(_ m: ConfigMapping) throws -> LayerFactory {
        let filters = try m.int("filters", 1...Limits.channels)
        let kernel = try m.intPair("kernel", 1...Limits.window)
        let stride = try m.intPair("stride", default: (1, 1), 1...Limits.window)
        let padding = try m.intPair("padding", default: (0, 0), 0...Limits.window)
        let bias = try m.bool("bias", default: true)
        let scheme = try initScheme(m)
        return { name, input in
            try checkWindow(input: input, kernel: kernel, stride: stride, padding: padding)
            let positions = Double((input.height + 2 * padding.0 - kernel.0) / stride.0 + 1) * Double((input.width + 2 * padding.1 - kernel.1) / stride.1 + 1)
            let fanIn = Double(input.channels) * Double(kernel.0) * Double(kernel.1)
            try Limits.check(parameters: positions * Double(filters) * fanIn, outputs: Double(filters) * positions,
                             flops: 2 * Double(filters) * fanIn * positions)
            return LocallyConnected2D(name: name, input: input, filters: filters, kernel: kernel, stride: stride,
                                      padding: padding, bias: bias, initScheme: scheme)
        }
    }
}

extension Reshape {
    /// Key `shape`: `[channels, height, width]`, `[channels, length]` or `[features]`.
    static func configured(_ m: ConfigMapping) throws -> LayerFactory {
        let value = try m.require("shape")
        let dims = try value.ints(1...Int(Int32.max))
        guard (1...3).contains(dims.count) else { throw value.mismatch("[channels, height, width], [channels, length] or [features]") }
        m.record("shape", value.node)
        let values = dims.reduce(1.0) { $0 * Double($1) }  // in Double: a huge shape must not overflow
        return { name, input in
            guard values == Double(input.count) else {
                throw ShapeError("shape \(dims.map(String.init).joined(separator: "x")) holds \(values <= 0x1p62 ? String(Int(values)) : "over 2^62") values but the input \(input) holds \(input.count)")
            }
            let output = dims.count == 3 ? TensorShape(dims[0], dims[1], dims[2])
                : dims.count == 2 ? TensorShape(dims[0], 1, dims[1]) : TensorShape(dims[0])
            return Reshape(name: name, input: input, output: output)
        }
    }
}

extension Dense {
    static func configured(_ m: ConfigMapping) throws -> LayerFactory {
        let units = try m.int("units", 1...Limits.units)
        let bias = try m.bool("bias", default: true)
        let scheme = try initScheme(m)
        return { name, input in
            try Limits.check(parameters: Double(units) * Double(input.count), outputs: Double(units),
                             flops: 2 * Double(units) * Double(input.count))
            return Dense(name: name, input: input, units: units, bias: bias, initScheme: scheme)
        }
    }
}

/// The `init` key of layers with weights (default `pytorch`).
private func initScheme(_ m: ConfigMapping) throws -> InitScheme {
    try m.option("init", default: .pytorch)
}

/// Pooling keys: `kernel`, `stride` (default: the kernel), `padding` (default 0).
private func poolingKeys(_ m: ConfigMapping) throws -> (kernel: (Int, Int), stride: (Int, Int), padding: (Int, Int)) {
    let kernel = try m.intPair("kernel", 1...Limits.window)
    let stride = try m.intPair("stride", default: kernel, 1...Limits.window)
    let padding = try m.intPair("padding", default: (0, 0), 0...Limits.window)
    return (kernel, stride, padding)
}

extension MaxPool2D {
    static func configured(_ m: ConfigMapping) throws -> LayerFactory {
        let k = try poolingKeys(m)
        return { name, input in
            try checkWindow(input: input, kernel: k.kernel, stride: k.stride, padding: k.padding, pooling: true)
            return MaxPool2D(name: name, input: input, kernel: k.kernel, stride: k.stride, padding: k.padding)
        }
    }
}

extension AvgPool2D {
    static func configured(_ m: ConfigMapping) throws -> LayerFactory {
        let k = try poolingKeys(m)
        return { name, input in
            try checkWindow(input: input, kernel: k.kernel, stride: k.stride, padding: k.padding, pooling: true)
            return AvgPool2D(name: name, input: input, kernel: k.kernel, stride: k.stride, padding: k.padding)
        }
    }
}

extension GlobalAvgPool {
    static func configured(_ m: ConfigMapping) throws -> LayerFactory { { GlobalAvgPool(name: $0, input: $1) } }
}

extension BatchNorm {
    /// Keys `momentum` (0.1) and `eps` (1e-5), PyTorch's defaults.
    static func configured(_ m: ConfigMapping) throws -> LayerFactory {
        let momentum = Float(try m.double("momentum", default: 0.1, 0...1))
        let eps = Float(try m.double("eps", default: 1e-5, 0...1, openLower: true))
        return { BatchNorm(name: $0, input: $1, epsilon: eps, momentum: momentum) }
    }
}

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

extension Add {
    static func configured(_ m: ConfigMapping) throws -> NodeFactory {
        { name, inputs in
            guard inputs.count >= 2 else { throw ShapeError("add needs at least two inputs, but \(inputs.count) is given") }
            if let odd = inputs.firstIndex(where: { $0 != inputs[0] }) {
                throw ShapeError("all inputs must have one shape, but input 0 is \(inputs[0]) and input \(odd) is \(inputs[odd])")
            }
            return Add(name: name, inputs: inputs)
        }
    }
}

extension Concat {
    static func configured(_ m: ConfigMapping) throws -> NodeFactory {
        { name, inputs in
            guard inputs.count >= 2 else { throw ShapeError("concat needs at least two inputs, but \(inputs.count) is given") }
            if let odd = inputs.firstIndex(where: { $0.height != inputs[0].height || $0.width != inputs[0].width }) {
                throw ShapeError("inputs must share height and width, but input 0 is \(inputs[0]) and input \(odd) is \(inputs[odd])")
            }
            let channels = inputs.reduce(0.0) { $0 + Double($1.channels) }
            try Limits.check(parameters: 0, outputs: channels * Double(inputs[0].spatial), flops: 0)
            return Concat(name: name, inputs: inputs)
        }
    }
}

extension Reshape {
    static func flattening(_ m: ConfigMapping) throws -> LayerFactory { { Reshape(flattening: $1, name: $0) } }
}

extension ReLU {
    static func configured(_ m: ConfigMapping) throws -> LayerFactory { { ReLU(name: $0, input: $1) } }
}

extension Sigmoid {
    static func configured(_ m: ConfigMapping) throws -> LayerFactory { { Sigmoid(name: $0, input: $1) } }
}

extension Dropout {
    static func configured(_ m: ConfigMapping) throws -> LayerFactory {
        let p = Float(try m.double("p", default: 0.5, 0...0.99))
        return { Dropout(name: $0, input: $1, probability: p) }
    }
}

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

/// A sliding window must fit the (padded) input and leave at least one output.
func checkWindow(input: TensorShape, kernel: (Int, Int), stride: (Int, Int), padding: (Int, Int),
                 pooling: Bool = false) throws {
    let h = input.height + 2 * padding.0, w = input.width + 2 * padding.1
    if kernel.0 > h || kernel.1 > w {
        throw ShapeError("kernel \(kernel.0)x\(kernel.1) does not fit the input \(input) padded by \(padding.0)x\(padding.1) (\(h)x\(w))")
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
