import Testing
import Foundation
import PTrain
import PTrainExperiments
import PTrainRuntime

// `ptrain search` with method: darts: the derivation rule, the random
// control, the generated networks, and a whole search stopped by SIGTERM
// and resumed.

@Test("genotype: per node the two inputs whose strongest non-none op weighs most, each with that op; ties to the lower input")
func genotypeDerivation() {
    let ops: [DartsOperation] = [.none, .maxPool3x3, .skipConnect, .sepConv3x3]
    // node 0: inputs 0, 1; node 1: inputs 0, 1, 2. `none` dominates input 1 of node 1 but never counts.
    let table: [[[Double]]] = [
        [[0.1, 0.2, 0.3, 0.4], [0.7, 0.1, 0.1, 0.1]],
        [[0.25, 0.25, 0.25, 0.25], [0.9, 0.05, 0.03, 0.02], [0.1, 0.1, 0.55, 0.25]],
    ]
    let g = DartsGenotype.derive(nodes: 2, ops: ops) { reduction, node, input in
        reduction ? [0.1, 0.3, 0.3, 0.3] : table[node][input]
    }
    #expect(g.normal.map { "\($0.node):\($0.input):\($0.op.rawValue)" } == ["0:0:sep_conv_3x3", "0:1:max_pool_3x3", "1:0:max_pool_3x3", "1:2:skip_connect"])
    #expect(g.normal.map(\.weight) == [0.4, 0.1, 0.25, 0.55])
    // All equal: inputs 0 and 1, the first non-none op.
    #expect(g.reduce.map { "\($0.node):\($0.input):\($0.op.rawValue)" } == ["0:0:max_pool_3x3", "0:1:max_pool_3x3", "1:0:max_pool_3x3", "1:1:max_pool_3x3"])
    #expect(g.compact.hasPrefix("normal=[('sep_conv_3x3', 0), ('max_pool_3x3', 1), ('max_pool_3x3', 0), ('skip_connect', 2)]"))
    #expect(g.yaml(comment: "c").contains("  - {node: 1, input: 2, op: skip_connect, weight: 0.5500}\n"))
}

@Test("random genotype: two distinct earlier inputs per node, never none, the same for the same seed")
func randomGenotype() {
    let ops: [DartsOperation] = [.none, .maxPool3x3, .sepConv3x3]
    var seen = Set<String>()
    for seed in UInt64(0)..<20 {
        let g = DartsGenotype.random(nodes: 4, ops: ops, seed: seed)
        #expect(g == DartsGenotype.random(nodes: 4, ops: ops, seed: seed))
        for edges in [g.normal, g.reduce] {
            #expect(edges.count == 8)
            for node in 0..<4 {
                let inputs = edges.filter { $0.node == node }.map(\.input)
                #expect(inputs.count == 2 && inputs[0] < inputs[1] && inputs[1] < 2 + node, "node \(node): \(inputs)")
            }
            #expect(edges.allSatisfy { $0.op != .none && $0.weight == nil })
        }
        seen.insert(g.compact)
    }
    #expect(seen.count > 15)
}

