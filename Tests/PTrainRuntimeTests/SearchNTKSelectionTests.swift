import Testing
import Foundation
import PTrain
import PTrainExperiments
import PTrainRuntime
import PTrainTopology

// `ptrain search --ntk --train-best K`: which trials each group picks, the
// budget they train to, the files, and the option's errors.

private func scores(_ numbers: [Double]) -> [SearchNTKRanking.Score] {
    numbers.indices.map { SearchNTKRanking.Score(trial: $0, values: ["\($0)"], conditionNumber: numbers[$0]) }
}

@Test("NTK pick: the K lowest condition numbers, ties to the lower trial, NaN last, in trial order")
func ntkPickLowest() {
    let s = scores([5, 2, .nan, 2, 1])
    #expect(SearchNTKSelection.ntkPick(s, k: 1).map(\.trial) == [4])
    #expect(SearchNTKSelection.ntkPick(s, k: 2).map(\.trial) == [1, 4])
    #expect(SearchNTKSelection.ntkPick(s, k: 4).map(\.trial) == [0, 1, 3, 4])
    #expect(SearchNTKSelection.ntkPick(s, k: 5).map(\.trial) == [0, 1, 2, 3, 4])
}

@Test("random pick: K distinct planned trials, the same for the same seed, another for another seed")
func randomPickSeeded() {
    let s = scores((0..<20).map(Double.init))
    let pick = SearchNTKSelection.randomPick(s, k: 5, seed: 7).map(\.trial)
    #expect(pick.count == 5 && Set(pick).count == 5 && pick == pick.sorted() && pick.allSatisfy { (0..<20).contains($0) })
    #expect(SearchNTKSelection.randomPick(s, k: 5, seed: 7).map(\.trial) == pick)
    #expect(SearchNTKSelection.randomPick(s, k: 5, seed: 8).map(\.trial) != pick)
    // Not the NTK order: the lowest five would be 0...4.
    #expect(pick != [0, 1, 2, 3, 4])
    #expect(SearchNTKSelection.randomPick(s, k: 20, seed: 7).map(\.trial) == Array(0..<20))
}

@Test("budget: the method's epochs, Hyperband's max_epochs, successive halving's last rung; grid's control seed is 1",
      arguments: [("{type: grid, epochs: 2}", 2, 1), ("{type: random, trials: 3, epochs: 4, seed: 9}", 4, 9),
                  ("{type: hyperband, max_epochs: 9, eta: 3, seed: 2}", 9, 2),
                  ("{type: successive_halving, trials: 4, min_epochs: 1, eta: 2, seed: 3}", 4, 3),
                  ("{type: successive_halving, trials: 10, min_epochs: 2, eta: 3, seed: 3}", 18, 3)])
func selectionBudget(_ method: String, _ epochs: Int, _ seed: Int) throws {
    let dir = temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let spec = try SearchSpec.load(file: try writeSearch(method, in: dir))
    #expect(SearchNTKSelection.budget(spec) == epochs)
    #expect(SearchNTKSelection.seed(spec) == UInt64(seed))
}

@Test("--train-best: needs --ntk, at least 1, at most the planned trials")
func trainBestErrors() throws {
    #expect(throws: RunError("--train-best needs --ntk: it trains the trials the NTK score picks")) {
        try SearchNTKSelection.validate(trainBest: 2, ntk: false, planned: 4)
    }
    #expect(throws: RunError("--train-best: expected at least 1 trial, found 0")) {
        try SearchNTKSelection.validate(trainBest: 0, ntk: true, planned: 4)
    }
    #expect(throws: RunError("--train-best: expected at most 4 (the trials the search plans), found 5")) {
        try SearchNTKSelection.validate(trainBest: 5, ntk: true, planned: 4)
    }
    try SearchNTKSelection.validate(trainBest: 4, ntk: true, planned: 4)
}

