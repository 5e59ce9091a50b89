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

/// Parses what `formatIndexList` writes (and `taskset -c` reads): "0-3,8,10-11"
/// -> [0, 1, 2, 3, 8, 10, 11], ascending, duplicates dropped. `option` names
/// the input in the error: "--cpuset: expected ...; found '3-1'".
package func parseIndexList(_ text: String, option: String) throws -> [Int] {
    let problem = TopologyError("\(option): expected a list of PU numbers such as 0-3,8,10-11; found '\(text)'")
    var result = Set<Int>()
    for part in text.split(separator: ",", omittingEmptySubsequences: false) {
        let ends = part.split(separator: "-", omittingEmptySubsequences: false)
        guard (1...2).contains(ends.count), let lo = Int(ends[0]), let hi = Int(ends[ends.count - 1]),
              lo >= 0, lo <= hi, hi <= Int(Int32.max) else { throw problem }
        result.formUnion(lo...hi)
    }
    return result.sorted()
}
