import ArgumentParser
import Foundation
import VLImage
import VLModels

/// Command-line controls of image preparation: the visual-token budget and the decoder's safety limit.
struct ImageBudgetOptions: ParsableArguments {
    @Option(help: "Resize images to at least this many pixels (overrides the checkpoint's min_pixels).")
    var minPixels: Int?

    @Option(help: "Resize images to at most this many pixels (overrides the checkpoint's max_pixels).")
    var maxPixels: Int?

    @Option(help: "At most this many visual tokens per image (one token covers 28x28 or 32x32 pixels).")
    var maxImageTokens: Int?

    @Option(help: "Refuse files whose header declares more pixels than this (decompression-bomb guard).")
    var maxInputPixels: Int = ImageDecodingLimits().maxPixels

    /// Limits for the image decoder.
    var decodingLimits: ImageDecodingLimits { ImageDecodingLimits(maxPixels: maxInputPixels) }

    func validate() throws {
        if maxInputPixels < 1 { throw ValidationError("--max-input-pixels must be positive") }
    }

    /// The processor of the `preprocessor_config.json` in `directory`, with the budget from the command line.
    func makeProcessor(directory: String) throws -> QwenImageProcessor {
        let checkpoint = try ImageProcessorConfig.load(directory: URL(fileURLWithPath: directory))
        let budget = VisualTokenBudget(minPixels: minPixels, maxPixels: maxPixels, maxImageTokens: maxImageTokens)
        return QwenImageProcessor(config: try budget.applied(to: checkpoint))
    }
}
