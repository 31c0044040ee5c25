import Foundation
import Testing
import VLCore
import VLEngine
import VLModels
import VLTokenizer

@Suite("JSON object grammar")
struct JSONObjectGrammarTests {
    static let schema = JSONObjectSchema(fields: [
        .init(name: "vendor", type: .string), .init(name: "total", type: .number, optional: true),
        .init(name: "items", type: .integer), .init(name: "paid", type: .boolean),
    ])

    func accepts(_ text: String, _ schema: JSONObjectSchema = schema) -> Bool {
        var grammar = JSONObjectGrammar(schema: schema)
        for byte in text.utf8 where !grammar.accept(byte) { return false }
        return grammar.isComplete
    }

    @Test("the canonical layout with every kind of value")
    func accepted() {
        #expect(accepts(#"{"vendor": "ACME \"Ltd\" \u00e9\n", "total": -12.5e+3, "items": 0, "paid": true}"#))
        #expect(accepts(#"{"vendor": "", "total": null, "items": -7, "paid": false}"#))
        #expect(accepts(#"{"vendor": "x", "total": 3, "items": 12, "paid": true}"#))
        #expect(accepts("{}", JSONObjectSchema(fields: [])))
    }

    @Test(
        "anything else is refused",
        arguments: [
            #"{"vendor": "x", "total": 1, "items": 2}"#,  // a key missing
            #"{"total": 1, "vendor": "x", "items": 2, "paid": true}"#,  // keys out of order
            #"{"vendor": 5, "total": 1, "items": 2, "paid": true}"#,  // wrong type
            #"{"vendor": "x", "total": 1, "items": 2.5, "paid": true}"#,  // fraction in an integer
            #"{"vendor": "x", "total": 01, "items": 2, "paid": true}"#,  // leading zero
            #"{"vendor": "x", "total": 1., "items": 2, "paid": true}"#,  // point without digits
            #"{"vendor": "x", "total": 1, "items": null, "paid": true}"#,  // null where not optional
            #"{"vendor": "a\qb", "total": 1, "items": 2, "paid": true}"#,  // bad escape
            #"{"vendor": "x", "total": 1, "items": 2, "paid": yes}"#,  // not a boolean
            "{\"vendor\": \"a\tb\", \"total\": 1, \"items\": 2, \"paid\": true}",  // raw control character
            #"{"vendor":"x", "total": 1, "items": 2, "paid": true}"#,  // another layout
        ])
    func refused(text: String) {
        #expect(!accepts(text))
    }

    @Test("strings and numbers are bounded, so every object ends within maxBytes")
    func bounds() {
        let long = String(repeating: "a", count: JSONObjectSchema.maxStringBytes)
        #expect(accepts("{\"vendor\": \"\(long)\", \"total\": 1, \"items\": 2, \"paid\": true}"))
        #expect(!accepts("{\"vendor\": \"\(long)a\", \"total\": 1, \"items\": 2, \"paid\": true}"))
        let digits = String(repeating: "9", count: JSONObjectSchema.maxMantissaDigits)
        #expect(accepts("{\"vendor\": \"\", \"total\": -\(digits)e-99, \"items\": 2, \"paid\": true}"))
        #expect(!accepts("{\"vendor\": \"\", \"total\": \(digits)9, \"items\": 2, \"paid\": true}"))
        #expect(!accepts("{\"vendor\": \"\", \"total\": 1e100, \"items\": 2, \"paid\": true}"))
        let grammar = JSONObjectGrammar(schema: Self.schema)
        #expect(grammar.maxBytes >= 2 * JSONObjectSchema.maxStringBytes / 2)
    }
}

