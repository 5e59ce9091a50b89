import ArgumentParser
import Foundation
import PTrain
import PTrainReporting
import PTrainRuntime

struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Compare runs: a table of final and best errors, and their error curves in one SVG.")

    @Argument(help: "Run directories (each holds metrics.jsonl).")
    var runs: [String]

    @Option(help: "Write the error curves (dashed: training, solid: test) to this SVG file.")
    var out: String?

    @Option(help: "Chart title.")
    var title = "top-1 error"

    func run() throws {
        try reportingErrors {
            guard !runs.isEmpty else { throw RunError("compare needs at least one run directory") }
            let comparison = try RunComparison(directories: runs.map { URL(fileURLWithPath: $0) })
            say(comparison.table)
            if let out {
                try AtomicFile.write(comparison.chart(title: title).render(width: 800, height: 500), to: URL(fileURLWithPath: out))
                say("chart: \(out)")
            }
        }
    }
}
