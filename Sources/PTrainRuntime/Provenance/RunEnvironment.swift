import Foundation
import PTrain
import PTrainData
import PTrainTopology

/// A run's provenance, written as `environment.json` into every run (train,
/// scale, search) and embedded in `bench --json`: which binary, on which CPU
/// and cores, with which command and data, when. Enough to tell two runs'
/// numbers apart without asking the person who made them.
public struct RunEnvironment: Codable, Sendable {
    public let build: BuildInfo
    public let cpu: CPUInfo
    public let topology: TopologySummary
    /// One entry per worker, in worker order.
    public let workers: [WorkerSite]
    public let host: String
    /// The process's arguments, argv[0] first.
    public let commandLine: [String]
    /// ISO 8601, UTC, whole seconds.
    public let startTime: String
    /// The dataset files read (none for synthetic data), with sizes and CRC-32s.
    public let datasetFiles: [FileChecksum]

    /// Packages, NUMA nodes, cores and PUs: machine totals and what this process may use.
    public struct TopologySummary: Codable, Sendable, Equatable {
        public let packages: Int
        public let numaNodes: Int
        public let machineCores: Int
        public let machinePUs: Int
        public let allowedCores: Int
        public let allowedPUs: Int

        // "machine_pus", not the automatic "machine_p_us".
        enum CodingKeys: String, CodingKey {
            case packages, numaNodes, machineCores, allowedCores
            case machinePUs = "machine_pus", allowedPUs = "allowed_pus"
        }
    }

    /// Where one worker runs: ptrain's core index and the kernel's PU numbers, nil when unbound.
    public struct WorkerSite: Codable, Sendable, Equatable {
        public let worker: Int
        public let core: Int?
        public let pus: [Int]?
    }

    /// This process's environment for a run whose workers sit at `placements`
    /// (empty for a directory of several runs, e.g. a search), reading `data`
    /// (checksummed here: the caller has already loaded it).
    public static func capture(topology: CPUTopology, placements: [Placement], data: DataConfig, start: Date = Date(),
                               commandLine: [String] = CommandLine.arguments,
                               environment: [String: String] = ProcessInfo.processInfo.environment) throws -> RunEnvironment {
        let format = ISO8601DateFormatter()
        format.timeZone = TimeZone(identifier: "UTC")
        return RunEnvironment(
            build: .current, cpu: .current(),
            topology: TopologySummary(packages: topology.packageCount, numaNodes: topology.numaNodes.count,
                                      machineCores: topology.machineCoreCount, machinePUs: topology.machinePUCount,
                                      allowedCores: topology.cores.count, allowedPUs: topology.puCount),
            workers: placements.map { WorkerSite(worker: $0.worker, core: $0.core?.index, pus: $0.core?.pus) },
            host: ProcessInfo.processInfo.hostName, commandLine: commandLine, startTime: format.string(from: start),
            datasetFiles: try DataSources.files(data, environment: environment).map { try FileChecksum($0) })
    }

    /// Pretty, key-sorted JSON with snake_case keys (the file's form).
    public var json: String { encoded(pretty: true) + "\n" }

    /// The same on one line, to embed in a one-line JSON output.
    public var compactJSON: String { encoded(pretty: false) }

    private func encoded(pretty: Bool) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        // Plain structs of strings, integers, booleans and arrays: encoding cannot fail.
        return String(decoding: try! encoder.encode(self), as: UTF8.self)
    }

    /// Writes `environment.json` into `directory`, atomically.
    public func write(into directory: URL) throws {
        try AtomicFile.write(json, to: directory.appendingPathComponent(Self.fileName))
    }

    public static let fileName = "environment.json"
}
