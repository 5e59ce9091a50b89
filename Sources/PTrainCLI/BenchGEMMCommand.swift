import ArgumentParser
import Foundation
import PTrainExperiments
import PTrainKernels
import PTrainRuntime

struct BenchGEMMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-gemm",
        abstract: "Single-thread GEMM GFLOP/s (fp32 or --precision bf16) at the layer shapes of the benchmark workloads, against the measured FMA peak.")

    @Option(help: "Timed repetitions per shape (the median is reported).")
    var repetitions: Int = 7

    @Option(help: "GEMM operands: fp32, or bf16 (fp32 accumulation; needs AVX512_BF16). The peak is the fp32 FMA probe's; bf16's is twice that.")
    var precision: String = "fp32"

    @Flag(help: "Print JSON lines {\"shape\",\"variant\",\"gflop_s\",\"percent_of_peak\"}.")
    var json = false

    func validate() throws {
        if ComputePrecision(rawValue: precision) == nil {
            throw ValidationError("--precision: expected one of: fp32, bf16, found '\(precision)'")
        }
    }

    func run() throws {
        let precision = ComputePrecision(rawValue: self.precision)!
        try reportingErrors { try PrecisionCheck.check(precision) }
        let peak = measurePeakGFLOPs(seconds: 1)
        if !json { say(String(format: "FMA peak probe: %.1f GFLOP/s (one core)", peak)) }
        if !json { say("shape (m x k x n)          variant   GFLOP/s   % of peak") }
        for r in GEMMBenchmark.run(GEMMBenchmark.defaultShapes, repetitions: max(repetitions, 1), precision: precision) {
            let s = r.shape
            let dims = "\(s.m)x\(s.k)x\(s.n)"
            if json {
                say(String(format: "{\"shape\":\"%@\",\"label\":\"%@\",\"variant\":\"%@\",\"gflop_s\":%.2f,\"percent_of_peak\":%.1f}",
                           dims, s.label, s.variant, r.gflops, 100 * r.gflops / peak))
            } else {
                say(dims.padding(toLength: 16, withPad: " ", startingAt: 0) + s.label.padding(toLength: 22, withPad: " ", startingAt: 0)
                    + String(format: "%@ %9.1f %10.1f%%", s.variant, r.gflops, 100 * r.gflops / peak))
            }
        }
    }
}
