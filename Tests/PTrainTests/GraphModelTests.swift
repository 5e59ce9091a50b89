import Testing
import PTrain

// Graph models end to end: block expansion, named inputs, add and concat
// joins, in-place concatenation storage, and whole-network gradients against
// finite differences of the loss.

/// A config whose model section is `model` (indented two spaces).
func graphConfig(_ model: String, input: String = "[2, 6, 6]", classes: Int = 3) -> String {
    """
    name: g
    data: {dataset: synthetic, synthetic_classes: \(classes)}
    model:
      input: \(input)
    \(model)
    train: {epochs: 1, batch: 4, optimizer: {lr: 0.1}}
    """
}

/// The model of a `graphConfig` YAML, for `classes` classes.
func buildGraph(_ yaml: String, classes: Int = 3) throws -> Model {
    try RunConfig.parse(yaml: yaml, file: "g.yaml").model.build(classes: classes)
}

/// Each inference network's outputs for the same `batch` samples `x`.
func inferenceOutputs(_ networks: [Network], _ x: [Float], batch: Int) -> [[Float]] {
    networks.map { net in
        net.input.pointer.update(from: x, count: x.count)
        net.forward(batch: batch, training: false)
        return Array(UnsafeBufferPointer(start: net.output, count: net.model.outputShape.count * batch))
    }
}

/// A residual stage (option-A shortcut with stride 2) and a DenseNet-style
/// chain of concats whose conv outputs go in place, plus an Inception-style
/// join of branches, all with batch norm.
let graphModel = """
  blocks:
    res:
      params: {channels: ~, stride: 1}
      layers:
        - {name: conv1, type: conv2d, filters: $channels, kernel: 3, stride: $stride, padding: 1, bias: false}
        - {name: bn1, type: batchnorm}
        - {name: relu1, type: relu}
        - {name: conv2, type: conv2d, filters: $channels, kernel: 3, padding: 1}
        - {name: shortcut, type: shortcut, input: in, channels: $channels, stride: $stride}
        - {name: add, type: add, inputs: [conv2, shortcut]}
    dense:
      params: {growth: 2}
      layers:
        - {name: bn, type: batchnorm}
        - {name: relu, type: relu}
        - {name: conv, type: conv2d, filters: $growth, kernel: 3, padding: 1}
        - {name: cat, type: concat, inputs: [in, conv]}
  layers:
    - {name: stem, type: conv2d, filters: 3, kernel: 3, padding: 1}
    - {name: stage, block: res, repeat: 2, with: {channels: 4}, first: {stride: 2}}
    - {name: grow, block: dense, repeat: 3}
    - {name: a, type: conv2d, filters: 2, kernel: 1}
    - {name: b, type: maxpool, kernel: 3, stride: 1, padding: 1, input: grow.1}
    - {name: join, type: concat, inputs: [a, b, grow]}
    - {name: bn, type: batchnorm}
    - {name: pool, type: global_avgpool}
    - {name: fc, type: dense, units: 3}
"""

@Test("blocks expand into named, chained layers with the inputs the config names")
func blockExpansion() throws {
    let model = try RunConfig.parse(yaml: graphConfig(graphModel), file: "g.yaml").model.build(classes: 3)
    let names = model.layers.map(\.name)
    #expect(names.prefix(8) == ["stem", "stage.0.conv1", "stage.0.bn1", "stage.0.relu1", "stage.0.conv2", "stage.0.shortcut", "stage.0.add", "stage.1.conv1"])
    let index = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, $0) })
    // The shortcut reads the block input; the first repetition is strided.
    #expect(model.inputs[index["stage.0.shortcut"]!] == [index["stem"]!])
    #expect(model.inputs[index["stage.1.shortcut"]!] == [index["stage.0.add"]!])
    #expect(model.layers[index["stage.0.conv1"]!].outputShape == TensorShape(4, 3, 3))
    #expect(model.layers[index["stage.1.conv1"]!].outputShape == TensorShape(4, 3, 3))
    // Each dense repetition concatenates its input with 2 new channels: 4 -> 6 -> 8 -> 10.
    #expect(["grow.0.cat", "grow.1.cat", "grow.2.cat"].map { model.layers[index[$0]!].outputShape.channels } == [6, 8, 10])
    #expect(model.inputs[index["b"]!] == [index["grow.1.cat"]!])
    #expect(model.inputs[index["join"]!] == [index["a"]!, index["b"]!, index["grow.2.cat"]!])
    #expect(model.layers[index["join"]!].outputShape == TensorShape(20, 3, 3))
    #expect(!model.isSequential)
}

