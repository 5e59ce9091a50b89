import Foundation
import PTrain
import PTrainData
import PTrainReporting
import PTrainRuntime
import PTrainTopology
import Yams

/// `ptrain search` with `method: {type: darts}`: writes the search network's
/// config (`OUT/supernet.yaml`: the base config with the DARTS search model
/// and `train.architecture`), trains it bilevel in `OUT/supernet/` (an
/// ordinary run: a signal checkpoints it, and running the same search again
/// resumes it exactly), then derives the architecture from the last
/// softmax(alpha) and writes
///   - `genotype.yaml` and `derived.yaml` (the derived network in the base
///     config, `ptrain train` trains it from scratch);
///   - `random-genotype.yaml` and `random.yaml`: an architecture drawn
///     uniformly from the same space (DARTS's random baseline) with the
///     same skeleton and budget, the control;
///   - `alpha-normal.svg`, `alpha-reduce.svg`: softmax(alpha) of every edge
///     over the epochs; `search.txt`: the summary.
public struct DartsSearch {
    public let spec: SearchSpec
    public let method: DartsMethod
    public let out: URL

    public init(spec: SearchSpec, method: DartsMethod, out: URL) {
        self.spec = spec; self.method = method; self.out = out
    }

    public var supernetFile: URL { out.appendingPathComponent("supernet.yaml") }
    public var runDirectory: URL { out.appendingPathComponent("supernet") }

    /// The base config (with the search's fixed overrides).
    func base() throws -> RunConfig { try RunConfig.load(file: spec.base, overrides: spec.fixed) }

    /// The search network's skeleton for `base`'s input and classes.
    static func network(_ base: RunConfig, cells: Int, channels: Int, nodes: Int) throws -> DartsNetwork {
        let model = try base.model.build()
        return DartsNetwork(cells: cells, channels: channels, nodes: nodes, input: base.model.inputShape.dimensions,
                            classes: model.outputShape.count)
    }

    /// The search network's config text, checked by decoding it (`label`
    /// names it in errors; default: `OUT/supernet.yaml`).
    public func supernetConfig(label: String? = nil) throws -> String {
        let base = try base()
        let net = try Self.network(base, cells: method.cells, channels: method.channels, nodes: method.nodes)
        let text = try Self.config(base: base, name: "\(base.name)-darts-search", model: net.searchModel(ops: method.ops),
                                   epochs: method.epochs, architecture: method.architecture,
                                   comment: "DARTS search network of \(spec.file) (written by ptrain search; edit the search file, not this)")
        _ = try RunConfig.parse(yaml: text, file: label ?? supernetFile.path)
        return text
    }

    /// `base` with `model` (YAML text) for its model, `train.epochs` set and
    /// `train.architecture` set (or removed: nil).
    static func config(base: RunConfig, name: String, model: String, epochs: Int?, architecture: String?, comment: String) throws -> String {
        guard case .mapping(var top)? = try Yams.compose(yaml: base.resolvedYAML),
              let modelNode = try Yams.compose(yaml: model) else {
            throw RunError("the base config \(base.file) does not resolve to a mapping")
        }
        _ = modelNode  // parsed: a generator bug fails here, not in the reader
        top["name"] = Node(name)
        top["model"] = nil
        var train: Node.Mapping = [:]
        if case .mapping(let t)? = top["train"] { train = t }
        if let epochs { train["epochs"] = Node(String(epochs)) }
        train["architecture"] = try architecture.flatMap { try Yams.compose(yaml: $0) }
        top["train"] = .mapping(train)
        // The generated model as written (flow-style layers, one per line), not re-serialised.
        let indented = model.split(separator: "\n", omittingEmptySubsequences: false).map { $0.isEmpty ? "" : "  " + $0 }.joined(separator: "\n")
        return comment.split(separator: "\n").map { "# \($0)\n" }.joined() + (try Yams.serialize(node: .mapping(top)))
            + "model:\n" + indented
    }

    /// What a finished search found.
    public struct Outcome {
        public let genotype: DartsGenotype
        public let random: DartsGenotype
        public let result: Trainer.Result
        public let seconds: Double
    }

    /// Runs (or resumes) the search; nil when a signal stopped it (its
    /// checkpoint is written: the same command continues it).
    public func run(topology: CPUTopology, say: @escaping @Sendable (String) -> Void) throws -> Outcome? {
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        try AtomicFile.write(try supernetConfig(), to: supernetFile)
        let config = try RunConfig.load(file: supernetFile.path)
        let placement = try WorkerPlacement.plan(config.runtime, topology: topology)
        say(placement.description)
        let data = try DataSources.load(config)
        let checkpoint = try SearchRunner.latestCheckpoint(in: runDirectory)
        let directory = checkpoint == nil ? try RunDirectory.create(explicit: runDirectory.path, name: config.name)
            : try RunDirectory.existing(runDirectory)
        if let checkpoint { say("resuming the search network at step \(checkpoint.state.step)") }
        let trainer = try Trainer(config: config, directory: directory, train: data.train, test: data.test,
                                  validation: data.validation, architecture: data.architecture, classNames: data.classNames,
                                  workers: placement.workers, placement: placement.bindCurrentThread, resume: checkpoint,
                                  progress: ProgressLine())
        if checkpoint == nil { say(ModelSummary(model: trainer.model).table) }
        let result = try trainer.run(handleSignals: true)
        if result.ending == .signal || result.ending == .timeLimit { return nil }
        return try derive(result: result, data: data, say: say)
    }

