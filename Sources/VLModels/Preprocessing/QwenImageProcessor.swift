import VLImage

/// The patch grid of one image: temporal groups × patch rows × patch columns (`image_grid_thw`).
public struct PatchGrid: Sendable, Equatable, Codable {
    /// Temporal patch groups; 1 for a still image.
    public let temporal: Int
    /// Patch rows.
    public let height: Int
    /// Patch columns.
    public let width: Int

    /// A grid of the given extent.
    public init(temporal: Int, height: Int, width: Int) {
        self.temporal = temporal
        self.height = height
        self.width = width
    }

    /// Number of vision patches (rows of `pixel_values`).
    public var patchCount: Int { temporal * height * width }
}

/// One image turned into what the vision tower reads: `pixel_values` and its grid.
public struct ImagePatches: Sendable {
    /// `pixel_values`, C order, shape `[grid.patchCount, patchDimension]`.
    public var values: [Float]
    /// Width of one row: channels × temporal patch × patch × patch.
    public let patchDimension: Int
    /// `image_grid_thw`.
    public let grid: PatchGrid
    /// Size the image was resampled to before patching.
    public let resizedWidth: Int
    /// Size the image was resampled to before patching.
    public let resizedHeight: Int
    /// Language-model tokens this image expands to: patches / merge².
    public let imageTokenCount: Int
}

/// Qwen's image preprocessing: resize, rescale, normalise, repeat into a temporal patch, cut into patches.
///
/// Port of transformers' `Qwen2VLImageProcessorPil._preprocess` (PIL backend), shared by Qwen2-VL, Qwen2.5-VL,
/// Qwen3-VL and Qwen3.5; only the config constants differ. The input is an already decoded RGB image
/// (transparency composited onto white, EXIF orientation applied: see `VLImage.ImageDecoder`).
public struct QwenImageProcessor: Sendable {
    /// The effective configuration (checkpoint values with any per-call budget applied).
    public let config: ImageProcessorConfig
    /// Byte value → normalised float, per channel: `(float32(v * rescale) - mean) / std`.
    private let normalisation: [[Float]]

    /// A processor for `config`; apply a ``VisualTokenBudget`` to the config first to override its pixel limits.
    public init(config: ImageProcessorConfig) {
        self.config = config
        normalisation = (0..<3).map { channel in
            (0...255).map { byte -> Float in
                // transformers' `rescale`: float64 product, then cast to float32; `normalize` runs in float32.
                var value = config.doRescale ? Float(Double(byte) * config.rescaleFactor) : Float(byte)
                if config.doNormalize {
                    value = (value - Float(config.imageMean[channel])) / Float(config.imageStd[channel])
                }
                return value
            }
        }
    }

    /// The size `image` will be resampled to; `source` names the image in errors.
    public func targetSize(width: Int, height: Int, source: String) throws(ModelError) -> (width: Int, height: Int) {
        guard
            let size = SmartResize.targetSize(
                height: height, width: width, factor: config.factor,
                minPixels: config.minPixels, maxPixels: config.maxPixels)
        else {
            throw .aspectRatioTooLarge(
                source: source, width: width, height: height, limit: SmartResize.maximumAspectRatio)
        }
        return (size.width, size.height)
    }

    /// `pixel_values` and `image_grid_thw` for one still image; `source` names the image in errors.
    public func preprocess(_ image: RGBImage, source: String) throws(ModelError) -> ImagePatches {
        let target = try targetSize(width: image.width, height: image.height, source: source)
        let resized = BicubicResampler.resize(image, width: target.width, height: target.height)
        let patch = config.patchSize
        let merge = config.mergeSize
        let grid = PatchGrid(temporal: 1, height: target.height / patch, width: target.width / patch)
        return ImagePatches(
            values: patchify(resized, grid: grid),
            patchDimension: config.patchDimension, grid: grid,
            resizedWidth: target.width, resizedHeight: target.height,
            imageTokenCount: grid.patchCount / (merge * merge))
    }

    /// Cuts the normalised image into patch rows in the reference order.
    ///
    /// transformers reshapes the `(T, C, H, W)` frames to `(gt, T, C, gh/m, m, p, gw/m, m, p)` and permutes to
    /// `(gt, gh/m, gw/m, m, m, C, T, p, p)`: rows run over merge blocks in raster order, then the m×m patches of a
    /// block in raster order; a row holds channel-major, then frame, then pixel row, then pixel column. The T
    /// frames of a still image are identical copies.
    func patchify(_ image: RGBImage, grid: PatchGrid) -> [Float] {
        let patch = config.patchSize
        let merge = config.mergeSize
        let frames = config.temporalPatchSize
        let planeSize = patch * patch
        let rowWidth = config.patchDimension
        var values = [Float](repeating: 0, count: grid.patchCount * rowWidth)
        image.pixels.withUnsafeBufferPointer { pixels in
            values.withUnsafeMutableBufferPointer { out in
                var row = 0
                for blockRow in 0..<(grid.height / merge) {
                    for blockColumn in 0..<(grid.width / merge) {
                        for innerRow in 0..<merge {
                            for innerColumn in 0..<merge {
                                let top = (blockRow * merge + innerRow) * patch
                                let left = (blockColumn * merge + innerColumn) * patch
                                for channel in 0..<3 {
                                    let table = normalisation[channel]
                                    let plane = row * rowWidth + channel * frames * planeSize
                                    for y in 0..<patch {
                                        let source = ((top + y) * image.width + left) * 3 + channel
                                        for x in 0..<patch {
                                            out[plane + y * patch + x] = table[Int(pixels[source + x * 3])]
                                        }
                                    }
                                    for frame in 1..<frames {
                                        let copy = plane + frame * planeSize
                                        for i in 0..<planeSize { out[copy + i] = out[plane + i] }
                                    }
                                }
                                row += 1
                            }
                        }
                    }
                }
            }
        }
        return values
    }
}
