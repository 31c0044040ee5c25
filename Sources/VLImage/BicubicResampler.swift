/// Antialiased bicubic resampling that reproduces Pillow's `Image.resize(size, Image.BICUBIC)` for 8-bit images.
///
/// Port of Pillow `src/libImaging/Resample.c` (`precompute_coeffs`, `normalize_coeffs_8bpc`,
/// `ImagingResampleHorizontal_8bpc`, `ImagingResampleVertical_8bpc`): a separable filter whose support grows
/// with the downscale factor (that is the antialiasing), weights quantised to 22-bit fixed point, the horizontal
/// passes one after the other through an 8-bit intermediate image. The integer arithmetic is exact, so the result
/// equals Pillow 13's byte for byte; only the order of the additions differs (integer sums are associative).
public enum BicubicResampler {
    /// Fixed-point precision of the weights: Pillow's `PRECISION_BITS = 32 - 8 - 2`.
    static let precisionBits: Int32 = 22

    /// Resizes `image` to `width` × `height`; returns the image itself when the size is unchanged (as Pillow does).
    public static func resize(_ image: RGBImage, width: Int, height: Int) -> RGBImage {
        precondition(width > 0 && height > 0, "target size must be positive")
        if width == image.width && height == image.height { return image }
        let horizontal = FilterBank(inputSize: image.width, outputSize: width)
        let vertical = FilterBank(inputSize: image.height, outputSize: height)
        // Pillow 13 `ImagingResampleInner` runs the vertical pass first when the height shrinks by more than twice
        // as many pixels as the width (older Pillow always went horizontal first). The order changes the result
        // because the intermediate image is rounded to 8 bits.
        let heightReduction = image.height - height
        if heightReduction > 0 && heightReduction > (image.width - width) * 2 {
            let shortened = resampleColumns(image, filter: vertical, rowOffset: 0)
            return width == image.width ? shortened : resampleRows(shortened, filter: horizontal, rows: 0..<height)
        }
        if width == image.width { return resampleColumns(image, filter: vertical, rowOffset: 0) }
        // Only the source rows some output row reads need the horizontal pass (Pillow's ybox_first/ybox_last).
        let firstRow = vertical.starts[0]
        let endRow = vertical.starts[height - 1] + vertical.counts[height - 1]
        let narrowed = resampleRows(image, filter: horizontal, rows: firstRow..<endRow)
        return height == image.height ? narrowed : resampleColumns(narrowed, filter: vertical, rowOffset: firstRow)
    }

    /// Horizontal pass over `rows` of the source: every output pixel is a weighted sum of a run of input pixels.
    static func resampleRows(_ image: RGBImage, filter: FilterBank, rows: Range<Int>) -> RGBImage {
        let outWidth = filter.outputSize
        var output = [UInt8](repeating: 0, count: rows.count * outWidth * 3)
        let rounding: Int32 = 1 << (precisionBits - 1)
        image.pixels.withUnsafeBufferPointer { input in
            output.withUnsafeMutableBufferPointer { out in
                filter.weights.withUnsafeBufferPointer { weights in
                    for (outRow, inRow) in rows.enumerated() {
                        let inBase = inRow * image.width * 3
                        let outBase = outRow * outWidth * 3
                        for x in 0..<outWidth {
                            let taps = weights.baseAddress! + x * filter.kernelSize
                            var source = inBase + filter.starts[x] * 3
                            var red = rounding
                            var green = rounding
                            var blue = rounding
                            for tap in 0..<filter.counts[x] {
                                let weight = taps[tap]
                                red &+= Int32(input[source]) &* weight
                                green &+= Int32(input[source + 1]) &* weight
                                blue &+= Int32(input[source + 2]) &* weight
                                source += 3
                            }
                            out[outBase + x * 3] = clip8(red)
                            out[outBase + x * 3 + 1] = clip8(green)
                            out[outBase + x * 3 + 2] = clip8(blue)
                        }
                    }
                }
            }
        }
        return RGBImage(width: outWidth, height: rows.count, pixels: output)
    }

