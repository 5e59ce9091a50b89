/// An error of a run (files, data, runtime settings, numerics) with a
/// message for the user: the CLI prints it as one `error: ...` line and
/// exits with status 1.
public struct RunError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
