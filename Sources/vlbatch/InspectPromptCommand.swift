import ArgumentParser
import Foundation
import Logging
import VLImage
import VLModels
import VLTokenizer

/// `vlbatch inspect prompt`: the exact prompt a model would receive for a question about images.
struct InspectPromptCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prompt",
        abstract: "Render a chat prompt with images and print it, its token count and its stop tokens as JSON.",
        discussion: """
            The chat format follows the checkpoint's model_type; its own chat template is checked against the \
            official ones and a warning is logged when it differs. Images are decoded and preprocessed to count \
            their visual tokens. --ids adds the token ids, each image expanded to its visual tokens.
            """)

    @Option(help: "A model directory (config.json, tokenizer.json, preprocessor_config.json).")
    var model: String

    @Option(help: "The question or instruction.")
    var prompt: String

    @Option(help: "An image to show the model, before the prompt text; repeat for several.")
    var image: [String] = []

    @Option(help: "A system message.")
    var system: String?

    @Flag(help: "Qwen3.5: let the model think before answering (off by default).")
    var thinking = false

    @Flag(help: "Include the token ids.")
    var ids = false

    @OptionGroup var budget: ImageBudgetOptions

    func run() throws {
        let directory = URL(fileURLWithPath: model)
        let format = try ModelType.chatFormat(directory: directory)
        let template = try CheckpointChatTemplate.read(directory: directory)
        if template.verdict != .known(format) {
            Logger(label: "vlbatch").warning(
                "chat template is not one vlbatch was checked against; prompts use the built-in format",
                metadata: ["template": "\(template.path ?? "none")", "format": "\(format.rawValue)"])
        }
        let processor = try budget.makeProcessor(directory: model)
        let visualTokens = try image.map { path in
            let decoded = try ImageDecoder.decode(fileAt: path, limits: budget.decodingLimits)
            return try processor.preprocess(decoded.image, source: path).imageTokenCount
        }
        var messages: [ChatMessage] = system.map { [.system($0)] } ?? []
        messages.append(.user(Array(repeating: .image, count: image.count) + [.text(prompt)]))
        let segments = try format.render(messages, options: ChatFormat.Options(enableThinking: thinking))
        let promptTokenizer = try PromptTokenizer(tokenizer: Tokenizer.load(directory: directory))
        let tokenIDs = try promptTokenizer.tokenize(segments, imageTokenCounts: visualTokens)
        let report = PromptReport(
            format: format.rawValue, chatTemplate: template.verdict.description, prompt: segments.renderedText,
            promptTokens: tokenIDs.count, visualTokens: visualTokens,
            stopTokenIds: try promptTokenizer.stopTokenIDs(GenerationConfig.load(directory: directory)).sorted(),
            ids: ids ? tokenIDs : nil)
        print(try JSONLine.encode(report))
    }

    private struct PromptReport: Encodable {
        let format: String
        let chatTemplate: String
        let prompt: String
        let promptTokens: Int
        let visualTokens: [Int]
        let stopTokenIds: [Int32]
        let ids: [Int32]?
    }
}
