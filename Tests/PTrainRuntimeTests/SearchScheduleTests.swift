import Testing
import Foundation
import PTrain
import PTrainExperiments
import PTrainRuntime

// The search building blocks: Hyperband's bracket schedule, grid enumeration
// and seeded random sampling of a search space.

@Test("Hyperband with R = 81, eta = 3 reproduces the paper's table (Li et al. 2018, Table 1)")
func hyperbandPaperExample() {
    let schedule = HyperbandSchedule(maxEpochs: 81, eta: 3)
    let table = schedule.brackets.map { b in b.rungs.map { [$0.trials, Int($0.epochs)] } }
    #expect(schedule.brackets.map(\.s) == [4, 3, 2, 1, 0])
    #expect(table == [
        [[81, 1], [27, 3], [9, 9], [3, 27], [1, 81]],
        [[34, 3], [11, 9], [3, 27], [1, 81]],
        [[15, 9], [5, 27], [1, 81]],
        [[8, 27], [2, 81]],
        [[5, 81]],
    ])
    // Bracket s = 4 trains 81 x 1 + 27 x 2 + 9 x 6 + 3 x 18 + 1 x 54 epochs when trials resume.
    #expect(schedule.brackets[0].epochs == 81 + 54 + 54 + 54 + 54)
}

@Test("Hyperband for small budgets, and successive halving alone")
func hyperbandSmall() {
    let s = HyperbandSchedule(maxEpochs: 9, eta: 3)
    #expect(s.brackets.map { b in b.rungs.map { [$0.trials, Int($0.epochs)] } } == [[[9, 1], [3, 3], [1, 9]], [[5, 3], [1, 9]], [[3, 9]]])
    let two = HyperbandSchedule(maxEpochs: 2, eta: 3)
    #expect(two.brackets.count == 1 && two.brackets[0].rungs == [.init(trials: 1, epochs: 2)])
    #expect(HyperbandSchedule.halving(trials: 16, firstEpochs: 0.5, eta: 2, rungs: 4).map(\.trials) == [16, 8, 4, 2])
    #expect(HyperbandSchedule.halving(trials: 16, firstEpochs: 0.5, eta: 2, rungs: 4).map(\.epochs) == [0.5, 1, 2, 4])
}

private func space(_ yaml: String) throws -> SearchSpace {
    try SearchSpace.parse(try ConfigMapping.document(yaml: yaml, file: "s.yaml"))
}

@Test("grid search enumerates every combination, the last key fastest; continuous ranges are refused")
func gridEnumeration() throws {
    let s = try space("train.optimizer.lr: {choice: [0.1, 0.01]}\nmodel.layers[0].filters: {int: [4, 6]}\ndata.normalize.mean: {choice: [[0.5], [0.1]]}\n")
    let grid = try s.grid()
    #expect(grid.count == 12)
    #expect(grid[0] == ["0.1", "4", "[0.5]"] && grid[1] == ["0.1", "4", "[0.1]"] && grid[2] == ["0.1", "5", "[0.5]"] && grid[11] == ["0.01", "6", "[0.1]"])
    #expect(s.overrides(grid[0]) == ["train.optimizer.lr=0.1", "model.layers[0].filters=4", "data.normalize.mean=[0.5]"])
    #expect(throws: ConfigError("space.train.optimizer.lr: a grid search enumerates choice and int values only; use random or hyperband for a continuous range")) {
        try space("train.optimizer.lr: {uniform: [0.1, 1]}\n").grid()
    }
}

@Test("random sampling is seeded, per trial and key, and stays in range (log-uniform spreads over decades)")
func randomSampling() throws {
    let s = try space("lr: {loguniform: [0.0001, 1]}\nm: {uniform: [0.8, 0.99]}\nk: {int: [3, 5]}\nw: {choice: [a, b, c]}\n")
    let trials = (0..<400).map { s.sample(seed: 7, trial: $0) }
    #expect(trials[3] == s.sample(seed: 7, trial: 3))
    #expect(trials[3] != s.sample(seed: 8, trial: 3))
    let lr = trials.map { Double($0[0])! }, m = trials.map { Double($0[1])! }
    #expect(lr.allSatisfy { (0.0001...1).contains($0) } && m.allSatisfy { (0.8...0.99).contains($0) })
    #expect(Set(trials.map { $0[2] }) == ["3", "4", "5"] && Set(trials.map { $0[3] }) == ["a", "b", "c"])
    // Log-uniform: about a quarter of the draws in each decade of [1e-4, 1].
    let belowMilli = lr.filter { $0 < 0.001 }.count
    #expect((60...140).contains(belowMilli), "\(belowMilli) of 400 draws below 1e-3")
}

@Test("search space errors name the key and what was expected", arguments: [
    ("lr: {uniform: [1, 0.1]}\n", "s.yaml:1:15: lr.uniform: expected [low, high] with low <= high, found a list of 2 items"),
    ("lr: {loguniform: [0, 1]}\n", "s.yaml:1:18: lr.loguniform: expected [low, high] with 0 < low <= high, found a list of 2 items"),
    ("lr: {uniform: [0, 1], choice: [1]}\n", "s.yaml:1:5: lr: expected exactly one of choice, uniform, loguniform or int, found choice and uniform"),
    ("lr: {choice: []}\n", "s.yaml:1:14: lr.choice: a choice needs at least one value"),
])
func searchSpaceErrors(_ c: (yaml: String, message: String)) {
    #expect(throws: ConfigError(c.message)) { try space(c.yaml) }
}