@Test("the DARTS networks: the search network has one mixed edge per (node, input) with tied alphas; a derived one builds, its unread inputs left out")
func dartsNetworks() throws {
    let net = DartsNetwork(cells: 5, channels: 4, nodes: 4, input: [3, 16, 16], classes: 10)
    #expect((0..<5).map(net.isReduction) == [false, true, false, true, false])
    func build(_ model: String) throws -> Model {
        let yaml = "name: d\ndata: {dataset: synthetic}\ntrain: {epochs: 1, batch: 4, optimizer: {lr: 0.1}}\nmodel:\n"
            + model.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n")
        return try RunConfig.parse(yaml: yaml, file: "d.yaml").model.build(classes: 10)
    }
    let search = try build(net.searchModel(ops: DartsOperation.allCases))
    #expect(search.layers.filter { $0.typeName == "mixed" }.count == 5 * 14)
    let alphas = search.layout.architectureParameters
    #expect(alphas.count == 28 && alphas.allSatisfy { $0.shape == [8] })
    #expect(alphas.map(\.name).contains("alpha_normal.n3.in4") && alphas.map(\.name).contains("alpha_reduce.n0.in0"))
    // Reduction cells double the channels and halve the size; each cell outputs nodes x channels.
    #expect(search.layers.first { $0.name == "cell1" }!.outputShape == TensorShape(32, 8, 8))
    #expect(search.layers.first { $0.name == "cell4" }!.outputShape == TensorShape(64, 4, 4))
    // Normal nodes: a skip from input 1 and a separable convolution from input 1 (node 0) or the node before.
    var edges: [DartsGenotype.Edge] = [], reduce: [DartsGenotype.Edge] = []
    for node in 0..<4 {
        let second = node == 0 ? 1 : node + 1
        edges.append(DartsGenotype.Edge(node: node, input: 1, op: .skipConnect))
        edges.append(DartsGenotype.Edge(node: node, input: second == 1 ? 0 : second, op: .sepConv3x3))
        reduce.append(DartsGenotype.Edge(node: node, input: 0, op: .maxPool3x3))
        reduce.append(DartsGenotype.Edge(node: node, input: 1, op: .skipConnect))
    }
    let derived = try build(net.derivedModel(DartsGenotype(normal: edges, reduce: reduce, nodes: 4)))
    #expect(derived.layout.architectureParameters.isEmpty)
    // Reduction cells read input 0 through a stride-2 max pool; normal node 0 reads it too.
    #expect(derived.layers.contains { $0.name.hasPrefix("cell0_p0") })
    #expect(derived.layers.contains { $0.name.hasPrefix("cell1_p0") })
    #expect(derived.layers.first { $0.name == "cell1_n0_in0.0" }?.typeName == "maxpool")
    #expect(derived.layers.first { $0.name == "cell1_n0_in1.0" }?.typeName == "factorized_reduce")
    #expect(derived.outputShape == TensorShape(10))
}

/// A search file over a tiny synthetic base: 3 cells of 2 nodes, 2 epochs.
func tinySearchFiles(in dir: URL) throws -> URL {
    let base = dir.appendingPathComponent("base.yaml"), search = dir.appendingPathComponent("search.yaml")
    try """
    name: tiny
    seed: 2
    data: {dataset: synthetic, synthetic_count: 1024, synthetic_classes: 4}
    model:
      input: [3, 8, 8]
      layers: [{type: global_avgpool}, {type: dense, units: 4}]
    train: {epochs: 2, batch: 16, optimizer: {lr: 0.05, momentum: 0.9}}
    runtime: {shard: 4, bind: none}
    checkpoint: {every_steps: 4, keep: 3}
    """.write(to: base, atomically: true, encoding: .utf8)
    try """
    base: base.yaml
    method:
      type: darts
      epochs: 3
      cells: 3
      channels: 4
      nodes: 2
      ops: [none, max_pool_3x3, avg_pool_3x3, skip_connect, sep_conv_3x3, dil_conv_3x3]
      derive: {epochs: 1}
    """.write(to: search, atomically: true, encoding: .utf8)
    return search
}

/// The genotype lines of a search directory (without the comments, which hold times).
func genotypeLines(_ dir: URL) throws -> [Substring] {
    try String(contentsOf: dir.appendingPathComponent("genotype.yaml"), encoding: .utf8).split(separator: "\n").filter { !$0.hasPrefix("#") }
}

@Test("a DARTS search stopped by SIGTERM and run again ends with the uninterrupted search's weights and genotype; its files are written",
      .enabled(if: FileManager.default.fileExists(atPath: ptrainBinary.path), "the release ptrain binary is not built (tools/test builds it)"))
