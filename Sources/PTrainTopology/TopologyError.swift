/// A CPU-topology or thread-binding failure, with a message meant for the user
/// (it names the core, the OS PU indices and the system's reason).
public struct TopologyError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
