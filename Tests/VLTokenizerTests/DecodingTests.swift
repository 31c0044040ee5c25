import Testing

@testable import VLTokenizer

/// `decode` and `StreamingDetokenizer`.
@Suite struct DecodingTests {
    /// Invalid UTF-8 becomes U+FFFD per maximal subpart, as Rust's `from_utf8_lossy` does in HF's ByteLevel decoder
    /// (expectations from HF tokenizers 0.23.3 decoding the byte tokens of `TinyTokenizer`, whose ids are the bytes).
    @Test(
        arguments: [
            ([0x61, 0xE0, 0x80, 0x62], "a\u{FFFD}\u{FFFD}b"), ([0xF0, 0x9F, 0x98], "\u{FFFD}"),
            ([0xED, 0xA0, 0x80], "\u{FFFD}\u{FFFD}\u{FFFD}"),
            ([0xF4, 0x90, 0x80, 0x80], "\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}"),
            ([0xC0, 0xAF], "\u{FFFD}\u{FFFD}"), ([0xE4, 0xB8, 0x41], "\u{FFFD}A"),
            ([0xF0, 0x9F, 0x98, 0x80, 0x80], "😀\u{FFFD}"), ([0xE0, 0xA0], "\u{FFFD}"),
            ([0xFF, 0xFE, 0x41], "\u{FFFD}\u{FFFD}A"),
            ([0xF5, 0x80], "\u{FFFD}\u{FFFD}"),
        ] as [([Int32], String)])
    func invalidUTF8(bytes: [Int32], expected: String) throws {
        let tokenizer = try TinyTokenizer.load()
        #expect(tokenizer.decode(bytes) == expected)
        #expect(Self.streamed(bytes, tokenizer) == expected)
    }

    /// Unknown ids are skipped, as tokenizers' `decode` does.
    @Test func unknownIDsAreSkipped() {
        let tokenizer = TokenizerFixtures.qwen2
        #expect(tokenizer.decode([9707, -1, 151_700, 99_999_999, 1879]) == "Hello world")
        #expect(tokenizer.token(forID: 151_700) == nil && tokenizer.token(forID: -1) == nil)
        #expect(tokenizer.token(forID: 9707) == "Hello" && tokenizer.token(forID: 1879) == "Ġworld")
        #expect(tokenizer.id(forToken: "Ġworld") == 1879 && tokenizer.id(forToken: " world") == nil)
    }

    /// A character split over tokens comes out once it is complete: " 🦙" is ` ð` `Ł¦` `Ļ` (three byte-level tokens,
    /// HF ids below), and the others split too.
    @Test(arguments: [(TokenizerFixtures.Vocabulary.qwen2, [11162, 99, 247] as [Int32]), (.qwen35, [10838, 99, 247])])
    func streamingHoldsBackSplitCharacters(vocabulary: TokenizerFixtures.Vocabulary, llama: [Int32]) {
        let tokenizer = vocabulary.tokenizer
        #expect(tokenizer.encode(" 🦙") == llama)
        var detokenizer = StreamingDetokenizer(tokenizer: tokenizer)
        #expect(llama.map { detokenizer.append($0) } == [" ", "", "🦙"])
        for text in [" 語", "🦙x 日本語テキスト", "👩‍💻 ok", "Ελληνικά 🇯🇵!"] {
            let ids = tokenizer.encode(text)
            var detokenizer = StreamingDetokenizer(tokenizer: tokenizer)
            var outputs = ids.map { detokenizer.append($0) }
            outputs.append(detokenizer.finish())
            #expect(outputs.joined() == text)
            #expect(outputs.allSatisfy { !$0.unicodeScalars.contains("\u{FFFD}") }, "\(outputs)")
        }
    }

    /// Streaming gives exactly `decode` on every corpus line, including special tokens and their skipping.
    @Test(arguments: TokenizerFixtures.Vocabulary.allCases, [false, true])
    func streamingEqualsDecode(vocabulary: TokenizerFixtures.Vocabulary, skipSpecialTokens: Bool) {
        let tokenizer = vocabulary.tokenizer
        for (line, text) in TokenizerFixtures.corpus.enumerated() {
            let ids = tokenizer.encode(text)
            #expect(
                Self.streamed(ids, tokenizer, skipSpecialTokens: skipSpecialTokens)
                    == tokenizer.decode(ids, skipSpecialTokens: skipSpecialTokens), "line \(line)")
        }
    }

    /// Only a proper prefix of a well-formed sequence is held back.
    @Test(
        arguments: [
            ([], 0), ([0x41], 1), ([0x41, 0xE6], 1), ([0x41, 0xE6, 0x97], 1), ([0xE6, 0x97, 0xA5], 3),
            ([0xF0, 0x9F], 0),
            ([0xF0, 0x9F, 0x98], 0), ([0xF0, 0x8F], 2), ([0xE0, 0x9F], 2), ([0xED, 0xA0], 2), ([0xF4, 0x90], 2),
            ([0xC0], 1), ([0x80, 0x80, 0x80, 0x80], 4), ([0xF5], 1), ([0xC3], 0),
        ] as [([UInt8], Int)])
    func completePrefixLength(bytes: [UInt8], expected: Int) {
        #expect(StreamingDetokenizer.completePrefixLength(bytes) == expected)
    }

    private static func streamed(_ ids: [Int32], _ tokenizer: Tokenizer, skipSpecialTokens: Bool = false) -> String {
        var detokenizer = StreamingDetokenizer(tokenizer: tokenizer, skipSpecialTokens: skipSpecialTokens)
        return ids.map { detokenizer.append($0) }.joined() + detokenizer.finish()
    }
}

/// One tokenizer encoding from many tasks at once.
@Suite struct ConcurrencyTests {
    /// Eight tasks encode the whole corpus at once (sharing the piece cache) and get what one task gets alone.
    @Test(arguments: TokenizerFixtures.Vocabulary.allCases)
    func concurrentEncodesAgree(vocabulary: TokenizerFixtures.Vocabulary) async {
        let tokenizer = vocabulary.tokenizer
        let corpus = TokenizerFixtures.corpus
        let expected = TokenizerFixtures.expected(vocabulary).map(\.ids)
        let results = await withTaskGroup(of: [[Int32]].self) { group in
            for task in 0..<8 {
                // Each task walks the corpus from a different line, so that the cache sees interleaved pieces.
                group.addTask {
                    let order = corpus.indices.map { ($0 + task * 331) % corpus.count }
                    var ids = [[Int32]](repeating: [], count: corpus.count)
                    for line in order { ids[line] = tokenizer.encode(corpus[line]) }
                    return ids
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.count == 8)
        for ids in results { #expect(ids == expected) }
    }
}
