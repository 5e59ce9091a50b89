/// A dataset that cannot be found or read: one message that names the file, the
/// byte offset or line where relevant, what was expected and what was found.
///
/// Readers throw this instead of trapping or substituting a default, so the CLI
/// can print `description` and exit non-zero.
public struct DataError: Error, CustomStringConvertible, Equatable {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }

    public init(description: String) {
        self.description = description
    }
}
