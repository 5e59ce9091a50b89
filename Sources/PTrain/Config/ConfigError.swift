/// A config, command-line or model-shape problem: one message naming the file,
/// line and key, what was expected and what was found.
public struct ConfigError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
