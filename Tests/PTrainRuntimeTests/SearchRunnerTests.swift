import Testing
import Foundation
import PTrain
import PTrainExperiments
import PTrainRuntime
import PTrainTopology
import Synchronization

// Searches end to end on a tiny synthetic config (`writeSearch`, also used
// by the NTK selection tests): results, promotion,
// resume, and concurrent trials on disjoint core groups.

func writeSearch(_ method: String, resources: String = "{cores_per_trial: all}", in dir: URL) throws -> String {
    try tinyConfig.write(to: dir.appendingPathComponent("tiny.yaml"), atomically: true, encoding: .utf8)
    let search = """
    base: tiny.yaml
    metric: test_top1
    method: \(method)
    resources: \(resources)
    set: [runtime.bind=none, train.log_every=0]
    space:
      train.optimizer.lr: {choice: [0.05, 0.2]}
      model.layers[0].filters: {int: [2, 3]}
    """
    let file = dir.appendingPathComponent("s.yaml").path
    try search.write(toFile: file, atomically: true, encoding: .utf8)
    return file
}

@Test("grid search: every point trained once, results and best.yaml written, and a rerun trains nothing")
func gridSearchRuns() throws {
    let dir = temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let spec = try SearchSpec.load(file: try writeSearch("{type: grid, epochs: 1}", in: dir))
    let out = dir.appendingPathComponent("out")
    let log = Mutex<[String]>([])
    let runner = try SearchRunner(spec: spec, out: out, topology: try CPUTopology(), say: { line in log.withLock { $0.append(line) } })
    let records = try runner.run()
    #expect(records.map(\.trial).sorted() == [0, 1, 2, 3] && records.allSatisfy { $0.status == "ok" && $0.epochs == 1 })
    #expect(records.first { $0.trial == 3 }!.values == ["0.2", "3"])
    let csv = try String(contentsOf: out.appendingPathComponent("results.csv"), encoding: .utf8)
    #expect(csv.hasPrefix("trial,epochs,train.optimizer.lr,model.layers[0].filters,test_top1,seconds,status\n"))
    let best = try String(contentsOf: out.appendingPathComponent("best.yaml"), encoding: .utf8)
    #expect(best.hasPrefix("# best trial \(runner.best!.trial) of"))
    _ = try RunConfig.parse(yaml: best, file: "best.yaml")  // runnable
    // Resume: a second runner reads the records and trains nothing.
    let again = try SearchRunner(spec: spec, out: out, topology: try CPUTopology(), say: { _ in })
    #expect(again.results.count == 4)
    #expect(try again.run().count == 4)
}

@Test("successive halving promotes the best trials and resumes them from their checkpoints")
func successiveHalvingPromotes() throws {
    let dir = temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let spec = try SearchSpec.load(file: try writeSearch("{type: successive_halving, trials: 4, min_epochs: 1, eta: 2, seed: 3}", in: dir))
    let runner = try SearchRunner(spec: spec, out: dir.appendingPathComponent("out"), topology: try CPUTopology(), say: { _ in })
    let records = try runner.run()
    // Rungs: 4 trials x 1 epoch, the best 2 to 2 epochs, the best 1 to 4.
    #expect(records.filter { $0.epochs == 1 }.count == 4 && records.filter { $0.epochs == 2 }.count == 2 && records.filter { $0.epochs == 4 }.count == 1)
    let first = records.filter { $0.epochs == 1 }.sorted { $0.metric! == $1.metric! ? $0.trial < $1.trial : $0.metric! > $1.metric! }
    #expect(Set(records.filter { $0.epochs == 2 }.map(\.trial)) == Set(first.prefix(2).map(\.trial)))
    // A promoted trial continued its run: its metrics log holds epochs 1 to 4.
    let winner = records.first { $0.epochs == 4 }!.trial
    let metrics = try String(contentsOf: dir.appendingPathComponent(String(format: "out/trials/trial-%04d/metrics.jsonl", winner)), encoding: .utf8)
    #expect(metrics.contains("\"epoch\":1") && metrics.contains("\"epoch\":4"))
}

@Test("concurrent trials run on disjoint single-core groups")
func concurrentTrialsOnCoreGroups() throws {
    let topology = try CPUTopology()
    guard topology.cores.count >= 2 else { return }  // needs two cores to mean anything
    let dir = temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let spec = try SearchSpec.load(file: try writeSearch("{type: random, trials: 4, epochs: 1, seed: 2}", resources: "{cores_per_trial: 1}", in: dir))
    let records = try SearchRunner(spec: spec, out: dir.appendingPathComponent("out"), topology: topology, say: { _ in }).run()
    #expect(records.count == 4 && records.allSatisfy { $0.status == "ok" })
    #expect(Set(records.map(\.placement)).isSubset(of: ["group 0: core 0", "group 1: core 1"]))
}

@Test("shipped search files decode", arguments: ["lenet-random.yaml", "alexnet-cifar-hyperband.yaml"])
func shippedSearchFiles(_ file: String) throws {
    let spec = try SearchSpec.load(file: packageRoot.appendingPathComponent("configs/search/\(file)").path)
    #expect(!spec.space.keys.isEmpty && spec.metric.rawValue == "test_top1")
}
