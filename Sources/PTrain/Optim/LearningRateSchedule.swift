#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The learning rate at a point of training, from `ScheduleConfig`.
/// Time is measured in (fractional) epochs: `epoch + stepInEpoch / stepsPerEpoch`.
public struct LearningRateSchedule: Sendable {
    public let base: Double
    public let config: ScheduleConfig
    /// Length of training in epochs (for cosine).
    public let totalEpochs: Double

    public init(base: Double, config: ScheduleConfig, totalEpochs: Double) {
        self.base = base; self.config = config; self.totalEpochs = totalEpochs
    }

    /// Rate at time `t` epochs (t >= 0).
    public func rate(at t: Double) -> Double {
        var lr: Double
        switch config.kind {
        case .constant: lr = base
        case .step: lr = base * pow(config.gamma, floor(t / config.stepSize + 1e-9))
        case .multistep: lr = base * pow(config.gamma, Double(config.milestones.filter { t + 1e-9 >= $0 }.count))
        case .cosine:
            // Cosine over the epochs after warm-up, from base to min_lr.
            let span = max(totalEpochs - config.warmupEpochs, 1e-9)
            let progress = min(max((t - config.warmupEpochs) / span, 0), 1)
            lr = config.minLearningRate + (base - config.minLearningRate) * 0.5 * (1 + cos(Double.pi * progress))
        }
        if config.warmupEpochs > 0 && t < config.warmupEpochs {
            // Linear warm-up, reaching the scheduled rate at the end of warm-up.
            lr *= (t + 1e-3) / config.warmupEpochs
        }
        return lr
    }
}
