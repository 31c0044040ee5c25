/// What the pre-tokenizer patterns and the normaliser need to know about a scalar, as a bit set.
struct ScalarClass: OptionSet {
    let rawValue: UInt8

    /// `\p{L}`.
    static let letter = ScalarClass(rawValue: 1 << 0)
    /// `\p{M}`.
    static let mark = ScalarClass(rawValue: 1 << 1)
    /// `\p{N}`.
    static let number = ScalarClass(rawValue: 1 << 2)
    /// `\s`.
    static let whitespace = ScalarClass(rawValue: 1 << 3)
    /// `[\r\n]`.
    static let lineBreak = ScalarClass(rawValue: 1 << 4)
    /// Assigned after Unicode 9.0, so unknown to HF's normaliser (see `HFNormalizer`).
    static let unknownToNormalizer = ScalarClass(rawValue: 1 << 5)
}

/// Classifies scalars exactly as HF tokenizers' engines see them.
///
/// Pattern classes follow Oniguruma, the regex engine tokenizers runs `Split` patterns with. `\s` is Oniguruma's
/// Unicode definition: U+0009…U+000D, U+0085 and the Zs, Zl and Zp categories (so U+00A0, U+1680, U+2028 and U+3000
/// are whitespace, U+180E and U+200B are not). `\p{L}`, `\p{M}` and `\p{N}` are general categories, taken from the
/// Swift standard library but limited to scalars assigned by Unicode 16.0: tokenizers 0.23 bundles Oniguruma
/// 6.9.10, whose tables are Unicode 16.0, and sees later additions as unassigned (probed over every scalar with
/// tokenizers 0.23.3; Swift 6.3's tables are Unicode 17.0).
///
/// The standard library's property lookups cost about 70 ns each, so the Basic Multilingual Plane is tabulated
/// once per process (about 7 ms, on first use); other planes are looked up each time.
struct ScalarClassifier: Sendable {
    /// The shared instance; its table is built on first use.
    static let shared = ScalarClassifier()

    private static let onigurumaUnicodeVersion = (major: 16, minor: 0)
    private static let normalizerUnicodeVersion = (major: 9, minor: 0)

    private let basicPlane: [UInt8]

    private init() {
        basicPlane = (0..<0x10000).map { Self.computeClasses(of: UInt32($0)).rawValue }
    }

    /// The classes of the scalar with value `value`.
    @inline(__always)
    func classes(of value: UInt32) -> ScalarClass {
        if value < 0x10000 { return ScalarClass(rawValue: basicPlane[Int(value)]) }
        return Self.computeClasses(of: value)
    }

    // Kept out of line: inlined, its resilient standard-library types cost every caller a heavy prologue.
    @inline(never)
    private static func computeClasses(of value: UInt32) -> ScalarClass {
        switch value {
        case 0x0A, 0x0D:
            return [.whitespace, .lineBreak]
        case 0x09...0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
            return .whitespace
        default:
            break
        }
        guard let scalar = Unicode.Scalar(value), let age = scalar.properties.age else { return [] }
        let version = (age.major, age.minor)
        var classes: ScalarClass =
            version > (normalizerUnicodeVersion.major, normalizerUnicodeVersion.minor) ? .unknownToNormalizer : []
        guard version <= (onigurumaUnicodeVersion.major, onigurumaUnicodeVersion.minor) else { return classes }
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            classes.insert(.letter)
        case .nonspacingMark, .spacingMark, .enclosingMark:
            classes.insert(.mark)
        case .decimalNumber, .letterNumber, .otherNumber:
            classes.insert(.number)
        default:
            break
        }
        return classes
    }
}

extension UnsafeBufferPointer<UInt8> {
    /// The scalar value whose UTF-8 starts at `position` and the position after it (the buffer is valid UTF-8).
    @inline(__always)
    func scalarValue(at position: Int) -> (value: UInt32, next: Int) {
        let lead = self[position]
        if lead < 0x80 { return (UInt32(lead), position + 1) }
        if lead < 0xE0 { return (UInt32(lead & 0x1F) << 6 | UInt32(self[position + 1] & 0x3F), position + 2) }
        if lead < 0xF0 {
            let value =
                UInt32(lead & 0x0F) << 12 | UInt32(self[position + 1] & 0x3F) << 6 | UInt32(self[position + 2] & 0x3F)
            return (value, position + 3)
        }
        let value =
            UInt32(lead & 0x07) << 18 | UInt32(self[position + 1] & 0x3F) << 12
            | UInt32(self[position + 2] & 0x3F) << 6 | UInt32(self[position + 3] & 0x3F)
        return (value, position + 4)
    }
}

