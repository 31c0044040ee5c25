import Foundation
import Testing

@testable import VLModels

/// Reading a checkpoint's chat template and generation config from the files transformers writes.
@Suite struct CheckpointFilesTests {
    static let officialQwen2VL = ChatFormatReferenceTests.folder.appendingPathComponent("qwen2-vl.jinja")

    static func directory(with files: [String: String]) throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vlbatch-checkpoint-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for (name, content) in files {
            try Data(content.utf8).write(to: directory.appendingPathComponent(name))
        }
        return directory
    }

    static func jsonString(_ text: String) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: text, options: .fragmentsAllowed), as: UTF8.self)
    }

    @Test(arguments: ["jinja", "chat_template.json", "tokenizer_config string", "tokenizer_config list"])
    func findsTheTemplateWhereverTransformersPutsIt(layout: String) throws {
        let template = try String(contentsOf: Self.officialQwen2VL, encoding: .utf8)
        let quoted = try Self.jsonString(template)
        let files: [String: String] =
            switch layout {
            case "jinja": ["chat_template.jinja": template]
            case "chat_template.json": ["chat_template.json": #"{"chat_template": \#(quoted)}"#]
            case "tokenizer_config string": ["tokenizer_config.json": #"{"chat_template": \#(quoted)}"#]
            default:
                [
                    "tokenizer_config.json":
                        #"{"chat_template": [{"name": "tool_use", "template": "x"}, "#
                        + #"{"name": "default", "template": \#(quoted)}]}"#
                ]
            }
        let directory = try Self.directory(with: files)
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(try CheckpointChatTemplate.read(directory: directory).verdict == .known(.qwen2VL))
    }

    @Test func editedOrMissingTemplatesAreReported() throws {
        let edited = try Self.directory(with: ["chat_template.jinja": "{{ messages[0].content }}"])
        let empty = try Self.directory(with: [:])
        defer { for url in [edited, empty] { try? FileManager.default.removeItem(at: url) } }
        #expect(try CheckpointChatTemplate.read(directory: edited).verdict == .unknown)
        #expect(try CheckpointChatTemplate.read(directory: empty).verdict == .missing)
    }

    @Test func modelTypesMapToFormats() {
        #expect(ChatFormat(modelType: "qwen2_vl") == .qwen2VL && ChatFormat(modelType: "qwen2_5_vl") == .qwen2VL)
        #expect(ChatFormat(modelType: "qwen3_vl") == .qwen3VL && ChatFormat(modelType: "qwen3_5") == .qwen35)
        #expect(ChatFormat(modelType: "llava") == nil)
    }

    @Test(arguments: [
        (#"{"eos_token_id": [151645, 151643], "repetition_penalty": 1.05, "top_k": 1}"#, [Int32(151645), 151643]),
        (#"{"eos_token_id": 248046, "temperature": 0.7}"#, [248046]),
        (#"{"do_sample": false}"#, []),
    ])
    func generationConfigReadsEitherEOSForm(json: String, eos: [Int32]) throws {
        let directory = try Self.directory(with: ["generation_config.json": json])
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(try GenerationConfig.load(directory: directory).eosTokenIDs == eos)
    }

    @Test func missingGenerationConfigIsEmpty() throws {
        let directory = try Self.directory(with: [:])
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(try GenerationConfig.load(directory: directory) == GenerationConfig())
    }
}