@Test("concatenations store their inputs in place where producers and readers allow it")
func inPlaceConcatenation() throws {
    let model = try RunConfig.parse(yaml: graphConfig(graphModel), file: "g.yaml").model.build(classes: 3)
    let net = Network(model: model, maxBatch: 2, parameters: FloatBuffer(count: model.layout.totalCount),
                      gradients: FloatBuffer(count: model.layout.totalCount), seed: 1)
    // In place (all 3x3 planes): 'a' (2 channels) inside join; grow.2.conv
    // (2) inside grow.2.cat; grow.0.cat (6) and grow.1.conv (2) inside
    // grow.1.cat; grow.0.conv (2) inside grow.0.cat. grow.2.cat and grow.1.cat
    // keep their own buffers (the 1x1 conv 'a' and the max pool 'b' read them
    // and cannot read strided input), and so do copied inputs (stage.1.add, b).
    // The identity shortcut (stage.1: stride 1, 4 channels in and out) is
    // stored as its input: nothing of its own. So is every relu fused into
    // the batch norm before it: stage.0/1.relu1 (4 channels each) and
    // grow.0/1/2.relu (4, 6 and 8: each reads its concat's batch norm).
    let total: Int = model.layers.reduce(0) { $0 + $1.outputShape.count }
    let inPlaceChannels = 2 + 2 + 6 + 2 + 2
    let identities = model.layers.compactMap { $0 as? PaddedShortcut }.filter(\.isIdentity)
    #expect(identities.map(\.name) == ["stage.1.shortcut"])
    #expect(net.fusedReLUs == ["stage.0.relu1", "stage.1.relu1", "grow.0.relu", "grow.1.relu", "grow.2.relu"])
    let fusedChannels = 4 + 4 + 4 + 6 + 8
    #expect(net.storedFloatsPerSample == total - inPlaceChannels * 9 - 4 * 9 - fusedChannels * 9)
    // Gradient buffers are shared between gradients never live at once: far
    // fewer floats than the activations, and what the summary reports.
    #expect(net.storedGradientFloatsPerSample < net.storedFloatsPerSample / 2)
    #expect(net.storedGradientFloatsPerSample == model.sharedBuffersPerSample)
    // An inference-only network shares its value buffers the same way (its
    // batch norms run as layers: folding them is tested in BatchNormFoldingTests).
    let inference = Network(model: model, maxBatch: 2, parameters: FloatBuffer(count: model.layout.totalCount), gradients: nil, seed: 1,
                            foldNorms: false)
    #expect(inference.storedFloatsPerSample == model.sharedBuffersPerSample)
}

/// Relus after a conv with and without bias, a batch norm, a 2- and a
/// 3-input add (all fused), an identity shortcut reading a fused relu, and a
/// relu whose producer has a second reader (not fused).
let fusionModel = """
  layers:
    - {name: stem, type: conv2d, filters: 4, kernel: 3, padding: 1}
    - {name: stem_relu, type: relu}
    - {name: c1, type: conv2d, filters: 4, kernel: 3, padding: 1, bias: false}
    - {name: bn1, type: batchnorm}
    - {name: r1, type: relu}
    - {name: c2, type: conv2d, filters: 4, kernel: 3, padding: 1, bias: false}
    - {name: r2, type: relu}
    - {name: sc, type: shortcut, input: stem_relu, channels: 4, stride: 1}
    - {name: add, type: add, inputs: [r2, sc]}
    - {name: r3, type: relu}
    - {name: add3, type: add, inputs: [r3, r1, stem_relu]}
    - {name: r4, type: relu}
    - {name: c3, type: conv2d, filters: 4, kernel: 1}
    - {name: r5, type: relu}
    - {name: join, type: add, inputs: [r5, c3]}
    - {name: pool, type: global_avgpool}
    - {name: fc, type: dense, units: 3}
"""

