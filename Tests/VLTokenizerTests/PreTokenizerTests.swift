import Foundation
import Testing

@testable import VLTokenizer

/// The hand-written scanners for Qwen's two pre-tokenizer patterns.
@Suite struct PreTokenizerTests {
    enum Pattern: String, CaseIterable, CustomTestStringConvertible, Sendable {
        case qwen2
        case qwen35

        var testDescription: String { rawValue }
        var text: String { self == .qwen2 ? PieceSplitter.qwen2Pattern : PieceSplitter.qwen35Pattern }
        var scanner: PieceSplitter { .qwen(QwenPatternScanner(marksJoinLetters: self == .qwen35)) }
        var icu: PieceSplitter { .regex(RegexSplitter(pattern: text)!) }
    }

    /// Pieces from HF tokenizers 0.23.3 (`pre_tokenizers.Split(Regex(pattern), "isolated").pre_tokenize_str`).
    @Test(arguments: [
        (
            "'ſa 'S 'Sa 'LL 'Re 'ver", ["'ſ", "a", " '", "S", " '", "Sa", " '", "LL", " '", "Re", " '", "ver"],
            ["'ſ", "a", " '", "S", " '", "Sa", " '", "LL", " '", "Re", " '", "ver"]
        ),
        (
            "Hello  world\n\n  x", ["Hello", " ", " world", "\n\n", " ", " x"],
            ["Hello", " ", " world", "\n\n", " ", " x"]
        ),
        ("a\u{301}b \u{301}c", ["a", "\u{301}b", " \u{301}", "c"], ["a\u{301}b", " \u{301}c"]),
        ("  \n \t\n  y", ["  \n \t\n", " ", " y"], ["  \n \t\n", " ", " y"]),
        (
            "x\u{A0}y\u{3000}z\u{2028}w\u{180E}", ["x", "\u{A0}y", "\u{3000}z", "\u{2028}w", "\u{180E}"],
            ["x", "\u{A0}y", "\u{3000}z", "\u{2028}w", "\u{180E}"]
        ),
        (
            "(hello) 123 ½", ["(hello", ")", " ", "1", "2", "3", " ", "½"],
            ["(hello", ")", " ", "1", "2", "3", " ", "½"]
        ),
        ("tab\tx \u{85}y", ["tab", "\tx", " ", "\u{85}y"], ["tab", "\tx", " ", "\u{85}y"]),
        ("...\r\n\r\nend  ", ["...\r\n\r\n", "end", "  "], ["...\r\n\r\n", "end", "  "]),
        ("é\u{301}\u{301}", ["é", "\u{301}\u{301}"], ["é\u{301}\u{301}"]),
        ("١٢٣abc", ["١", "٢", "٣", "abc"], ["١", "٢", "٣", "abc"]),
    ])
    func matchesHF(text: String, qwen2: [String], qwen35: [String]) {
        #expect(Self.pieces(of: text, Pattern.qwen2.scanner) == qwen2)
        #expect(Self.pieces(of: text, Pattern.qwen35.scanner) == qwen35)
    }

    /// The scanner cuts every corpus line exactly where ICU running the pattern itself does (ICU and Oniguruma
    /// agree on these patterns; both have Unicode 16.0 tables on Linux with Swift 6.3).
    @Test(arguments: Pattern.allCases)
    func equalsRegexOnCorpus(pattern: Pattern) {
        for (line, text) in TokenizerFixtures.corpus.enumerated() {
            #expect(Self.pieces(of: text, pattern.scanner) == Self.pieces(of: text, pattern.icu), "line \(line)")
        }
    }

    /// …and on random strings over an alphabet of the characters where the classes are subtle.
    @Test(arguments: Pattern.allCases)
    func equalsRegexOnRandomStrings(pattern: Pattern) {
        let alphabet: [Character] = [
            "a", "Z", "é", "ſ", "K", "s", "S", "t", "r", "e", "v", "l", "L", "m", "d", "D", "'", "’", " ", " ",
            "\t", "\n", "\r", "\r\n", "\u{0B}", "\u{0C}", "\u{85}", "\u{A0}", "\u{1680}", "\u{180E}", "\u{2007}",
            "\u{200B}", "\u{2028}", "\u{2029}", "\u{3000}", "\u{FEFF}", "\u{301}", "\u{20DD}", "\u{94D}", "1", "٣",
            "½", "Ⅻ", "日", "본", "ا", "ـ", ".", ",", "!", "?", "(", "_", "-", "$", "😀", "👍🏽", "🇯🇵", "\u{1F3FB}",
            "\u{10D50}", "\u{10940}", "\u{E0001}", "\u{0}",
        ]
        var generator = SeededGenerator(seed: 2026)
        for _ in 0..<3000 {
            let text = String(
                (0..<Int.random(in: 1...24, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! })
            #expect(
                Self.pieces(of: text, pattern.scanner) == Self.pieces(of: text, pattern.icu), "\(text.debugDescription)"
            )
        }
    }

