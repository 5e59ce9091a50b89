import Foundation
import PTrain

/// Progress output: on a terminal, one live line rewritten in place (at most
/// every half second); otherwise plain lines at the configured interval, no
/// control characters. Ordinary log lines go through `line(_:)` so that they
/// never collide with the live line.
public final class ProgressLine {
    public let isTerminal: Bool
    private let write: (String) -> Void
    private var shown = false
    private var lastUpdate = 0.0

    public init(isTerminal: Bool = isatty(STDOUT_FILENO) == 1, write: @escaping (String) -> Void = { text in
        FileHandle.standardOutput.write(Data(text.utf8))
    }) {
        self.isTerminal = isTerminal
        self.write = write
    }

    /// A permanent line.
    public func line(_ text: String) {
        write((shown ? "\r\u{1B}[K" : "") + text + "\n")
        shown = false
    }

    /// The live status; `interval` says it is a plain-output interval boundary.
    public func status(_ text: String, interval: Bool) {
        if isTerminal {
            let now = monotonicSeconds()
            guard now - lastUpdate >= 0.5 || interval else { return }
            lastUpdate = now
            write("\r\u{1B}[K" + text)
            shown = true
        } else if interval {
            write(text + "\n")
        }
    }
}

/// `1h02m`, `3m05s`, `42s`.
public func durationText(_ seconds: Double) -> String {
    guard seconds.isFinite, seconds >= 0 else { return "?" }
    let s = Int(seconds.rounded())
    if s >= 3600 { return String(format: "%dh%02dm", s / 3600, (s % 3600) / 60) }
    if s >= 60 { return String(format: "%dm%02ds", s / 60, s % 60) }
    return "\(s)s"
}
