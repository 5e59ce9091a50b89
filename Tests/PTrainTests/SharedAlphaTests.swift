import Testing
import PTrain

// Alpha shared across mixed layers (DARTS ties each edge's alpha across the
// cells of a type): one tensor in the layout, gradients summed from every
// layer that reads it, and the bilevel search's config section.

/// Two "cells" of two mixed edges each (smooth ops: a max pool's kinks would
/// defeat finite differences); cell b's edges share cell a's alphas
/// (`alpha: e0`, `alpha: e1`), and each cell sums its edges; a concat joins them.
let sharedAlphaModel = """
  blocks:
    edge:
      params: {alpha: ~}
      layers:
        - type: mixed
          alpha: $alpha
          alpha_std: 0.5
          ops:
            - [{type: zero}]
            - [{type: avgpool, kernel: 3, stride: 1, padding: 1}, {type: batchnorm, affine: false}]
            - [{type: avgpool, kernel: 3, stride: 1, padding: 1}]
            - [{type: relu}, {type: conv2d, filters: 2, kernel: 3, padding: 1, groups: 2, bias: false}, {type: conv2d, filters: 2, kernel: 1, bias: false}]
  layers:
    - {name: stem, type: conv2d, filters: 2, kernel: 3, padding: 1}
    - {name: a0, block: edge, with: {alpha: e0}}
    - {name: a1, block: edge, input: stem, with: {alpha: e1}}
    - {name: a, type: add, inputs: [a0, a1]}
    - {name: b0, block: edge, with: {alpha: e0}}
    - {name: b1, block: edge, input: stem, with: {alpha: e1}}
    - {name: b, type: add, inputs: [b0, b1]}
    - {name: cat, type: concat, inputs: [a, b]}
    - {type: dense, units: 3}
"""

@Test("shared alpha: one tensor per name, last in the arena, read by every edge that names it")
func sharedAlphaLayout() throws {
    let model = try RunConfig.parse(yaml: graphConfig(sharedAlphaModel), file: "t.yaml").model.build(classes: 3)
    let layout = model.layout
    #expect(layout.architectureParameters.map(\.name) == ["e0", "e1"])
    #expect(layout.architectureParameters.allSatisfy { $0.shape == [4] })
    #expect(layout.architectureRange == layout.architectureParameters[0].offset..<layout.totalCount)
    #expect(layout.entries.filter { $0.role == .weight }.allSatisfy { $0.offset < layout.architectureRange.lowerBound })
    // Edges a0 and b0 read the same floats; a0 and a1 do not.
    let index = { (name: String) in model.layers.firstIndex { $0.name == name }! }
    #expect(layout.layerOffsets[index("a0.0")][0] == layout.layerOffsets[index("b0.0")][0])
    #expect(layout.layerOffsets[index("a0.0")][0] != layout.layerOffsets[index("a1.0")][0])
    #expect(layout.tensors(from: [Float](repeating: 0, count: layout.totalCount)).filter { $0.name.hasPrefix("e") }.count == 2)
}

@Test("shared alpha: whole-network gradients (weights and the shared alphas, summed over the edges) match finite differences")
func sharedAlphaGradients() throws {
    let r = try networkGradientMismatches(graphConfig(sharedAlphaModel), batch: 3, classes: 3, maxChecksPerTensor: 8)
    #expect(r.checked > 40)
    #expect(r.mismatches.isEmpty, "\(r.mismatches.prefix(4))")
}

@Test("a shared alpha declared with two shapes is refused, naming both layers")
func sharedAlphaShapeMismatch() {
    let model = """
      layers:
        - {name: p, type: mixed, alpha: e, ops: [[{type: zero}], [{type: relu}]]}
        - {name: q, type: mixed, alpha: e, ops: [[{type: zero}], [{type: relu}], [{type: relu}]]}
        - {type: dense, units: 3}
    """
    #expect(configError(graphConfig(model)) == "t.yaml:7:7: model.layers[1]: (mixed) shares the tensor 'e' with p, which declares it with shape [2]; here it has shape [3]")
}

@Test("train.architecture: defaults are DARTS's, and its errors name the key", arguments: [
    ("{order: third}", "t.yaml:31:25: train.architecture.order: expected one of: first, second, found 'third'"),
    ("{split: 1}", "t.yaml:31:25: train.architecture.split: expected a fraction below 1 (the weights need the rest), found 1"),
    ("{xi: 0.1}", "t.yaml:31:22: train.architecture.xi: xi is the second-order virtual step; this search is order: first"),
    ("{lr: 0}", "t.yaml:31:22: train.architecture.lr: expected a number in (0.0, 100.0], found '0'"),
    ("{betas: [0.5]}", "t.yaml:31:25: train.architecture.betas: expected a list of 2 numbers, found a list of 1 item"),
])
func architectureConfigErrors(_ c: (section: String, message: String)) {
    let yaml = graphConfig(sharedAlphaModel).replacingOccurrences(of: "train: {epochs: 1, batch: 4, optimizer: {lr: 0.1}}",
                                                                   with: "train:\n  epochs: 1\n  batch: 4\n  optimizer: {lr: 0.1}\n  architecture: \(c.section)")
    #expect(configError(yaml) == c.message)
}

@Test("train.architecture defaults, and a model without mixed layers or parameter averaging are refused")
func architectureConfigDefaults() throws {
    let base = graphConfig(sharedAlphaModel).replacingOccurrences(of: "train: {epochs: 1, batch: 4, optimizer: {lr: 0.1}}",
                                                                   with: "train: {epochs: 1, batch: 4, optimizer: {lr: 0.1}, architecture: {}}")
    let a = try #require(try RunConfig.parse(yaml: base, file: "t.yaml").train.architecture)
    #expect(a.optimizer.kind == .adam && a.optimizer.learningRate == 3e-4 && a.optimizer.betas == (0.5, 0.999))
    #expect(a.optimizer.weightDecay == 1e-3 && a.order == .first && a.split == 0.5 && a.xi == nil)
    let plain = graphConfig("  layers:\n    - {type: dense, units: 3}")
        .replacingOccurrences(of: "train: {epochs: 1, batch: 4, optimizer: {lr: 0.1}}",
                              with: "train: {epochs: 1, batch: 4, optimizer: {lr: 0.1}, architecture: {}}")
    #expect(configError(plain) == "t.yaml:7:66: train.architecture: the model has no architecture parameters (a 'mixed' layer's alpha); a bilevel search needs at least one")
    #expect(configError(base + "\nruntime: {sync: {every: 4}}") == "t.yaml: train.architecture: a bilevel search runs synchronous SGD (one set of weights the architecture is judged on); runtime.sync.every is 4")
}
