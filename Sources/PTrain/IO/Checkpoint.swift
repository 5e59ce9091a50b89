import Foundation

/// A checkpoint: everything needed to continue a run bit for bit.
///
/// On disk it is a directory `step-00001234/` written atomically (built under
/// a temporary name, every file fsynced, renamed, parent fsynced) holding:
/// - `weights.safetensors`: the parameters under PyTorch `state_dict` names
///   and layouts (Python's `safetensors` loads it as it is);
/// - `optimizer.safetensors`: the optimizer state: SGD's momentum buffers,
///   same names, or Adam's moments `exp_avg.NAME` and `exp_avg_sq.NAME`;
/// - `replicas.safetensors` (parameter averaging, only while the workers'
///   replicas differ: between averaging points, or always with
///   `sync.momentum: local`): replicas 1 ..< W, tensors named
///   `replica.R.weights.NAME` and `replica.R.momentum.NAME` (the optimizer
///   state's names); the two files above hold replica 0;
/// - `state.json`: format version, position (epoch, step in the epoch, global
///   step), Adam's update count per replica, the resolved config, best-metric bookkeeping, and the CRC-32 of
///   every tensor file.
/// No RNG state is needed: every random draw is keyed by (seed, epoch, sample
/// index), so the position determines all of them.
public struct Checkpoint: Sendable {
    /// Version 2 added the replicas of parameter averaging; version 1
    /// checkpoints (replica 0 only) are still read.
    public static let formatVersion = 2
    public static let formatName = "ptrain-checkpoint"

    /// Position and bookkeeping, serialized as `state.json`.
    public struct State: Codable, Sendable, Equatable {
        public var format: String = Checkpoint.formatName
        public var version: Int = Checkpoint.formatVersion
        /// The epoch in progress (0-based) and the steps of it already taken.
        public var epoch: Int
        public var stepInEpoch: Int
        /// Optimizer steps taken since the start of the run.
        public var step: Int
        public var seed: UInt64
        public var workers: Int
        /// Wall-clock seconds the run had used when this was written.
        public var elapsedSeconds: Double
        /// Best evaluation so far (metric value and the step it was reached at).
        public var bestMetric: Double?
        public var bestStep: Int?
        /// Evaluations since the best one (early stopping).
        public var evaluationsSinceBest: Int
        /// The latest test evaluation, if any (`checkpoint.best` ranks by it).
        public var metric: Double?
        public var config: String
        public var weightsCRC32: UInt32 = 0
        public var optimizerCRC32: UInt32 = 0
        /// Replicas held (version 2): 1 when every worker's replica is
        /// replica 0's, else one per worker. Nil in version 1 files.
        public var replicas: Int?
        public var replicasCRC32: UInt32?
        /// Processes of the job that wrote it, and whether their replicas
        /// are all the ones held here (false: a multi-process parameter-
        /// averaging run between averaging points, whose other processes'
        /// replicas differ and are not in this checkpoint). Nil in version 1.
        public var processes: Int?
        public var complete: Bool?
        /// The updates each replica's optimizer state has applied (Adam's
        /// bias correction), replica 0 first; nil when all are 0 (SGD).
        public var optimizerSteps: [Int]?
        /// The class of each model output, in label order (image folders:
        /// the class folders' names); nil when the run had none recorded.
        public var classNames: [String]?
        /// A bilevel search's architecture updates (`train.architecture`);
        /// nil for other runs.
        public var architectureSteps: Int?

        public init(epoch: Int, stepInEpoch: Int, step: Int, seed: UInt64, workers: Int, elapsedSeconds: Double,
                    bestMetric: Double?, bestStep: Int?, evaluationsSinceBest: Int, metric: Double?, config: String) {
            self.epoch = epoch; self.stepInEpoch = stepInEpoch; self.step = step; self.seed = seed; self.workers = workers
            self.elapsedSeconds = elapsedSeconds; self.bestMetric = bestMetric; self.bestStep = bestStep
            self.evaluationsSinceBest = evaluationsSinceBest; self.metric = metric; self.config = config
        }
    }

