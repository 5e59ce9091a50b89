import Testing
import Foundation
import PTrainTopology

/// Sanity checks against the machine the tests run on; they hold on any Linux
/// box, with or without taskset / cgroup limits.
@Suite struct MachineTopologyTests {
    @Test func hasAtLeastOneCoreNumberedDensely() throws {
        let topology = try CPUTopology()
        #expect(!topology.cores.isEmpty)
        #expect(topology.cores.map(\.index) == Array(0..<topology.cores.count))
        #expect(topology.cores.count <= topology.machineCoreCount)
        #expect(topology.puCount <= topology.machinePUCount)
        #expect(topology.packageCount >= 1)
        #expect(topology.cores.allSatisfy { !$0.pus.isEmpty && $0.pus == $0.pus.sorted() })
    }

    @Test func everyAllowedPUAppearsExactlyOnce() throws {
        let pus = try CPUTopology().cores.flatMap(\.pus)
        #expect(pus.count == Set(pus).count)
        // Independent oracle: the kernel's own view of this process's affinity.
        if let allowed = try procAllowedPUs() {
            #expect(Set(pus) == allowed)
        }
    }

    @Test func cachesAreOrderedAndPlausible() throws {
        let caches = try CPUTopology().caches
        #expect(caches.map(\.level) == caches.map(\.level).sorted())
        #expect(Set(caches.map(\.level)).count == caches.count)
        for cache in caches {
            #expect(cache.sizeBytes > 0 && cache.lineBytes > 0 && cache.sharedByPUs >= 1, "\(cache)")
        }
    }

    @Test func describeHasHeaderCachesAndOneLinePerCore() throws {
        let topology = try CPUTopology()
        let lines = topology.describe().split(separator: "\n")
        #expect(lines.count == 1 + topology.caches.count + topology.cores.count)
        #expect(lines[0].contains("of \(topology.machineCoreCount) cores"))
        #expect(lines.last?.hasPrefix("core \(topology.cores.count - 1): PU") == true)
    }

    @Test func topologyIsUsableFromManyTasksAtOnce() async throws {
        let topology = try CPUTopology()
        let texts = await withTaskGroup(of: String.self) { group in
            for _ in 0..<8 { group.addTask { topology.describe() } }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(Set(texts).count == 1)
    }
}

/// `Cpus_allowed_list` of /proc/self/status (e.g. "0-3,8"), nil off Linux.
private func procAllowedPUs() throws -> Set<Int>? {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
    guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed_list:") }) else { return nil }
    var result = Set<Int>()
    for part in line.dropFirst("Cpus_allowed_list:".count).trimmingCharacters(in: .whitespaces).split(separator: ",") {
        let bounds = part.split(separator: "-").compactMap { Int($0) }
        result.formUnion(bounds[0]...(bounds.count == 2 ? bounds[1] : bounds[0]))
    }
    return result
}
