import CTurboJPEG
import Foundation
import PTrainData
import Testing

@Suite("ImageDecoder: JPEG and PNG through libjpeg-turbo and libpng")
struct ImageDecoderTests {
    @Test func pngRoundTripIsBitwiseEqual() throws {
        for (width, height, channels) in [(7, 5, 3), (31, 17, 1), (1, 1, 3)] {
            let image = testImage(width: width, height: height, channels: channels)
            let png = try ImageEncoder.png(image)
            #expect(try decoded(png, channels: channels) == image, "\(width)x\(height)x\(channels)")
        }
    }

    @Test func jpegQuality100Full444RoundTripIsClose() throws {
        let image = testImage(width: 40, height: 24, channels: 3)
        let back = try decoded(try ImageEncoder.jpeg(image, quality: 100, subsampling: .yuv444), channels: 3)
        #expect(back.width == 40 && back.height == 24 && back.channels == 3)
        #expect(maxDifference(back, image) <= 4)
        let gray = testImage(width: 40, height: 24, channels: 1)
        #expect(maxDifference(try decoded(try ImageEncoder.jpeg(gray, quality: 100), channels: 1), gray) <= 2)
    }

    @Test func decodeAndDecodeFileAgreeAndAReusedDecoderEqualsFreshOnes() throws {
        try withTemporaryDirectory { dir in
            let jpeg = try ImageEncoder.jpeg(testImage(width: 64, height: 48, channels: 3), quality: 90)
            let url = try write(jpeg, "a.jpeg", in: dir)
            let decoder = ImageDecoder()
            let fromFile = try decoder.decodeFile(url.path, channels: 3).image8()
            #expect(fromFile == (try decoded(jpeg, channels: 3)))
            // Different sizes, formats and channel counts through one decoder: each
            // result equals a fresh decoder's, so no state leaks between images.
            let others = [try ImageEncoder.png(testImage(width: 17, height: 33, channels: 3)),
                          try ImageEncoder.jpeg(testImage(width: 200, height: 150, channels: 3), quality: 75),
                          try ImageEncoder.png(testImage(width: 5, height: 3, channels: 1)), jpeg]
            for (i, bytes) in others.enumerated() {
                for channels in [3, 1] {
                    let reused = try bytes.withUnsafeBytes { try decoder.decode($0, path: "mem", channels: channels).image8() }
                    #expect(reused == (try decoded(bytes, channels: channels)), "image \(i), \(channels) channels")
                }
            }
        }
    }

    @Test func dctScalingPicksTheSmallestScaleStillAtLeastTheMinimum() throws {
        let jpeg = try ImageEncoder.jpeg(testImage(width: 512, height: 384, channels: 3), quality: 90)
        func size(_ minimum: Int?) throws -> [Int] {
            let image = try decoded(jpeg, channels: 3, minimumShorterSide: minimum)
            return [image.width, image.height]
        }
        #expect(try size(nil) == [512, 384])
        #expect(try size(96) == [128, 96])     // 1/4: the shorter side exactly the minimum
        #expect(try size(100) == [192, 144])   // 1/4 gives 96 < 100, so 3/8
        #expect(try size(40) == [64, 48])      // 1/8, the smallest factor
        #expect(try size(385) == [512, 384])   // nothing reaches it: full size
        // The scaled decode is the image, smaller: close to a box-filtered reduction.
        let full = try decoded(jpeg, channels: 3), quarter = try decoded(jpeg, channels: 3, minimumShorterSide: 96)
        var box = 0
        for dy in 0..<4 { for dx in 0..<4 { box += Int(full.pixels[((40 * 4 + dy) * 512 + 50 * 4 + dx) * 3]) } }
        #expect(abs(Int(quarter.pixels[(40 * 128 + 50) * 3]) - box / 16) <= 6)
        // PNG has no DCT: always full size.
        let png = try ImageEncoder.png(testImage(width: 20, height: 10, channels: 3))
        #expect(try decoded(png, channels: 3, minimumShorterSide: 2).width == 20)
    }

    @Test func grayAndColourConversionsFollowPIL() throws {
        // Pure red, green, blue: PIL's convert("L") gives 76, 150, 29.
        let primaries = Image8(width: 3, height: 1, channels: 3, pixels: [255, 0, 0, 0, 255, 0, 0, 0, 255])
        #expect(try decoded(try ImageEncoder.png(primaries), channels: 1).pixels == [76, 150, 29])
        let rgb = testImage(width: 9, height: 4, channels: 3)
        let gray = try decoded(try ImageEncoder.png(rgb), channels: 1)
        #expect(gray.pixels == (0..<36).map { pilGray(rgb.pixels[3 * $0], rgb.pixels[3 * $0 + 1], rgb.pixels[3 * $0 + 2]) })
        // Gray to RGB replicates.
        let g = testImage(width: 6, height: 2, channels: 1)
        #expect(try decoded(try ImageEncoder.png(g), channels: 3).pixels == g.pixels.flatMap { [$0, $0, $0] })
        // A colour JPEG to gray: PIL's formula on the RGB decode (not libjpeg's luma channel).
        let jpeg = try ImageEncoder.jpeg(testImage(width: 16, height: 16, channels: 3), quality: 85)
        let colour = try decoded(jpeg, channels: 3)
        #expect(try decoded(jpeg, channels: 1).pixels == (0..<256).map { pilGray(colour.pixels[3 * $0], colour.pixels[3 * $0 + 1], colour.pixels[3 * $0 + 2]) })
        // A gray JPEG to RGB replicates.
        let grayJPEG = try ImageEncoder.jpeg(g, quality: 90)
        #expect(try decoded(grayJPEG, channels: 3).pixels == (try decoded(grayJPEG, channels: 1)).pixels.flatMap { [$0, $0, $0] })
    }

