/// Turns token ids into text one id at a time, for showing generated text as it comes.
///
/// A character can be split across tokens (an emoji or a CJK character is often two or three byte-level tokens), so
/// each `append` returns only complete characters and holds back the bytes of a character still unfinished. The
/// outputs of every `append` and of `finish`, joined, equal `Tokenizer.decode` of all the ids: bytes that can never
/// become a character are not held but replaced by U+FFFD at once, as `decode` would.
public struct StreamingDetokenizer: Sendable {
    private let tokenizer: Tokenizer
    private let skipSpecialTokens: Bool
    /// Bytes of the unfinished last character (at most 3).
    private var pending: [UInt8] = []

    /// A detokenizer for ids from `tokenizer`; `skipSpecialTokens` as in `Tokenizer.decode`.
    public init(tokenizer: Tokenizer, skipSpecialTokens: Bool = false) {
        self.tokenizer = tokenizer
        self.skipSpecialTokens = skipSpecialTokens
    }

    /// Adds one id; returns the text it completes (often empty while a character is unfinished).
    public mutating func append(_ id: Int32) -> String {
        tokenizer.vocabulary.appendBytes(of: id, skipSpecial: skipSpecialTokens, to: &pending)
        let complete = Self.completePrefixLength(pending)
        let text = String(decoding: pending[..<complete], as: UTF8.self)
        pending.removeSubrange(..<complete)
        return text
    }

    /// Returns what is left, an unfinished character becoming U+FFFD, and starts over.
    public mutating func finish() -> String {
        defer { pending.removeAll() }
        return String(decoding: pending, as: UTF8.self)
    }

    /// How many leading bytes to emit: all but a final sequence that is a proper prefix of a valid UTF-8 character.
    ///
    /// Cutting there leaves the lossy decoding unchanged: the held part starts with a lead byte, and U+FFFD
    /// replacement (maximal subparts, as Rust's `from_utf8_lossy` and Swift's `String(decoding:)` do it) never
    /// reaches across a lead byte.
    static func completePrefixLength(_ bytes: [UInt8]) -> Int {
        var start = bytes.count
        while start > 0 && bytes.count - start < 3 && bytes[start - 1] & 0xC0 == 0x80 { start -= 1 }
        guard start > 0 else { return bytes.count }
        let lead = bytes[start - 1]
        let needed: Int
        // The range of the byte after the lead: narrower after E0, ED, F0 and F4 (no overlong forms, surrogates or
        // scalars above U+10FFFF).
        var second: ClosedRange<UInt8> = 0x80...0xBF
        switch lead {
        case 0xC2...0xDF: needed = 2
        case 0xE0...0xEF: needed = 3
        case 0xF0...0xF4: needed = 4
        default: return bytes.count
        }
        switch lead {
        case 0xE0: second = 0xA0...0xBF
        case 0xED: second = 0x80...0x9F
        case 0xF0: second = 0x90...0xBF
        case 0xF4: second = 0x80...0x8F
        default: break
        }
        let have = bytes.count - (start - 1)
        guard have < needed, have == 1 || second.contains(bytes[start]) else { return bytes.count }
        return start - 1
    }
}