    /// Other pre-tokenizers run through ICU: `ByteLevel` alone with GPT-2's pattern, and a `Split` on a literal
    /// string (ids from HF tokenizers 0.23.3 on `TinyTokenizer` with that pre-tokenizer).
    @Test(
        arguments: [
            (
                #"{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": true}"#,
                "hello world  hello\n\nit's 123 ok?!",
                [
                    259, 260, 111, 114, 108, 100, 32, 32, 259, 10, 10, 105, 116, 39, 115, 32, 49, 50, 51, 32, 111, 107,
                    63, 33,
                ]
            ),
            (
                #"{"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"String": "l"}, "behavior": "Isolated", "#
                    + #""invert": false}, {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "#
                    + #""use_regex": false}]}"#,
                "hello world", [256, 108, 108, 111, 260, 111, 114, 108, 100]
            ),
        ] as [(String, String, [Int32])])
    func regexPreTokenizers(preTokenizer: String, text: String, ids: [Int32]) throws {
        var document = TinyTokenizer.document()
        document.set("pre_tokenizer", try JSONSerialization.jsonObject(with: Data(preTokenizer.utf8)))
        #expect(try TinyTokenizer.load(document).encode(text) == ids)
    }

    /// `\p{L}`, `\p{M}`, `\p{N}` and `\s` agree with ICU on every scalar ICU knows (ICU's tables may be older than
    /// Oniguruma's Unicode 16.0, but never newer than the standard library's), and scalars from Unicode 17.0 are
    /// in none of them, as for Oniguruma.
    @Test(arguments: [
        ("\\p{L}", ScalarClass.letter), ("\\p{M}", .mark), ("\\p{N}", .number), ("\\s", .whitespace),
    ])
    func classesMatchICU(pattern: String, scalarClass: ScalarClass) throws {
        let classifier = ScalarClassifier.shared
        let assigned = try Self.scalarsMatching("\\P{Cn}")
        let members = try Self.scalarsMatching(pattern)
        for value in UInt32(0)..<0x11_0000 {
            guard let scalar = Unicode.Scalar(value) else { continue }
            let ours = classifier.classes(of: value).contains(scalarClass)
            if let age = scalar.properties.age, age.major >= 17 {
                #expect(!ours, "U+\(String(value, radix: 16)) is from Unicode 17")
            } else if assigned.contains(value) {
                #expect(ours == members.contains(value), "U+\(String(value, radix: 16))")
            }
        }
    }

    /// The scalars ICU matches with `pattern` (one character class).
    private static func scalarsMatching(_ pattern: String) throws -> Set<UInt32> {
        var scalars = String.UnicodeScalarView()
        for value in UInt32(0)..<0x11_0000 {
            if let scalar = Unicode.Scalar(value) { scalars.append(scalar) }
        }
        let text = String(scalars) as NSString
        let expression = try NSRegularExpression(pattern: pattern)
        var members = Set<UInt32>()
        for match in expression.matches(in: text as String, range: NSRange(location: 0, length: text.length)) {
            let unit = UInt32(text.character(at: match.range.location))
            if UTF16.isLeadSurrogate(UInt16(unit)) {
                let low = UInt32(text.character(at: match.range.location + 1))
                members.insert(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))
            } else {
                members.insert(unit)
            }
        }
        return members
    }

    private static func pieces(of text: String, _ splitter: PieceSplitter) -> [String] {
        var text = text
        return text.withUTF8 { bytes in
            var pieces: [String] = []
            splitter.forEachPiece(in: bytes) { pieces.append(String(decoding: bytes[$0], as: UTF8.self)) }
            return pieces
        }
    }
}
