import Testing

@testable import VLTokenizer

/// NFC as tokenizers computes it (expectations from tokenizers 0.23.3 `normalizers.NFC().normalize_str`).
@Suite struct NormalizationTests {
    @Test(arguments: [
        // Plain composition and reordering.
        ("e\u{301}", "\u{E9}"), ("A\u{30A}\u{323}", "\u{1EA0}\u{30A}"), ("\u{1100}\u{1161}\u{11A8}", "\u{AC01}"),
        ("\u{344}", "\u{308}\u{301}"),
        // Tibetan vowels whose decompositions start with a mark: the parts move before higher-class marks.
        ("\u{1E8D6}\u{F75}", "\u{F71}\u{F74}\u{1E8D6}"), ("a\u{301}\u{F73}", "\u{E1}\u{F71}\u{F72}"),
        ("\u{F40}\u{F81}\u{316}", "\u{F40}\u{F71}\u{F80}\u{316}"), ("x\u{F75}\u{F72}", "x\u{F71}\u{F72}\u{F74}"),
        // Scalars from after Unicode 9.0 are unknown to tokenizers' tables: no composition, no reordering.
        ("\u{11935}\u{11930}", "\u{11935}\u{11930}"), ("a\u{10F47}\u{301}", "a\u{10F47}\u{301}"),
        ("a\u{1E130}\u{316}", "a\u{1E130}\u{316}"), ("a\u{1DF6}\u{316}", "a\u{1DF6}\u{316}"),
    ])
    func matchesTokenizers(text: String, expected: String) {
        var text = text
        var normalized: [UInt8] = []
        text.withUTF8 { HFNormalizer.appendNFC(of: $0, to: &normalized) }
        #expect(Array(String(decoding: normalized, as: UTF8.self).unicodeScalars) == Array(expected.unicodeScalars))
    }
}
