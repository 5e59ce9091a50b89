import CZlib

// PNG files built byte by byte (chunks, zlib from CZlib, no libpng), so the
// decoder is checked against the format rather than against the encoder it
// shares a library with. Every scanline uses filter 0 (none).

/// A PNG of `width`×`height` whose pixel (x, y) has the samples `samples(x, y)`
/// (values in `0..<2^bitDepth`; palette indices for colour type 3), packed
/// big-endian at `bitDepth` bits; Adam7-interlaced when `interlaced`.
func handmadePNG(width: Int, height: Int, bitDepth: Int, colorType: UInt8, interlaced: Bool = false,
                 palette: [UInt8]? = nil, transparency: [UInt8]? = nil, samples: (Int, Int) -> [Int]) -> [UInt8] {
    // Adam7 passes: (first x, first y, x step, y step); one pass covering all without interlacing.
    let passes = interlaced
        ? [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
        : [(0, 0, 1, 1)]
    var raw: [UInt8] = []
    for (x0, y0, dx, dy) in passes where x0 < width && y0 < height {
        for y in stride(from: y0, to: height, by: dy) {
            raw.append(0)
            var bits = 0, accumulator = 0
            for x in stride(from: x0, to: width, by: dx) {
                for sample in samples(x, y) {
                    accumulator = accumulator << bitDepth | sample
                    bits += bitDepth
                    while bits >= 8 { bits -= 8; raw.append(UInt8(accumulator >> bits & 0xFF)) }
                }
            }
            if bits > 0 { raw.append(UInt8(accumulator << (8 - bits) & 0xFF)) }
        }
    }
    var length = compressBound(uLong(raw.count))
    var deflated = [UInt8](repeating: 0, count: Int(length))
    _ = deflated.withUnsafeMutableBufferPointer { d in raw.withUnsafeBufferPointer { compress(d.baseAddress!, &length, $0.baseAddress, uLong($0.count)) } }
    let header = bigEndian(UInt32(width)) + bigEndian(UInt32(height)) + [UInt8(bitDepth), colorType, 0, 0, interlaced ? 1 : 0]
    return [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + pngChunk("IHDR", header)
        + (palette.map { pngChunk("PLTE", $0) } ?? []) + (transparency.map { pngChunk("tRNS", $0) } ?? [])
        + pngChunk("IDAT", Array(deflated[0..<Int(length)])) + pngChunk("IEND", [])
}

/// One chunk: length, type, body, CRC-32 of type + body.
func pngChunk(_ type: String, _ body: [UInt8]) -> [UInt8] {
    let typed = Array(type.utf8) + body
    return bigEndian(UInt32(body.count)) + typed + bigEndian(UInt32(typed.withUnsafeBufferPointer { crc32(0, $0.baseAddress, uInt($0.count)) }))
}
