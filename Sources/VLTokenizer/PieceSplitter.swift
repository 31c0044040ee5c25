import Foundation

/// How text is cut into pieces before BPE: the pre-tokenizer's `Split` with `Isolated` behaviour, where every match
/// and every stretch between matches becomes a piece.
enum PieceSplitter: Sendable {
    /// One of the two Qwen patterns, run by a hand-written scanner.
    case qwen(QwenPatternScanner)
    /// Any other pattern, run by ICU (`NSRegularExpression`).
    case regex(RegexSplitter)
    /// No pattern (`ByteLevel` with `use_regex: false` alone): the whole text is one piece.
    case whole

    /// The Qwen2 / Qwen2.5 / Qwen3 pattern (transformers `tokenization_qwen2.py`, `PRETOKENIZE_REGEX`).
    static let qwen2Pattern =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    /// The Qwen3.5 pattern, which keeps combining marks inside words (transformers `tokenization_qwen3_5.py`).
    static let qwen35Pattern =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    /// GPT-2's pattern, which the `ByteLevel` pre-tokenizer applies when `use_regex` is true
    /// (tokenizers `pre_tokenizers/byte_level.rs`).
    static let gpt2Pattern = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#

    /// The splitter for a `Split` pattern: the scanner when `pattern` is one of the Qwen patterns character for
    /// character, else ICU. Returns `nil` when ICU cannot compile the pattern.
    static func forPattern(_ pattern: String) -> PieceSplitter? {
        switch pattern {
        case qwen2Pattern: return .qwen(QwenPatternScanner(marksJoinLetters: false))
        case qwen35Pattern: return .qwen(QwenPatternScanner(marksJoinLetters: true))
        default: return RegexSplitter(pattern: pattern).map { .regex($0) }
        }
    }

    /// Calls `body` with the byte range of each piece of `text`, in order; pieces are never empty.
    @inline(__always)
    func forEachPiece(in text: UnsafeBufferPointer<UInt8>, _ body: (Range<Int>) -> Void) {
        switch self {
        case .qwen(let scanner):
            var start = 0
            while start < text.count {
                let end = scanner.pieceEnd(in: text, from: start)
                body(start..<end)
                start = end
            }
        case .regex(let splitter):
            splitter.forEachPiece(in: text, body)
        case .whole:
            if !text.isEmpty { body(0..<text.count) }
        }
    }
}

/// A scanner equal to the Qwen pre-tokenizer patterns as Oniguruma runs them, over UTF-8 bytes.
///
/// The pattern's alternatives, tried in order at each position (the first that matches wins, as in a backtracking
/// engine; every character matches some alternative, so pieces are contiguous):
/// 1. `(?i:'s|'t|'re|'ve|'m|'ll|'d)`: Oniguruma folds case with Unicode rules, so `'S` and `'ſ` (U+017F, which
///    folds to `s`) match too; no other character folds to these letters.
/// 2. `[^\r\n\p{L}\p{N}]?\p{L}+`: a word with at most one leading character that is not a line break, letter or
///    digit (a space, tab, punctuation, a mark). Qwen3.5 reads `[\p{L}\p{M}]+`, so marks continue words.
/// 3. `\p{N}`: one digit.
/// 4. ` ?[^\s\p{L}\p{N}]+[\r\n]*`: punctuation and symbols, after an optional space, with the line breaks that follow.
/// 5. `\s*[\r\n]+`: whitespace up to and including its last line break.
/// 6. `\s+(?!\S)`: whitespace that is not followed by a non-space: all of it at the end of the text, else all but
///    its last character (which then leads the next piece).
/// 7. `\s+`: a single whitespace character before a non-space.
struct QwenPatternScanner: Sendable {
    /// Whether `\p{M}` joins `\p{L}` in words and leaves the punctuation class (the Qwen3.5 pattern).
    let marksJoinLetters: Bool
    private let word: ScalarClass
    /// Characters outside `[^\s\p{L}\p{N}]` (Qwen3.5: `[^\s\p{L}\p{M}\p{N}]`).
    private let notPunctuation: ScalarClass
    private let classifier = ScalarClassifier.shared

    init(marksJoinLetters: Bool) {
        self.marksJoinLetters = marksJoinLetters
        word = marksJoinLetters ? [.letter, .mark] : .letter
        notPunctuation = marksJoinLetters ? [.whitespace, .letter, .mark, .number] : [.whitespace, .letter, .number]
    }

    /// The end of the piece that starts at `start` (`start < text.count`).
    func pieceEnd(in text: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
        let (first, afterFirst) = scalarClass(in: text, at: start)
        // 1. Contractions.
        if text[start] == UInt8(ascii: "'"), let end = contractionEnd(in: text, from: afterFirst) { return end }
        // 2. Words, with one optional leading character.
        if first.containsAny(word) { return end(of: word, in: text, from: afterFirst) }
        let second = afterFirst < text.count ? scalarClass(in: text, at: afterFirst).classes : []
        if !first.containsAny([.lineBreak, .letter, .number]) && second.containsAny(word) {
            return end(of: word, in: text, from: afterFirst)
        }
        // 3. One digit.
        if first.contains(.number) { return afterFirst }
        // 4. Punctuation, after an optional space, and the line breaks that follow.
        if text[start] == UInt8(ascii: " ") && afterFirst < text.count && !second.containsAny(notPunctuation) {
            return endOfLineBreaks(in: text, from: endOfPunctuation(in: text, from: afterFirst))
        }
        if !first.containsAny(notPunctuation) {
            return endOfLineBreaks(in: text, from: endOfPunctuation(in: text, from: afterFirst))
        }
        // 5–7. Whitespace (`first` is whitespace here: every other class was taken above).
        var position = afterFirst
        var lastStart = start
        var afterLastLineBreak = first.contains(.lineBreak) ? afterFirst : nil
        while position < text.count {
            let (classes, next) = scalarClass(in: text, at: position)
            guard classes.contains(.whitespace) else { break }
            if classes.contains(.lineBreak) { afterLastLineBreak = next }
            lastStart = position
            position = next
        }
        if let afterLastLineBreak { return afterLastLineBreak }
        if position < text.count && lastStart > start { return lastStart }
        return position
    }

