import PTrain
import PTrainData
import PTrainRuntime
import Testing

// The engine's evaluation networks read prepared inference weights (W^T of
// each dense layer), one store per parameter arena, prepared before every
// evaluation and stale after it: what they score is the weights of the
// moment, in synchronous SGD (one shared store) and under parameter
// averaging (a store per worker's arena).

@Test("evaluation after more training scores the new weights, as a fresh evaluator over a copy of them does (synchronous SGD and parameter averaging)",
      arguments: ["runtime: {shard: 8, bind: none}", "runtime: {shard: 8, bind: none, sync: {every: 2}}"])
func evaluationReadsTheWeightsOfTheMoment(_ runtime: String) throws {
    let config = try RunConfig.parse(yaml: tinyConfig.replacingOccurrences(of: "runtime: {shard: 8}", with: runtime), file: "tiny.yaml")
    let data = try DataSources.load(config.data, model: config.model, seed: config.seed)
    let engine = try DataParallelEngine(config: config, train: data.train, test: data.test, workers: 2)
    let stores = Set(engine.evaluationNetworks.compactMap { $0.inferenceWeights.map(ObjectIdentifier.init) })
    #expect(stores.count == (config.runtime.syncEvery > 1 ? 2 : 1))
    engine.beginEpoch(0)
    var scores: [EvalResult] = []
    for round in 0..<2 {
        // Average after the last step, so that every worker's arena holds the weights compared.
        #expect(engine.steps(first: 2 * round, count: 2, learningRate: { _ in 0.1 }, averageAfter: { $0 % 2 == 1 }).completed == 2)
        let scored = engine.evaluateTest(epoch: 0)
        #expect(engine.evaluationNetworks.allSatisfy { !($0.inferenceWeights?.isPrepared ?? false) }, "stale after the evaluation")
        let model = try config.model.build(classes: data.train.classes)
        let copy = FloatBuffer(count: model.layout.totalCount)
        copy.pointer.update(from: engine.parameters.pointer, count: copy.count)
        let fresh = Network(model: model, maxBatch: config.train.evalBatch, parameters: copy, gradients: nil, seed: config.seed,
                            inferenceWeights: InferenceWeights(model: model, parameters: copy))
        let expected = Evaluator.evaluate([fresh], on: data.test)
        #expect(scored.top1 == expected.top1 && scored.top5 == expected.top5, "round \(round)")
        #expect(abs(scored.loss - expected.loss) <= 1e-12 * max(1, abs(expected.loss)), "round \(round): \(scored.loss) vs \(expected.loss)")
        scores.append(scored)
    }
    #expect(scores[0].loss != scores[1].loss, "two more steps must change what is scored")
}