    @Test func pngBitDepthsPalettesAlphaAndInterlacing() throws {
        // 1-, 2-, 4-bit gray expand to 8 bits by scaling (1 -> 255, 2-bit 1 -> 85).
        for depth in [1, 2, 4] {
            let top = (1 << depth) - 1
            let png = handmadePNG(width: 11, height: 3, bitDepth: depth, colorType: 0) { x, y in [(x + y) % (top + 1)] }
            let expected = (0..<33).map { UInt8(($0 % 11 + $0 / 11) % (top + 1) * 255 / top) }
            #expect(try decoded(png, channels: 1).pixels == expected, "\(depth)-bit gray")
        }
        // 16-bit RGB and gray keep each sample's high byte.
        let rgb16 = handmadePNG(width: 4, height: 2, bitDepth: 16, colorType: 2) { x, y in [x * 4000 + 255, y * 30000, 65535] }
        let highBytes: [UInt8] = (0..<8).flatMap { (i: Int) -> [UInt8] in
            let red: Int = (i % 4 * 4000 + 255) >> 8, green: Int = i / 4 * 30000 >> 8
            return [UInt8(red), UInt8(green), 255]
        }
        #expect(try decoded(rgb16, channels: 3).pixels == highBytes)
        let gray16 = handmadePNG(width: 3, height: 1, bitDepth: 16, colorType: 0) { x, _ in [x * 20000 + 511] }
        #expect(try decoded(gray16, channels: 1).pixels == [1, 80, 158])
        // A 4-bit palette with transparency: colours looked up, alpha dropped; gray by PIL's formula.
        let palette: [UInt8] = [255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30]
        let indexed = handmadePNG(width: 5, height: 2, bitDepth: 4, colorType: 3, palette: palette, transparency: [0, 128]) { x, y in [(x + y) % 4] }
        let indices = (0..<10).map { ($0 % 5 + $0 / 5) % 4 }
        #expect(try decoded(indexed, channels: 3).pixels == indices.flatMap { Array(palette[3 * $0..<3 * $0 + 3]) })
        #expect(try decoded(indexed, channels: 1).pixels == indices.map { pilGray(palette[3 * $0], palette[3 * $0 + 1], palette[3 * $0 + 2]) })
        // RGBA and gray + alpha: alpha dropped.
        let rgba = handmadePNG(width: 2, height: 2, bitDepth: 8, colorType: 6) { x, y in [x * 100, y * 100, 7, 3] }
        #expect(try decoded(rgba, channels: 3).pixels == [0, 0, 7, 100, 0, 7, 0, 100, 7, 100, 100, 7])
        let grayAlpha = handmadePNG(width: 2, height: 1, bitDepth: 8, colorType: 4) { x, _ in [x * 200 + 5, 0] }
        #expect(try decoded(grayAlpha, channels: 1).pixels == [5, 205])
        #expect(try decoded(grayAlpha, channels: 3).pixels == [5, 5, 5, 205, 205, 205])
        // Adam7: the same pixels as the plain file, at sizes that leave some passes empty.
        for (width, height) in [(13, 11), (1, 1), (3, 2)] {
            let image = testImage(width: width, height: height, channels: 3)
            let samples = { (x: Int, y: Int) in (0..<3).map { Int(image.pixels[(y * width + x) * 3 + $0]) } }
            let interlaced = handmadePNG(width: width, height: height, bitDepth: 8, colorType: 2, interlaced: true, samples: samples)
            #expect(try decoded(interlaced, channels: 3) == image, "\(width)x\(height) interlaced")
        }
    }

    @Test func cmykAndYCCKJPEGsBecomeRGB() throws {
        // TurboJPEG's CMYK is Adobe's inverted form (255 = no ink); RGB = C·K/255.
        let width = 16, height = 16
        let cmyk: [UInt8] = (0..<(width * height)).flatMap { i -> [UInt8] in i < 128 ? [255, 128, 40, 200] : [90, 255, 255, 255] }
        let handle = try #require(tjInitCompress())
        defer { tjDestroy(handle) }
        var output: UnsafeMutablePointer<UInt8>? = nil
        var size: UInt = 0
        // TJPF_CMYK input is stored as YCCK (libjpeg-turbo's default for CMYK) with an Adobe marker.
        #expect(tjCompress2(handle, cmyk, Int32(width), 0, Int32(height), Int32(TJPF_CMYK.rawValue), &output, &size,
                            Int32(TJSAMP_444.rawValue), 100, 0) == 0)
        let jpeg = Array(UnsafeBufferPointer(start: output, count: Int(size)))
        tjFree(output)
        let rgb = try decoded(jpeg, channels: 3)
        #expect(rgb.channels == 3 && rgb.width == 16)
        let expected = (0..<(width * height)).flatMap { i -> [UInt8] in i < 128 ? [200, 100, 31] : [90, 255, 255] }
        #expect(maxDifference(rgb, Image8(width: width, height: height, channels: 3, pixels: expected)) <= 3)
        let gray = try decoded(jpeg, channels: 1)
        #expect(gray.pixels == (0..<256).map { pilGray(rgb.pixels[3 * $0], rgb.pixels[3 * $0 + 1], rgb.pixels[3 * $0 + 2]) })
    }
}
