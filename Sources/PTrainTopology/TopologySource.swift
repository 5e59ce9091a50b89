import CHwloc

/// Where a `CPUTopology` comes from: this machine (hwloc's discovery), or a
/// simulated machine, to show what ptrain would do on hardware it is not
/// running on: an hwloc synthetic description (`pack:2 numa:2 core:16 pu:2`,
/// levels from the root down, each with its count per parent) or an hwloc
/// XML export (`lstopo machine.xml` on the real machine).
public enum TopologySource: Sendable, Equatable {
    case thisMachine
    case synthetic(String)
    case xml(path: String)

    /// How messages name it: "the CPU topology", "synthetic topology "pack:2 core:4"".
    var name: String {
        switch self {
        case .thisMachine: "the CPU topology"
        case let .synthetic(description): "synthetic topology \"\(description)\""
        case let .xml(path): "topology XML \(path)"
        }
    }

    /// The model line: hwloc's CPUModel (`found`) for this machine; for a
    /// simulated one, what it was simulated from first, so no output can be
    /// taken for this machine's: `synthetic "pack:2 core:4 pu:1"`,
    /// `XML m.xml: AMD EPYC 7742`.
    func model(found: String?) -> String? {
        switch self {
        case .thisMachine: found
        case let .synthetic(description): "synthetic \"\(description)\""
        case let .xml(path): "XML \(path)" + (found.map { ": \($0)" } ?? "")
        }
    }

    /// Points `topology` (initialised, not loaded) at this source. hwloc
    /// reports a bad description or file only as -1 and errno (its own
    /// explanation goes to stderr, when at all), so the message names the
    /// input, what was expected and errno's text.
    func select(in topology: hwloc_topology_t) throws {
        switch self {
        case .thisMachine:
            return
        case let .synthetic(description):
            guard hwloc_topology_set_synthetic(topology, description) == 0 else {
                throw TopologyError("--synthetic \"\(description)\": hwloc_topology_set_synthetic rejected it (\(systemReason())); "
                    + "expected levels such as \"pack:2 numa:2 core:16 pu:2\" (type:count per parent, root first)")
            }
        case let .xml(path):
            guard hwloc_topology_set_xml(topology, path) == 0 else {
                throw TopologyError("--xml \(path): hwloc_topology_set_xml cannot read it as a topology (\(systemReason())); "
                    + "expected an hwloc XML export such as `lstopo machine.xml` writes")
            }
        }
    }
}
