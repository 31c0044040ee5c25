import Foundation
import Testing
import VLEngine

@Suite struct SamplingLogSoftmaxTests {
    @Test func logSumExpIsStableAndHandlesRemovedTokens() {
        func lse(_ row: [Float]) -> Double { row.withUnsafeBufferPointer { LogSoftmax.logSumExp($0) } }
        #expect(abs(lse([0, 0]) - log(2)) < 1e-12)
        #expect(abs(lse([1000, 1000]) - (1000 + log(2))) < 1e-9)
        #expect(abs(lse([-1000, -.infinity]) + 1000) < 1e-9)
        #expect(lse([-.infinity, -.infinity]) == -.infinity)
        #expect(lse([]) == -.infinity)
    }

    @Test func logProbabilitiesMatchADoublePrecisionComputation() {
        let row = SamplingFixtures.row("gaussian-ties").logits
        let maximum = Double(row.max()!)
        let reference = maximum + log(row.reduce(0.0) { $0 + exp(Double($1) - maximum) })
        for token in [0, 7, 150, 299] {
            #expect(abs(row.logProbability(of: token) - (Double(row[token]) - reference)) < 1e-6)
        }
        var normalised = row
        normalised.withUnsafeMutableBufferPointer { LogSoftmax.apply(to: $0) }
        #expect(abs(normalised.reduce(0.0) { $0 + exp(Double($1)) } - 1) < 1e-5)
        #expect(normalised.indices.allSatisfy { abs(Double(normalised[$0]) - row.logProbability(of: $0)) < 1e-5 })
    }

    /// After `next`, the row holds the processed logits: the chosen token's log-probability is the one it was drawn
    /// with, and removed tokens have none.
    @Test func processedRowGivesTheDrawnTokensLogProbability() throws {
        let reference = try #require(SamplingFixtures.cases.first { $0.id == "qwen3-vl/gaussian-ties" })
        let row = SamplingFixtures.row(reference.row)
        var sampler = Sampler(parameters: reference.parameters, vocabularySize: row.logits.count)
        var logits = row.logits
        let token = sampler.next(
            &logits, seen: SeenTokens(vocabularySize: logits.count), seed: SamplingSeed(value: 3), step: 0)
        let expected = reference.expected.logProbability(of: Int(token))
        #expect(expected.isFinite && abs(logits.logProbability(of: Int(token)) - expected) < 1e-6)
        let removed = try #require(logits.indices.first { logits[$0] == -.infinity })
        #expect(logits.logProbability(of: removed) == -.infinity)
    }
}
