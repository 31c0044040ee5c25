import Foundation
import Testing
import VLEngine
import VLModels

/// The processors against transformers 5.23's own, on the fixture rows (see tools/make_sampling_fixtures.py).
@Suite struct SamplingReferenceTests {
    /// Same kept set exactly, kept values within 1e-6 relative, same argmax.
    @Test(arguments: SamplingFixtures.cases)
    func processedRowMatchesTransformers(_ reference: SamplingFixtures.Case) throws {
        let row = SamplingFixtures.row(reference.row)
        let parameters = reference.parameters
        var sampler = Sampler(parameters: parameters, vocabularySize: row.logits.count)
        var logits = row.logits
        sampler.process(&logits, seen: SeenTokens(vocabularySize: logits.count, tokens: row.seen))

        let kept = logits.indices.filter { logits[$0] != -.infinity }
        let expectedKept = reference.expected.indices.filter { reference.expected[$0] != -.infinity }
        #expect(kept == expectedKept)
        #expect(kept.count == reference.kept)
        for index in kept where reference.expected[index] != -.infinity {
            let expected = reference.expected[index]
            #expect(
                abs(logits[index] - expected) <= 1e-6 * max(abs(expected), 1e-30),
                "token \(index): \(logits[index]) against \(expected)")
        }
        #expect(logits.withUnsafeBufferPointer { Sampler.argmax($0) } == reference.argmax)
    }

    /// The processors switched on, in transformers' order (`GenerationMixin._get_logits_processor`).
    @Test(arguments: SamplingFixtures.cases)
    func processorOrderMatchesTransformers(_ reference: SamplingFixtures.Case) throws {
        let parameters = reference.parameters
        #expect(parameters.processors.map(\.rawValue) == reference.processors)
    }

    /// Greedy cases: `next` returns the processed row's first maximum whatever the seed.
    @Test(arguments: SamplingFixtures.cases.filter { !$0.parameters.doSample })
    func greedyNextIsTheReferenceArgmax(_ reference: SamplingFixtures.Case) throws {
        let row = SamplingFixtures.row(reference.row)
        var sampler = Sampler(parameters: reference.parameters, vocabularySize: row.logits.count)
        let seen = SeenTokens(vocabularySize: row.logits.count, tokens: row.seen)
        for step in 0..<3 {
            var logits = row.logits
            let token = sampler.next(&logits, seen: seen, seed: SamplingSeed(run: 7, item: "a.png"), step: step)
            #expect(token == reference.argmax)
        }
    }

    /// Sampled cases: every draw lands on a token the reference kept.
    @Test(arguments: SamplingFixtures.cases.filter(\.parameters.doSample))
    func drawsStayInsideTheReferenceKeptSet(_ reference: SamplingFixtures.Case) throws {
        let row = SamplingFixtures.row(reference.row)
        var sampler = Sampler(parameters: reference.parameters, vocabularySize: row.logits.count)
        let seen = SeenTokens(vocabularySize: row.logits.count, tokens: row.seen)
        let seed = SamplingSeed(run: 11, item: reference.id)
        for step in 0..<200 {
            var logits = row.logits
            let token = sampler.next(&logits, seen: seen, seed: seed, step: step)
            #expect(reference.expected[Int(token)] != -.infinity, "step \(step) drew removed token \(token)")
        }
    }

    /// The same parameters reached through `generation_config.json` keys (and min_p as an override) give the same
    /// sampler settings as the fixture's resolved values.
    @Test(arguments: SamplingFixtures.cases)
    func generationConfigPathGivesTheSameParameters(_ reference: SamplingFixtures.Case) throws {
        let p = reference.parameters
        let json = """
            {"do_sample": \(p.doSample), "temperature": \(p.temperature), "top_k": \(p.topK), "top_p": \(p.topP),
             "repetition_penalty": \(p.repetitionPenalty), "eos_token_id": 2}
            """
        let config = try JSONDecoder().decode(GenerationConfig.self, from: Data(json.utf8))
        let parameters = try SamplingParameters(
            generationConfig: config, overrides: SamplingOverrides(minP: p.minP == 0 ? nil : p.minP))
        #expect(parameters == p)
    }
}
