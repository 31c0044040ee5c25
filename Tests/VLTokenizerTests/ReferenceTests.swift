import Foundation
import Testing

@testable import VLTokenizer

/// Every reference vector: the corpus HF tokenizers encoded, and llama.cpp's tokenizer tests.
@Suite struct ReferenceTests {
    /// Every corpus line encodes to HF's ids and decodes to HF's text.
    @Test(arguments: TokenizerFixtures.Vocabulary.allCases)
    func corpusMatchesHF(vocabulary: TokenizerFixtures.Vocabulary) {
        let tokenizer = vocabulary.tokenizer
        let expected = TokenizerFixtures.expected(vocabulary)
        try! #require(expected.count == TokenizerFixtures.corpus.count)
        var failures = 0
        for (line, (text, reference)) in zip(TokenizerFixtures.corpus, expected).enumerated() {
            let ids = tokenizer.encode(text)
            let decoded = tokenizer.decode(ids)
            guard ids != reference.ids || decoded != reference.decoded else { continue }
            failures += 1
            if failures <= 10 {
                Issue.record("line \(line) \(text.debugDescription): ids \(ids) vs HF \(reference.ids)")
            }
        }
        #expect(failures == 0, "\(failures) corpus lines differ from HF")
    }

    /// decode(encode(text)) is the NFC form of the text, except where the fixture notes say HF's is not.
    @Test(arguments: TokenizerFixtures.Vocabulary.allCases)
    func roundTripGivesNFC(vocabulary: TokenizerFixtures.Vocabulary) {
        let exceptions = TokenizerFixtures.nfcRoundTripExceptions(vocabulary)
        let tokenizer = vocabulary.tokenizer
        for (line, text) in TokenizerFixtures.corpus.enumerated() where !exceptions.contains(line) {
            let nfc = String(decoding: text._nfcCodeUnits, as: UTF8.self)
            let roundTrip = tokenizer.decode(tokenizer.encode(text))
            #expect(Array(roundTrip.unicodeScalars) == Array(nfc.unicodeScalars), "line \(line)")
        }
    }

    /// llama.cpp's vectors (`tests/test-tokenizer-0.cpp` reads them): both files use Qwen2 ids; the qwen35 file runs
    /// the Qwen3.5 pattern without NFC (llama.cpp's qwen35 GGUF is the Qwen2 vocabulary with that pre-tokenizer).
    @Test(arguments: LlamaCppVectors.all)
    func llamaCppVector(vector: LlamaCppVectors.Vector) {
        #expect(vector.tokenizer.encode(vector.text) == vector.ids)
    }
}

/// `Tests/Fixtures/tokenizer/llama.cpp/ggml-vocab-*.gguf.{inp,out}`.
enum LlamaCppVectors {
    struct Vector: CustomTestStringConvertible, Sendable {
        let file: String
        let index: Int
        let text: String
        let ids: [Int32]
        let tokenizer: Tokenizer

        var testDescription: String { "\(file) #\(index) \(text.prefix(40).debugDescription)" }
    }

    /// The Qwen2 vocabulary with Qwen3.5's pattern and no normaliser, as llama.cpp's qwen35 vectors were made.
    static let qwen35PatternOnQwen2 = {
        var json = String(decoding: TokenizerFixtures.data("qwen2/tokenizer.json"), as: UTF8.self)
        json = json.replacingOccurrences(
            of: #""normalizer":\s*\{\s*"type":\s*"NFC"\s*\}"#, with: #""normalizer": null"#,
            options: .regularExpression)
        let escape = { (pattern: String) in pattern.replacingOccurrences(of: "\\", with: "\\\\") }
        json = json.replacingOccurrences(
            of: escape(PieceSplitter.qwen2Pattern), with: escape(PieceSplitter.qwen35Pattern))
        precondition(
            json.contains(escape(PieceSplitter.qwen35Pattern)) && !json.contains(#""NFC""#),
            "the Qwen2 file's normalizer or pattern was not found")
        return try! loadTokenizer(json: json)
    }()

    static let all: [Vector] = [
        ("ggml-vocab-qwen2.gguf", TokenizerFixtures.qwen2), ("ggml-vocab-qwen35.gguf", qwen35PatternOnQwen2),
    ].flatMap { file, tokenizer in
        vectors(file).enumerated().map {
            Vector(file: file, index: $0, text: $1.text, ids: $1.ids, tokenizer: tokenizer)
        }
    }

    /// Inputs are separated by "\n__ggml_vocab_test__\n" (the file ends with one); outputs are one line each.
    private static func vectors(_ file: String) -> [(text: String, ids: [Int32])] {
        let input = String(decoding: TokenizerFixtures.data("llama.cpp/\(file).inp"), as: UTF8.self)
        var texts = input.components(separatedBy: "\n__ggml_vocab_test__\n")
        if texts.last == "" { texts.removeLast() }
        let output = String(decoding: TokenizerFixtures.data("llama.cpp/\(file).out"), as: UTF8.self)
        let lines = output.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        precondition(lines.count == texts.count, "\(file): .inp and .out disagree on the number of tests")
        return zip(texts, lines).map { text, line in (text, line.split(separator: " ").map { Int32($0)! }) }
    }
}
