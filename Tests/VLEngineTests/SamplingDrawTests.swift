import Foundation
import Testing

@testable import VLEngine

@Suite struct SamplingDrawTests {
    /// `torch.argmax` returns the first maximal value; so do greedy decoding and `Sampler.argmax`.
    @Test func greedyTakesTheFirstMaximum() {
        var logits: [Float] = [1, 5, 3, 5, -2, 5]
        #expect(logits.withUnsafeBufferPointer { Sampler.argmax($0) } == 1)
        var sampler = Sampler(parameters: .greedy, vocabularySize: logits.count)
        let seen = SeenTokens(vocabularySize: logits.count)
        #expect(sampler.next(&logits, seen: seen, seed: SamplingSeed(value: 0), step: 0) == 1)
        #expect([Float](repeating: -.infinity, count: 4).withUnsafeBufferPointer { Sampler.argmax($0) } == 0)
    }

    /// Each id is penalised once, however often it was seen; negative logits are multiplied, others divided.
    @Test func repetitionPenaltyCountsEachIdOnce() throws {
        var logits: [Float] = [4, -4, 4, 0, 1]
        let seen = SeenTokens(vocabularySize: 5, tokens: [0, 0, 0, 1, 3, 1, 99, -1])
        #expect(seen.ids == [0, 1, 3])
        var sampler = Sampler(parameters: try SamplingParameters(repetitionPenalty: 2), vocabularySize: 5)
        sampler.process(&logits, seen: seen)
        #expect(logits == [2, -8, 4, 0, 1])
        #expect(sampler.next(&logits, seen: seen, seed: SamplingSeed(value: 0), step: 0) == 2)
    }

    /// A uniform number maps to a token by walking the tokens in play by ascending id.
    @Test func uniformNumberWalksTheTokensByAscendingId() throws {
        // Tokens 3 and 9 in play, probabilities 1/4 and 3/4.
        let parameters = try SamplingParameters(doSample: true, topK: 2)
        var sampler = Sampler(parameters: parameters, vocabularySize: 12)
        var logits = [Float](repeating: -5, count: 12)
        logits[3] = 0
        logits[9] = log(3)
        sampler.process(&logits, seen: SeenTokens(vocabularySize: 12))
        let probabilityOf3 = exp(Double(logits[3])) / (exp(Double(logits[3])) + exp(Double(logits[9])))
        func draw(_ uniform: Double) -> Int32 {
            logits.withUnsafeBufferPointer { sampler.draw(from: $0, uniform: uniform) }
        }
        #expect(draw(0) == 3)
        #expect(draw(probabilityOf3 - 1e-6) == 3)
        #expect(draw(probabilityOf3 + 1e-6) == 9)
        #expect(draw(0.999_999_999) == 9)
    }

    /// Equal logits straddling the top-p cut: the lower ids are kept (transformers' choice there depends on an
    /// unstable sort).
    @Test func topPTiesKeepTheLowerIds() throws {
        var logits: [Float] = [0, 0, 0, 0]
        var sampler = Sampler(parameters: try SamplingParameters(doSample: true, topK: 0, topP: 0.5), vocabularySize: 4)
        sampler.process(&logits, seen: SeenTokens(vocabularySize: 4))
        #expect(logits == [0, 0, -.infinity, -.infinity])
    }

    /// A row with no probability mass left does not trap: the draw falls back to the argmax.
    @Test func rowWithoutMassFallsBackToTheArgmax() throws {
        let parameters = try SamplingParameters(doSample: true, temperature: 0.5, topK: 3, topP: 0.9, minP: 0.1)
        var sampler = Sampler(parameters: parameters, vocabularySize: 6)
        var logits = [Float](repeating: -.infinity, count: 6)
        #expect(sampler.next(&logits, seen: SeenTokens(vocabularySize: 6), seed: SamplingSeed(value: 1), step: 0) == 0)
    }

