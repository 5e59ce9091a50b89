import ArgumentParser
import Foundation
import PTrain
import PTrainExperiments
import PTrainRuntime

struct BenchAllreduceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-allreduce",
        abstract: "Time the cross-process gradient sum between MPI ranks at several sizes and fit seconds = a + b * bytes (run under mpirun with the MPI build; input of tools/scaling-model).")

    @Option(help: "Smallest message in floats.")
    var min: Int = 1024

    @Option(help: "Largest message in floats (sizes grow 4x).")
    var max: Int = 16_777_216

    @Option(help: "Timed sums per size (the median is reported).")
    var repeats: Int = 10

    @Flag(help: "Print one JSON object {\"processes\",\"latency_s\",\"seconds_per_byte\",\"points\"}.")
    var json = false

    func validate() throws {
        guard min >= 1, max >= min, repeats >= 1 else { throw ValidationError("need 1 <= --min <= --max and --repeats >= 1") }
    }

    func run() throws {
        let group = try reportingErrors { try Launch.processGroup() }
        try reportingErrors(in: group) {
            guard group.size > 1 else {
                throw RunError("bench-allreduce measures the exchange between processes: run it as `mpirun -np 2 ptrain bench-allreduce` with the MPI build (PTRAIN_MPI=1)")
            }
            let points = AllreduceBenchmark.measure(group: group, sizes: AllreduceBenchmark.sizes(from: min, to: max), repeats: repeats)
            guard group.rank == 0 else { return }
            if json {
                say(AllreduceBenchmark.json(points, processes: group.size))
                return
            }
            say("\(group.size) processes: fixed-order reduce-scatter + allgather (the training step's cross-process sum)")
            say("      floats        bytes     median ms     GB/s (bytes / time)")
            for p in points {
                say(String(format: "%12d %12d %13.4f %12.2f", p.floats, p.bytes, 1e3 * p.seconds, Double(p.bytes) / p.seconds / 1e9))
            }
            let (a, b) = AllreduceBenchmark.fit(points)
            say(String(format: "fit: seconds = %.2f us + bytes x %.4f ns/byte", 1e6 * a, 1e9 * b))
        }
        Launch.finish(group)
    }
}