/// One training pass of a 3-class `net` on input `x` (labels `i % 3`):
/// forward, loss, backward, the gradients added into its arena. Returns the
/// output, `[batch, 3]`.
func trainingPass(_ net: Network, _ x: [Float], batch: Int) -> [Float] {
    net.input.pointer.update(from: x, count: x.count)
    for i in 0..<batch { net.labels.pointer[i] = Int32(i % 3) }
    var correct = 0
    net.forward(batch: batch, training: true)
    let output = Array(UnsafeBufferPointer(start: net.output, count: batch * 3))
    _ = net.loss(batch: batch, gradScale: 1, correct: &correct)
    net.backward(batch: batch)
    return output
}

@Test("a relu fused into the layer before it gives bitwise the outputs and gradients of the two run apart")
func fusedReLUsMatchSeparateOnes() throws {
    let yaml = graphConfig(fusionModel)
    let build = { try buildGraph(yaml) }
    let model = try build()
    let params = FloatBuffer(count: model.layout.totalCount)
    model.layout.initialize(params, seed: 7)
    let batch = 4
    let x = testValues(batch * model.inputShape.count, seed: 13)
    var results: [(output: [Float], gradients: [Float], inference: [Float], fused: [String])] = []
    for fuse in [true, false] {
        let grads = FloatBuffer(count: model.layout.totalCount)
        let net = Network(model: try build(), maxBatch: batch, parameters: params, gradients: grads, seed: 1, fuseReLU: fuse)
        let output = trainingPass(net, x, batch: batch)
        let inference = Network(model: try build(), maxBatch: batch, parameters: params, gradients: nil, seed: 1, fuseReLU: fuse)
        inference.input.pointer.update(from: x, count: x.count)
        inference.forward(batch: batch, training: false)
        results.append((output, grads.array, Array(UnsafeBufferPointer(start: inference.output, count: batch * 3)), net.fusedReLUs))
    }
    #expect(results[0].fused == ["stem_relu", "r1", "r2", "r3", "r4"])
    #expect(results[1].fused.isEmpty)
    #expect(results[0].output == results[1].output)
    #expect(results[0].gradients == results[1].gradients)
    #expect(results[0].inference == results[1].inference)
    // Not vacuous: the gradients are there (every relu passes some of them).
    #expect(results[0].gradients.filter { $0 != 0 }.count > model.layout.totalCount / 2)
    let r = try networkGradientMismatches(yaml, batch: 3, classes: 3)
    #expect(r.checked > 40)
    #expect(r.mismatches.isEmpty, "\(r.mismatches.prefix(4))")
}

@Test("an inference-only network (shared value buffers) computes what a training network computes")
func inferenceMatchesTraining() throws {
    let model = try RunConfig.parse(yaml: graphConfig(graphModel), file: "g.yaml").model.build(classes: 3)
    let params = FloatBuffer(count: model.layout.totalCount)
    model.layout.initialize(params, seed: 5)
    let training = Network(model: model, maxBatch: 4, parameters: params, gradients: FloatBuffer(count: model.layout.totalCount), seed: 1)
    let other = try RunConfig.parse(yaml: graphConfig(graphModel), file: "g.yaml").model.build(classes: 3)
    let inference = Network(model: other, maxBatch: 4, parameters: params, gradients: nil, seed: 1)
    let x = testValues(4 * model.inputShape.count, seed: 3)
    for net in [training, inference] {
        net.input.pointer.update(from: x, count: x.count)
        net.forward(batch: 4, training: false)
    }
    let a = Array(UnsafeBufferPointer(start: training.output, count: 12)), b = Array(UnsafeBufferPointer(start: inference.output, count: 12))
    #expect(a == b)
}

