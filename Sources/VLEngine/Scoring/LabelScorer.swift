import Foundation
import VLCore
import VLModels

/// How well each label of a classification fits a prompt.
public struct LabelScores: Sendable, Equatable {
    /// The index of the most likely label; the first of several equally likely ones.
    public let bestIndex: Int
    /// `log P(label's tokens | prompt)` per label, in the order the labels were given: the sum of the log-probability
    /// of each of the label's tokens given the prompt and the label's earlier tokens.
    public let logProbabilities: [Double]
    /// The labels' probabilities were the model to choose among them alone: softmax of `logProbabilities`.
    public let probabilities: [Double]

    /// Scores from the labels' log-probabilities.
    public init(logProbabilities: [Double]) {
        precondition(!logProbabilities.isEmpty, "scores need at least one label")
        self.logProbabilities = logProbabilities
        var best = 0
        for index in logProbabilities.indices where logProbabilities[index] > logProbabilities[best] {
            best = index
        }
        bestIndex = best
        let largest = logProbabilities[best]
        if largest == -.infinity {
            // No label is possible at all: none is preferred.
            probabilities = logProbabilities.map { _ in 1 / Double(logProbabilities.count) }
        } else {
            let weights = logProbabilities.map { ($0 - largest).isNaN ? 0 : exp($0 - largest) }
            let total = weights.reduce(0, +)
            probabilities = weights.map { $0 / total }
        }
    }
}

/// Exact label scoring for classification: the log-probability of each label's whole token sequence as the
/// assistant's answer to the prompt, so the answer is always one of the labels and comes with a probability.
///
/// The prompt is run once; every label then continues a copy of its sequence state (a value type, so the copies share
/// the prompt's caches until each writes its own), all labels in one batched decode step per token position. A
/// label's first token is scored on the prompt's logits, each later token on the logits after the label's previous
/// ones. Labels are not batched across prompts and a shared label prefix is computed once per label (issue 9's
/// scheduler will do both).
///
/// **Label tokens.** A label is scored as the assistant would write it: its text exactly, tokenized as ordinary text
/// (special-token strings read literally), followed by the end-of-turn token `<|im_end|>` (see `labelTokens`). The
/// end token makes the score that of the label as the *whole* answer: without it "receipt" would always score at
/// least as high as "receipts", being its prefix, and a model answering "receipts" would be scored as answering
/// "receipt". Qwen chat models end every answer with `<|im_end|>`; vlbatch's demo model answers "receipt",
/// `<|im_end|>` to "What kind of document is this?".
public enum LabelScorer {
    /// The token sequence of each label: its text as ordinary text, then `<|im_end|>`.
    public static func labelTokens(_ labels: [String], tokenizer: PromptTokenizer) throws(ModelError) -> [[Int32]] {
        var sequences: [[Int32]] = []
        for label in labels {
            sequences.append(
                try tokenizer.tokenize([.text(label), .special(QwenSpecialToken.turnEnd)], imageTokenCounts: []))
        }
        return sequences
    }

    /// Scores `labels` (token sequences, each non-empty) as continuations of the prompt `tokens` with its `images`.
    ///
    /// - Throws: `ModelError.invalidInput` when a label token lies outside the model's vocabulary, and the model's
    ///   errors.
    public static func score(
        prompt tokens: [Int32], images: [ImagePatches], labels: [[Int32]], model: any VisionLanguageModel,
        pool: ComputePool
    ) throws(ModelError) -> LabelScores {
        precondition(!labels.isEmpty && labels.allSatisfy { !$0.isEmpty }, "every label needs at least one token")
        let vocabulary = model.vocabularySize
        for token in labels.joined() where token < 0 || Int(token) >= vocabulary {
            throw .invalidInput(reason: "label token \(token) is outside the model's vocabulary of \(vocabulary)")
        }
        let features =
            images.isEmpty ? VisualFeatures(merged: [], deepstack: []) : try model.encodeImages(images, pool: pool)
        var prompt = model.makeSequence()
        let promptLogits = try model.prefill(
            tokens, grids: images.map(\.grid), imageFeatures: features, sequence: &prompt, pool: pool)
        var sums = labels.map { promptLogits.logProbability(of: Int($0[0])) }
        // Position `step` of every label longer than `step` is scored after feeding the label's token `step - 1`.
        var active = labels.indices.filter { labels[$0].count > 1 }
        var sequences = Array(repeating: prompt, count: active.count)
        var step = 1
        while !active.isEmpty {
            let logits = try model.decode(active.map { labels[$0][step - 1] }, sequences: &sequences, pool: pool)
            logits.withUnsafeBufferPointer { rows in
                for (row, label) in active.enumerated() {
                    // [active, vocabulary]: row `row` holds the next-token logits of label `label`.
                    let logitsRow = UnsafeBufferPointer(rebasing: rows[(row * vocabulary)..<((row + 1) * vocabulary)])
                    sums[label] += LogSoftmax.logProbability(of: Int(labels[label][step]), in: logitsRow)
                }
            }
            step += 1
            let continuing = active.indices.filter { labels[active[$0]].count > step }
            if continuing.count < active.count {
                sequences = continuing.map { sequences[$0] }
                active = continuing.map { active[$0] }
            }
        }
        return LabelScores(logProbabilities: sums)
    }
}
