import Foundation
import VLPipeline

/// Captions every image in one sentence: the overnight job over a photo folder.
struct CaptionImages: Pipeline {
    static let name = "caption-images"
    static let summary = "A one-sentence caption for every image"

    var body: PipelineDefinition {
        Inputs.images()
        Prompt("Describe this image in one sentence.")
        Generate(maxTokens: 64)
        // A caption is one line: models sometimes add a trailing newline or space.
        Map("trim") { result in
            var result = result
            result.text = result.text?.trimmingCharacters(in: .whitespacesAndNewlines)
            return result
        }
    }
}