/// Analytic parameter gradients of the mean loss over a shard against central
/// finite differences (in Float: epsilon 1e-2, relative tolerance 3e-2).
func networkGradientMismatches(_ yaml: String, batch: Int, classes: Int, maxChecksPerTensor: Int = 6) throws -> (mismatches: [String], checked: Int) {
    let model = try buildGraph(yaml, classes: classes)
    let params = FloatBuffer(count: model.layout.totalCount), grads = FloatBuffer(count: model.layout.totalCount)
    model.layout.initialize(params, seed: 5)
    let net = Network(model: model, maxBatch: batch, parameters: params, gradients: grads, seed: 1)
    let x = testValues(batch * model.inputShape.count, seed: 11)
    net.input.pointer.update(from: x, count: x.count)
    for i in 0..<batch { net.labels.pointer[i] = Int32(i % classes) }
    var correct = 0
    func loss() -> Double {
        net.forward(batch: batch, training: true)
        return Double(net.loss(batch: batch, gradScale: nil, correct: &correct))
    }
    net.forward(batch: batch, training: true)
    grads.zero()
    _ = net.loss(batch: batch, gradScale: 1, correct: &correct)
    net.backward(batch: batch)
    let analytic = grads.array
    var mismatches: [String] = [], checked = 0
    let eps: Float = 1e-2
    for e in model.layout.entries where e.runningAverageMomentum == nil {
        for k in 0..<min(e.count, maxChecksPerTensor) {
            let i = e.offset + k * e.count / min(e.count, maxChecksPerTensor)
            let saved = params.pointer[i]
            params.pointer[i] = saved + eps; let plus = loss()
            params.pointer[i] = saved - eps; let minus = loss()
            params.pointer[i] = saved
            let numeric = (plus - minus) / (2 * Double(eps)), a = Double(analytic[i])
            checked += 1
            if abs(a - numeric) > 3e-2 * max(1, abs(a), abs(numeric)) { mismatches.append("\(e.name)[\(i - e.offset)]: analytic \(a) vs numeric \(numeric)") }
        }
    }
    return (mismatches, checked)
}

@Test("whole-network gradients of a graph with residual adds, strided shortcuts, in-place and copied concats, batch norm")
func graphNetworkGradients() throws {
    let r = try networkGradientMismatches(graphConfig(graphModel), batch: 3, classes: 3)
    #expect(r.checked > 100)
    #expect(r.mismatches.isEmpty, "\(r.mismatches.prefix(4))")
}

@Test("graph config errors name the entry, the problem and the alternatives", arguments: [
    ("  layers:\n    - {type: conv2d, filters: 2, kernel: 1, input: nope}\n    - {type: dense, units: 3}",
     "t.yaml:6:52: model.layers[0].input: no earlier layer named 'nope' in this scope (known: in)"),
    ("  layers:\n    - {name: in, type: relu}\n    - {type: dense, units: 3}",
     "t.yaml:6:14: model.layers[0].name: 'in' is reserved for the input of the enclosing block or model"),
    ("  layers:\n    - {name: a, type: relu}\n    - {name: a, type: flatten}\n    - {type: dense, units: 3}",
     "t.yaml:7:7: model.layers[1]: duplicate layer name 'a'"),
    ("  layers:\n    - {name: a, type: relu}\n    - {name: b, type: relu, input: in}\n    - {type: dense, units: 3}",
     "t.yaml:6:7: model.layers[0]: the output of 'a' (relu) is never used; name it in a later layer's input or inputs"),
    ("  layers:\n    - {name: a, type: relu}\n    - {type: add, inputs: [a]}\n    - {type: dense, units: 3}",
     "t.yaml:7:7: model.layers[1]: (add) add needs at least two inputs, but 1 is given"),
    ("  layers:\n    - {name: a, type: maxpool, kernel: 2}\n    - {type: add, inputs: [a, in]}\n    - {type: dense, units: 3}",
     "t.yaml:7:7: model.layers[1]: (add) all inputs must have one shape, but input 0 is 2x3x3 and input 1 is 2x6x6"),
    ("  layers:\n    - {name: a, type: maxpool, kernel: 2}\n    - {type: concat, inputs: [a, in]}\n    - {type: dense, units: 3}",
     "t.yaml:7:7: model.layers[1]: (concat) inputs must share height and width, but input 0 is 2x3x3 and input 1 is 2x6x6"),
    ("  layers:\n    - {block: b}\n    - {type: dense, units: 3}",
     "t.yaml:6:15: model.layers[0].block: no block named 'b' (model.blocks defines: )"),
    ("  blocks:\n    b: {params: {c: ~}, layers: [{type: conv2d, filters: $c, kernel: 1}]}\n  layers:\n    - {block: b}\n    - {type: dense, units: 3}",
     "t.yaml:8:7: model.layers[0]: block 'b' needs a value for its parameter 'c' (give it in 'with')"),
    ("  blocks:\n    b: {params: {c: 2}, layers: [{type: conv2d, filters: $c, kernel: 1}]}\n  layers:\n    - {block: b, with: {d: 3}}\n    - {type: dense, units: 3}",
     "t.yaml:8:28: model.layers[0].with.d: block 'b' has no parameter 'd' (parameters: c)"),
    ("  blocks:\n    b: {params: {c: 2}, layers: [{type: conv2d, filters: $x, kernel: 1}]}\n  layers:\n    - {block: b}\n    - {type: dense, units: 3}",
     "t.yaml:6:58: model.blocks.b.layers[0]: '$x' is not a parameter of block 'b' (parameters: c)"),
    ("  blocks:\n    b: {params: {c: 2}, layers: [{type: conv2d, filters: $c, kernel: 1}]}\n  layers:\n    - {block: b, with: {c: many}}\n    - {type: dense, units: 3}",
     "t.yaml:8:28: model.blocks.b.layers[0].filters: expected an integer in [1, 1048576], found 'many'"),
    ("  blocks:\n    b: {layers: [{block: b}]}\n  layers:\n    - {block: b}\n    - {type: dense, units: 3}",
     "t.yaml:6:26: model.blocks.b.layers[0].block: block 'b' uses itself (b -> b)"),
    ("  blocks:\n    r: {layers: [{type: relu}]}\n    b: {layers: [{block: r, repeat: 1000}]}\n  layers:\n    - {block: b, repeat: 1000}\n    - {type: dense, units: 3}",
     "t.yaml:6:18: model.blocks.r.layers[0]: the model expands to more than 100000 layers (check the repeat counts)"),
    ("  blocks:\n    b: {params: {c: 9}, layers: [{type: conv2d, filters: 2, kernel: $c}]}\n  layers:\n    - {name: s, block: b}\n    - {type: dense, units: 3}",
     "t.yaml:6:34: model.blocks.b.layers[0]: s.0 (conv2d) kernel 9x9 does not fit the input 2x6x6 padded by 0x0 (6x6)"),
])
func graphConfigErrors(_ c: (model: String, message: String)) {
    #expect(configError(graphConfig(c.model)) == c.message)
}