    /// One worker's copy of the parameters and of the optimizer state.
    public struct Replica: Sendable, Equatable {
        public var weights: [Safetensors.Tensor]
        /// The optimizer state's tensors (SGD's momentum, or Adam's moments).
        public var momentum: [Safetensors.Tensor]
        /// The updates the optimizer state has applied (Adam's bias correction).
        public var steps: Int
        public init(weights: [Safetensors.Tensor], momentum: [Safetensors.Tensor], steps: Int = 0) {
            self.weights = weights; self.momentum = momentum; self.steps = steps
        }
    }

    public var state: State
    /// Replica 0 (the only one in synchronous SGD).
    public var weights: [Safetensors.Tensor]
    public var momentum: [Safetensors.Tensor]
    /// Replica 0's optimizer update count.
    public var steps: Int
    /// Replicas 1 ..< W of parameter averaging; empty when they all equal replica 0.
    public var otherReplicas: [Replica]

    /// Every replica, replica 0 first.
    public var replicas: [Replica] { [Replica(weights: weights, momentum: momentum, steps: steps)] + otherReplicas }

    public init(state: State, weights: [Safetensors.Tensor], momentum: [Safetensors.Tensor], steps: Int = 0,
                otherReplicas: [Replica] = []) {
        self.state = state; self.weights = weights; self.momentum = momentum; self.steps = steps
        self.otherReplicas = otherReplicas
    }

    /// Replica `r`'s tensors as stored in `replicas.safetensors`.
    static func replicaPrefix(_ r: Int, _ part: String) -> String { "replica.\(r).\(part)." }

    /// The weights file of a checkpoint directory.
    public func weightsURL(in directory: URL) -> URL { directory.appendingPathComponent("weights.safetensors") }

    public struct LoadError: Error, CustomStringConvertible, Equatable {
        public let description: String
        public init(description: String) { self.description = description }
    }

    /// The directory a checkpoint `name` is built in before it is renamed
    /// into place: `.NAME.tmp-PID`, hidden and owned by one process, so that
    /// readers never see it and a killed writer's leftovers can be told apart.
    public static func temporaryName(for name: String, process: Int32 = getpid()) -> String {
        ".\(name).tmp-\(process)"
    }

    /// Whether `entry` of a checkpoints directory is a checkpoint still being
    /// built (or abandoned) by a process other than `process`.
    public static func isTemporary(_ entry: String, ofAnotherProcessThan process: Int32 = getpid()) -> Bool {
        entry.hasPrefix(".") && entry.contains(".tmp-") && !entry.hasSuffix(".tmp-\(process)")
    }

