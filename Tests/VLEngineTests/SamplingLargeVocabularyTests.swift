import Foundation
import Testing
import VLEngine
import VLModels

/// On full-size vocabularies the sampler selects and cuts without sorting the row; these tests hold it to a literal
/// transcription of transformers' warpers (full sort, full softmax) on random rows of Qwen2's and Qwen3.5's sizes.
@Suite struct SamplingLargeVocabularyTests {
    @Test(arguments: [
        (151_936, "top-p 0.9 alone", SamplingOverrides(doSample: true, topK: 0, topP: 0.9)),
        (
            248_320, "top-p 0.95 after temperature",
            SamplingOverrides(doSample: true, temperature: 0.6, topK: 0, topP: 0.95)
        ),
        (248_320, "qwen3-vl", SamplingOverrides(doSample: true, temperature: 0.7, topK: 20, topP: 0.8)),
        (151_936, "top-k 1000 then min-p", SamplingOverrides(doSample: true, topK: 1000, minP: 0.02)),
        (151_936, "min-p alone", SamplingOverrides(doSample: true, topK: 0, minP: 0.05)),
    ])
    func matchesTheLiteralTranscription(vocabulary: Int, label: String, overrides: SamplingOverrides) throws {
        let parameters = try SamplingParameters(generationConfig: .init(), overrides: overrides)
        var generator = SplitMix64(state: UInt64(vocabulary) ^ 0x5eed)
        // A peaked head over a long, flat tail, with ties (values on a 1/64 grid), like a language model's row.
        let row: [Float] = (0..<vocabulary).map { _ in
            let u = generator.nextUniform()
            return Float((pow(u, 40) * 24 - 6) * 64).rounded() / 64
        }
        var fast = row
        var sampler = Sampler(parameters: parameters, vocabularySize: vocabulary)
        sampler.process(&fast, seen: SeenTokens(vocabularySize: vocabulary))
        let literal = transcription(row, parameters)
        let kept = fast.indices.filter { fast[$0] != -.infinity }
        #expect(kept == literal.indices.filter { literal[$0] != -.infinity }, "\(label)")
        #expect(kept.allSatisfy { fast[$0] == literal[$0] })
        #expect(kept.count > 1)
    }

    /// transformers' warpers as written in `logits_process.py`, with a full sort.
    private func transcription(_ row: [Float], _ parameters: SamplingParameters) -> [Float] {
        var scores = row
        if parameters.temperature != 1 {
            let temperature = Float(parameters.temperature)
            scores = scores.map { $0 / temperature }
        }
        if parameters.topK != 0 {
            let threshold = scores.sorted(by: >)[min(parameters.topK, scores.count) - 1]
            scores = scores.map { $0 < threshold ? -.infinity : $0 }
        }
        if parameters.topP < 1 {
            // Ascending; equal logits ordered by descending id (vlbatch's fixed order for torch's unstable one).
            let order = scores.indices.sorted { scores[$0] < scores[$1] || (scores[$0] == scores[$1] && $0 > $1) }
            let probabilities = softmax(scores)
            let limit = Float(1 - parameters.topP)
            var cumulative = 0.0
            var removed: [Int] = []
            for index in order.dropLast() {
                cumulative += Double(probabilities[index])
                if Float(cumulative) <= limit { removed.append(index) }
            }
            for index in removed { scores[index] = -.infinity }
        }
        if parameters.minP != 0 {
            let probabilities = softmax(scores)
            let threshold = Float(parameters.minP) * (probabilities.max() ?? 0)
            scores = scores.indices.map { probabilities[$0] < threshold ? -.infinity : scores[$0] }
        }
        return scores
    }

    private func softmax(_ scores: [Float]) -> [Float] {
        let maximum = scores.max() ?? 0
        let exponentials = scores.map { Foundation.exp($0 - maximum) }
        let reciprocal = 1 / Float(exponentials.reduce(0.0) { $0 + Double($1) })
        return exponentials.map { $0 * reciprocal }
    }
}
