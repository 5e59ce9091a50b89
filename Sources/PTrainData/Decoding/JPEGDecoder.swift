import CTurboJPEG

/// JPEG decoding through libjpeg-turbo's TurboJPEG API, with one
/// decompressor handle reused for every image.
///
/// Any -1 from TurboJPEG is an error here, warnings included: libjpeg-turbo
/// calls a truncated file or corrupt entropy data a *warning*
/// (`tjGetErrorCode` = TJERR_WARNING) and would return grey-filled pixels;
/// TJFLAG_STOPONWARNING makes it stop at the first one.
final class JPEGDecoder {
    private let handle: tjhandle
    /// TurboJPEG's DCT-domain scaling factors no larger than 1 (1/8, 2/8, ... 8/8).
    private let factors: [tjscalingfactor]

    init() {
        // Fails only when malloc does; there is nothing to report to a user.
        guard let handle = tjInitDecompress() else { fatalError("tjInitDecompress: out of memory") }
        self.handle = handle
        var count: Int32 = 0
        let all = tjGetScalingFactors(&count)
        factors = (0..<Int(count)).compactMap { all?[$0] }.filter { $0.num <= $0.denom }
    }

    deinit { tjDestroy(handle) }

    /// Decodes `bytes` (a JPEG, by its signature) into `pixels` at the smallest
    /// scale whose shorter side is still ≥ `minimumShorterSide` (full size
    /// when nil, or when even full size is below it).
    func decode(_ bytes: UnsafeRawBufferPointer, path: String, channels: Int, minimumShorterSide: Int?,
                into pixels: ReusableBuffer) throws -> DecodedImage {
        let source = bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
        var fullWidth: Int32 = 0, fullHeight: Int32 = 0, subsampling: Int32 = 0, colorspace: Int32 = 0
        guard tjDecompressHeader3(handle, source, UInt(bytes.count), &fullWidth, &fullHeight, &subsampling, &colorspace) == 0 else {
            throw failure(path)
        }
        let (width, height) = scaledSize(width: Int(fullWidth), height: Int(fullHeight), minimumShorterSide: minimumShorterSide)
        try ImageDecoder.checkSize(width: Int(fullWidth), height: Int(fullHeight), path: path)
        let cmyk = colorspace == Int32(TJCS_CMYK.rawValue) || colorspace == Int32(TJCS_YCCK.rawValue)
        let gray = colorspace == Int32(TJCS_GRAY.rawValue)
        // Colour is always decoded to RGB (or CMYK) and reduced to gray here, by
        // PIL's formula: libjpeg's own gray output would keep the luma channel,
        // which differs from PIL's convert("L") by rounding.
        let format = cmyk ? TJPF_CMYK : (gray && channels == 1 ? TJPF_GRAY : TJPF_RGB)
        let formatChannels = cmyk ? 4 : (format == TJPF_GRAY ? 1 : 3)
        pixels.reserve(width * height * formatChannels)
        guard tjDecompress2(handle, source, UInt(bytes.count), pixels.base, Int32(width), 0, Int32(height),
                            Int32(format.rawValue), TJFLAG_STOPONWARNING) == 0 else {
            throw failure(path)
        }
        if cmyk { PixelConversion.invertedCMYKToRGB(pixels.base, count: width * height) }
        if channels == 1 && formatChannels > 1 { PixelConversion.rgbToGray(pixels.base, count: width * height) }
        return DecodedImage(width: width, height: height, channels: channels, pixels: pixels.base,
                            storedChannels: gray ? 1 : 3)
    }

    /// The size TurboJPEG decodes to for the smallest factor num/denom ≤ 1 whose
    /// scaled shorter side is ≥ `minimumShorterSide` (TJSCALED: ceil(side·num/denom)).
    func scaledSize(width: Int, height: Int, minimumShorterSide: Int?) -> (width: Int, height: Int) {
        var best = (width: width, height: height)
        guard let minimumShorterSide else { return best }
        for factor in factors {
            let num = Int(factor.num), denom = Int(factor.denom)
            let w = (width * num + denom - 1) / denom, h = (height * num + denom - 1) / denom
            if min(w, h) >= minimumShorterSide && w * h < best.width * best.height { best = (w, h) }
        }
        return best
    }

    /// `PATH: truncated JPEG (libjpeg-turbo: Premature end of JPEG file)` or
    /// `PATH: corrupt JPEG (libjpeg-turbo: ...)`, with libjpeg-turbo's message.
    private func failure(_ path: String) -> DataError {
        let message = String(cString: tjGetErrorStr2(handle))
        let kind = message.hasPrefix("Premature end of JPEG file") ? "truncated" : "corrupt"
        return DataError("\(path): \(kind) JPEG (libjpeg-turbo: \(message))")
    }
}