/// NFC as HF tokenizers computes it.
///
/// tokenizers normalises with the `unicode-normalization-alignments` crate, whose tables are Unicode 9.0; the Swift
/// standard library's are Unicode 17.0. Unicode's normalization stability policy makes the two agree on text made of
/// scalars assigned by 9.0. A later scalar is, to tokenizers, unassigned: a starter that neither decomposes nor
/// composes, so nothing reorders or composes across it. So the text is normalised in stretches between such
/// scalars, which are copied unchanged.
enum HFNormalizer {
    /// Appends the NFC form of `text` (valid UTF-8) to `output`.
    static func appendNFC(of text: UnsafeBufferPointer<UInt8>, to output: inout [UInt8]) {
        let classifier = ScalarClassifier.shared
        var stretchStart = 0
        var stretchHasTibetanVowel = false
        var position = 0
        while position < text.count {
            // Only scalars from U+0300 (lead byte 0xCC and up) are assigned after 9.0 or change under NFC.
            guard text[position] >= 0xCC else {
                position += 1
                continue
            }
            let (value, next) = text.scalarValue(at: position)
            if value == 0xF73 || value == 0xF75 || value == 0xF81 { stretchHasTibetanVowel = true }
            if classifier.classes(of: value).contains(.unknownToNormalizer) {
                let stretch = UnsafeBufferPointer(rebasing: text[stretchStart..<position])
                appendStretch(stretch, decomposingTibetanVowels: stretchHasTibetanVowel, to: &output)
                output.append(contentsOf: text[position..<next])
                stretchStart = next
                stretchHasTibetanVowel = false
            }
            position = next
        }
        let stretch = UnsafeBufferPointer(rebasing: text[stretchStart...])
        appendStretch(stretch, decomposingTibetanVowels: stretchHasTibetanVowel, to: &output)
    }

    private static func appendStretch(
        _ text: UnsafeBufferPointer<UInt8>, decomposingTibetanVowels: Bool, to output: inout [UInt8]
    ) {
        // Scalars below U+0300 are NFC and combine with no neighbour (NFC_Quick_Check=Yes, combining class 0).
        guard text.contains(where: { $0 >= 0xCC }), !passesNFCQuickCheck(text) else {
            return output.append(contentsOf: text)
        }
        var string = String(decoding: text, as: UTF8.self)
        if decomposingTibetanVowels { string = tibetanVowelsDecomposed(string) }
        // The standard library's NFC (`_nfcCodeUnits`: public for testing, and used by swift-foundation); Foundation's
        // `precomposedStringWithCanonicalMapping` runs at well under 1 MB/s on Linux.
        output.append(contentsOf: string._nfcCodeUnits)
    }

    /// Whether Unicode's quick check proves `text` NFC (true for most text in any script): copying it is much
    /// cheaper than running the normaliser, which copies byte by byte even when nothing changes.
    private static func passesNFCQuickCheck(_ text: UnsafeBufferPointer<UInt8>) -> Bool {
        guard #available(macOS 26, *), var span = try? UTF8Span(validating: text.span) else { return false }
        return span.checkForNFC(quickCheck: true)
    }

    /// `text` with U+0F73, U+0F75 and U+0F81 replaced by their canonical decompositions.
    ///
    /// Their decompositions start with a mark (U+0F71, combining class 129), and Swift 6.3's NFC does not move the
    /// parts before marks of a higher class that precede them (`U+1E8D6 U+0F75` becomes `U+1E8D6 U+0F71 U+0F74` where
    /// tokenizers gives `U+0F71 U+0F74 U+1E8D6`). Canonically equivalent texts have the same NFC, and all three are
    /// excluded from composition, so decomposing them first changes nothing else (checked against tokenizers on
    /// 200 000 random strings of marks and decomposable characters).
    private static func tibetanVowelsDecomposed(_ text: String) -> String {
        var result = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\u{F73}": result.append(contentsOf: ["\u{F71}", "\u{F72}"])
            case "\u{F75}": result.append(contentsOf: ["\u{F71}", "\u{F74}"])
            case "\u{F81}": result.append(contentsOf: ["\u{F71}", "\u{F80}"])
            default: result.append(scalar)
            }
        }
        return String(result)
    }
}
