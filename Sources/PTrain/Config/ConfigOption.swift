/// A config option whose values form a closed set: a `String`-backed enum
/// whose raw values are the YAML spellings. `allCases` is in the order error
/// messages list the choices ("expected one of: ..."), and an option prints
/// as its spelling, so messages and the resolved config read as the YAML does.
public protocol ConfigOption: RawRepresentable, CaseIterable, Sendable, CustomStringConvertible
where RawValue == String {}

extension ConfigOption {
    /// Every spelling, in declaration order.
    public static var spellings: [String] { allCases.map(\.rawValue) }
    public var description: String { rawValue }
}

extension ConfigValue {
    /// The scalar as one of `T`'s spellings, or an error listing them.
    public func option<T: ConfigOption>(_: T.Type = T.self) throws -> T {
        // `oneOf` admits only spellings of T's cases, so the lookup always succeeds.
        T(rawValue: try string(oneOf: T.spellings))!
    }
}

extension ConfigMapping {
    /// The option under `key` (recorded by its spelling), or `def` when absent
    /// (nil default = required).
    public func option<T: ConfigOption>(_ key: String, default def: T? = nil) throws -> T {
        // `oneOf` admits only spellings of T's cases, so the lookup always succeeds.
        T(rawValue: try string(key, default: def?.rawValue, oneOf: T.spellings))!
    }
}
