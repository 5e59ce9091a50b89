/// The bracket schedule of Hyperband (Li et al., JMLR 2018, Algorithm 1):
/// with maximum budget R (epochs per trial) and reduction factor eta,
/// `s_max = floor(log_eta R)`, `B = (s_max + 1) R`, and bracket s (from s_max
/// down to 0) starts `n = ceil(B / R * eta^s / (s + 1))` trials at
/// `r = R * eta^-s` epochs; rung i keeps `floor(n * eta^-i)` of them and
/// trains them to `r * eta^i` epochs (successive halving).
public struct HyperbandSchedule: Sendable, Equatable {
    /// One rung of successive halving: how many trials reach it, and the
    /// epochs each has been trained for when it is scored.
    public struct Rung: Sendable, Equatable {
        public let trials: Int
        public let epochs: Double
        public init(trials: Int, epochs: Double) { self.trials = trials; self.epochs = epochs }
    }

    public struct Bracket: Sendable, Equatable {
        public let s: Int
        public let rungs: [Rung]
        public init(s: Int, rungs: [Rung]) { self.s = s; self.rungs = rungs }
        /// Trials this bracket samples.
        public var trials: Int { rungs.first?.trials ?? 0 }
        /// Epochs trained in total when trials resume from their previous rung.
        public var epochs: Double {
            var total = 0.0, previous = 0.0
            for rung in rungs { total += Double(rung.trials) * (rung.epochs - previous); previous = rung.epochs }
            return total
        }
    }

    public let maxEpochs: Double
    public let eta: Int
    public let brackets: [Bracket]

    /// `maxEpochs` >= 1 and `eta` >= 2 (callers validate).
    public init(maxEpochs: Double, eta: Int = 3) {
        precondition(maxEpochs >= 1 && eta >= 2)
        self.maxEpochs = maxEpochs
        self.eta = eta
        // s_max = floor(log_eta R), in integers so that R = 81, eta = 3 gives 4 exactly.
        var sMax = 0, power = Double(eta)
        while power <= maxEpochs * (1 + 1e-12) { sMax += 1; power *= Double(eta) }
        let budget = Double(sMax + 1) * maxEpochs
        brackets = stride(from: sMax, through: 0, by: -1).map { s in
            let etaS = pow(Double(eta), s)
            // ceil, with a little slack so that an exact integer is not pushed up by rounding
            let n = Int((budget / maxEpochs * etaS / Double(s + 1) - 1e-9).rounded(.up))
            let r = maxEpochs / etaS
            return Bracket(s: s, rungs: Self.halving(trials: n, firstEpochs: r, eta: eta, rungs: s + 1))
        }
    }

    /// Successive halving alone: `trials` trials at `firstEpochs`, keeping
    /// `floor(n * eta^-i)` at rung i with `firstEpochs * eta^i` epochs, for `rungs` rungs.
    public static func halving(trials: Int, firstEpochs: Double, eta: Int, rungs: Int) -> [Rung] {
        (0..<rungs).map { i in
            let factor = pow(Double(eta), i)
            return Rung(trials: Int((Double(trials) / factor + 1e-9).rounded(.down)), epochs: firstEpochs * factor)
        }
    }

    /// Rungs of successive halving over `trials` trials: one more each time
    /// `eta` of the survivors still leave one to promote.
    public static func rungCount(trials: Int, eta: Int) -> Int {
        var rungs = 1, n = trials
        while n >= eta { n /= eta; rungs += 1 }
        return rungs
    }

    /// Total epochs of all brackets.
    public var totalEpochs: Double { brackets.reduce(0) { $0 + $1.epochs } }
}

/// `base^exponent` for small non-negative integer exponents, exactly in Double.
private func pow(_ base: Double, _ exponent: Int) -> Double {
    var result = 1.0
    for _ in 0..<exponent { result *= base }
    return result
}
