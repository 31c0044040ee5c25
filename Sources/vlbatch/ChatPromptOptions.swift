import ArgumentParser
import Foundation
import Logging
import VLImage
import VLModels
import VLTokenizer

/// The options that describe one chat prompt (`inspect prompt`, `generate`) and its preparation: chat format from
/// the checkpoint's model_type, images decoded and preprocessed, the conversation tokenized with each image
/// expanded to its visual tokens.
struct ChatPromptOptions: ParsableArguments {
    @Option(help: "The question or instruction.")
    var prompt: String

    @Option(help: "An image to show the model, before the prompt text; repeat for several.")
    var image: [String] = []

    @Option(help: "A system message.")
    var system: String?

    @Flag(help: "Qwen3.5: let the model think before answering (off by default).")
    var thinking = false

    @OptionGroup var budget: ImageBudgetOptions

    /// A prompt ready for the model.
    struct Prepared {
        let format: ChatFormat
        let chatTemplate: CheckpointChatTemplate
        let segments: [PromptSegment]
        let tokens: [Int32]
        let images: [ImagePatches]
        let tokenizer: PromptTokenizer
        let stopTokens: Set<Int32>
        let generation: GenerationConfig
    }

    /// Renders and tokenizes the prompt for the checkpoint in `directory`; logs a warning when the checkpoint's own
    /// chat template is not one vlbatch was checked against.
    func prepare(directory: URL) throws -> Prepared {
        let format = try ModelType.chatFormat(directory: directory)
        let template = try CheckpointChatTemplate.read(directory: directory)
        if template.verdict != .known(format) {
            Logger(label: "vlbatch").warning(
                "chat template is not one vlbatch was checked against; prompts use the built-in format",
                metadata: ["template": "\(template.path ?? "none")", "format": "\(format.rawValue)"])
        }
        let processor = try budget.makeProcessor(directory: directory.path)
        let images = try image.map { path in
            let decoded = try ImageDecoder.decode(fileAt: path, limits: budget.decodingLimits)
            return try processor.preprocess(decoded.image, source: path)
        }
        var messages: [ChatMessage] = system.map { [.system($0)] } ?? []
        messages.append(.user(Array(repeating: .image, count: image.count) + [.text(prompt)]))
        let segments = try format.render(messages, options: ChatFormat.Options(enableThinking: thinking))
        let tokenizer = try PromptTokenizer(tokenizer: Tokenizer.load(directory: directory))
        let tokens = try tokenizer.tokenize(segments, imageTokenCounts: images.map(\.imageTokenCount))
        let generation = try GenerationConfig.load(directory: directory)
        return Prepared(
            format: format, chatTemplate: template, segments: segments, tokens: tokens, images: images,
            tokenizer: tokenizer, stopTokens: try tokenizer.stopTokenIDs(generation), generation: generation)
    }
}
