import Foundation
import PTrain
import PTrainReporting
import PTrainRuntime
import Yams

/// The space of a search: config keys (the `--set` paths of `ptrain train`,
/// e.g. `train.optimizer.lr`, `model.layers[0].filters`,
/// `model.layers[3].repeat`) and the values each may take:
///
///     space:
///       train.optimizer.lr: {loguniform: [0.001, 0.3]}
///       train.optimizer.momentum: {uniform: [0.8, 0.99]}
///       train.optimizer.weight_decay: {choice: [0, 1.0e-4, 5.0e-4]}
///       model.layers[0].filters: {int: [4, 32]}
///
/// A trial is a list of overrides, applied to the base config exactly like
/// `--set` (so every value is validated like the file).
public struct SearchSpace: Sendable {
    public enum Dimension: Sendable, Equatable {
        /// YAML texts of the values.
        case choice([String])
        case uniform(Double, Double)
        case logUniform(Double, Double)
        /// Inclusive integer range.
        case integer(Int, Int)
    }

    public let keys: [String]
    public let dimensions: [Dimension]

    public init(keys: [String], dimensions: [Dimension]) {
        self.keys = keys; self.dimensions = dimensions
    }

    /// Parses the `space:` mapping (keys in file order).
    public static func parse(_ m: ConfigMapping) throws -> SearchSpace {
        var keys: [String] = [], dims: [Dimension] = []
        for (key, value) in m.allValues() {
            let d = try value.mapping()
            let kinds = ["choice", "uniform", "loguniform", "int"].filter { d.has($0) }
            guard kinds.count == 1 else {
                throw value.error("expected exactly one of choice, uniform, loguniform or int, found \(kinds.isEmpty ? "none" : kinds.joined(separator: " and "))")
            }
            let kind = kinds[0]
            let v = try d.require(kind)
            switch kind {
            case "choice":
                let items = try v.sequence()
                guard !items.isEmpty else { throw v.error("a choice needs at least one value") }
                dims.append(.choice(items.map { yamlText($0.node) }))
            case "int":
                let bounds = try v.ints(Int(Int32.min)...Int(Int32.max))
                guard bounds.count == 2, bounds[0] <= bounds[1] else { throw v.mismatch("[low, high] with low <= high") }
                dims.append(.integer(bounds[0], bounds[1]))
            default:
                let bounds = try v.doubles(-1e300...1e300, count: 2)
                guard bounds[0] <= bounds[1] else { throw v.mismatch("[low, high] with low <= high") }
                if kind == "loguniform" {
                    guard bounds[0] > 0 else { throw v.mismatch("[low, high] with 0 < low <= high") }
                    dims.append(.logUniform(bounds[0], bounds[1]))
                } else {
                    dims.append(.uniform(bounds[0], bounds[1]))
                }
            }
            try d.finish()
            keys.append(key)
        }
        guard !keys.isEmpty else { throw m.value.error("a search space needs at least one key") }
        return SearchSpace(keys: keys, dimensions: dims)
    }

    /// Trial `index` of a seeded random search: each value drawn from its own
    /// stream keyed by (seed, trial, key position), so adding trials never
    /// changes the earlier ones.
    public func sample(seed: UInt64, trial index: Int) -> [String] {
        dimensions.enumerated().map { k, dim in
            var rng = CounterRNG(seed: seed, stream: .search, UInt64(index), UInt64(k))
            switch dim {
            case .choice(let values): return values[rng.below(values.count)]
            case .integer(let lo, let hi): return String(lo + rng.below(hi - lo + 1))
            case .uniform(let lo, let hi): return numberText(lo + (hi - lo) * rng.uniformDouble())
            case .logUniform(let lo, let hi): return numberText(exp(log(lo) + (log(hi) - log(lo)) * rng.uniformDouble()))
            }
        }
    }

    /// Every combination of the values, the last key varying fastest. Only
    /// `choice` and `int` dimensions can be enumerated.
    public func grid() throws -> [[String]] {
        let axes: [[String]] = try zip(keys, dimensions).map { key, dim in
            switch dim {
            case .choice(let values): return values
            case .integer(let lo, let hi):
                guard hi - lo < 10_000 else { throw ConfigError("space.\(key): an int range of \(hi - lo + 1) values is too large for a grid") }
                return (lo...hi).map(String.init)
            case .uniform, .logUniform:
                throw ConfigError("space.\(key): a grid search enumerates choice and int values only; use random or hyperband for a continuous range")
            }
        }
        let total = axes.reduce(1.0) { $0 * Double($1.count) }
        guard total <= 100_000 else { throw ConfigError("space: the grid has \(Int(total)) points; at most 100000") }
        var points: [[String]] = [[]]
        for axis in axes { points = points.flatMap { p in axis.map { p + [$0] } } }
        return points
    }

    /// `key=value` overrides of one trial.
    public func overrides(_ values: [String]) -> [String] { zip(keys, values).map { "\($0)=\($1)" } }
}

/// A value as YAML flow text, for `--set`: scalars as written, lists and mappings in flow style.
func yamlText(_ node: Node) -> String {
    switch node {
    case .scalar(let s): return s.string
    case .sequence(let q): return "[" + q.map(yamlText).joined(separator: ", ") + "]"
    case .mapping(let m): return "{" + m.map { "\(yamlText($0.key)): \(yamlText($0.value))" }.joined(separator: ", ") + "}"
    case .alias: return ""
    }
}

/// Shortest text that reads back as the same Double.
func numberText(_ x: Double) -> String { "\(x)" }
