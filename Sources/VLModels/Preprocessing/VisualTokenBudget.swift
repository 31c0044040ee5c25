/// A per-call limit on how many pixels (and so visual tokens) an image may cost, overriding the checkpoint's
/// `min_pixels`/`max_pixels`.
///
/// Each visual token covers `factor × factor` pixels (28² for Qwen2/2.5-VL, 32² for Qwen3-VL/3.5), so a token cap
/// is the pixel cap `maxImageTokens * factor²`. When both a token cap and `maxPixels` are given, the tighter wins;
/// a cap below the checkpoint's `min_pixels` lowers that floor with it.
public struct VisualTokenBudget: Sendable, Equatable, Codable {
    /// Lower bound on resized pixels; `nil` keeps the checkpoint's value.
    public var minPixels: Int?
    /// Upper bound on resized pixels; `nil` keeps the checkpoint's value.
    public var maxPixels: Int?
    /// Upper bound on visual tokens per image; `nil` means no extra cap.
    public var maxImageTokens: Int?

    /// A budget; every limit is optional.
    public init(minPixels: Int? = nil, maxPixels: Int? = nil, maxImageTokens: Int? = nil) {
        self.minPixels = minPixels
        self.maxPixels = maxPixels
        self.maxImageTokens = maxImageTokens
    }

    /// The checkpoint's config with this budget applied, after checking that the result is usable.
    public func applied(to config: ImageProcessorConfig) throws(ModelError) -> ImageProcessorConfig {
        let tokenArea = config.factor * config.factor
        if let minPixels, minPixels < 1 { throw .invalidImageBudget(reason: "min pixels must be positive") }
        if let maxPixels, maxPixels < tokenArea {
            throw .invalidImageBudget(
                reason: "max pixels \(maxPixels) is below one visual token (\(config.factor)x\(config.factor) px)")
        }
        if let maxImageTokens, maxImageTokens < 1 {
            throw .invalidImageBudget(reason: "max image tokens must be at least 1")
        }
        var result = config
        if let minPixels { result.minPixels = minPixels }
        if let maxPixels { result.maxPixels = maxPixels }
        if let maxImageTokens { result.maxPixels = min(result.maxPixels, maxImageTokens * tokenArea) }
        // A cap below the checkpoint's own floor lowers the floor; only a floor the caller set can conflict.
        if minPixels == nil { result.minPixels = min(result.minPixels, result.maxPixels) }
        if result.minPixels > result.maxPixels {
            throw .invalidImageBudget(
                reason: "min pixels \(result.minPixels) exceeds max pixels \(result.maxPixels)")
        }
        return result
    }
}
