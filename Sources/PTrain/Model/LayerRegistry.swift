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
        "zero": single(Zero.configured),
        "factorized_reduce": single(FactorizedReduce.configured),
        "mixed": single(Mixed.configured),
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