    /// A token depends on (run seed, item id, step) alone: generating items together in one batch, one by one in
    /// reverse order, or mixed with other items gives each item the same tokens.
    @Test func tokensAreIndependentOfBatchComposition() throws {
        let parameters = try SamplingParameters(
            doSample: true, temperature: 0.9, topK: 40, topP: 0.95, repetitionPenalty: 1.1, seed: 2024)
        let items = ["a.png", "b/c.jpg", "d.txt", "e.png"]
        let steps = 24

        func generate(_ schedule: [[String]]) -> [String: [Int32]] {
            var sampler = Sampler(parameters: parameters, vocabularySize: 300)
            var seen: [String: SeenTokens] = [:]
            var tokens: [String: [Int32]] = [:]
            for batch in schedule {
                for item in batch {
                    var history = seen[item] ?? SeenTokens(vocabularySize: 300, tokens: [1, 2, 3])
                    var logits = fakeLogits(item: item, step: tokens[item, default: []].count)
                    let seed = SamplingSeed(run: parameters.seed, item: item)
                    let token = sampler.next(
                        &logits, seen: history, seed: seed, step: tokens[item, default: []].count)
                    history.insert(token)
                    seen[item] = history
                    tokens[item, default: []].append(token)
                }
            }
            return tokens
        }

        let together = generate(Array(repeating: items, count: steps))
        let alone = generate(items.reversed().flatMap { item in Array(repeating: [item], count: steps) })
        var shuffler = SplitMix64(state: 77)
        var mixedSchedule: [[String]] = []
        for step in 0..<steps {
            mixedSchedule.append(["noise-\(step)"] + items.shuffled(using: &shuffler) + ["other"])
        }
        let mixed = generate(mixedSchedule)
        for item in items {
            #expect(together[item]?.count == steps)
            #expect(together[item] == alone[item])
            #expect(together[item] == mixed[item])
        }
        #expect(Set(items.map { together[$0]! }).count == items.count)

        var rerun = Sampler(parameters: parameters, vocabularySize: 300)
        var logits = fakeLogits(item: "a.png", step: 0)
        let seed = SamplingSeed(run: 2024, item: "a.png")
        let first = rerun.next(&logits, seen: SeenTokens(vocabularySize: 300, tokens: [1, 2, 3]), seed: seed, step: 0)
        #expect(first == together["a.png"]?.first)
    }

    /// Over many draws the frequencies match the processed distribution: Pearson's chi-square, cells with an
    /// expected count below 5 pooled, below its 99.9 % quantile. Every draw uses its own (item, step) generator,
    /// as generation does; the seed is fixed, so the outcome is too.
    @Test(arguments: [
        "qwen3-vl/gaussian-ties", "min-p-0.05/gaussian-ties", "no-top-k/masked", "top-k-10/gaussian-ties",
    ])
    func frequenciesMatchTheProcessedDistribution(caseID: String) throws {
        let reference = try #require(SamplingFixtures.cases.first { $0.id == caseID })
        let row = SamplingFixtures.row(reference.row)
        var sampler = Sampler(parameters: reference.parameters, vocabularySize: row.logits.count)
        let seen = SeenTokens(vocabularySize: row.logits.count, tokens: row.seen)
        let draws = 20_000
        var counts = [Int](repeating: 0, count: row.logits.count)
        let seed = SamplingSeed(run: 99, item: caseID)
        for step in 0..<draws {
            var logits = row.logits
            counts[Int(sampler.next(&logits, seen: seen, seed: seed, step: step))] += 1
        }
        let normaliser = reference.expected.withUnsafeBufferPointer { LogSoftmax.logSumExp($0) }
        let probabilities = reference.expected.map { exp(Double($0) - normaliser) }

        var statistic = 0.0
        var cells = 0
        var pooledExpected = 0.0
        var pooledObserved = 0
        for token in probabilities.indices where probabilities[token] > 0 {
            let expected = probabilities[token] * Double(draws)
            if expected < 5 {
                pooledExpected += expected
                pooledObserved += counts[token]
            } else {
                statistic += pow(Double(counts[token]) - expected, 2) / expected
                cells += 1
            }
        }
        if pooledExpected > 0 {
            statistic += pow(Double(pooledObserved) - pooledExpected, 2) / max(pooledExpected, 1)
            cells += 1
        }
        for token in probabilities.indices where probabilities[token] == 0 {
            #expect(counts[token] == 0)
        }
        let degrees = Double(max(cells - 1, 1))
        // Wilson-Hilferty: the chi-square quantile at z = 3.09 (99.9 %).
        let quantile = degrees * pow(1 - 2 / (9 * degrees) + 3.09 * (2 / (9 * degrees)).squareRoot(), 3)
        #expect(statistic < quantile, "chi-square \(statistic) over \(cells) cells, bound \(quantile)")
    }
}

/// A deterministic stand-in for a model: a logits row that depends on the item and the step only.
private func fakeLogits(item: String, step: Int) -> [Float] {
    var generator = SamplingSeed(run: 5, item: item).generator(step: step + 1000)
    return (0..<300).map { _ in Float(generator.nextUniform() * 8 - 4) }
}