    /// Vertical pass: output row `y` is a weighted sum of a run of rows of `image`, whose first row is source row
    /// `rowOffset` (the horizontal pass may have skipped rows no output reads).
    ///
    /// Accumulates whole rows at a time (one weight times one contiguous row), which the compiler vectorises;
    /// Pillow walks down columns instead, with the same integer result.
    static func resampleColumns(_ image: RGBImage, filter: FilterBank, rowOffset: Int) -> RGBImage {
        let rowBytes = image.width * 3
        var output = [UInt8](repeating: 0, count: filter.outputSize * rowBytes)
        var accumulator = [Int32](repeating: 0, count: rowBytes)
        let rounding: Int32 = 1 << (precisionBits - 1)
        image.pixels.withUnsafeBufferPointer { input in
            output.withUnsafeMutableBufferPointer { out in
                accumulator.withUnsafeMutableBufferPointer { acc in
                    for y in 0..<filter.outputSize {
                        for i in 0..<rowBytes { acc[i] = rounding }
                        let taps = y * filter.kernelSize
                        let firstRow = filter.starts[y] - rowOffset
                        for tap in 0..<filter.counts[y] {
                            let weight = filter.weights[taps + tap]
                            let row = input.baseAddress! + (firstRow + tap) * rowBytes
                            for i in 0..<rowBytes { acc[i] &+= Int32(row[i]) &* weight }
                        }
                        let outRow = y * rowBytes
                        for i in 0..<rowBytes { out[outRow + i] = clip8(acc[i]) }
                    }
                }
            }
        }
        return RGBImage(width: image.width, height: filter.outputSize, pixels: output)
    }

    /// Pillow's `clip8`: drop the fraction bits and saturate to 0…255.
    @inline(__always)
    static func clip8(_ value: Int32) -> UInt8 {
        if value >= (1 << precisionBits) << 8 { return 255 }
        if value <= 0 { return 0 }
        return UInt8(truncatingIfNeeded: value >> precisionBits)
    }
}

/// The per-output-pixel filter weights along one axis, quantised to fixed point (Pillow's `precompute_coeffs`).
struct FilterBank {
    let outputSize: Int
    /// Taps reserved per output pixel: `ceil(support) * 2 + 1`.
    let kernelSize: Int
    /// First input index read by each output pixel.
    let starts: [Int]
    /// Number of input pixels read by each output pixel.
    let counts: [Int]
    /// `outputSize * kernelSize` weights in units of 2^-22; unused taps are zero.
    let weights: [Int32]

    init(inputSize: Int, outputSize: Int) {
        let scale = Double(inputSize) / Double(outputSize)
        // Downscaling widens the kernel by the scale factor: this is what makes the filter antialiased.
        let filterScale = max(scale, 1.0)
        let support = BicubicResampler.cubicSupport * filterScale
        let kernelSize = Int(support.rounded(.up)) * 2 + 1
        var starts = [Int](repeating: 0, count: outputSize)
        var counts = [Int](repeating: 0, count: outputSize)
        var weights = [Int32](repeating: 0, count: outputSize * kernelSize)
        var real = [Double](repeating: 0, count: kernelSize)
        for outIndex in 0..<outputSize {
            let center = (Double(outIndex) + 0.5) * scale
            // C casts truncate toward zero; both bounds are clamped to the image afterwards.
            let first = max(Int(center - support + 0.5), 0)
            let end = min(Int(center + support + 0.5), inputSize)
            let count = end - first
            var total = 0.0
            for tap in 0..<count {
                let weight = BicubicResampler.cubic((Double(tap + first) - center + 0.5) / filterScale)
                real[tap] = weight
                total += weight
            }
            for tap in 0..<count {
                let normalised = total != 0 ? real[tap] / total : real[tap]
                // normalize_coeffs_8bpc: round half away from zero through a C cast.
                let fixed = normalised * Double(1 << BicubicResampler.precisionBits)
                weights[outIndex * kernelSize + tap] = Int32(fixed < 0 ? fixed - 0.5 : fixed + 0.5)
            }
            starts[outIndex] = first
            counts[outIndex] = count
        }
        self.outputSize = outputSize
        self.kernelSize = kernelSize
        self.starts = starts
        self.counts = counts
        self.weights = weights
    }
}

extension BicubicResampler {
    /// Half-width of the bicubic kernel before scaling (Pillow's `bicubic` filter support).
    static let cubicSupport = 2.0

    /// Keys' cubic convolution kernel with `a = -0.5` (Pillow's `bicubic_filter`).
    static func cubic(_ x: Double) -> Double {
        let a = -0.5
        let x = abs(x)
        if x < 1.0 { return ((a + 2.0) * x - (a + 3.0)) * x * x + 1 }
        if x < 2.0 { return (((x - 5) * x + 8) * x - 4) * a }
        return 0.0
    }
}
