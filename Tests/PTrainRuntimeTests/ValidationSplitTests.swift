import Foundation
import PTrain
import PTrainData
import PTrainRuntime
import Testing

/// `data.validation`: the run's choices are made on a held-out part of the
/// training split; the test split is reported beside it, never chosen on.
@Suite("Validation split")
struct ValidationSplitTests {
    @Test func heldOutSamplesAreNotTrainedOnAndDriveTheChoices() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let overrides = ["data.validation=0.25", "train.epochs=6", "checkpoint.best=top1"]
        let config = try RunConfig.parse(yaml: tinyConfig, file: "tiny.yaml", overrides: overrides)
        let data = try DataSources.load(config.data, model: config.model, seed: config.seed)
        #expect(data.train.count == 48 && data.validation?.count == 16 && data.test.count == 64)
        // The two parts of the training split are disjoint and cover it.
        let trainIndices = (0..<48).map(data.train.sourceIndex), heldIndices = (0..<16).map(data.validation!.sourceIndex)
        #expect(Set(trainIndices).isDisjoint(with: heldIndices) && Set(trainIndices + heldIndices) == Set(0..<64))
        let (_, result) = try train(tinyConfig, overrides: overrides, in: dir)
        let events = try lines(dir.appendingPathComponent("metrics.jsonl")).filter { $0["event"] as? String == "eval" }
        let validation = events.filter { $0["split"] as? String == "validation" }, test = events.filter { $0["split"] as? String == "test" }
        #expect(validation.count == 6 && test.count == 6)
        // The choices follow the validation split: best top-1 and the final result are its figures.
        let validationTop1 = validation.map { $0["top1"] as! Double }
        #expect(result.bestTop1 == validationTop1.max()!)
        #expect(result.finalEval.top1 == validationTop1.last! && result.finalEval.count == 16)
        #expect(result.finalTest.top1 == test.last!["top1"] as! Double && result.finalTest.count == 64)
        let classes = try String(contentsOf: dir.appendingPathComponent("classes.txt"), encoding: .utf8)
        #expect(classes == "0\n1\n2\n3\n")
    }

    @Test func resumingWithAnotherHoldOutIsRefused() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        _ = try train(tinyConfig, overrides: ["data.validation=0.25", "train.epochs=1"], in: dir)
        let checkpoints = try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("checkpoints").path)
            .filter { $0.hasPrefix("step-") }.sorted()
        let checkpoint = try Checkpoint.read(dir.appendingPathComponent("checkpoints").appendingPathComponent(checkpoints.last!))
        let config = try RunConfig.parse(yaml: tinyConfig, file: "tiny.yaml", overrides: ["data.validation=0.5", "train.epochs=2"])
        #expect(throws: RunError("cannot resume exactly: data.validation 0.25 vs 0.5 (checkpoint vs config)")) {
            try Trainer.checkResume(checkpoint, config: config, model: try config.model.build())
        }
    }
}

@Test("lighting on gray images is refused, on the fused path and on the transform chain")
func lightingNeedsRGB() throws {
    let fused = try RunConfig.parse(yaml: tinyConfig, file: "tiny.yaml", overrides: ["data.augment=[{type: lighting}]"])
    #expect(throws: ConfigError("data.augment: lighting needs RGB images; synthetic/train has 1 channel(s)")) {
        try DataSources.load(fused.data, model: fused.model, seed: 1)
    }
    let chain = try RunConfig.parse(yaml: tinyConfig, file: "tiny.yaml", overrides: ["data.transforms=[{type: lighting}]"])
    #expect(throws: ConfigError("data.transforms: lighting needs RGB images; synthetic/train has 1 channel(s)")) {
        try DataSources.load(chain.data, model: chain.model, seed: 1)
    }
}
