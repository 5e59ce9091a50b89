extension DataParallelEngine {
    /// How a run of steps ended.
    public struct StepsOutcome: Sendable, Equatable {
        /// Steps completed (updated, or skipped under `on_nan: skip`).
        public var completed = 0
        /// Steps whose update was skipped because the gradient was not finite.
        public var skipped = 0
        /// The run stopped at a step whose gradient was not finite (`on_nan: stop`);
        /// that step was not applied and is not counted in `completed`.
        public var nonFiniteGradient = false
        /// The run ended early because `interrupt` was raised.
        public var interrupted = false

        public init(completed: Int = 0, skipped: Int = 0, nonFiniteGradient: Bool = false, interrupted: Bool = false) {
            self.completed = completed; self.skipped = skipped
            self.nonFiniteGradient = nonFiniteGradient; self.interrupted = interrupted
        }
    }
}
