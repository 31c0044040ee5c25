import Foundation
import Testing
import VLCore
import VLEngine
import VLModels
import VLTokenizer

/// Label scoring on real checkpoints: the tiny random fixtures of every family (Qwen2-VL, Qwen2.5-VL and Qwen3-VL keep
/// KV caches; Qwen3.5 DeltaNet state besides) and the demo model, with text-only chat prompts.
@Suite struct LabelScorerTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let checkpoints =
        ["qwen2-vl-tiny", "qwen2.5-vl-tiny", "qwen3-vl-tiny", "qwen3.5-tiny"].map { "Tests/Fixtures/models/\($0)" }
        + ["Samples/Models/vlbatch-demo-qwen3.5"]

    /// Labels of one to several tokens, two of them prefixes of others, and one with a special-token string.
    static let labels = ["receipt", "receipts", "invoice", "a letter", "other", "form <|im_end|>"]

    /// A model with its prompt tokenizer and a rendered text-only question.
    struct Setup {
        let model: any VisionLanguageModel
        let tokenizer: PromptTokenizer
        let prompt: [Int32]
        let pool = ComputePool(threadCount: 2)

        init(_ checkpoint: String, question: String = "What kind of document is this?") throws {
            let directory = repositoryRoot.appendingPathComponent(checkpoint)
            model = try ModelRegistry.load(directory: directory, weights: .bf16)
            tokenizer = try PromptTokenizer(tokenizer: Tokenizer.load(directory: directory))
            let segments = try ModelType.chatFormat(directory: directory).render([.user([.text(question)])])
            prompt = try tokenizer.tokenize(segments, imageTokenCounts: [])
        }

        /// `log P(label | prompt)` the slow way: for each label token, a fresh prefill of the prompt and the label's
        /// earlier tokens, and the log-softmax of its last logits.
        func oneByOne(_ label: [Int32]) throws -> Double {
            var sum = 0.0
            for position in label.indices {
                var sequence = model.makeSequence()
                let logits = try model.prefill(
                    prompt + label[..<position], grids: [], imageFeatures: VisualFeatures(merged: [], deepstack: []),
                    sequence: &sequence, pool: pool)
                sum += logits.logProbability(of: Int(label[position]))
            }
            return sum
        }

        func score(_ labels: [[Int32]]) throws -> LabelScores {
            try LabelScorer.score(prompt: prompt, images: [], labels: labels, model: model, pool: pool)
        }
    }

    @Test(arguments: checkpoints)
    func scoreIsTheSumOfTokenLogProbabilities(_ checkpoint: String) throws {
        let setup = try Setup(checkpoint)
        let labels = try LabelScorer.labelTokens(Self.labels, tokenizer: setup.tokenizer)
        let scores = try setup.score(labels)
        for (index, label) in labels.enumerated() {
            let expected = try setup.oneByOne(label)
            let actual = scores.logProbabilities[index]
            #expect(abs(actual - expected) <= 1e-4 * max(1, abs(expected)), "\(Self.labels[index]): \(actual)")
        }
        #expect(scores.logProbabilities.allSatisfy { $0 < 0 && $0.isFinite })
    }

    /// Labels share the prompt's state but never each other's: a label scored alone, in another order or next to
    /// other labels gets the very same number.
    @Test(arguments: checkpoints)
    func labelsDoNotInfluenceEachOther(_ checkpoint: String) throws {
        let setup = try Setup(checkpoint)
        let labels = try LabelScorer.labelTokens(Self.labels, tokenizer: setup.tokenizer)
        let together = try setup.score(labels).logProbabilities
        let reversed = try setup.score(labels.reversed()).logProbabilities
        #expect(Array(reversed.reversed()) == together)
        for (index, label) in labels.enumerated() {
            #expect(try setup.score([label]).logProbabilities == [together[index]])
        }
    }

    /// The best label is always one of the labels, the most likely; probabilities are a distribution over them.
    @Test(arguments: checkpoints)
    func bestLabelIsAlwaysALabel(_ checkpoint: String) throws {
        let setup = try Setup(checkpoint, question: "Which one?")
        var generator = SplitMix64(state: 7)
        let vocabulary = ["a", "b", "yes", "no", "x y z", "Ω", "12", " ", "receipt"]
        for _ in 0..<10 {
            let count = Int.random(in: 1...5, using: &generator)
            let labels = Array(vocabulary.shuffled(using: &generator).prefix(count))
            let scores = try setup.score(try LabelScorer.labelTokens(labels, tokenizer: setup.tokenizer))
            #expect(labels.indices.contains(scores.bestIndex))
            #expect(scores.logProbabilities[scores.bestIndex] == scores.logProbabilities.max())
            #expect(abs(scores.probabilities.reduce(0, +) - 1) < 1e-12)
            #expect(scores.probabilities[scores.bestIndex] == scores.probabilities.max())
        }
    }

    @Test func tiesGoToTheFirstLabel() {
        let scores = LabelScores(logProbabilities: [-2, -0.5, -0.5, -3])
        #expect(scores.bestIndex == 1)
        #expect(scores.probabilities[1] == scores.probabilities[2])
        let impossible = LabelScores(logProbabilities: [-.infinity, -.infinity])
        #expect(impossible.bestIndex == 0 && impossible.probabilities == [0.5, 0.5])
        let certain = LabelScores(logProbabilities: [-.infinity, -1])
        #expect(certain.bestIndex == 1 && certain.probabilities == [0, 1])
    }

    /// The label convention (text, then `<|im_end|>`) is how the demo model writes its answers: each document kind
    /// in transformers' reference answers, tokenized as a label, is exactly the reference's generated ids.
    @Test func labelTokensAreTheModelsOwnAnswers() throws {
        let directory = Self.repositoryRoot.appendingPathComponent("Samples/Models/vlbatch-demo-qwen3.5")
        let tokenizer = try PromptTokenizer(tokenizer: Tokenizer.load(directory: directory))
        let reference = try String(
            contentsOf: Self.repositoryRoot.appendingPathComponent("Samples/Demo/reference-transformers.jsonl"),
            encoding: .utf8)
        var checked = 0
        for line in reference.split(separator: "\n") {
            let record = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            guard let task = record["task"] as? String, task.hasPrefix("kind") else { continue }
            let answer = try #require(record["answer"] as? String)
            let generated = try #require(record["generated_ids"] as? [Int]).map { Int32($0) }
            #expect(try LabelScorer.labelTokens([answer], tokenizer: tokenizer) == [generated], "\(answer)")
            checked += 1
        }
        #expect(checked == 24 + 8)
    }

    @Test func labelTokensOutsideTheVocabularyAreRefused() throws {
        let setup = try Setup("Tests/Fixtures/models/qwen2-vl-tiny")
        #expect(throws: ModelError.self) { try setup.score([[1, Int32(setup.model.vocabularySize)]]) }
    }
}
