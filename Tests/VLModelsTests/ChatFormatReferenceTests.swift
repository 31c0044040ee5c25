import Foundation
import Testing
import VLTokenizer

@testable import VLModels

/// Chat formats against transformers' `apply_chat_template` on the official templates
/// (Tests/Fixtures/chat-templates, made by tools/make_chat_template_fixtures.py).
@Suite struct ChatFormatReferenceTests {
    static let folder = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures/chat-templates")

    struct Case: Decodable, CustomTestStringConvertible {
        struct Message: Decodable {
            let role: String
            let content: Content
        }

        /// A message's content: a plain string, or content parts.
        enum Content: Decodable {
            case string(String)
            case parts([[String: String]])

            init(from decoder: any Decoder) throws {
                let container = try decoder.singleValueContainer()
                if let text = try? container.decode(String.self) {
                    self = .string(text)
                } else {
                    self = .parts(try container.decode([[String: String]].self))
                }
            }
        }

        struct Arguments: Decodable {
            let addGenerationPrompt: Bool?
            let enableThinking: Bool?
        }

        let name: String
        let template: String
        let messages: [Message]
        let kwargs: Arguments
        /// What the template renders, or nil where it raises `error`.
        let rendered: String?
        let error: String?
        /// The reference tokenizer (`qwen2` or `qwen3.5` under Tests/Fixtures/tokenizer) and its ids for `rendered`.
        let tokenizer: String?
        let ids: [Int32]?

        var testDescription: String { "\(template): \(name)" }

        /// The 0.8B/2B Qwen3.5 template ("qwen3.5-small", derived: see SOURCES.md) is the Qwen3.5 format with
        /// thinking off unless asked for: vlbatch's default.
        var format: ChatFormat? { template == "qwen3.5-small" ? .qwen35 : ChatFormat(rawValue: template) }

        /// `apply_chat_template`'s defaults: no generation prompt; the 4B Qwen3.5 template thinks unless told not
        /// to, the small one does not.
        var options: ChatFormat.Options {
            ChatFormat.Options(
                addGenerationPrompt: kwargs.addGenerationPrompt ?? false,
                enableThinking: kwargs.enableThinking ?? (template == "qwen3.5"))
        }

        var chatMessages: [ChatMessage] {
            messages.map { message in
                let parts: [ChatMessage.Part]
                switch message.content {
                case .string(let text): parts = [.text(text)]
                case .parts(let items): parts = items.map { $0["type"] == "image" ? .image : .text($0["text"] ?? "") }
                }
                return ChatMessage(role: ChatMessage.Role(rawValue: message.role)!, parts: parts)
            }
        }
    }

    /// Every case but `add_vision_id` ("Picture 1: " labels), which vlbatch does not offer.
    static let cases: [Case] = ["cases.json", "extra-cases.json"].flatMap { file in
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        do {
            return try decoder.decode([Case].self, from: Data(contentsOf: folder.appendingPathComponent(file)))
                .filter { $0.name != "add_vision_id" }
        } catch {
            fatalError("\(file) unreadable: \(error); regenerate with tools/make_chat_template_fixtures.py")
        }
    }

    @Test(arguments: cases)
    func rendersLikeTransformers(testCase: Case) throws {
        let format = try #require(testCase.format)
        guard let rendered = testCase.rendered else {
            #expect(throws: ModelError.self) { try format.render(testCase.chatMessages, options: testCase.options) }
            return
        }
        let segments = try format.render(testCase.chatMessages, options: testCase.options)
        #expect(segments.renderedText == rendered)
        // One image pad per image, as apply_chat_template leaves them.
        let reference = TokenizerCache.load(try #require(testCase.tokenizer))
        let imageCount = segments.count { $0 == .image }
        let ids = try PromptTokenizer(tokenizer: reference)
            .tokenize(segments, imageTokenCounts: Array(repeating: 1, count: imageCount))
        let specialIDs = Set(reference.specialTokens.values)
        let userTextHasSpecialStrings = testCase.chatMessages.flatMap(\.parts).contains { part in
            guard case .text(let text) = part else { return false }
            return reference.specialTokens.keys.contains { text.contains($0) }
        }
        if userTextHasSpecialStrings {
            // Deliberately unlike the reference: such strings in user text stay text, so special tokens stand only
            // where the template put them, and the text still reads back the same.
            #expect(
                ids.count { specialIDs.contains($0) } == segments.count { $0 != .image && !isText($0) } + imageCount)
            #expect(reference.decode(ids) == rendered)
        } else {
            // Text runs are tokenized apart from the special tokens, yet the ids equal the reference's.
            #expect(ids == testCase.ids)
        }
    }

    private func isText(_ segment: PromptSegment) -> Bool { if case .text = segment { true } else { false } }

    @Test(arguments: ChatFormat.allCases)
    func officialTemplateIsRecognised(format: ChatFormat) throws {
        let template = try String(
            contentsOf: Self.folder.appendingPathComponent("\(format.rawValue).jinja"), encoding: .utf8)
        #expect(CheckpointChatTemplate.identify(template) == .known(format))
        #expect(CheckpointChatTemplate.identify(template + "\n") == .known(format))
        #expect(CheckpointChatTemplate.identify(template + " ") == .unknown)
    }
}

/// The reference tokenizers, loaded once for all cases.
enum TokenizerCache {
    static let qwen2 = load(folder: "qwen2")
    static let qwen35 = load(folder: "qwen3.5")

    static func load(_ name: String) -> Tokenizer { name == "qwen2" ? qwen2 : qwen35 }

    private static func load(folder: String) -> Tokenizer {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/tokenizer/\(folder)")
        do { return try Tokenizer.load(directory: directory) } catch {
            fatalError("reference tokenizer \(folder) unreadable: \(error)")
        }
    }
}
