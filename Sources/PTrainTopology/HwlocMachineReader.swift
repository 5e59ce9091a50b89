import CHwloc

/// Reads the machine through hwloc into ptrain's value types. The only code
/// that walks hwloc objects; everything else sees `Core`, `Cache`, `NUMANode`.
enum HwlocMachineReader {
    struct Machine {
        /// Loaded topology; ownership passes to the caller.
        var handle: hwloc_topology_t
        var model: String?
        var packageCount: Int
        var machineCoreCount: Int
        var machinePUCount: Int
        var cores: [Core]
        var caches: [Cache]
        var numaNodes: [NUMANode]
    }

    /// Loads `source`; `cpuset` (OS PU indices), when given, further
    /// restricts the allowed PUs, as `taskset -c` would (a simulated limit).
    static func read(_ source: TopologySource = .thisMachine, cpuset: [Int]? = nil) throws -> Machine {
        var maybeTopology: hwloc_topology_t?
        guard hwloc_topology_init(&maybeTopology) == 0, let topology = maybeTopology else {
            throw TopologyError("hwloc: cannot create a topology: \(systemReason())")
        }
        var handedOver = false
        defer { if !handedOver { hwloc_topology_destroy(topology) } }

        try source.select(in: topology)
        // Keep cgroup-disallowed PUs in the tree so machine totals are real;
        // the allowed set is applied below, by us.
        guard hwloc_topology_set_flags(topology, CHwloc_include_disallowed_flags()) == 0,
              hwloc_topology_load(topology) == 0 else {
            throw TopologyError("hwloc: cannot load \(source.name): \(systemReason())")
        }

        let allowed = try allowedPUs(topology, processBinding: source == .thisMachine)
        if let cpuset { try restrict(allowed, to: cpuset, in: topology) }
        let cores = readCores(topology, allowed: allowed)
        guard !cores.isEmpty else {
            throw TopologyError("hwloc: this process may run on no PU (allowed set is empty)")
        }
        let machine = Machine(
            handle: topology,
            model: source.model(found: readModel(topology)),
            packageCount: max(1, Int(hwloc_get_nbobjs_by_type(topology, HWLOC_OBJ_PACKAGE))),
            machineCoreCount: Int(hwloc_get_nbobjs_by_type(topology, HWLOC_OBJ_CORE)),
            machinePUCount: Int(hwloc_get_nbobjs_by_type(topology, HWLOC_OBJ_PU)),
            cores: cores,
            caches: readCaches(topology, allowed: allowed),
            numaNodes: readNUMANodes(topology))
        handedOver = true
        return machine
    }

    /// hwloc's allowed cpuset (cgroup cpuset) intersected with the process
    /// binding (taskset / Slurm / numactl affinity, union over all threads).
    /// `processBinding` false (a simulated machine): this process's binding
    /// says nothing about it, so the topology's own allowed set stands.
    private static func allowedPUs(_ topology: hwloc_topology_t, processBinding: Bool) throws -> HwlocBitmap {
        let allowed = try HwlocBitmap(copying: hwloc_topology_get_allowed_cpuset(topology))
        let binding = try HwlocBitmap()
        // If the OS cannot report a binding (not Linux), the cgroup set alone applies.
        if processBinding && hwloc_get_cpubind(topology, binding.raw, CHwloc_process_flags()) == 0 {
            hwloc_bitmap_and(allowed.raw, allowed.raw, binding.raw)
        }
        return allowed
    }

    /// Intersects `allowed` with the OS PUs `cpuset`; a PU the machine does
    /// not have is an error naming it and the machine's PUs.
    private static func restrict(_ allowed: HwlocBitmap, to cpuset: [Int], in topology: hwloc_topology_t) throws {
        let all = HwlocBitmap.indices(of: hwloc_topology_get_topology_cpuset(topology))
        if let missing = cpuset.first(where: { !all.contains($0) }) {
            throw TopologyError("--cpuset: PU \(missing) is not in this topology (its PUs are \(formatIndexList(all)))")
        }
        let set = try HwlocBitmap(indices: cpuset)
        hwloc_bitmap_and(allowed.raw, allowed.raw, set.raw)
    }

