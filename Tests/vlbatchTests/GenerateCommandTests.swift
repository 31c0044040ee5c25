import Foundation
import Testing

/// End-to-end: `vlbatch generate` on the tiny Qwen2-VL / Qwen2.5-VL checkpoints of `Tests/Fixtures/models`, from
/// the PNG files through vlbatch's own decoding and preprocessing, against transformers' greedy tokens and logits.
@Suite struct GenerateCommandTests {
    static let models = "Tests/Fixtures/models"

    /// A golden case: its checkpoint, prompt, images (paths from the repository root) and reference results.
    struct Case: CustomTestStringConvertible, Sendable {
        let model: String
        let name: String
        var testDescription: String { "\(model) \(name)" }
        var directory: URL {
            CommandRunner.repositoryRoot.appendingPathComponent("\(models)/\(model)/goldens/\(name)")
        }

        func description() throws -> [String: Any] {
            let data = try Data(contentsOf: directory.appendingPathComponent("case.json"))
            return try #require(JSONSerialization.jsonObject(with: data) as? [String: Any])
        }

        /// The arguments of `generate` that reproduce the case's prompt.
        func arguments() throws -> [String] {
            let info = try description()
            let message = try #require((info["messages"] as? [[String: Any]])?.first)
            let parts = try #require(message["content"] as? [[String: Any]])
            let text = try #require(parts.compactMap { $0["text"] as? String }.first)
            let images = (info["images"] as? [String] ?? []).map {
                "\(models)/images/" + URL(fileURLWithPath: $0).lastPathComponent
            }
            return ["generate", "--model", "\(models)/\(model)", "--prompt", text] + images.flatMap { ["--image", $0] }
        }
    }

    static let cases = ["qwen2-vl-tiny", "qwen2.5-vl-tiny", "qwen3-vl-tiny", "qwen3.5-tiny"].flatMap { model in
        ["one-image", "two-images", "text-only"].map { Case(model: model, name: $0) }
    }

    @Test(arguments: cases)
    func greedyAnswerMatchesTransformers(_ golden: Case) throws {
        let logitsFile = FileManager.default.temporaryDirectory.appendingPathComponent("logits-\(UUID()).npy")
        defer { try? FileManager.default.removeItem(at: logitsFile) }
        let output = try CommandRunner.run(
            try golden.arguments() + ["--greedy", "--max-tokens", "8", "--json", "--dump-logits", logitsFile.path])
        #expect(output.status == 0, "\(output.stderr)")
        let report = try #require(JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [String: Any])
        let info = try golden.description()
        let greedy = try #require(info["greedy"] as? [String: Any])
        let expected = try #require(greedy["tokens"] as? [Int])
        let margins = try #require(greedy["top1_top2_margins"] as? [Double])
        let tokens = try #require(report["token_ids"] as? [Int])
        // Tokens must agree up to the first step whose reference margin is too small to decide.
        let decided = margins.firstIndex { $0 <= 1e-3 } ?? margins.count
        #expect(Array(tokens.prefix(decided)) == Array(expected.prefix(decided)))
        #expect(report["prompt_tokens"] as? Int == info["num_tokens"] as? Int)
        #expect(report["visual_tokens"] as? Int == info["num_image_tokens"] as? Int)
        #expect(report["finish_reason"] as? String == "length")
        let timings = try #require(report["timings"] as? [String: Double])
        #expect(timings["decode_tokens_per_second"].map { $0 > 0 } == true)
        let dumped = try Data(contentsOf: logitsFile)
        let reference = try Data(contentsOf: golden.directory.appendingPathComponent("logits_last.npy"))
        // Same 128-byte header (float32, same shape); values within 1e-4 of the largest magnitude.
        #expect(dumped.prefix(128) == reference.prefix(128))
        let (actual, wanted) = (floats(dumped.dropFirst(128)), floats(reference.dropFirst(128)))
        let scale = wanted.map(abs).max() ?? 1
        #expect(zip(actual, wanted).map { abs($0 - $1) }.max()! / scale < 1e-4)
    }