    /// Writes the checkpoint as directory `directory/name` atomically.
    public func write(in directory: URL, name: String) throws -> URL {
        let fm = FileManager.default
        let final = directory.appendingPathComponent(name)
        let tmp = directory.appendingPathComponent(Self.temporaryName(for: name))
        try? fm.removeItem(at: tmp)
        try fm.createDirectory(at: tmp, withIntermediateDirectories: true)
        let weightsData = Safetensors.encode(weights, metadata: ["format": "pt"])
        let momentumData = Safetensors.encode(momentum, metadata: ["format": "ptrain-optimizer-state"])
        var s = state
        s.weightsCRC32 = CRC32.checksum(weightsData)
        s.optimizerCRC32 = CRC32.checksum(momentumData)
        s.replicas = 1 + otherReplicas.count
        s.optimizerSteps = replicas.contains { $0.steps != 0 } ? replicas.map(\.steps) : nil
        var replicasData: Data?
        if !otherReplicas.isEmpty {
            var all: [Safetensors.Tensor] = []
            for (i, replica) in otherReplicas.enumerated() {
                for (part, tensors) in [("weights", replica.weights), ("momentum", replica.momentum)] {
                    all += tensors.map { Safetensors.Tensor(name: Self.replicaPrefix(i + 1, part) + $0.name, shape: $0.shape, values: $0.values) }
                }
            }
            let data = Safetensors.encode(all, metadata: ["format": "ptrain-replicas"])
            s.replicasCRC32 = CRC32.checksum(data)
            replicasData = data
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(weightsData, to: tmp.appendingPathComponent("weights.safetensors"))
        try AtomicFile.write(momentumData, to: tmp.appendingPathComponent("optimizer.safetensors"))
        if let replicasData { try AtomicFile.write(replicasData, to: tmp.appendingPathComponent("replicas.safetensors")) }
        try AtomicFile.write(try encoder.encode(s), to: tmp.appendingPathComponent("state.json"))
        try AtomicFile.moveDirectory(tmp, to: final)
        AtomicFile.syncDirectory(directory)
        return final
    }

    /// Reads and verifies a checkpoint directory: the files' headers (never
    /// their names) say what they are, and the checksums must match.
    public static func read(_ directory: URL) throws -> Checkpoint {
        func fail(_ m: String) -> LoadError { LoadError(description: "\(directory.path): \(m)") }
        var info = stat()
        guard stat(directory.path, &info) == 0 else { throw fail("cannot open the checkpoint: \(String(cString: strerror(errno)))") }
        guard info.st_mode & S_IFMT == S_IFDIR else {
            throw fail("expected a checkpoint directory, found \(RegularFile.kind(of: info.st_mode))")
        }
        let stateData: Data
        do { stateData = try RegularFile.read(directory.appendingPathComponent("state.json").path) } catch let e as RegularFile.ReadError {
            throw e.code == ENOENT ? fail("not a ptrain checkpoint (no state.json)") : LoadError(description: e.description)
        }
        guard stateData.first == UInt8(ascii: "{"),
              let state = try? JSONDecoder().decode(State.self, from: stateData), state.format == formatName else {
            // state.json is written as one flat object: a last byte other than
            // its closing brace means the file was cut short.
            if stateData.first == UInt8(ascii: "{"), stateData.last(where: { !" \n\r\t".utf8.contains($0) }) != UInt8(ascii: "}") {
                throw fail("state.json is truncated (\(stateData.count) bytes; the JSON ends early)")
            }
            throw fail("state.json is not a ptrain checkpoint state (corrupted or foreign file)")
        }
        guard (1...formatVersion).contains(state.version) else {
            throw fail("checkpoint format version \(state.version); this ptrain reads versions 1 to \(formatVersion)")
        }
        if let steps = state.optimizerSteps, steps.count != (state.replicas ?? 1) {
            throw fail("state.json lists \(steps.count) optimizerSteps for \(state.replicas ?? 1) replicas")
        }
        func tensors(_ file: String, crc: UInt32) throws -> [Safetensors.Tensor] {
            let url = directory.appendingPathComponent(file)
            let data: Data
            do { data = try RegularFile.read(url.path) } catch let e as RegularFile.ReadError {
                throw e.code == ENOENT ? fail("\(file) is missing") : LoadError(description: e.description)
            }
            guard CRC32.checksum(data) == crc else {
                throw fail("\(file) is corrupted (CRC-32 \(String(format: "%08x", CRC32.checksum(data))), expected \(String(format: "%08x", crc)))")
            }
            do { return try Safetensors.decode(data, file: url.path).tensors } catch let e as Safetensors.FormatError {
                throw LoadError(description: e.description)
            }
        }
        var others: [Replica] = []
        if let count = state.replicas, count > 1 {
            guard let crc = state.replicasCRC32 else { throw fail("state.json lists \(count) replicas but no replicasCRC32") }
            let all = try tensors("replicas.safetensors", crc: crc)
            for r in 1..<count {
                func part(_ name: String) -> [Safetensors.Tensor] {
                    let prefix = replicaPrefix(r, name)
                    return all.filter { $0.name.hasPrefix(prefix) }.map {
                        Safetensors.Tensor(name: String($0.name.dropFirst(prefix.count)), shape: $0.shape, values: $0.values)
                    }
                }
                others.append(Replica(weights: part("weights"), momentum: part("momentum"), steps: state.optimizerSteps?[r] ?? 0))
            }
        }
        return Checkpoint(state: state, weights: try tensors("weights.safetensors", crc: state.weightsCRC32),
                          momentum: try tensors("optimizer.safetensors", crc: state.optimizerCRC32),
                          steps: state.optimizerSteps?[0] ?? 0, otherReplicas: others)
    }
}
