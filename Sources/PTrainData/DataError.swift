import PTrain

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

extension DataError {
    /// `RegularFile.check` for the dataset readers: the same message, as a `DataError`.
    static func requireRegularFile(_ path: String) throws {
        do { try RegularFile.check(path) } catch let e as RegularFile.ReadError { throw DataError(e.description) }
    }
}
