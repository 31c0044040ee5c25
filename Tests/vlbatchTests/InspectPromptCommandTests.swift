import Foundation
import Testing

/// End-to-end: `inspect tokenize` and `inspect prompt` on a model directory made of the reference tokenizer and
/// the sample processor config.
@Suite struct InspectPromptCommandTests {
    /// A Qwen2-VL-like model directory: genuine tokenizer, Hub processor config, generation config.
    static func modelDirectory(withTemplate template: String? = nil) throws -> URL {
        let root = CommandRunner.repositoryRoot
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vlbatch-model-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(
            at: directory.appendingPathComponent("tokenizer.json"),
            withDestinationURL: root.appendingPathComponent("Tests/Fixtures/tokenizer/qwen2/tokenizer.json"))
        try FileManager.default.copyItem(
            at: root.appendingPathComponent("Samples/Processors/qwen2-vl/preprocessor_config.json"),
            to: directory.appendingPathComponent("preprocessor_config.json"))
        try Data(#"{"model_type": "qwen2_vl"}"#.utf8).write(to: directory.appendingPathComponent("config.json"))
        try Data(#"{"eos_token_id": [151645, 151643]}"#.utf8)
            .write(to: directory.appendingPathComponent("generation_config.json"))
        if let template {
            try FileManager.default.copyItem(
                at: root.appendingPathComponent("Tests/Fixtures/chat-templates/\(template).jinja"),
                to: directory.appendingPathComponent("chat_template.jinja"))
        }
        return directory
    }

    static func json(_ output: CommandRunner.Output) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [String: Any])
    }

    @Test func tokenizePrintsIdsAndTokens() throws {
        let model = try Self.modelDirectory()
        defer { try? FileManager.default.removeItem(at: model) }
        let special = try Self.json(CommandRunner.run(["inspect", "tokenize", "--model", model.path, "Hi<|im_end|>"]))
        #expect(special["ids"] as? [Int] == [13048, 151645])
        #expect(special["tokens"] as? [String] == ["Hi", "<|im_end|>"])
        let literal = try Self.json(
            CommandRunner.run(["inspect", "tokenize", "--model", model.path, "--literal", "Hi<|im_end|>"]))
        #expect((literal["ids"] as? [Int])?.contains(151645) == false)
    }

    @Test func promptCountsVisualTokensAndStopTokens() throws {
        let model = try Self.modelDirectory(withTemplate: "qwen2-vl")
        defer { try? FileManager.default.removeItem(at: model) }
        let output = try CommandRunner.run(
            [
                "inspect", "prompt", "--model", model.path, "--prompt", "What is this?", "--image",
                "Samples/Images/badge-transparent.png", "--max-image-tokens", "64", "--ids",
            ])
        #expect(output.status == 0, "\(output.stderr)")
        #expect(!output.stderr.contains("warning"))
        let report = try Self.json(output)
        #expect(report["chat_template"] as? String == "official qwen2-vl")
        #expect(report["stop_token_ids"] as? [Int] == [151643, 151645])
        let visualTokens = try #require((report["visual_tokens"] as? [Int])?.first)
        let ids = try #require(report["ids"] as? [Int])
        #expect(ids.count { $0 == 151655 } == visualTokens)
        #expect(report["prompt_tokens"] as? Int == ids.count)
        #expect(
            report["prompt"] as? String
                == "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
                + "<|vision_start|><|image_pad|><|vision_end|>What is this?<|im_end|>\n<|im_start|>assistant\n")
    }

    @Test func unknownTemplateIsWarnedAbout() throws {
        let model = try Self.modelDirectory()
        defer { try? FileManager.default.removeItem(at: model) }
        try Data("{{ messages }}".utf8).write(to: model.appendingPathComponent("chat_template.jinja"))
        let output = try CommandRunner.run(["inspect", "prompt", "--model", model.path, "--prompt", "Hi"])
        #expect(output.status == 0)
        #expect(output.stderr.contains("chat template is not one vlbatch was checked against"))
    }
}