/// Constrained sampling over a real byte-level vocabulary with random logits: whatever the scores, every answer is a
/// complete object that parses and matches its schema.
@Suite("Constrained JSON decoding")
struct JSONTokenConstraintTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let tokenizer = try! Tokenizer.load(
        directory: repositoryRoot.appendingPathComponent("Samples/Models/vlbatch-demo-qwen3.5"))

    static func randomSchema(_ rng: inout SplitMix64) -> JSONObjectSchema {
        let names = ["name", "total", "date", "count", "ok", "vendor \"x\"", "note\\path", "é"]
        let count = Int(rng.next() % 5)
        return JSONObjectSchema(
            fields: (0..<count).map { index in
                JSONObjectSchema.Field(
                    name: names[Int(rng.next() % UInt64(names.count))] + "\(index)",
                    type: JSONObjectSchema.ValueType.allCases[Int(rng.next() % 4)], optional: rng.next() % 3 == 0)
            })
    }

    /// Checks that `text` is the JSON object of `schema`, keys in order, each value of its type.
    static func validates(_ text: String, _ schema: JSONObjectSchema) -> Bool {
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
            object.count == schema.fields.count
        else { return false }
        for field in schema.fields {
            guard let value = object[field.name] else { return false }
            if value is NSNull { if field.optional { continue } else { return false } }
            switch field.type {
            case .string: if !(value is String) { return false }
            case .boolean:
                guard let number = value as? NSNumber, String(cString: number.objCType) == "c" else { return false }
            case .integer:
                guard !text.isEmpty, let number = value as? NSNumber, number.doubleValue == number.doubleValue.rounded()
                else { return false }
            case .number: if !(value is NSNumber) { return false }
            }
        }
        return true
    }

    @Test("a few hundred random schemas, sampled with random logits, always give a valid object")
    func randomRuns() throws {
        let vocabulary = JSONTokenConstraint.Vocabulary(tokenizer: Self.tokenizer, size: Self.tokenizer.vocabularySize)
        let stop = try #require(Self.tokenizer.specialTokens["<|im_end|>"])
        var rng = SplitMix64(state: 99)
        for run in 0..<300 {
            let schema = Self.randomSchema(&rng)
            var constraint = JSONTokenConstraint(schema: schema, vocabulary: vocabulary, stopToken: stop)
            let parameters =
                run % 3 == 0
                ? SamplingParameters.greedy
                : try SamplingParameters(doSample: true, temperature: 2, topK: 0, topP: 1, seed: UInt64(run))
            var sampler = Sampler(parameters: parameters, vocabularySize: Self.tokenizer.vocabularySize)
            let seen = SeenTokens(vocabularySize: Self.tokenizer.vocabularySize)
            var tokens: [Int32] = []
            var stopped = false
            for step in 0..<constraint.maxTokens {
                // Scores that favour ending the string and spelling the stop token: the worst case for a grammar.
                var logits = (0..<Self.tokenizer.vocabularySize).map { _ in Float(rng.nextUniform() * 20 - 10) }
                logits[Int(stop)] = 50
                constraint.mask(&logits)
                let token = sampler.next(&logits, seen: seen, seed: SamplingSeed(value: UInt64(run)), step: step)
                constraint.advance(token)
                if token == stop {
                    stopped = true
                    break
                }
                tokens.append(token)
            }
            let text = Self.tokenizer.decode(tokens)
            #expect(stopped && constraint.isComplete, "run \(run): \(text)")
            #expect(Self.validates(text, schema), "run \(run): \(text)")
        }
    }

    @Test("a real model's constrained answer through the batch generator")
    func throughTheModel() throws {
        let directory = Self.repositoryRoot.appendingPathComponent("Samples/Models/vlbatch-demo-qwen3.5")
        let model = try ModelRegistry.load(directory: directory, weights: .bf16)
        let prompts = try PromptTokenizer(tokenizer: Self.tokenizer)
        let format = try ModelType.chatFormat(directory: directory)
        let prompt = try prompts.tokenize(
            format.render([.user([.text("Give the vendor and total.")])]), imageTokenCounts: [])
        let schema = JSONObjectSchema(fields: [
            .init(name: "vendor", type: .string), .init(name: "total", type: .number, optional: true),
        ])
        let stop = try #require(Self.tokenizer.specialTokens["<|im_end|>"])
        let vocabulary = JSONTokenConstraint.Vocabulary(tokenizer: Self.tokenizer, size: model.vocabularySize)
        let jobs = (0..<4).map { index in
            let constraint = JSONTokenConstraint(schema: schema, vocabulary: vocabulary, stopToken: stop)
            return GenerationJob(
                request: GenerationRequest(
                    tokens: prompt, images: [], maxNewTokens: constraint.maxTokens, stopTokens: [stop]),
                sampling: index == 0
                    ? .greedy : try! SamplingParameters(doSample: true, temperature: 1.5, seed: UInt64(index)),
                seed: SamplingSeed(run: 1, item: "item-\(index)"), constraint: constraint)
        }
        let results = BatchGenerator.run(jobs, model: model, pool: ComputePool(threadCount: 2), maxBatch: 4)
        for result in results {
            let answer = try result.get()
            #expect(answer.finishReason == .stop)
            #expect(
                Self.validates(Self.tokenizer.decode(answer.tokens), schema), "\(Self.tokenizer.decode(answer.tokens))")
        }
    }
}