func dartsSearchResumesAfterSIGTERM() throws {
    let dir = temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let search = try tinySearchFiles(in: dir)
    let reference = dir.appendingPathComponent("reference")
    let refLog = dir.appendingPathComponent("ref.log")
    #expect(try runToEnd(["search", search.path, "--out", reference.path], log: refLog) == 0,
            "\((try? String(contentsOf: refLog, encoding: .utf8)) ?? "")")
    for name in ["genotype.yaml", "random-genotype.yaml", "derived.yaml", "random.yaml", "alpha-normal.svg", "alpha-reduce.svg",
                 "search.txt", "supernet.yaml", "supernet/architecture.jsonl"] {
        #expect(FileManager.default.fileExists(atPath: reference.appendingPathComponent(name).path), "\(name) missing")
    }
    // The derived network trains from scratch.
    let derivedLog = dir.appendingPathComponent("derived.log")
    #expect(try runToEnd(["train", reference.appendingPathComponent("derived.yaml").path, "--out", dir.appendingPathComponent("d").path],
                         log: derivedLog) == 0, "\((try? String(contentsOf: derivedLog, encoding: .utf8)) ?? "")")

    let run = dir.appendingPathComponent("run")
    let log = dir.appendingPathComponent("run.log")
    let p = try launch(["search", search.path, "--out", run.path], log: log)
    waitForCheckpoint(run.appendingPathComponent("supernet"), process: p)
    kill(p.processIdentifier, SIGTERM)
    waitForExit(p, "the search after SIGTERM")
    let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
    #expect(p.terminationStatus == 0, "\(output)")
    #expect(output.contains("search stopped; run the same command to resume it"), "\(output)")
    #expect(!FileManager.default.fileExists(atPath: run.appendingPathComponent("genotype.yaml").path))
    let again = dir.appendingPathComponent("again.log")
    #expect(try runToEnd(["search", search.path, "--out", run.path], log: again) == 0, "\((try? String(contentsOf: again, encoding: .utf8)) ?? "")")
    #expect(((try? String(contentsOf: again, encoding: .utf8)) ?? "").contains("resuming the search network at step"))
    #expect(try finalWeights(run.appendingPathComponent("supernet")) == finalWeights(reference.appendingPathComponent("supernet")))
    #expect(try genotypeLines(run) == genotypeLines(reference))
}

@Test("DARTS search file errors name the key", arguments: [
    ("ops: [none]", "ops needs at least one operation besides none"),
    ("ops: [none, conv_7x7]", "unknown DARTS operation 'conv_7x7' (one of: none, max_pool_3x3, avg_pool_3x3, skip_connect, sep_conv_3x3, sep_conv_5x5, dil_conv_3x3, dil_conv_5x5)"),
    ("ops: [none, skip_connect, skip_connect]", "ops lists an operation twice"),
    ("architecture: {order: fifth}", "(method: darts, its search network):29:12: train.architecture.order: expected one of: first, second, found 'fifth'"),
])
func dartsSearchFileErrors(_ c: (line: String, message: String)) throws {
    let dir = temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let search = try tinySearchFiles(in: dir)
    let text = try String(contentsOf: search, encoding: .utf8).replacingOccurrences(
        of: "  ops: [none, max_pool_3x3, avg_pool_3x3, skip_connect, sep_conv_3x3, dil_conv_3x3]", with: "  " + c.line)
    try text.write(to: search, atomically: true, encoding: .utf8)
    do {
        _ = try SearchSpec.load(file: search.path)
        Issue.record("no error for \(c.line)")
    } catch {
        #expect("\(error)".contains(c.message), "\(error)")
    }
}

@Test("a DARTS search has no space: one is refused")
func dartsSearchRefusesSpace() throws {
    let dir = temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let search = try tinySearchFiles(in: dir)
    try (try String(contentsOf: search, encoding: .utf8) + "\nspace: {train.batch: [16, 32]}\n").write(to: search, atomically: true, encoding: .utf8)
    do {
        _ = try SearchSpec.load(file: search.path)
        Issue.record("no error")
    } catch {
        #expect("\(error)".hasSuffix("space: a DARTS search's space is its cell (method.ops, nodes); remove 'space'"), "\(error)")
    }
}
