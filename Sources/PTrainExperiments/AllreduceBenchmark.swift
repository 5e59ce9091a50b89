import Foundation
import PTrain
import PTrainReporting
import PTrainRuntime

/// The cost of the cross-process gradient sum (`ProcessGroup.treeSum`) at
/// several message sizes, and its fit to `seconds = a + b * bytes`, the input
/// of `tools/scaling-model` (`ptrain bench-allreduce`, under mpirun).
public enum AllreduceBenchmark {
    public struct Point: Sendable, Equatable {
        public let floats: Int
        public var bytes: Int { 4 * floats }
        /// Median seconds of one sum, timed on this rank.
        public let seconds: Double
        public init(floats: Int, seconds: Double) { self.floats = floats; self.seconds = seconds }
    }

    /// Sizes from `minFloats` to `maxFloats` in steps of 4x.
    public static func sizes(from minFloats: Int, to maxFloats: Int) -> [Int] {
        var sizes: [Int] = [], n = max(minFloats, 1)
        while n <= maxFloats { sizes.append(n); n *= 4 }
        return sizes
    }

    /// Times `repeats` sums per size after two warm-up sums. Collective:
    /// every rank calls it with the same arguments.
    public static func measure(group: ProcessGroup, sizes: [Int], repeats: Int) -> [Point] {
        sizes.map { floats in
            let buffer = FloatBuffer(count: floats)
            for i in 0..<floats { buffer.pointer[i] = Float(i % 7) }
            for _ in 0..<2 { group.treeSum(buffer.pointer, count: floats) }
            var times: [Double] = []
            for _ in 0..<max(repeats, 1) {
                let t0 = monotonicSeconds()
                group.treeSum(buffer.pointer, count: floats)
                times.append(monotonicSeconds() - t0)
            }
            return Point(floats: floats, seconds: median(times))
        }
    }

    /// The line `seconds = latency + secondsPerByte * bytes` that minimises
    /// the squared relative error (weights 1/seconds^2), so that the small
    /// messages, where latency dominates, count as much as the large ones.
    public static func fit(_ points: [Point]) -> (latency: Double, secondsPerByte: Double) {
        guard points.count >= 2 else { return (points.first?.seconds ?? 0, 0) }
        var sw = 0.0, sx = 0.0, sy = 0.0, sxx = 0.0, sxy = 0.0
        for p in points where p.seconds > 0 {
            let w = 1 / (p.seconds * p.seconds), x = Double(p.bytes), y = p.seconds
            sw += w; sx += w * x; sy += w * y; sxx += w * x * x; sxy += w * x * y
        }
        let det = sw * sxx - sx * sx
        guard det > 0 else { return (sy / max(sw, 1e-300), 0) }
        return ((sxx * sy - sx * sxy) / det, (sw * sxy - sx * sy) / det)
    }

    /// One JSON object: the points and the fit, with the process count.
    public static func json(_ points: [Point], processes: Int) -> String {
        let (a, b) = fit(points)
        let rows = points.map { String(format: "{\"floats\":%d,\"bytes\":%d,\"seconds\":%.9f}", $0.floats, $0.bytes, $0.seconds) }
        return String(format: "{\"processes\":%d,\"latency_s\":%.9g,\"seconds_per_byte\":%.9g,\"points\":[%@]}",
                      processes, a, b, rows.joined(separator: ","))
    }
}