    /// Cores with at least one allowed PU, in logical order, renumbered 0..<n.
    /// On machines where hwloc finds no Core objects, each PU counts as a core.
    private static func readCores(_ topology: hwloc_topology_t, allowed: HwlocBitmap) -> [Core] {
        var type = HWLOC_OBJ_CORE
        if hwloc_get_nbobjs_by_type(topology, type) <= 0 { type = HWLOC_OBJ_PU }
        let numaNodes = objects(topology, HWLOC_OBJ_NUMANODE)
        var cores: [Core] = []
        for object in objects(topology, type) {
            guard let cpuset = object.pointee.cpuset else { continue }
            let pus = HwlocBitmap.indices(of: cpuset).filter { hwloc_bitmap_isset(allowed.raw, UInt32($0)) != 0 }
            if pus.isEmpty { continue }
            let package = hwloc_get_ancestor_obj_by_type(topology, HWLOC_OBJ_PACKAGE, object)
            // In hwloc 2 NUMA nodes hang off the tree as memory children, so
            // "local node" is the first node whose cpuset covers the core.
            let node = numaNodes.first { n in
                n.pointee.cpuset.map { hwloc_bitmap_isincluded(cpuset, $0) != 0 } ?? false
            }
            cores.append(Core(index: cores.count, osIndex: osIndex(object) ?? Int(object.pointee.logical_index),
                              pus: pus, package: package.flatMap(osIndex) ?? 0,
                              numaNode: node.flatMap(osIndex)))
        }
        return cores
    }

    /// One entry per data-cache level, from the first instance serving an allowed PU.
    private static func readCaches(_ topology: hwloc_topology_t, allowed: HwlocBitmap) -> [Cache] {
        let levels: [(Int, hwloc_obj_type_t)] = [(1, HWLOC_OBJ_L1CACHE), (2, HWLOC_OBJ_L2CACHE), (3, HWLOC_OBJ_L3CACHE)]
        return levels.compactMap { level, type in
            let instance = objects(topology, type).first { object in
                object.pointee.cpuset.map { hwloc_bitmap_intersects($0, allowed.raw) != 0 } ?? false
            }
            guard let instance, let attributes = instance.pointee.attr, let cpuset = instance.pointee.cpuset else {
                return nil
            }
            return Cache(level: level, sizeBytes: Int(attributes.pointee.cache.size),
                         lineBytes: Int(attributes.pointee.cache.linesize),
                         sharedByPUs: Int(hwloc_bitmap_weight(cpuset)))
        }
    }

    /// NUMA nodes in hwloc's allowed nodeset (cgroup `cpuset.mems`).
    private static func readNUMANodes(_ topology: hwloc_topology_t) -> [NUMANode] {
        let allowedNodes = hwloc_topology_get_allowed_nodeset(topology)
        return objects(topology, HWLOC_OBJ_NUMANODE).compactMap { node in
            guard let index = osIndex(node), hwloc_bitmap_isset(allowedNodes, UInt32(index)) != 0 else { return nil }
            let bytes = node.pointee.attr.map { Int($0.pointee.numanode.local_memory) } ?? 0
            return NUMANode(index: index, memoryBytes: bytes)
        }.sorted { $0.index < $1.index }
    }

    /// hwloc puts "CPUModel" on Package objects on x86 Linux, on the root elsewhere.
    private static func readModel(_ topology: hwloc_topology_t) -> String? {
        let candidates = objects(topology, HWLOC_OBJ_PACKAGE) + [hwloc_get_root_obj(topology)].compactMap { $0 }
        for object in candidates {
            if let text = hwloc_obj_get_info_by_name(object, "CPUModel") {
                let model = String(cString: text).trimmingWhitespace()
                if !model.isEmpty { return model }
            }
        }
        return nil
    }

    private static func objects(_ topology: hwloc_topology_t, _ type: hwloc_obj_type_t) -> [hwloc_obj_t] {
        let count = hwloc_get_nbobjs_by_type(topology, type)
        guard count > 0 else { return [] }
        return (0..<UInt32(count)).compactMap { hwloc_get_obj_by_type(topology, type, $0) }
    }

    private static func osIndex(_ object: hwloc_obj_t) -> Int? {
        let index = object.pointee.os_index
        return index == UInt32.max ? nil : Int(index)  // HWLOC_UNKNOWN_INDEX is (unsigned)-1
    }
}

extension String {
    fileprivate func trimmingWhitespace() -> String {
        var scalars = Substring(self)
        while scalars.first?.isWhitespace == true { scalars.removeFirst() }
        while scalars.last?.isWhitespace == true { scalars.removeLast() }
        return String(scalars)
    }
}