    private func floats(_ data: Data) -> [Float] {
        stride(from: data.startIndex, to: data.endIndex, by: 4).map { index in
            Float(
                bitPattern: data[index..<(index + 4)].enumerated().reduce(UInt32(0)) { $0 | UInt32($1.1) << (8 * $1.0) }
            )
        }
    }

    @Test func textStreamsToStandardOutput() throws {
        let output = try CommandRunner.run([
            "generate", "--model", "\(Self.models)/qwen2-vl-tiny", "--prompt", "Hello", "--max-tokens", "4", "--greedy",
        ])
        #expect(output.status == 0, "\(output.stderr)")
        #expect(output.stdout.hasSuffix("\n") && !output.stdout.contains("{"))
    }

    @Test func sampledRunsRepeatWithTheSameSeed() throws {
        let arguments = [
            "generate", "--model", "\(Self.models)/qwen2.5-vl-tiny", "--prompt", "Hello", "--max-tokens", "12",
            "--temperature", "1.5", "--top-k", "40", "--json",
        ]
        func tokens(_ seed: String) throws -> [Int] {
            let output = try CommandRunner.run(arguments + ["--seed", seed])
            #expect(output.status == 0, "\(output.stderr)")
            let report = try #require(JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [String: Any])
            return try #require(report["token_ids"] as? [Int])
        }
        #expect(try tokens("7") == tokens("7"))
        #expect(try tokens("7") != tokens("8"))
    }

    @Test(arguments: ["f16", "q8", "q4"])
    func theDemoModelAnswersAlikeInEveryWeightFormat(weights: String) throws {
        for image in ["scenes/scene-01.png", "scenes/scene-02.png", "documents/document-01.png"] {
            func answer(_ format: String) throws -> String {
                let output = try CommandRunner.run([
                    "generate", "--model", "Samples/Models/vlbatch-demo-qwen3.5", "--image", "Samples/Demo/\(image)",
                    "--prompt", "Describe this image in one sentence.", "--greedy", "--weights", format,
                ])
                #expect(output.status == 0, "\(output.stderr)")
                return output.stdout
            }
            #expect(try answer(weights) == answer("bf16"), "\(image)")
        }
    }

    @Test func badInputsAreErrorsNamingTheFile() throws {
        let missing = try CommandRunner.run([
            "generate", "--model", "\(Self.models)/qwen2-vl-tiny", "--prompt", "Hi", "--image", "no-such.png",
        ])
        #expect(missing.status != 0 && missing.stderr.contains("no-such.png"))
        let notModel = try CommandRunner.run(["generate", "--model", "Tests/Fixtures/preprocess", "--prompt", "Hi"])
        #expect(notModel.status != 0 && notModel.stderr.contains("config.json"))
        // A model_type vlbatch does not run is refused with the list of the ones it does.
        let foreign = FileManager.default.temporaryDirectory.appendingPathComponent("vlbatch-llava-\(UUID())")
        try FileManager.default.copyItem(
            at: CommandRunner.repositoryRoot.appendingPathComponent("\(Self.models)/qwen2-vl-tiny"), to: foreign)
        defer { try? FileManager.default.removeItem(at: foreign) }
        let config = foreign.appendingPathComponent("config.json")
        let text = try String(contentsOf: config, encoding: .utf8)
        try text.replacingOccurrences(of: "\"qwen2_vl\"", with: "\"llava\"").write(
            to: config, atomically: true, encoding: .utf8)
        let unsupported = try CommandRunner.run(["generate", "--model", foreign.path, "--prompt", "Hi"])
        #expect(unsupported.status != 0 && unsupported.stderr.contains("\"llava\" is not supported; supported:"))
        let flags = try CommandRunner.run([
            "generate", "--model", "\(Self.models)/qwen2-vl-tiny", "--prompt", "Hi", "--greedy", "--top-k", "3",
        ])
        #expect(flags.status == 2 && flags.stderr.contains("--greedy"))
    }
}