@Test("train-best on a tiny random search: the NTK group is the K best-conditioned, the control the seeded pick, files written")
func trainBestTrainsPicks() throws {
    let dir = temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let spec = try SearchSpec.load(file: try writeSearch("{type: random, trials: 6, epochs: 1, seed: 5}", in: dir))
    let out = dir.appendingPathComponent("out")
    let runner = try SearchRunner(spec: spec, out: out, topology: try CPUTopology(), say: { _ in })
    let scored = try SearchNTKRanking.score(spec, samples: 8, say: { _ in })
    let rows = try SearchNTKSelection.run(scored, k: 2, runner: runner)
    let ntk = rows.filter { $0.group == .ntk }, random = rows.filter { $0.group == .random }
    // Every NTK pick is at least as well conditioned as every trial left out.
    #expect(ntk.count == 2)
    let left = scored.filter { s in !ntk.contains { $0.trial == s.trial } }
    #expect(ntk.allSatisfy { r in left.allSatisfy { r.conditionNumber <= $0.conditionNumber } })
    #expect(random.map(\.trial) == SearchNTKSelection.randomPick(scored, k: 2, seed: 5).map(\.trial))
    // Trained once each, to the budget, in the search's trial directories.
    let trained = Set(rows.map(\.trial))
    #expect(runner.results.count == trained.count && runner.results.allSatisfy { $0.epochs == 1 && $0.status == "ok" })
    #expect(trained.allSatisfy { FileManager.default.fileExists(atPath: out.appendingPathComponent(String(format: "trials/trial-%04d/metrics.jsonl", $0)).path) })
    #expect(rows.allSatisfy { $0.metric != nil && $0.seconds > 0 })

    let summary = try SearchNTKSelection.write(rows, spec: spec, into: out)
    let csv = try String(contentsOf: out.appendingPathComponent("ntk-select.csv"), encoding: .utf8).split(separator: "\n")
    #expect(csv[0] == "group,trial,train.optimizer.lr,model.layers[0].filters,ntk_condition_number,test_top1,seconds")
    #expect(csv.count == 5 && csv[1].hasPrefix("ntk,\(ntk[0].trial),") && csv[3].hasPrefix("random,\(random[0].trial),"))
    #expect(try String(contentsOf: out.appendingPathComponent("ntk-select.txt"), encoding: .utf8) == summary + "\n")
    #expect(summary.hasPrefix("2 trials per group, 1 epoch, test_top1 on the test split: ntk pick [\(ntk[0].trial) \(ntk[1].trial)]: best "))
    #expect(summary.contains("; random pick [\(random[0].trial) \(random[1].trial)]: best "))
}

@Test("train-best with K = every planned trial: both groups hold every trial, each trained once and counted in both")
func trainBestSharedTrials() throws {
    let dir = temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let spec = try SearchSpec.load(file: try writeSearch("{type: grid, epochs: 1}", in: dir))
    let runner = try SearchRunner(spec: spec, out: dir.appendingPathComponent("out"), topology: try CPUTopology(), say: { _ in })
    let rows = try SearchNTKSelection.run(try SearchNTKRanking.score(spec, samples: 8, say: { _ in }), k: 4, runner: runner)
    #expect(rows.map(\.trial) == [0, 1, 2, 3, 0, 1, 2, 3])
    #expect(runner.results.map(\.trial).sorted() == [0, 1, 2, 3])
    let summary = SearchNTKSelection.summary(rows, spec: spec)
    #expect(summary.hasSuffix("(seed 1, 4 shared)"))
    // Same trials, same figures: the two halves of the line agree.
    let halves = summary.components(separatedBy: "; ")
    #expect(halves[0].components(separatedBy: "]: ")[1] == halves[1].components(separatedBy: "]: ")[1].components(separatedBy: " (seed")[0])
}

@Test("the summary names the split: validation when the base config (with the search's set) holds one out")
func selectionScoredSplit() throws {
    let dir = temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    #expect(try SearchSpec.load(file: try writeSearch("{type: grid, epochs: 1}", in: dir)).scoredSplit == "test")
    let file = dir.appendingPathComponent("v.yaml")
    try """
    base: tiny.yaml
    method: {type: grid, epochs: 1}
    set: [data.validation=0.25]
    space:
      train.optimizer.lr: {choice: [0.05, 0.2]}
    """.write(to: file, atomically: true, encoding: .utf8)
    let spec = try SearchSpec.load(file: file.path)
    #expect(spec.scoredSplit == "validation")
    let row = SearchNTKSelection.Row(group: .ntk, trial: 0, values: ["0.05"], conditionNumber: 3, metric: 0.5, seconds: 1)
    #expect(SearchNTKSelection.summary([row], spec: spec).hasPrefix("1 trial per group, 1 epoch, test_top1 on the validation split: ntk pick [0]: best 50.00%, mean 50.00%, 1.0 s"))
}
