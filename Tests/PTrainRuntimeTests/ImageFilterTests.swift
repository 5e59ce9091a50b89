import Testing
import Foundation
import CZlib
import PTrainData
import PTrainRuntime

/// 4x3 gray image, values chosen so every kernel's result is easy to work out by hand.
let tiny = Image8(width: 4, height: 3, channels: 1, pixels: [10, 20, 30, 40,
                                                              50, 60, 70, 80,
                                                              90, 100, 110, 120])

@Test("classic filters give the hand-computed pixels (zero padding, rounded, clamped to 0...255)")
func classicFilters() {
    // Centre pixel (1,1) = 60; neighbours 10 20 30 / 50 _ 70 / 90 100 110.
    // edge2: 4*60 - (20+50+70+100) = 0.  edge3: 8*60 - (10+20+30+50+70+90+100+110) = 0.
    // sharpen: 5*60 - 240 = 60.  box: (10+20+30+50+60+70+90+100+110)/9 = 60.
    // gaussian: (10+2*20+30+2*50+4*60+2*70+90+2*100+110)/16 = 60.  edge1: 10-30-90+110 = 0.
    for f in ClassicFilter.allCases {
        #expect(f.apply(to: tiny).pixels[5] == (f == .sharpen || f == .box || f == .gaussian ? 60 : 0), "\(f)")
    }
    // Corner (0,0) = 10 with zero padding: sharpen 5*10 - (20+50) = -20 -> clamped to 0;
    // edge3: 80 - (20+50+60) = -50 -> 0; box: (10+20+50+60)/9 = 15.56 -> 16; gaussian: (4*10+2*20+2*50+60)/16 = 15.
    #expect(ClassicFilter.sharpen.apply(to: tiny).pixels[0] == 0)
    #expect(ClassicFilter.box.apply(to: tiny).pixels[0] == 16)
    #expect(ClassicFilter.gaussian.apply(to: tiny).pixels[0] == 15)
    // Corner (2,3) = 120: edge2 4*120 - (80+110) = 290 -> clamped to 255.
    #expect(ClassicFilter.edge2.apply(to: tiny).pixels[11] == 255)
    // RGB: each channel filtered on its own.
    let rgb = Image8(width: 4, height: 3, channels: 3, pixels: tiny.pixels.flatMap { [$0, 255 - $0, 0] })
    let out = ClassicFilter.box.apply(to: rgb)
    #expect(out.pixels[5 * 3] == 60 && out.pixels[5 * 3 + 1] == 195 && out.pixels[5 * 3 + 2] == 0)
}

/// A PNG whose rows use each of the five filter types (encoded here, independently of the reader).
func filteredPNG(_ image: Image8) -> [UInt8] {
    let c = image.channels, stride = image.width * c
    var raw: [UInt8] = []
    for y in 0..<image.height {
        let filter = UInt8(y % 5)
        raw.append(filter)
        for x in 0..<stride {
            let v = Int(image.pixels[y * stride + x])
            let a = x >= c ? Int(image.pixels[y * stride + x - c]) : 0
            let b = y > 0 ? Int(image.pixels[(y - 1) * stride + x]) : 0
            let cc = x >= c && y > 0 ? Int(image.pixels[(y - 1) * stride + x - c]) : 0
            let p = a + b - cc
            let paeth = abs(p - a) <= abs(p - b) && abs(p - a) <= abs(p - cc) ? a : (abs(p - b) <= abs(p - cc) ? b : cc)
            let predictor = [0, a, b, (a + b) / 2, paeth][Int(filter)]
            raw.append(UInt8(truncatingIfNeeded: v - predictor))
        }
    }
    var length = compressBound(uLong(raw.count))
    var z = [UInt8](repeating: 0, count: Int(length))
    _ = z.withUnsafeMutableBufferPointer { d in raw.withUnsafeBufferPointer { compress(d.baseAddress!, &length, $0.baseAddress, uLong($0.count)) } }
    func be32(_ v: Int) -> [UInt8] { [UInt8(v >> 24 & 255), UInt8(v >> 16 & 255), UInt8(v >> 8 & 255), UInt8(v & 255)] }
    func chunk(_ t: String, _ body: [UInt8]) -> [UInt8] {
        let tb = Array(t.utf8) + body
        return be32(body.count) + tb + be32(Int(tb.withUnsafeBufferPointer { crc32(0, $0.baseAddress, uInt($0.count)) }))
    }
    return [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        + chunk("IHDR", be32(image.width) + be32(image.height) + [8, c == 1 ? 0 : 2, 0, 0, 0])
        + chunk("IDAT", Array(z[0..<Int(length)])) + chunk("IEND", [])
}

@Test("PNG (all five row filters), PGM and PPM read back what was written; bad files are DataErrors")
func imageFiles() throws {
    let dir = temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    var rng = CounterRNGForTests(seed: 3)
    let rgb = Image8(width: 7, height: 6, channels: 3, pixels: (0..<126).map { _ in rng.byte() })
    try Data(filteredPNG(rgb)).write(to: dir.appendingPathComponent("f.png"))
    #expect(try ImageFile.read(dir.appendingPathComponent("f.png")) == rgb)
    for (image, name) in [(rgb, "a.png"), (rgb, "a.ppm"), (tiny, "b.pgm"), (tiny, "b.png")] {
        try ImageFile.write(image, to: dir.appendingPathComponent(name))
        #expect(try ImageFile.read(dir.appendingPathComponent(name)) == image, "\(name)")
    }
    try Data("P5\n4 3\n255\n12".utf8).write(to: dir.appendingPathComponent("short.pgm"))
    #expect(throws: DataError("\(dir.appendingPathComponent("short.pgm").path): truncated: 12 pixel bytes expected from offset 11, file has 2")) {
        _ = try ImageFile.read(dir.appendingPathComponent("short.pgm"))
    }
    try Data("GIF89a".utf8).write(to: dir.appendingPathComponent("x.gif"))
    #expect(throws: DataError("\(dir.appendingPathComponent("x.gif").path): byte offset 0: expected a PNG, JPEG, PGM (P5) or PPM (P6) signature, found 47 49 46 38")) {
        _ = try ImageFile.read(dir.appendingPathComponent("x.gif"))
    }
    // JPEG in (through ImageDecoder): a gray file stays gray, a colour one is RGB.
    for image in [tiny, rgb] {
        let url = dir.appendingPathComponent("c\(image.channels).jpg")
        try Data(try ImageEncoder.jpeg(image, quality: 95)).write(to: url)
        let back = try ImageFile.read(url)
        #expect(back.width == image.width && back.height == image.height && back.channels == image.channels)
    }
    #expect(throws: DataError.self) { try ImageFile.write(rgb, to: dir.appendingPathComponent("a.pgm")) }
}

/// Bytes for test images (no dependency on the library's generators).
struct CounterRNGForTests {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func byte() -> UInt8 { state = state &* 6364136223846793005 &+ 1442695040888963407; return UInt8(state >> 56) }
}
