import ArgumentParser
import Foundation
import PTrain
import PTrainData
import PTrainReporting
import PTrainRuntime

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a model; writes config.yaml, metrics.jsonl and checkpoints/ into the run directory.")

    @OptionGroup var options: ConfigOptions

    @Option(help: "Run directory (default: runs/NAME, or runs/NAME-2, ... if taken).")
    var out: String?

    @Option(help: "Random seed (overrides the config's seed).")
    var seed: UInt64?

    @OptionGroup var runtime: RuntimeOptions

    @Flag(help: "Also write TensorBoard scalar event files into RUN/tensorboard/.")
    var tensorboard = false

    @Option(help: "Continue a stopped run exactly: its run directory (newest checkpoint) or a checkpoint directory (step-NNNNNNNN).")
    var resume: String?

    func run() throws {
        let start = monotonicSeconds(), startDate = Date()
        let group = try reportingErrors { try Launch.processGroup() }
        // Rank 0 alone prints and writes the run; every rank reads the same config, data and checkpoint.
        let lead = group.rank == 0
        func say(_ line: String) { if lead { PTrainCLI.say(line) } }
        try reportingErrors(in: group) {
            var extra: [String] = []
            if let seed { extra.append("seed=\(seed)") }
            extra += runtime.overrides
            let config = try options.load(extra: extra)
            let placement = try WorkerPlacement.plan(config.runtime)
            // Before anything big is allocated (the data included): does the run fit?
            try MemoryEstimate(config: config, model: try config.model.build(), workers: placement.workers)
                .check(against: MemoryLimit.current(), file: options.config)
            let data = try DataSources.load(config)
            var checkpoint: Checkpoint? = nil
            var directory: RunDirectory? = nil
            if let resume {
                let url = try CheckpointStore.resolve(resume)
                checkpoint = try Checkpoint.read(url)
                // A checkpoint lives in RUN/checkpoints/step-N: continue in RUN unless --out says otherwise.
                let run = url.deletingLastPathComponent().deletingLastPathComponent()
                if lead { directory = try out.map { try RunDirectory.existing(URL(fileURLWithPath: $0)) } ?? RunDirectory.existing(run) }
                say("resuming from \(url.path)")
            } else if lead {
                directory = try RunDirectory.create(explicit: out, name: config.name)
            }
            if group.size > 1 {
                say("\(group.size) processes (MPI ranks); rank 0's workers:")
            }
            say(placement.description)
            // A resumed run keeps the environment.json of its start.
            if let directory, checkpoint == nil {
                try RunEnvironment.capture(topology: placement.topology, placements: placement.placements, data: config.data,
                                           start: startDate).write(into: directory.url)
            }
            let trainer = try Trainer(config: config, directory: directory, train: data.train, test: data.test,
                                      validation: data.validation, architecture: data.architecture, classNames: data.classNames,
                                      workers: placement.workers, placement: placement.bindCurrentThread,
                                      resume: checkpoint, startTime: start, tensorboard: tensorboard,
                                      progress: lead ? ProgressLine() : ProgressLine(isTerminal: false, write: { _ in }),
                                      group: group)
            if checkpoint == nil { say(ModelSummary(model: trainer.model).table) }
            let result = try trainer.run(handleSignals: true)
            if result.ending != .alreadyDone, let directory {
                let split = data.validation == nil ? "test" : "validation"
                let test = data.validation == nil ? "" : String(format: ", test top-1 %.2f%%", 100 * result.finalTest.top1)
                say(String(format: "done (%@): %d epochs, %d steps in %.1fs; %@ top-1 %.2f%% (best %.2f%%)%@; weights in %@",
                           result.ending.rawValue, result.epochs, result.steps, result.elapsed, split, 100 * result.finalEval.top1,
                           100 * result.bestTop1, test, directory.checkpoints.appendingPathComponent("last.safetensors").path))
            }
        }
        Launch.finish(group)
    }
}
