/// Formats a byte count in binary units ("32 KiB", "1 MiB", "7.8 GiB"): whole
/// numbers when exact (cache sizes always are), else one decimal, rounded.
/// Done by hand rather than with a formatter so the text is locale-independent.
package func formatBytes(_ bytes: Int) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
    var unit = 0
    var scale = 1
    while unit + 1 < units.count && bytes >= scale * 1024 {
        scale *= 1024
        unit += 1
    }
    if bytes % scale == 0 { return "\(bytes / scale) \(units[unit])" }
    let tenths = (bytes * 10 + scale / 2) / scale
    return "\(tenths / 10).\(tenths % 10) \(units[unit])"
}