    /// After `'`: the end of `s`, `t`, `re`, `ve`, `m`, `ll` or `d` in either case (or `ſ`), if one follows.
    private func contractionEnd(in text: UnsafeBufferPointer<UInt8>, from position: Int) -> Int? {
        guard position < text.count else { return nil }
        let lower = text[position] | 0x20
        switch text[position] {
        case UInt8(ascii: "s"), UInt8(ascii: "S"), UInt8(ascii: "t"), UInt8(ascii: "T"), UInt8(ascii: "m"),
            UInt8(ascii: "M"), UInt8(ascii: "d"), UInt8(ascii: "D"):
            return position + 1
        case 0xC5 where position + 1 < text.count && text[position + 1] == 0xBF:
            return position + 2
        case UInt8(ascii: "r"), UInt8(ascii: "R"), UInt8(ascii: "v"), UInt8(ascii: "V"), UInt8(ascii: "l"),
            UInt8(ascii: "L"):
            guard position + 1 < text.count else { return nil }
            let expected = lower == UInt8(ascii: "l") ? UInt8(ascii: "l") : UInt8(ascii: "e")
            return text[position + 1] | 0x20 == expected ? position + 2 : nil
        default:
            return nil
        }
    }

    /// The end of the run of characters in any of `classes` starting at `position`.
    private func end(of classes: ScalarClass, in text: UnsafeBufferPointer<UInt8>, from position: Int) -> Int {
        var position = position
        while position < text.count {
            let (found, next) = scalarClass(in: text, at: position)
            guard found.containsAny(classes) else { break }
            position = next
        }
        return position
    }

    /// The end of the run of punctuation and symbols (`[^\s\p{L}\p{N}]`) starting at `position`.
    private func endOfPunctuation(in text: UnsafeBufferPointer<UInt8>, from position: Int) -> Int {
        var position = position
        while position < text.count {
            let (found, next) = scalarClass(in: text, at: position)
            guard !found.containsAny(notPunctuation) else { break }
            position = next
        }
        return position
    }

    private func endOfLineBreaks(in text: UnsafeBufferPointer<UInt8>, from position: Int) -> Int {
        var position = position
        while position < text.count && (text[position] == 0x0A || text[position] == 0x0D) { position += 1 }
        return position
    }

    /// The classes of the character at `position` and the position after it.
    @inline(__always)
    private func scalarClass(in text: UnsafeBufferPointer<UInt8>, at position: Int)
        -> (classes: ScalarClass, next: Int)
    {
        let (value, next) = text.scalarValue(at: position)
        return (classifier.classes(of: value), next)
    }
}

extension ScalarClass {
    /// Whether any class of `other` is among these.
    @inline(__always)
    fileprivate func containsAny(_ other: ScalarClass) -> Bool { rawValue & other.rawValue != 0 }
}

/// A `Split` pattern other than Qwen's, run by ICU through `NSRegularExpression`.
///
/// HF tokenizers runs patterns with Oniguruma. ICU reads the same syntax for what tokenizer.json files use (`\p{…}`,
/// `(?i:…)`, look-ahead) and, on Linux with Swift 6.3, has the same Unicode 16.0 tables; other constructs may behave
/// differently, so such tokenizers are not vouched for. This path is slow (it converts to UTF-16 and back).
struct RegexSplitter: Sendable {
    private let expression: NSRegularExpression

    /// `nil` if ICU rejects the pattern.
    init?(pattern: String) {
        guard let expression = try? NSRegularExpression(pattern: pattern) else { return nil }
        self.expression = expression
    }

    /// A splitter on every occurrence of `literal` (a `Split` with a `String` pattern).
    init(literal: String) {
        // An escaped literal always compiles.
        expression = try! NSRegularExpression(pattern: NSRegularExpression.escapedPattern(for: literal))
    }

    /// Calls `body` with the byte range of each match and each stretch between matches, in order, never empty.
    func forEachPiece(in text: UnsafeBufferPointer<UInt8>, _ body: (Range<Int>) -> Void) {
        let string = String(decoding: text, as: UTF8.self)
        let utf16Length = string.utf16.count
        // Matches come in increasing order, so one forward walk converts UTF-16 offsets to UTF-8 offsets.
        var scalars = string.unicodeScalars.makeIterator()
        var walkedUTF16 = 0
        var walkedUTF8 = 0
        func byteOffset(ofUTF16 target: Int) -> Int {
            while walkedUTF16 < target, let scalar = scalars.next() {
                walkedUTF16 += UTF16.width(scalar)
                walkedUTF8 += UTF8.width(scalar)
            }
            return walkedUTF8
        }
        var pieceStart = 0
        for match in expression.matches(in: string, range: NSRange(location: 0, length: utf16Length)) {
            let start = byteOffset(ofUTF16: match.range.location)
            let end = byteOffset(ofUTF16: match.range.location + match.range.length)
            if pieceStart < start { body(pieceStart..<start) }
            if start < end { body(start..<end) }
            pieceStart = end
        }
        if pieceStart < text.count { body(pieceStart..<text.count) }
    }
}