@Test("remove_layers drops a whole block use, or one layer of a chain")
func removeFromGraph() throws {
    let yaml = graphConfig(graphModel.replacingOccurrences(of: "  layers:\n    - {name: stem", with: "  remove_layers: [grow, stage.1.bn1]\n  layers:\n    - {name: stem")
        .replacingOccurrences(of: "input: grow.1}", with: "input: stage}").replacingOccurrences(of: "inputs: [a, b, grow]", with: "inputs: [a, b]"))
    let model = try buildGraph(yaml)
    let names = model.layers.map(\.name)
    #expect(!names.contains { $0.hasPrefix("grow") } && !names.contains("stage.1.bn1") && names.contains("stage.0.bn1"))
    let index = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, $0) })
    #expect(model.inputs[index["stage.1.relu1"]!] == [index["stage.1.conv1"]!])
    #expect(model.inputs[index["a"]!] == [index["stage.1.add"]!])
}

@Test("the resolved config of a graph model decodes to the same model")
func graphResolvedRoundTrip() throws {
    let c = try RunConfig.parse(yaml: graphConfig(graphModel), file: "g.yaml")
    let again = try RunConfig.parse(yaml: c.resolvedYAML, file: "resolved.yaml")
    #expect(again.resolvedYAML == c.resolvedYAML)
    let a = try c.model.build(), b = try again.model.build()
    #expect(a.layers.map(\.name) == b.layers.map(\.name) && a.inputs == b.inputs && a.layout.totalCount == b.layout.totalCount)
}

