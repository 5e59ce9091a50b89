/// Builds one layer from its name and input shape; throws `ShapeError` when
/// the input shape does not fit the layer's configuration.
public typealias LayerFactory = (_ name: String, _ input: TensorShape) throws -> any Layer

/// A layer's shape does not fit its input; `ModelSpec` adds the config location.
public struct ShapeError: Error { public let message: String; public init(_ m: String) { message = m } }

/// Config `type:` -> the parser of that layer's keys. Adding a layer is one
/// file (the layer, with its `configured` parser) plus one line here.
public enum LayerRegistry {
    public static var parsers: [String: (ConfigMapping) throws -> LayerFactory] { [
        "conv2d": Conv2D.configured,
        "dense": Dense.configured,
        "maxpool": MaxPool2D.configured,
        "avgpool": AvgPool2D.configured,
        "flatten": Flatten.configured,
        "relu": ReLU.configured,
        "sigmoid": Sigmoid.configured,
        "dropout": Dropout.configured,
    ] }

    public static var typeNames: [String] { parsers.keys.sorted() }
}

// MARK: - per-layer config parsers (keys documented in README "Layers")

extension Conv2D {
    static func configured(_ m: ConfigMapping) throws -> LayerFactory {
        let filters = try m.int("filters", 1...)
        let kernel = try m.intPair("kernel", 1...)
        let stride = try m.intPair("stride", default: (1, 1), 1...)
        let padding = try m.intPair("padding", default: (0, 0), 0...)
        let groups = try m.int("groups", default: 1, 1...)
        let bias = try m.bool("bias", default: true)
        let scheme = InitScheme(rawValue: try m.string("init", default: "pytorch", oneOf: InitScheme.allCases.map(\.rawValue)))!
        return { name, input in
            guard input.channels % groups == 0, filters % groups == 0 else {
                throw ShapeError("input channels \(input.channels) and filters \(filters) must both be divisible by groups \(groups)")
            }
            try checkWindow(input: input, kernel: kernel, stride: stride, padding: padding)
            return Conv2D(name: name, input: input, filters: filters, kernel: kernel, stride: stride,
                          padding: padding, groups: groups, bias: bias, initScheme: scheme)
        }
    }
}

extension Dense {
    static func configured(_ m: ConfigMapping) throws -> LayerFactory {
        let units = try m.int("units", 1...)
        let bias = try m.bool("bias", default: true)
        let scheme = InitScheme(rawValue: try m.string("init", default: "pytorch", oneOf: InitScheme.allCases.map(\.rawValue)))!
        return { name, input in Dense(name: name, input: input, units: units, bias: bias, initScheme: scheme) }
    }
}

/// Pooling keys: `kernel`, `stride` (default: the kernel), `padding` (default 0).
private func poolingKeys(_ m: ConfigMapping) throws -> (kernel: (Int, Int), stride: (Int, Int), padding: (Int, Int)) {
    let kernel = try m.intPair("kernel", 1...)
    let stride = try m.intPair("stride", default: kernel, 1...)
    let padding = try m.intPair("padding", default: (0, 0), 0...)
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

extension Flatten {
    static func configured(_ m: ConfigMapping) throws -> LayerFactory { { Flatten(name: $0, input: $1) } }
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
