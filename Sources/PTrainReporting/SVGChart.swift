import Foundation
import PTrain

/// A minimal line chart in SVG (no dependencies): series of (x, y) points on
/// linear axes with ticks, a legend and axis titles. Used for scaling charts
/// and training curves.
public struct SVGChart: Sendable {
    public struct Series: Sendable {
        public let name: String
        public let points: [(Double, Double)]
        public let color: String
        public let dashed: Bool
        public init(name: String, points: [(Double, Double)], color: String, dashed: Bool = false) {
            self.name = name; self.points = points; self.color = color; self.dashed = dashed
        }
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [Series]

    public init(title: String, xLabel: String, yLabel: String, series: [Series]) {
        self.title = title; self.xLabel = xLabel; self.yLabel = yLabel; self.series = series
    }

    public func render(width: Double = 640, height: Double = 400) -> String {
        let left = 70.0, right = 20.0, top = 40.0, bottom = 50.0
        let all = series.flatMap(\.points)
        let xs = all.map(\.0), ys = all.map(\.1)
        let (x0, x1) = niceRange(xs.min() ?? 0, xs.max() ?? 1)
        let (y0, y1) = niceRange(min(0, ys.min() ?? 0), ys.max() ?? 1)
        func px(_ x: Double) -> Double { left + (x - x0) / max(x1 - x0, 1e-12) * (width - left - right) }
        func py(_ y: Double) -> Double { height - bottom - (y - y0) / max(y1 - y0, 1e-12) * (height - top - bottom) }
        var out = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        out += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        out += "<text x=\"\(width / 2)\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">\(escape(title))</text>\n"
        for i in 0...5 {
            let y = y0 + (y1 - y0) * Double(i) / 5, yy = py(y)
            out += "<line x1=\"\(left)\" y1=\"\(yy)\" x2=\"\(width - right)\" y2=\"\(yy)\" stroke=\"#ddd\"/>\n"
            out += "<text x=\"\(left - 6)\" y=\"\(yy + 4)\" text-anchor=\"end\">\(Self.tickLabel(y))</text>\n"
            let x = x0 + (x1 - x0) * Double(i) / 5, xx = px(x)
            out += "<text x=\"\(xx)\" y=\"\(height - bottom + 18)\" text-anchor=\"middle\">\(Self.tickLabel(x))</text>\n"
        }
        out += "<line x1=\"\(left)\" y1=\"\(height - bottom)\" x2=\"\(width - right)\" y2=\"\(height - bottom)\" stroke=\"black\"/>\n"
        out += "<line x1=\"\(left)\" y1=\"\(top)\" x2=\"\(left)\" y2=\"\(height - bottom)\" stroke=\"black\"/>\n"
        out += "<text x=\"\((left + width - right) / 2)\" y=\"\(height - 12)\" text-anchor=\"middle\">\(escape(xLabel))</text>\n"
        out += "<text x=\"16\" y=\"\((top + height - bottom) / 2)\" text-anchor=\"middle\" transform=\"rotate(-90 16 \((top + height - bottom) / 2))\">\(escape(yLabel))</text>\n"
        for (i, s) in series.enumerated() {
            let path = s.points.map { "\(px($0.0)),\(py($0.1))" }.joined(separator: " ")
            out += "<polyline fill=\"none\" stroke=\"\(s.color)\" stroke-width=\"2\"\(s.dashed ? " stroke-dasharray=\"6 4\"" : "") points=\"\(path)\"/>\n"
            for p in s.points where s.points.count < 40 {
                out += "<circle cx=\"\(px(p.0))\" cy=\"\(py(p.1))\" r=\"3\" fill=\"\(s.color)\"/>\n"
            }
            let ly = top + 8 + Double(i) * 16
            out += "<line x1=\"\(left + 10)\" y1=\"\(ly)\" x2=\"\(left + 34)\" y2=\"\(ly)\" stroke=\"\(s.color)\" stroke-width=\"2\"\(s.dashed ? " stroke-dasharray=\"6 4\"" : "")/>\n"
            out += "<text x=\"\(left + 40)\" y=\"\(ly + 4)\">\(escape(s.name))</text>\n"
        }
        return out + "</svg>\n"
    }

    private func niceRange(_ lo: Double, _ hi: Double) -> (Double, Double) {
        if hi <= lo { return (lo - 1, lo + 1) }
        let span = hi - lo, step = pow(10, floor(log10(span / 5)))
        return (floor(lo / step) * step, ceil(hi / step) * step)
    }

    /// A tick value as printed on an axis: whole numbers without decimals
    /// (epochs `1`, `8`, not `1.00`), others with the decimals they need, up
    /// to 6 (`2.4`, `0.25`); the rounding noise of `x0 + step * i` is dropped.
    package static func tickLabel(_ v: Double) -> String {
        var text = String(format: "%.6f", v)
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text == "-0" ? "0" : text
    }

    private func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}