@Test("a shard's gradient does not depend on what the network ran before (no stale activation or gradient state)")
func repeatedBackwardIsIdentical() throws {
    let model = try RunConfig.parse(yaml: graphConfig(graphModel), file: "g.yaml").model.build(classes: 3)
    let params = FloatBuffer(count: model.layout.totalCount), grads = FloatBuffer(count: model.layout.totalCount)
    model.layout.initialize(params, seed: 5)
    let net = Network(model: model, maxBatch: 4, parameters: params, gradients: grads, seed: 1)
    func gradient(_ seed: UInt64, batch: Int) -> [Float] {
        let x = testValues(batch * model.inputShape.count, seed: seed)
        net.input.pointer.update(from: x, count: x.count)
        for i in 0..<batch { net.labels.pointer[i] = Int32(i % 3) }
        var correct = 0
        grads.zero()
        net.forward(batch: batch, training: true)
        _ = net.loss(batch: batch, gradScale: 0.25, correct: &correct)
        net.backward(batch: batch)
        return grads.array
    }
    let first = gradient(1, batch: 4)
    _ = gradient(2, batch: 4)
    _ = gradient(3, batch: 3)
    let again = gradient(1, batch: 4)
    let differs = first.indices.first { first[$0] != again[$0] }
    #expect(differs == nil, "first difference in \(differs.flatMap { d in model.layout.entries.first { $0.range.contains(d) }?.name } ?? "-")")
}

/// Residual joins after batch norms: a 2-input add over a batch norm (its
/// output written over the norm's: in place), a 3-input add whose first
/// input is a batch norm (in place), an add whose batch norm is its second
/// input (not: only input 0 may host), and an add over a batch norm that
/// has a second reader (not).
let joinModel = """
  layers:
    - {name: stem, type: conv2d, filters: 4, kernel: 3, padding: 1}
    - {name: c1, type: conv2d, filters: 4, kernel: 3, padding: 1, bias: false}
    - {name: bn1, type: batchnorm}
    - {name: add1, type: add, inputs: [bn1, stem]}
    - {name: r1, type: relu}
    - {name: c2, type: conv2d, filters: 4, kernel: 3, padding: 1, bias: false}
    - {name: bn2, type: batchnorm}
    - {name: add2, type: add, inputs: [bn2, r1, stem]}
    - {name: c3, type: conv2d, filters: 4, kernel: 1, bias: false}
    - {name: bn3, type: batchnorm}
    - {name: add3, type: add, inputs: [add2, bn3]}
    - {name: r3, type: relu}
    - {name: c4, type: conv2d, filters: 4, kernel: 1, bias: false}
    - {name: bn4, type: batchnorm}
    - {name: add4, type: add, inputs: [bn4, r3]}
    - {name: side, type: maxpool, kernel: 3, stride: 1, padding: 1, input: bn4}
    - {name: add5, type: add, inputs: [add4, side]}
    - {name: pool, type: global_avgpool}
    - {name: fc, type: dense, units: 3}
"""

@Test("a residual join written over its batch norm input gives bitwise the values and gradients of separate buffers, with one buffer less")
func inPlaceJoinsMatchSeparateBuffers() throws {
    let yaml = graphConfig(joinModel)
    let build = { try buildGraph(yaml) }
    let model = try build()
    let params = FloatBuffer(count: model.layout.totalCount)
    model.layout.initialize(params, seed: 9)
    let batch = 4
    let x = testValues(batch * model.inputShape.count, seed: 17)
    var results: [(output: [Float], gradients: [Float], stored: Int)] = []
    for inPlace in [true, false] {
        let grads = FloatBuffer(count: model.layout.totalCount)
        let net = Network(model: try build(), maxBatch: batch, parameters: params, gradients: grads, seed: 1, inPlaceJoins: inPlace)
        // Two passes: the second reads buffers the first one overwrote.
        _ = trainingPass(net, x, batch: batch)
        grads.zero()
        let output = trainingPass(net, x, batch: batch)
        results.append((output, grads.array, net.storedFloatsPerSample))
    }
    #expect(results[0].output == results[1].output)
    #expect(results[0].gradients == results[1].gradients)
    #expect(results[0].gradients.filter { $0 != 0 }.count > model.layout.totalCount / 2)
    // add1 and add2 (4 channels of 6x6 each) live in bn1's and bn2's buffers;
    // add3 (bn3 is its second input) and add4 (bn4 has a second reader) do not.
    #expect(results[1].stored - results[0].stored == 2 * 4 * 36)
    // Plus the four batch norms' statistics (4 channels: 5 vectors, 2 x 4 + 1 doubles).
    #expect(NetworkFootprint(model: model, maxBatch: batch, training: true).bytes
            == 4 * (batch * model.inputShape.count + batch * (results[0].stored + model.sharedBuffersPerSample) + batch + 4 * (5 * 4 + 2 * 9)))
}
