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

    @OptionGroup var chat: ChatPromptOptions

    @Flag(help: "Include the token ids.")
    var ids = false

    func run() throws {
        let prepared = try chat.prepare(directory: URL(fileURLWithPath: model))
        let report = PromptReport(
            format: prepared.format.rawValue, chatTemplate: prepared.chatTemplate.verdict.description,
            prompt: prepared.segments.renderedText, promptTokens: prepared.tokens.count,
            visualTokens: prepared.images.map(\.imageTokenCount), stopTokenIds: prepared.stopTokens.sorted(),
            ids: ids ? prepared.tokens : nil)
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
