import Testing
import PTrain

@Test("LeNet-5 parameter count and FLOPs are the textbook ones")
func lenetArithmetic() throws {
    let yaml = baseConfig.replacingOccurrences(of: """
      input: [1, 8, 8]
      layers:
        - {type: conv2d, filters: 4, kernel: 3}
        - {type: relu}
        - {type: maxpool, kernel: 2}
        - {type: flatten}
        - {type: dense, units: 10}
    """, with: """
      input: [1, 28, 28]
      layers:
        - {type: conv2d, filters: 6, kernel: 5, padding: 2}
        - {type: relu}
        - {type: maxpool, kernel: 2}
        - {type: conv2d, filters: 16, kernel: 5}
        - {type: relu}
        - {type: maxpool, kernel: 2}
        - {type: flatten}
        - {type: dense, units: 120}
        - {type: relu}
        - {type: dense, units: 84}
        - {type: relu}
        - {type: dense, units: 10}
    """)
    let model = try RunConfig.parse(yaml: yaml, file: "t.yaml").model.build()
    // 156 + 2,416 + 48,120 + 10,164 + 850 (PyTorch's count for the same nn.Sequential).
    #expect(model.parameterCount == 61_706)
    // docs/benchmarks.md, W1: 0.833 MFLOP forward per image in conv and dense layers.
    let gemmFLOPs = model.layers.filter { $0 is Conv2D || $0 is Dense }.reduce(0) { $0 + $1.forwardFLOPs }
    #expect(gemmFLOPs == 833_040)  // 2 * (117,600 + 240,000 + 48,000 + 10,080 + 840) multiply-adds
    #expect(model.layers.map(\.outputShape.description) == ["6x28x28", "6x28x28", "6x14x14", "16x10x10", "16x10x10", "16x5x5",
                                                             "400", "120", "120", "84", "84", "10"])
}

@Test("initialisation depends only on the seed; tensors are 64-byte aligned in one arena")
func initialisation() throws {
    let model = try RunConfig.parse(yaml: baseConfig, file: "t.yaml").model.build()
    let a = FloatBuffer(count: model.layout.totalCount), b = FloatBuffer(count: model.layout.totalCount)
    model.layout.initialize(a, seed: 9)
    model.layout.initialize(b, seed: 9)
    #expect(a.array == b.array)
    model.layout.initialize(b, seed: 10)
    #expect(a.array != b.array)
    for e in model.layout.entries { #expect(e.offset % 16 == 0) }
    // PyTorch's default bound 1/sqrt(fan_in): conv fan_in 9 -> 1/3.
    let w = model.layout.entries[0]
    let values = a.array[w.offset..<(w.offset + w.count)]
    #expect(values.allSatisfy { abs($0) <= 1.0 / 3.0 } && Set(values).count == w.count)
}

@Test("epoch permutations are permutations, keyed by seed and epoch")
func permutations() {
    let p = epochPermutation(count: 1000, seed: 1, epoch: 0)
    #expect(p.sorted() == Array(0..<1000))
    #expect(p == epochPermutation(count: 1000, seed: 1, epoch: 0))
    #expect(p != epochPermutation(count: 1000, seed: 1, epoch: 1))
    #expect(p != epochPermutation(count: 1000, seed: 2, epoch: 0))
}

@Test("the non-finite guard names the first tensor holding a NaN or infinity")
func nonFiniteGuard() throws {
    let model = try RunConfig.parse(yaml: baseConfig, file: "t.yaml").model.build()
    let g = FloatBuffer(count: model.layout.totalCount)
    #expect(model.layout.firstNonFiniteTensor(in: g) == nil)
    let bias = model.layout.entries.first { $0.name == "4.bias" }!
    g.pointer[bias.offset + 3] = .nan
    #expect(model.layout.firstNonFiniteTensor(in: g) == "4.bias")
    g.pointer[model.layout.entries[0].offset] = -.infinity
    #expect(model.layout.firstNonFiniteTensor(in: g) == "0.weight")
}

@Test("a dilated conv2d from the config: its output counts the kernel's span, its detail names the dilation")
func dilatedConvolutionFromConfig() throws {
    let yaml = baseConfig.replacingOccurrences(of: "{type: conv2d, filters: 4, kernel: 3}",
                                               with: "{type: conv2d, filters: 4, kernel: 3, padding: 1, dilation: [2, 3]}")
    let model = try RunConfig.parse(yaml: yaml, file: "t.yaml").model.build()
    // Spans 5x7 over 10x10 padded: 6x4.
    #expect(model.layers[0].outputShape.description == "4x6x4")
    #expect(model.layers[0].detail == "4 3x3/1 pad 1 dilation 2x3")
    #expect(model.parameterCount == 4 * 9 + 4 + (4 * 3 * 2) * 10 + 10)
}
