import Foundation

/// The fields of a Qwen `preprocessor_config.json` that decide how an image becomes pixel patches.
///
/// Mirrors transformers' `Qwen2VLImageProcessor` (and its PIL twin): Qwen2-VL/2.5-VL checkpoints state the pixel
/// budget as top-level `min_pixels`/`max_pixels`, Qwen3-VL/3.5 ones as `size.shortest_edge`/`size.longest_edge`;
/// the top-level keys win when both are present, as in transformers' constructor. Missing keys take the class
/// defaults (transformers 5.23 `Qwen2VLImageProcessor.__init__`).
public struct ImageProcessorConfig: Sendable, Equatable {
    /// Side of a square vision patch in pixels (14 for Qwen2/2.5-VL, 16 for Qwen3-VL/3.5).
    public var patchSize: Int
    /// Frames per temporal patch; a still image is repeated to fill it.
    public var temporalPatchSize: Int
    /// Patches merged per side into one language-model token.
    public var mergeSize: Int
    /// Smallest number of pixels an image is resized to.
    public var minPixels: Int
    /// Largest number of pixels an image is resized to.
    public var maxPixels: Int
    /// Whether bytes are scaled by `rescaleFactor` (`do_rescale`).
    public var doRescale: Bool
    /// Scale applied to 0…255 values, normally 1/255.
    public var rescaleFactor: Double
    /// Whether `(x - mean) / std` is applied (`do_normalize`).
    public var doNormalize: Bool
    /// Per-channel mean, RGB.
    public var imageMean: [Double]
    /// Per-channel standard deviation, RGB.
    public var imageStd: [Double]

    /// Pixels per side of one language-model token: `patchSize * mergeSize`.
    public var factor: Int { patchSize * mergeSize }

    /// Width of one row of `pixel_values`: channels × temporal patch × patch × patch.
    public var patchDimension: Int { 3 * temporalPatchSize * patchSize * patchSize }

    /// The class defaults of transformers' `Qwen2VLImageProcessor`.
    public static let transformersDefaults = ImageProcessorConfig(
        patchSize: 14, temporalPatchSize: 2, mergeSize: 2, minPixels: 56 * 56, maxPixels: 28 * 28 * 1280,
        doRescale: true, rescaleFactor: 1.0 / 255.0, doNormalize: true,
        imageMean: [0.48145466, 0.4578275, 0.40821073], imageStd: [0.26862954, 0.26130258, 0.27577711])

    /// Reads `preprocessor_config.json` from a model or processor directory.
    public static func load(directory: URL) throws(ModelError) -> ImageProcessorConfig {
        let file = directory.appendingPathComponent("preprocessor_config.json")
        guard FileManager.default.fileExists(atPath: file.path) else { throw .missingFile(path: file.path) }
        let data: Data
        do { data = try Data(contentsOf: file) } catch {
            throw .unreadableJSON(path: file.path, reason: error.localizedDescription)
        }
        return try decode(data, path: file.path)
    }

    /// Decodes the JSON text of a `preprocessor_config.json`; `path` names it in errors.
    public static func decode(_ data: Data, path: String) throws(ModelError) -> ImageProcessorConfig {
        let raw: RawConfig
        do { raw = try JSONDecoder().decode(RawConfig.self, from: data) } catch {
            throw .unreadableJSON(path: path, reason: describe(error))
        }
        let defaults = transformersDefaults
        let config = ImageProcessorConfig(
            patchSize: raw.patchSize ?? defaults.patchSize,
            temporalPatchSize: raw.temporalPatchSize ?? defaults.temporalPatchSize,
            mergeSize: raw.mergeSize ?? defaults.mergeSize,
            minPixels: raw.minPixels ?? raw.size?.shortestEdge ?? defaults.minPixels,
            maxPixels: raw.maxPixels ?? raw.size?.longestEdge ?? defaults.maxPixels,
            doRescale: raw.doRescale ?? defaults.doRescale,
            rescaleFactor: raw.rescaleFactor ?? defaults.rescaleFactor,
            doNormalize: raw.doNormalize ?? defaults.doNormalize,
            imageMean: raw.imageMean ?? defaults.imageMean,
            imageStd: raw.imageStd ?? defaults.imageStd)
        try config.validate(path: path, resample: raw.resample, doResize: raw.doResize)
        return config
    }

    private func validate(path: String, resample: Int?, doResize: Bool?) throws(ModelError) {
        func invalid(_ key: String, _ reason: String) -> ModelError {
            .invalidConfigValue(path: path, key: key, reason: reason)
        }
        if patchSize < 1 { throw invalid("patch_size", "must be a positive integer, got \(patchSize)") }
        if temporalPatchSize < 1 {
            throw invalid("temporal_patch_size", "must be a positive integer, got \(temporalPatchSize)")
        }
        if mergeSize < 1 { throw invalid("merge_size", "must be a positive integer, got \(mergeSize)") }
        if minPixels < 1 { throw invalid("min_pixels", "must be positive, got \(minPixels)") }
        if maxPixels < minPixels {
            throw invalid("max_pixels", "\(maxPixels) is below min_pixels \(minPixels)")
        }
        if imageMean.count != 3 { throw invalid("image_mean", "needs 3 values (RGB), got \(imageMean.count)") }
        if imageStd.count != 3 || imageStd.contains(where: { $0 == 0 }) {
            throw invalid("image_std", "needs 3 non-zero values (RGB)")
        }
        // Only bicubic (PIL.Image.BICUBIC = 3) is implemented: it is what every Qwen checkpoint declares.
        if let resample, resample != 3 {
            throw invalid("resample", "only 3 (bicubic) is supported, got \(resample)")
        }
        // Without resizing, patches only tile images whose sides are already multiples of the factor.
        if doResize == false { throw invalid("do_resize", "false is not supported; Qwen models resize every image") }
    }

    private static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context),
            DecodingError.dataCorrupted(let context):
            let key = context.codingPath.map(\.stringValue).joined(separator: ".")
            return key.isEmpty ? context.debugDescription : "key \"\(key)\": \(context.debugDescription)"
        default:
            return String(describing: error)
        }
    }

    /// The JSON as written by transformers; every field optional so defaults apply in one place.
    private struct RawConfig: Decodable {
        struct Size: Decodable {
            var shortestEdge: Int?
            var longestEdge: Int?
            enum CodingKeys: String, CodingKey {
                case shortestEdge = "shortest_edge"
                case longestEdge = "longest_edge"
            }
        }
        var patchSize: Int?
        var temporalPatchSize: Int?
        var mergeSize: Int?
        var minPixels: Int?
        var maxPixels: Int?
        var size: Size?
        var doResize: Bool?
        var doRescale: Bool?
        var rescaleFactor: Double?
        var doNormalize: Bool?
        var imageMean: [Double]?
        var imageStd: [Double]?
        var resample: Int?

        enum CodingKeys: String, CodingKey {
            case patchSize = "patch_size"
            case temporalPatchSize = "temporal_patch_size"
            case mergeSize = "merge_size"
            case minPixels = "min_pixels"
            case maxPixels = "max_pixels"
            case size
            case doResize = "do_resize"
            case doRescale = "do_rescale"
            case rescaleFactor = "rescale_factor"
            case doNormalize = "do_normalize"
            case imageMean = "image_mean"
            case imageStd = "image_std"
            case resample
        }
    }
}
