import Testing
import Foundation
import PTrain
import PTrainRuntime

// A DARTS supernet in the data-parallel runtime: the weights train while
// the architecture parameters (alpha) keep their initial values.

@Test("training the tiny DARTS supernet steps its weights and leaves every alpha at its initial value (2 workers)")
func supernetTrainsWeightsNotAlpha() throws {
    let file = packageRoot.appendingPathComponent("configs/search/darts-cell-tiny.yaml")
    let yaml = try String(contentsOf: file, encoding: .utf8)
    let dir = temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let (trainer, result) = try train(yaml, overrides: ["train.steps=3", "train.log_every=0"], workers: 2, in: dir)
    #expect(result.steps == 3)
    let layout = try RunConfig.parse(yaml: yaml, file: "t.yaml").model.build().layout
    let initial = FloatBuffer(count: layout.totalCount)
    layout.initialize(initial, seed: 1)
    let trained = trainer.parameters.array
    let alphas = layout.architectureParameters
    #expect(alphas.map(\.name) == ["n1.0.alpha", "e2a.0.alpha", "e2b.0.alpha", "reduce.0.alpha"])
    for alpha in alphas {
        #expect(Array(trained[alpha.range]) == Array(UnsafeBufferPointer(start: initial.pointer + alpha.offset, count: alpha.count)))
        #expect(trained[alpha.range].contains { $0 != 0 }, "\(alpha.name) starts at 1e-3 N(0, 1), not zeros")
    }
    let convolution = try #require(layout.entries.first { $0.name == "n1.0.ops.4.2.weight" })
    #expect(Array(trained[convolution.range]) != Array(UnsafeBufferPointer(start: initial.pointer + convolution.offset, count: convolution.count)))
}
