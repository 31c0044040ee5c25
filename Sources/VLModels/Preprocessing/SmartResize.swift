import Foundation

/// Qwen's `smart_resize`: the size an image is resampled to before it is cut into patches.
///
/// Port of transformers `models/qwen2_vl/image_processing_qwen2_vl.py` `smart_resize`. Both sides become
/// multiples of `factor`, the pixel count lands within `[minPixels, maxPixels]`, and the aspect ratio is kept as
/// closely as the rounding allows. The arithmetic is Python's: float64 throughout and round-half-to-even
/// (`round(406 / 28) == 14`, not 15), so sizes match the reference exactly.
public enum SmartResize {
    /// The reference rejects images whose long side exceeds this many times the short side.
    public static let maximumAspectRatio = 200

    /// The target `(height, width)`, or `nil` when the aspect ratio exceeds ``maximumAspectRatio``.
    public static func targetSize(
        height: Int, width: Int, factor: Int, minPixels: Int, maxPixels: Int
    ) -> (height: Int, width: Int)? {
        precondition(height > 0 && width > 0 && factor > 0, "sizes and factor must be positive")
        // `max(h, w) / min(h, w) > 200` in Python is a float comparison.
        if Double(max(height, width)) / Double(min(height, width)) > Double(maximumAspectRatio) { return nil }
        let h = Double(height)
        let w = Double(width)
        let f = Double(factor)
        var resizedHeight = Int((h / f).rounded(.toNearestOrEven)) * factor
        var resizedWidth = Int((w / f).rounded(.toNearestOrEven)) * factor
        if resizedHeight * resizedWidth > maxPixels {
            let beta = (Double(height * width) / Double(maxPixels)).squareRoot()
            // `floor(height / beta / factor)`: two divisions, as upstream; one division by `beta * factor` can
            // round differently at the edges.
            resizedHeight = max(factor, Int((h / beta / f).rounded(.down)) * factor)
            resizedWidth = max(factor, Int((w / beta / f).rounded(.down)) * factor)
        } else if resizedHeight * resizedWidth < minPixels {
            let beta = (Double(minPixels) / Double(height * width)).squareRoot()
            resizedHeight = Int((h * beta / f).rounded(.up)) * factor
            resizedWidth = Int((w * beta / f).rounded(.up)) * factor
        }
        return (resizedHeight, resizedWidth)
    }
}