    /// The top-1 of the search network's last evaluation on `split` (`supernet/metrics.jsonl`).
    func lastEvaluation(split: String) throws -> Double? {
        let text = try String(contentsOf: runDirectory.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
        for line in text.split(separator: "\n").reversed() {
            guard let record = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  record["event"] as? String == "eval", record["split"] as? String == split else { continue }
            return record["top1"] as? Double
        }
        return nil
    }

    /// Derives the genotype from `supernet/architecture.jsonl` and writes
    /// the architecture files.
    func derive(result: Trainer.Result, data: DataSplits, say: (String) -> Void) throws -> Outcome {
        let records = try ArchitectureRecord.read(runDirectory.appendingPathComponent(ArchitectureRecord.fileName))
        guard let last = records.last else {
            throw RunError("\(runDirectory.path): no architecture record (the search network finished no epoch)")
        }
        let ops = method.ops
        func weights(_ record: ArchitectureRecord, _ reduction: Bool, _ node: Int, _ input: Int) -> [Double] {
            record.softmax["alpha_\(reduction ? "reduce" : "normal").n\(node).in\(input)"] ?? Array(repeating: 0, count: ops.count)
        }
        let genotype = DartsGenotype.derive(nodes: method.nodes, ops: ops) { weights(last, $0, $1, $2) }
        let random = DartsGenotype.random(nodes: method.nodes, ops: ops, seed: method.seed)
        let base = try RunConfig.load(file: spec.base, overrides: method.derivedOverrides)
        let net = try Self.network(base, cells: method.derivedCells, channels: method.derivedChannels, nodes: method.nodes)
        let scored = data.validation == nil ? "test" : "validation"
        let seconds = result.elapsed
        // A search run again after it finished (the files are derived again) reads its last evaluation back.
        let top1 = result.ending == .alreadyDone ? (try lastEvaluation(split: scored) ?? .nan) : result.finalEval.top1
        let searched = String(format: "searched %d epochs in %.0f s; the search network's %@ top-1 %.2f%%",
                              result.epochs, seconds, scored, 100 * top1)
        for (name, g, what) in [("genotype", genotype, "derived by DARTS from \(spec.file)"),
                                ("random-genotype", random, "drawn at random (seed \(method.seed)) from the space of \(spec.file)")] {
            try AtomicFile.write(g.yaml(comment: "DARTS cell genotype \(what)\n\(searched)"), to: out.appendingPathComponent("\(name).yaml"))
        }
        for (name, g, label) in [("derived", genotype, "derived"), ("random", random, "random")] {
            let text = try Self.config(base: base, name: "\(base.name)-darts-\(label)", model: net.derivedModel(g),
                                       epochs: method.derivedEpochs, architecture: nil,
                                       comment: "The \(label) DARTS architecture of \(spec.file): \(g.compact)\nTrain it: ptrain train \(out.appendingPathComponent("\(name).yaml").path)")
            _ = try RunConfig.parse(yaml: text, file: "\(name).yaml")
            try AtomicFile.write(text, to: out.appendingPathComponent("\(name).yaml"))
        }
        for reduction in [false, true] {
            let chart = DartsAlphaChart(records: records, ops: ops, nodes: method.nodes, reduction: reduction) { weights($0, reduction, $1, $2) }
            try AtomicFile.write(chart.render(), to: out.appendingPathComponent(reduction ? "alpha-reduce.svg" : "alpha-normal.svg"))
        }
        let derivedParameters = try RunConfig.load(file: out.appendingPathComponent("derived.yaml").path).model.build().parameterCount
        let randomParameters = try RunConfig.load(file: out.appendingPathComponent("random.yaml").path).model.build().parameterCount
        let summary = """
            \(searched)
            derived: \(genotype.compact)
            derived network: \(method.derivedCells) cells, \(method.derivedChannels) channels, \(derivedParameters) parameters (derived.yaml)
            random:  \(random.compact)
            random network: \(randomParameters) parameters (random.yaml)

            """
        try AtomicFile.write(summary, to: out.appendingPathComponent("search.txt"))
        say(summary + "files: \(out.path)/genotype.yaml, derived.yaml, random.yaml, alpha-normal.svg, alpha-reduce.svg")
        return Outcome(genotype: genotype, random: random, result: result, seconds: seconds)
    }
}
