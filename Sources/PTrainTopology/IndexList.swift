/// Formats indices the way `taskset -c` and `lscpu` do: ascending, with runs
/// collapsed, e.g. [0, 1, 2, 3, 8, 10, 11] -> "0-3,8,10-11". Duplicates are dropped.
package func formatIndexList(_ indices: [Int]) -> String {
    let sorted = Array(Set(indices)).sorted()
    var parts: [String] = []
    var i = 0
    while i < sorted.count {
        var j = i
        while j + 1 < sorted.count && sorted[j + 1] == sorted[j] + 1 { j += 1 }
        parts.append(j == i ? "\(sorted[i])" : "\(sorted[i])-\(sorted[j])")
        i = j + 1
    }
    return parts.joined(separator: ",")
}

/// "PU 3" or "PUs 0,16": the label every message uses for a core's PUs.
package func formatPUs(_ pus: [Int]) -> String {
    pus.count == 1 ? "PU \(pus[0])" : "PUs \(formatIndexList(pus))"
}
