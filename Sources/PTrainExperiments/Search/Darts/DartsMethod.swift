import PTrain
import Yams

/// `method: {type: darts, ...}` of a search file: a differentiable
/// architecture search (Liu et al. 2019) over DARTS's cell space.
///
///     method:
///       type: darts
///       epochs: 10                  # of the search network (the supernet)
///       cells: 5                    # search network skeleton
///       channels: 8
///       nodes: 4
///       ops: [none, max_pool_3x3, avg_pool_3x3, skip_connect, sep_conv_3x3, dil_conv_3x3]
///       architecture: {order: first}        # train.architecture keys (Adam lr, betas, ...)
///       derive: {cells: 8, channels: 16, epochs: 20, set: [data.train_limit=30000]}
///                                   # the derived (and random) network, its budget and
///                                   # overrides (the search's `set` is not applied to them)
///       seed: 1                     # the random architecture drawn as the control
public struct DartsMethod: Equatable, Sendable {
    public let epochs: Int
    public let cells: Int
    public let channels: Int
    public let nodes: Int
    public let ops: [DartsOperation]
    /// The `train.architecture` mapping of the search network, as written.
    public let architecture: String
    public let derivedCells: Int
    public let derivedChannels: Int
    /// The derived (and random) network's `train.epochs`; nil: the base config's.
    public let derivedEpochs: Int?
    /// Overrides of the base config for the derived and random networks.
    public let derivedOverrides: [String]
    public let seed: UInt64

    static func decode(_ mm: ConfigMapping) throws -> DartsMethod {
        let epochs = try mm.int("epochs", 1...100_000)
        let cells = try mm.int("cells", default: 5, 1...64)
        let channels = try mm.int("channels", default: 8, 1...4096)
        let nodes = try mm.int("nodes", default: 4, 1...16)
        var ops = DartsOperation.allCases
        if let list = mm.optional("ops") {
            ops = try list.sequence().map { v in
                let name = try v.string()
                guard let op = DartsOperation(rawValue: name) else {
                    throw v.error("unknown DARTS operation '\(name)' (one of: \(DartsOperation.names))")
                }
                return op
            }
            guard ops.contains(where: { $0 != .none }) else { throw list.error("ops needs at least one operation besides none") }
            guard Set(ops).count == ops.count else { throw list.error("ops lists an operation twice") }
        }
        let architecture = try mm.optional("architecture").map { v -> String in
            _ = try v.mapping()
            return try Yams.serialize(node: v.node)
        } ?? "{}\n"
        let derive = try mm.mapping("derive")
        let derivedCells = try derive.int("cells", default: cells, 1...64)
        let derivedChannels = try derive.int("channels", default: channels, 1...4096)
        let derivedEpochs = try derive.optionalInt("epochs", 1...100_000)
        let derivedOverrides = try derive.optional("set")?.sequence().map { try $0.string() } ?? []
        try derive.finish()
        let seed = UInt64(try mm.int("seed", default: 1, 0...))
        return DartsMethod(epochs: epochs, cells: cells, channels: channels, nodes: nodes, ops: ops, architecture: architecture,
                           derivedCells: derivedCells, derivedChannels: derivedChannels, derivedEpochs: derivedEpochs,
                           derivedOverrides: derivedOverrides, seed: seed)
    }
}
