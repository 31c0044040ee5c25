/// A token from tokenizer.json's `added_tokens`: found in the text before anything else happens, never split.
public struct AddedToken: Sendable, Equatable {
    /// The token id.
    public let id: Int32
    /// The text the token stands for.
    public let content: String
    /// Whether decoding with `skipSpecialTokens` drops it (`special`).
    public let isSpecial: Bool
    /// Matches only where no word character touches it on either side (`single_word`).
    public let singleWord: Bool
    /// Takes the whitespace before it into the token (`lstrip`).
    public let leftStrip: Bool
    /// Takes the whitespace after it into the token (`rstrip`).
    public let rightStrip: Bool
    /// Matched in the normalised text rather than the raw text (`normalized`).
    public let normalized: Bool

    /// A token with the given flags.
    public init(
        id: Int32, content: String, isSpecial: Bool, singleWord: Bool = false, leftStrip: Bool = false,
        rightStrip: Bool = false, normalized: Bool = false
    ) {
        self.id = id
        self.content = content
        self.isSpecial = isSpecial
        self.singleWord = singleWord
        self.leftStrip = leftStrip
        self.rightStrip = rightStrip
        self.normalized = normalized
    }
}

/// A part of the text as the added-token matcher cuts it.
enum TextSegment {
    /// Bytes to normalise, pre-tokenize and encode.
    case text(Range<Int>)
    /// An added token.
    case token(Int32)
}

/// Finds added tokens in text the way HF tokenizers' `AddedVocabulary::find_matches` does.
///
/// Matching is leftmost-longest (tokenizers builds an Aho-Corasick automaton with `MatchKind::LeftmostLongest`):
/// the earliest start wins, and among tokens starting there the longest. Then, per match: a `single_word` token
/// next to a word character (Rust regex `\w`) is dropped; `lstrip` pulls the start back over the whitespace before
/// it (not past the previous match); `rstrip` pushes the end over the whitespace after it. The search resumes at
/// the match's original end, as the automaton's iterator does.
struct AddedTokenMatcher: Sendable {
    private let tokens: [AddedToken]
    /// The bytes each token is searched as (its content, NFC-normalised for `normalized` tokens).
    private let patterns: [[UInt8]]
    /// Indices into `tokens` by first byte, longest pattern first.
    private let candidates: [[Int]]
    /// Whether some pattern starts with each byte (a flat table: the scan tests every byte of the text).
    private let isFirstByte: [Bool]

    /// A matcher for `tokens`, searched as `pattern(token)`; empty patterns are ignored, as tokenizers does.
    init(tokens: [AddedToken], pattern: (AddedToken) -> [UInt8]) {
        let kept = tokens.filter { !$0.content.isEmpty }
        let patterns = kept.map(pattern)
        var candidates = [[Int]](repeating: [], count: 256)
        for (index, pattern) in patterns.enumerated() { candidates[Int(pattern[0])].append(index) }
        self.tokens = kept
        self.patterns = patterns
        self.candidates = candidates.map { list in
            list.sorted { (patterns[$0].count, $1) > (patterns[$1].count, $0) }
        }
        isFirstByte = candidates.map { !$0.isEmpty }
    }

    /// Whether there is nothing to find.
    var isEmpty: Bool { tokens.isEmpty }

    /// Calls `body` with the segments of `text` in order: added tokens and the (non-empty) text between them.
    ///
    /// With `skippingSpecial` (tokenizers' `encode_special_tokens`, transformers' `split_special_tokens`), special
    /// tokens are found but left in the text, to be encoded like any other text.
    func forEachSegment(in text: UnsafeBufferPointer<UInt8>, skippingSpecial: Bool, _ body: (TextSegment) -> Void) {
        var segmentStart = 0
        var searchFrom = 0
        while let (index, matchStart) = nextMatch(in: text, from: searchFrom) {
            let token = tokens[index]
            var start = matchStart
            var stop = matchStart + patterns[index].count
            searchFrom = stop
            if skippingSpecial && token.isSpecial { continue }
            if token.singleWord {
                let wordBefore = start > 0 && Self.isWordCharacter(Self.scalar(in: text, endingAt: start))
                let wordAfter = stop < text.count && Self.isWordCharacter(Self.scalar(in: text, startingAt: stop))
                if wordBefore || wordAfter { continue }
            }
            if token.leftStrip {
                var newStart = start
                while newStart > 0, Self.isWhitespace(Self.scalar(in: text, endingAt: newStart)) {
                    newStart -= UTF8.width(Self.scalar(in: text, endingAt: newStart))
                }
                start = max(newStart, segmentStart)
            }
            if token.rightStrip {
                while stop < text.count, Self.isWhitespace(Self.scalar(in: text, startingAt: stop)) {
                    stop += UTF8.width(Self.scalar(in: text, startingAt: stop))
                }
            }
            if segmentStart < start { body(.text(segmentStart..<start)) }
            body(.token(token.id))
            segmentStart = stop
        }
        if segmentStart < text.count { body(.text(segmentStart..<text.count)) }
    }

    /// The leftmost-longest match at or after `position`: the token's index and where it starts.
    private func nextMatch(in text: UnsafeBufferPointer<UInt8>, from position: Int) -> (Int, Int)? {
        guard !tokens.isEmpty else { return nil }
        for start in position..<text.count where isFirstByte[Int(text[start])] {
            for index in candidates[Int(text[start])] {
                let pattern = patterns[index]
                if start + pattern.count <= text.count
                    && pattern.indices.allSatisfy({ text[start + $0] == pattern[$0] })
                {
                    return (index, start)
                }
            }
        }
        return nil
    }

    /// Rust regex `\w`: Alphabetic, marks, decimal digits, connector punctuation and joiners.
    private static func isWordCharacter(_ scalar: Unicode.Scalar) -> Bool {
        let properties = scalar.properties
        if properties.isAlphabetic || properties.isJoinControl { return true }
        switch properties.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation: return true
        default: return false
        }
    }

    /// Rust regex `\s`: the White_Space property, which Oniguruma's `\s` also follows.
    private static func isWhitespace(_ scalar: Unicode.Scalar) -> Bool {
        ScalarClassifier.shared.classes(of: scalar.value).contains(.whitespace)
    }

    private static func scalar(in text: UnsafeBufferPointer<UInt8>, startingAt position: Int) -> Unicode.Scalar {
        Unicode.Scalar(text.scalarValue(at: position).value) ?? "\u{FFFD}"
    }

    private static func scalar(in text: UnsafeBufferPointer<UInt8>, endingAt position: Int) -> Unicode.Scalar {
        var start = position - 1
        while start > 0 && text[start] & 0xC0 == 0x80 { start -= 1 }
        return scalar(in: text, startingAt: start)
    }
}
