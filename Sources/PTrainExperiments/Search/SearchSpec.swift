import Foundation
import PTrain
import PTrainReporting
import PTrainRuntime

/// A search file (`ptrain search SEARCH.yaml`):
///
///     base: lenet5-mnist.yaml          # run config, relative to this file
///     metric: test_top1                # test_top1 (maximised) or test_loss (minimised)
///     method: {type: random, trials: 12, epochs: 3, seed: 1}
///     #   grid: {type: grid, epochs: E}
///     #   hyperband: {type: hyperband, max_epochs: 27, eta: 3, seed: 1}
///     #   successive halving: {type: successive_halving, trials: 27, min_epochs: 1, eta: 3, seed: 1}
///     #   DARTS: {type: darts, epochs: 10, cells: 5, channels: 8, nodes: 4, ...} (see DartsMethod; no space)
///     resources: {cores_per_trial: 1}  # or all: one trial at a time on every core
///     set: [train.log_every=0]         # overrides for every trial
///     space: {...}                     # see SearchSpace
public struct SearchSpec {
    public enum Method: Equatable, Sendable {
        case grid(epochs: Int)
        case random(trials: Int, epochs: Int, seed: UInt64)
        case hyperband(maxEpochs: Int, eta: Int, seed: UInt64)
        case successiveHalving(trials: Int, minEpochs: Int, eta: Int, seed: UInt64)
        /// Differentiable architecture search (`DartsMethod`); no `space`.
        case darts(DartsMethod)
    }

    public let file: String
    /// The base run config's path.
    public let base: String
    /// The trial score (`metric`).
    public enum Metric: String, ConfigOption {
        /// Test top-1, maximised.
        case testTop1 = "test_top1"
        /// Test loss, minimised.
        case testLoss = "test_loss"
    }
    public let metric: Metric

    /// The `method.type` spellings.
    public enum MethodType: String, ConfigOption {
        case grid, random, hyperband
        case successiveHalving = "successive_halving"
        case darts
    }
    public let method: Method
    /// Cores per concurrent trial; nil: one trial at a time on all cores.
    public let coresPerTrial: Int?
    public let fixed: [String]
    public let space: SearchSpace

    public var maximize: Bool { metric == .testTop1 }

    /// The split trials are scored on: `validation` when the base config
    /// (with the fixed overrides) has one, else `test`.
    public var scoredSplit: String {
        (try? RunConfig.load(file: base, overrides: fixed))?.data.validation == nil ? "test" : "validation"
    }

    /// `99.30%` for top-1, `0.0312` for a loss.
    public func format(_ value: Double) -> String {
        maximize ? String(format: "%.2f%%", 100 * value) : String(format: "%.4f", value)
    }

    public static func load(file: String) throws -> SearchSpec {
        let text = try ConfigFile.text(file) { ConfigError("\(file): cannot read the search file (\($0))") }
        let m = try ConfigMapping.document(yaml: text, file: file)
        let baseValue = try m.require("base")
        let base = ConfigFile.path(try baseValue.string(), from: file)
        let metric: Metric = try m.option("metric", default: .testTop1)
        let mm = try m.mapping("method")
        let type: MethodType = try mm.option("type")
        let method: Method
        switch type {
        case .grid: method = .grid(epochs: try mm.int("epochs", 1...100_000))
        case .random:
            method = .random(trials: try mm.int("trials", 1...100_000), epochs: try mm.int("epochs", 1...100_000),
                             seed: UInt64(try mm.int("seed", default: 1, 0...)))
        case .hyperband:
            method = .hyperband(maxEpochs: try mm.int("max_epochs", 1...100_000), eta: try mm.int("eta", default: 3, 2...100),
                                seed: UInt64(try mm.int("seed", default: 1, 0...)))
        case .successiveHalving:
            method = .successiveHalving(trials: try mm.int("trials", 1...100_000), minEpochs: try mm.int("min_epochs", 1...100_000),
                                        eta: try mm.int("eta", default: 3, 2...100), seed: UInt64(try mm.int("seed", default: 1, 0...)))
        case .darts: method = .darts(try DartsMethod.decode(mm))
        }
        try mm.finish()
        let r = try m.mapping("resources")
        var coresPerTrial: Int? = nil
        if let v = r.optional("cores_per_trial"), (try? v.string()) != "all" {
            coresPerTrial = try v.int(1...4096)
        }
        try r.finish()
        let fixed = try m.optional("set")?.sequence().map { try $0.string() } ?? []
        if type == .darts, let v = m.optional("space") {
            throw v.error("a DARTS search's space is its cell (method.ops, nodes); remove 'space'")
        }
        let space = type == .darts ? SearchSpace(keys: [], dimensions: []) : try SearchSpace.parse(try m.mapping("space"))
        try m.finish()
        let spec = SearchSpec(file: file, base: base, metric: metric, method: method, coresPerTrial: coresPerTrial,
                              fixed: fixed, space: space)
        if case .darts(let darts) = method {
            // The search network must build from the base config now, not after a long load.
            _ = try DartsSearch(spec: spec, method: darts, out: URL(fileURLWithPath: file).deletingLastPathComponent())
                .supernetConfig(label: "\(file) (method: darts, its search network)")
            return spec
        }
        // Fail now, not in trial 17: the base config with the fixed overrides
        // and a first point of the space must decode.
        let probe = type == .grid ? try space.grid()[0] : space.sample(seed: 0, trial: 0)
        _ = try RunConfig.load(file: base, overrides: fixed + space.overrides(probe))
        return spec
    }
}
