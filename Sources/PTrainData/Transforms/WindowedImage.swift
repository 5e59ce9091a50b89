/// The image between two steps of a TransformChain, kept lazily so that
/// crops, flips and lighting cost nothing until a step needs real pixels:
/// a window of `height x width` at (`top`, `left`) on the stored image
/// (the source bytes, or a float CHW scratch buffer), seen mirrored
/// left-right when `mirrored`. Window pixels outside the stored image are
/// padding of value `padFill`; stored pixels are read as `value + shift`
/// (per channel, in [0, 1] units: pending lighting, which commutes with
/// crops, flips and resizes).
struct WindowedImage {
    enum Storage: Equatable { case source, buffer(Int) }

    var storage = Storage.source
    /// Size of the stored image.
    var storedHeight: Int, storedWidth: Int
    let channels: Int
    /// The window, in coordinates of the (possibly mirrored) stored image.
    var top = 0, left = 0, height: Int, width: Int
    var mirrored = false
    var shift = SIMD4<Float>.zero, padFill = SIMD4<Float>.zero

    init(_ image: PixelView) {
        storedHeight = image.height; storedWidth = image.width; channels = image.channels
        height = image.height; width = image.width
    }

    /// The window reaches outside the stored image.
    var hasPadding: Bool { top < 0 || left < 0 || top + height > storedHeight || left + width > storedWidth }
    /// The window is exactly the stored image.
    var isWhole: Bool { top == 0 && left == 0 && height == storedHeight && width == storedWidth }

    /// Cuts `height x width` at (`top`, `left`) of the current image; parts
    /// outside it become zero padding.
    mutating func crop(top dy: Int, left dx: Int, height h: Int, width w: Int, _ image: PixelView, _ scratch: TransformScratch) {
        let addsPadding = dy < 0 || dx < 0 || dy + h > height || dx + w > width
        if addsPadding {
            // The new zeros must hide stored pixels outside the current window, and
            // older padding (lit to another value) cannot share their fill: bake the window first.
            if !isWhole { materialise(image, scratch) }
            padFill = .zero
        }
        top += dy; left += dx; height = h; width = w
    }

    /// Mirrors the current image left-right.
    mutating func flip() {
        left = storedWidth - left - width
        mirrored.toggle()
    }

    /// Resizes the current image to `h x w` (antialiased bilinear), into the free buffer.
    mutating func resize(height h: Int, width w: Int, _ image: PixelView, _ scratch: TransformScratch) {
        if hasPadding { materialise(image, scratch) }
        // The filter is symmetric, so a mirrored window is the mirror of the resized unmirrored region.
        let columns = mirrored ? storedWidth - left - width ..< storedWidth - left : left ..< left + width
        let rows = top ..< top + height
        let slot = freeSlot
        let output = scratch.images[slot].reserve(channels * h * w)
        switch storage {
        case .source:
            resizeRegion(image.pixels, strides: image.strides, channels: channels, rows: rows, columns: columns,
                         valueScale: 1 / image.maxValue, into: output, height: h, width: w, scratch: scratch)
        case .buffer(let s):
            resizeRegion(UnsafePointer(scratch.images[s].pointer), strides: .planar(height: storedHeight, width: storedWidth),
                         channels: channels, rows: rows, columns: columns, valueScale: 1,
                         into: output, height: h, width: w, scratch: scratch)
        }
        storage = .buffer(slot)
        storedHeight = h; storedWidth = w; top = 0; left = 0; height = h; width = w
    }

    /// Makes the window's pixels (shift applied) the whole stored float image,
    /// so that per-pixel steps can work in place; mirroring is kept as a flag
    /// (those steps do not depend on position).
    mutating func prepareForPixels(_ image: PixelView, _ scratch: TransformScratch) -> UnsafeMutablePointer<Float> {
        if storage == .source || !isWhole || shift != .zero { materialise(image, scratch) }
        guard case .buffer(let s) = storage else { preconditionFailure("materialise leaves a buffer") }
        return scratch.images[s].pointer
    }

    /// Writes the window into the free buffer and makes it the stored image.
    private mutating func materialise(_ image: PixelView, _ scratch: TransformScratch) {
        let slot = freeSlot
        write(image, scratch, into: scratch.images[slot].reserve(channels * height * width), scale: .one, offset: .zero)
        storage = .buffer(slot)
        storedHeight = height; storedWidth = width; top = 0; left = 0
        mirrored = false; shift = .zero; padFill = .zero
    }

    /// The scratch buffer not holding the stored image.
    private var freeSlot: Int { storage == .buffer(0) ? 1 : 0 }

    /// Writes the window as float CHW (`channels x height x width`) into
    /// `output`, each value `v` (in [0, 1] units, shift added) as `v * scale[c] + offset[c]`.
    func write(_ image: PixelView, _ scratch: TransformScratch, into output: UnsafeMutablePointer<Float>,
               scale: SIMD4<Float>, offset: SIMD4<Float>) {
        switch storage {
        case .source:
            write(image.pixels, strides: image.strides, valueScale: 1 / image.maxValue, into: output, scale: scale, offset: offset)
        case .buffer(let s):
            write(UnsafePointer(scratch.images[s].pointer), strides: .planar(height: storedHeight, width: storedWidth),
                  valueScale: 1, into: output, scale: scale, offset: offset)
        }
    }

    private func write<T: PixelSample>(_ source: UnsafePointer<T>, strides: PixelStrides, valueScale: Float,
                                       into output: UnsafeMutablePointer<Float>, scale: SIMD4<Float>, offset: SIMD4<Float>) {
        // Columns of the window that fall inside the stored image: [first, last).
        let first = min(max(0, -left), width), last = max(first, min(width, storedWidth - left))
        let step = mirrored ? -strides.column : strides.column
        for c in 0..<channels {
            let k = valueScale * scale[c], o = shift[c] * scale[c] + offset[c], pad = padFill[c] * scale[c] + offset[c]
            for y in 0..<height {
                let row = output + (c * height + y) * width
                let sy = top + y
                guard sy >= 0 && sy < storedHeight else { row.update(repeating: pad, count: width); continue }
                row.update(repeating: pad, count: first)
                (row + last).update(repeating: pad, count: width - last)
                let column = mirrored ? storedWidth - 1 - (left + first) : left + first
                let src = source + c * strides.channel + sy * strides.row + column * strides.column
                let dst = row + first
                if step == 1 {
                    for x in 0..<(last - first) { dst[x] = src[x].floatValue * k + o }
                } else {
                    for x in 0..<(last - first) { dst[x] = src[x * step].floatValue * k + o }
                }
            }
        }
    }
}
