import Testing

@testable import VLTokenizer

/// Added tokens and their flags, against HF tokenizers 0.23.3 on `TinyTokenizer` (ids 263… are tokenizers' numbering
/// of the added tokens: `<tok>` 263, `<lst>` 264, `<rst>` 265, `<sw>` 266, `ṩ` 267, `<to` 268, `ab` 269, `abc` 270).
@Suite struct AddedTokenTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let text: String
        let ids: [Int32]
        let decoded: String
        let decodedWithoutSpecial: String
        var testDescription: String { text.debugDescription }
    }

    static let cases = [
        Case(
            text: "hello world", ids: [259, 260, 111, 114, 108, 100], decoded: "hello world",
            decodedWithoutSpecial: "hello world"),
        // lstrip takes the whitespace before the token, rstrip the whitespace after it (Unicode \s: U+3000, U+00A0).
        Case(text: "a <lst> b", ids: [97, 264, 32, 98], decoded: "a<lst> b", decodedWithoutSpecial: "a<lst> b"),
        Case(text: "a  <lst>b", ids: [97, 264, 98], decoded: "a<lst>b", decodedWithoutSpecial: "a<lst>b"),
        Case(text: "a <rst>  b", ids: [97, 32, 265, 98], decoded: "a <rst>b", decodedWithoutSpecial: "a <rst>b"),
        Case(
            text: "a\t<lst>\u{3000}<rst>\u{A0}b", ids: [97, 264, 227, 128, 128, 265, 98],
            decoded: "a<lst>\u{3000}<rst>b", decodedWithoutSpecial: "a<lst>\u{3000}<rst>b"),
        Case(text: "<lst><lst>", ids: [264, 264], decoded: "<lst><lst>", decodedWithoutSpecial: "<lst><lst>"),
        Case(
            text: " <rst> <lst> ", ids: [32, 265, 264, 32], decoded: " <rst><lst> ",
            decodedWithoutSpecial: " <rst><lst> "),
        // single_word: not next to a word character (`_` is one, Rust regex \w).
        Case(text: "x<sw>y", ids: [120, 60, 115, 119, 62, 121], decoded: "x<sw>y", decodedWithoutSpecial: "x<sw>y"),
        Case(text: "x <sw> y", ids: [120, 32, 266, 32, 121], decoded: "x <sw> y", decodedWithoutSpecial: "x <sw> y"),
        Case(text: "<sw>", ids: [266], decoded: "<sw>", decodedWithoutSpecial: "<sw>"),
        Case(text: "_<sw>_", ids: [95, 60, 115, 119, 62, 95], decoded: "_<sw>_", decodedWithoutSpecial: "_<sw>_"),
        // A normalized token is found after NFC, in any canonical order of its marks; `é` is a special token that
        // tokenizers maps to the vocabulary's byte-level character é, byte 0xE9 (which decodes to U+FFFD).
        Case(
            text: "s\u{323}\u{307} \u{1E69} s\u{307}\u{323} é", ids: [267, 32, 267, 32, 267, 32, 233],
            decoded: "ṩ ṩ ṩ \u{FFFD}", decodedWithoutSpecial: "ṩ ṩ ṩ "),
        // Leftmost-longest: `<tok>` wins over `<to` where both start.
        Case(
            text: "<to <tok> <tok><tok>", ids: [268, 32, 263, 32, 263, 263], decoded: "<to <tok> <tok><tok>",
            decodedWithoutSpecial: "<to  "),
        Case(text: "xabcx ab", ids: [120, 270, 120, 32, 269], decoded: "xabcx ab", decodedWithoutSpecial: "xabcx ab"),
    ]

    static let tokenizer = try! TinyTokenizer.load()

    @Test(arguments: cases)
    func matchesHF(_ reference: Case) {
        let ids = Self.tokenizer.encode(reference.text)
        #expect(ids == reference.ids)
        #expect(Self.tokenizer.decode(ids) == reference.decoded)
        #expect(Self.tokenizer.decode(ids, skipSpecialTokens: true) == reference.decodedWithoutSpecial)
    }

    @Test func idsFollowTokenizersNumberingNotTheFile() {
        let ids = Dictionary(uniqueKeysWithValues: Self.tokenizer.addedTokens.map { ($0.content, $0.id) })
        #expect(
            ids == [
                "é": 233, "<tok>": 263, "<lst>": 264, "<rst>": 265, "<sw>": 266, "ṩ": 267, "<to": 268,
                "ab": 269, "abc": 270,
            ])
        #expect(Self.tokenizer.specialTokens == ["<tok>": 263, "é": 233])
        #expect(Self.tokenizer.vocabularySize == 271)
        #expect(Self.tokenizer.id(forToken: "<sw>") == 266 && Self.tokenizer.token(forID: 266) == "<sw>")
    }

    /// Special tokens left as text, by transformers' `split_special_tokens` in tokenizer_config.json or per call;
    /// other added tokens (`<lst>`) are still matched (HF tokenizers with `encode_special_tokens = True`).
    @Test func specialTokensAsText() throws {
        let splitting = try loadTokenizer(
            json: TinyTokenizer.json(TinyTokenizer.document()), config: #"{"split_special_tokens": true}"#)
        let literal: [Int32] = [60, 116, 111, 107, 62, 264]
        #expect(!splitting.parsesSpecialTokens && Self.tokenizer.parsesSpecialTokens)
        #expect(splitting.encode("<tok><lst>") == literal)
        #expect(Self.tokenizer.encode("<tok><lst>", parsingSpecialTokens: false) == literal)
        #expect(splitting.encode("<tok><lst>", parsingSpecialTokens: true) == [263, 264])
    }

    /// Qwen's special tokens, with the ids of the team's qwen-architecture.md §6.2.
    @Test(arguments: [
        (TokenizerFixtures.Vocabulary.qwen2, "<|endoftext|>", 151_643), (.qwen2, "<|im_start|>", 151_644),
        (.qwen2, "<|im_end|>", 151_645), (.qwen2, "<|vision_start|>", 151_652), (.qwen2, "<|image_pad|>", 151_655),
        (.qwen35, "<|endoftext|>", 248_044), (.qwen35, "<|im_end|>", 248_046), (.qwen35, "<|image_pad|>", 248_056),
        (.qwen35, "<think>", 248_068),
    ])
    func qwenSpecialTokens(vocabulary: TokenizerFixtures.Vocabulary, token: String, id: Int32) {
        let tokenizer = vocabulary.tokenizer
        #expect(tokenizer.id(forToken: token) == id)
        #expect(tokenizer.token(forID: id) == token)
        #expect(tokenizer.encode("x\(token)y") == tokenizer.encode("x") + [id] + tokenizer.encode("y"))
    }
}
