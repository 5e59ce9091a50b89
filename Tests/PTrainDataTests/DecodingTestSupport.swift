import PTrainData

// Images for the decoding tests: deterministic, smooth enough for JPEG to
// keep close to them, with per-pixel detail so a shifted row shows.

/// `width`×`height` with `channels` channels: gradients plus a small pattern.
func testImage(width: Int, height: Int, channels: Int) -> Image8 {
    var pixels: [UInt8] = []
    for y in 0..<height {
        for x in 0..<width {
            for c in 0..<channels {
                pixels.append(UInt8((x * 255 / max(width - 1, 1) + y * 97 / max(height, 1) + c * 60 + (x * y) % 7) % 256))
            }
        }
    }
    return Image8(width: width, height: height, channels: channels, pixels: pixels)
}

/// Decodes `bytes` with a fresh decoder into an owned image (copied while
/// the decoder, which owns the pixels, is still alive).
func decoded(_ bytes: [UInt8], channels: Int, minimumShorterSide: Int? = nil, path: String = "mem") throws -> Image8 {
    let decoder = ImageDecoder()
    return try withExtendedLifetime(decoder) {
        try bytes.withUnsafeBytes { try decoder.decode($0, path: path, channels: channels, minimumShorterSide: minimumShorterSide).image8() }
    }
}

/// The largest absolute difference between two images' samples.
func maxDifference(_ a: Image8, _ b: Image8) -> Int {
    zip(a.pixels, b.pixels).map { abs(Int($0) - Int($1)) }.max() ?? 0
}

/// PIL's convert("L") of one RGB pixel, written out as its formula: R·299/1000 + G·587/1000 + B·114/1000.
func pilGray(_ r: UInt8, _ g: UInt8, _ b: UInt8) -> UInt8 {
    let weighted: Int = Int(r) * 19595 + Int(g) * 38470 + Int(b) * 7471
    return UInt8((weighted + 0x8000) >> 16)
}
