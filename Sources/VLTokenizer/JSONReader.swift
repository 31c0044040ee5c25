/// A JSON value, as `JSONReader.readValue()` returns it for the small settings sections of tokenizer.json.
enum JSONValue: Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])
}

/// A pull parser over the bytes of one JSON document.
///
/// tokenizer.json is 7–15 MB, nearly all of it `model.vocab` and `model.merges`. Foundation's `JSONSerialization`
/// and `JSONDecoder` take 0.6–0.9 s on Qwen2's file on Linux, building 150 k boxed dictionary entries; this reader lets
/// the loader stream those two keys straight into the vocabulary tables (keys as raw bytes, ids as integers) and
/// build a generic ``JSONValue`` only for the small sections. Containers are walked with a cursor:
///
///     var members = try reader.beginObject()
///     while try reader.next(&members) { let key = try reader.readKey(); ... }
struct JSONReader {
    /// Where the parser stands inside one object or array.
    struct Container {
        fileprivate let close: UInt8
        fileprivate var isFirst = true
    }

    /// The file the bytes came from, for error messages.
    let path: String
    private let bytes: [UInt8]
    private var position = 0
    /// Bytes of the last string read by `readKey`/`readString`, reused to avoid an allocation per string.
    private var scratch: [UInt8] = []

    /// Nesting deeper than this is rejected rather than risking the stack (tokenizer.json nests about 5 deep).
    private static let maximumDepth = 256

    init(bytes: [UInt8], path: String) {
        self.bytes = bytes
        self.path = path
    }

    // MARK: - Containers

    /// Consumes `{` and returns the cursor for `next(_:)`.
    mutating func beginObject() throws(TokenizerError) -> Container {
        try expect(UInt8(ascii: "{"), "expected an object")
        return Container(close: UInt8(ascii: "}"))
    }

    /// Consumes `[` and returns the cursor for `next(_:)`.
    mutating func beginArray() throws(TokenizerError) -> Container {
        try expect(UInt8(ascii: "["), "expected an array")
        return Container(close: UInt8(ascii: "]"))
    }

    /// Moves to the next member or element: `true` when one follows, `false` after consuming the closing bracket.
    mutating func next(_ container: inout Container) throws(TokenizerError) -> Bool {
        skipWhitespace()
        if peek() == container.close {
            position += 1
            return false
        }
        if container.isFirst {
            container.isFirst = false
        } else {
            guard peek() == UInt8(ascii: ",") else {
                throw failure(
                    position < bytes.count
                        ? "expected ',' or '\(Character(Unicode.Scalar(container.close)))'" : "unexpected end of file")
            }
            position += 1
            skipWhitespace()
        }
        return true
    }

    /// Reads an object member's key and the `:` after it.
    mutating func readKey() throws(TokenizerError) -> String {
        let key = try readString()
        try expect(UInt8(ascii: ":"), "expected ':' after a key")
        return key
    }

    /// Reads an object member's key as UTF-8 bytes appended to `buffer`, and the `:` after it.
    mutating func readKey(appendingTo buffer: inout [UInt8]) throws(TokenizerError) {
        try readString(appendingTo: &buffer)
        try expect(UInt8(ascii: ":"), "expected ':' after a key")
    }

    // MARK: - Scalars

    /// Whether the next value is an array (nothing is consumed but whitespace).
    mutating func nextIsArray() -> Bool {
        skipWhitespace()
        return peek() == UInt8(ascii: "[")
    }

    /// Reads a string value.
    mutating func readString() throws(TokenizerError) -> String {
        var buffer: [UInt8] = []
        swap(&buffer, &scratch)
        buffer.removeAll(keepingCapacity: true)
        defer { scratch = buffer }
        try readString(appendingTo: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }

    /// Reads a string value as UTF-8 bytes appended to `buffer`.
    mutating func readString(appendingTo buffer: inout [UInt8]) throws(TokenizerError) {
        skipWhitespace()
        try expect(UInt8(ascii: "\""), "expected a string")
        while true {
            // Copy the run up to the next quote, backslash or control byte in one go: vocabulary keys rarely escape.
            let runStart = position
            position = bytes.withUnsafeBufferPointer { bytes in
                var end = runStart
                while end < bytes.count, bytes[end] != UInt8(ascii: "\""), bytes[end] != UInt8(ascii: "\\"),
                    bytes[end] >= 0x20
                {
                    end += 1
                }
                buffer.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<end]))
                return end
            }
            guard position < bytes.count else { throw failure("unterminated string") }
            switch bytes[position] {
            case UInt8(ascii: "\""):
                position += 1
                return
            case UInt8(ascii: "\\"):
                position += 1
                try readEscape(appendingTo: &buffer)
            default:
                throw failure("control character inside a string")
            }
        }
    }

    /// Reads an integer value (no fraction, no exponent) that fits in `Int`.
    mutating func readInteger() throws(TokenizerError) -> Int {
        skipWhitespace()
        let start = position
        let negative = peek() == UInt8(ascii: "-")
        if negative { position += 1 }
        var value = 0
        let digitsStart = position
        while let byte = peek(), byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") {
            let (product, overflowA) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflowB) = product.addingReportingOverflow(Int(byte - UInt8(ascii: "0")))
            if overflowA || overflowB {
                position = start
                throw failure("integer out of range")
            }
            value = sum
            position += 1
        }
        if position == digitsStart || [UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E")].contains(peek()) {
            position = start
            throw failure("expected an integer")
        }
        return negative ? -value : value
    }

    /// Reads any value into a `JSONValue` tree.
    mutating func readValue() throws(TokenizerError) -> JSONValue {
        try readValue(depth: 0)
    }

    /// Fails unless only whitespace is left.
    mutating func expectEnd() throws(TokenizerError) {
        skipWhitespace()
        if position < bytes.count { throw failure("unexpected data after the top-level value") }
    }

    /// A `malformedJSON` error at the current position.
    func failure(_ reason: String) -> TokenizerError {
        var line = 1
        var lineStart = 0
        for index in 0..<min(position, bytes.count) where bytes[index] == UInt8(ascii: "\n") {
            line += 1
            lineStart = index + 1
        }
        return .malformedJSON(path: path, line: line, column: position - lineStart + 1, reason: reason)
    }

    // MARK: - Private

    private mutating func readValue(depth: Int) throws(TokenizerError) -> JSONValue {
        if depth > Self.maximumDepth { throw failure("nested more than \(Self.maximumDepth) levels deep") }
        skipWhitespace()
        switch peek() {
        case UInt8(ascii: "{"):
            var members = try beginObject()
            var object: [String: JSONValue] = [:]
            while try next(&members) {
                let key = try readKey()
                object[key] = try readValue(depth: depth + 1)
            }
            return .object(object)
        case UInt8(ascii: "["):
            var elements = try beginArray()
            var array: [JSONValue] = []
            while try next(&elements) { array.append(try readValue(depth: depth + 1)) }
            return .array(array)
        case UInt8(ascii: "\""):
            return .string(try readString())
        case UInt8(ascii: "t"):
            try expectLiteral("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try expectLiteral("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try expectLiteral("null")
            return .null
        case .some(let byte)
        where byte == UInt8(ascii: "-") || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")):
            return .number(try readNumber())
        default:
            throw failure(position < bytes.count ? "expected a value" : "unexpected end of file")
        }
    }

    private mutating func readNumber() throws(TokenizerError) -> Double {
        let start = position
        func skipDigits() -> Bool {
            let digitsStart = position
            while let byte = peek(), byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") { position += 1 }
            return position > digitsStart
        }
        if peek() == UInt8(ascii: "-") { position += 1 }
        var valid = skipDigits()
        if peek() == UInt8(ascii: ".") {
            position += 1
            valid = valid && skipDigits()
        }
        if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
            position += 1
            if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { position += 1 }
            valid = valid && skipDigits()
        }
        guard valid, let value = Double(String(decoding: bytes[start..<position], as: UTF8.self)) else {
            position = start
            throw failure("malformed number")
        }
        return value
    }

    private mutating func readEscape(appendingTo buffer: inout [UInt8]) throws(TokenizerError) {
        guard let byte = peek() else { throw failure("unterminated string") }
        position += 1
        let simple: UInt8? =
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): byte
            case UInt8(ascii: "b"): 0x08
            case UInt8(ascii: "f"): 0x0C
            case UInt8(ascii: "n"): 0x0A
            case UInt8(ascii: "r"): 0x0D
            case UInt8(ascii: "t"): 0x09
            default: nil
            }
        if let simple {
            buffer.append(simple)
            return
        }
        guard byte == UInt8(ascii: "u") else {
            position -= 1
            throw failure("unknown escape sequence")
        }
        var value = try readHexQuad()
        if (0xD800..<0xDC00).contains(value) {
            // A UTF-16 surrogate pair spelled as two escapes: \uD83D\uDE00.
            guard peek() == UInt8(ascii: "\\"), position + 1 < bytes.count, bytes[position + 1] == UInt8(ascii: "u")
            else { throw failure("unpaired UTF-16 surrogate escape") }
            position += 2
            let low = try readHexQuad()
            guard (0xDC00..<0xE000).contains(low) else { throw failure("unpaired UTF-16 surrogate escape") }
            value = 0x10000 + ((value - 0xD800) << 10) + (low - 0xDC00)
        }
        guard let scalar = Unicode.Scalar(value) else { throw failure("unpaired UTF-16 surrogate escape") }
        buffer.append(contentsOf: String(Character(scalar)).utf8)
    }

    private mutating func readHexQuad() throws(TokenizerError) -> UInt32 {
        guard position + 4 <= bytes.count else { throw failure("truncated \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[position]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw failure("malformed \\u escape")
            }
            value = value << 4 | UInt32(digit)
            position += 1
        }
        return value
    }

    private mutating func expect(_ byte: UInt8, _ reason: String) throws(TokenizerError) {
        skipWhitespace()
        guard peek() == byte else { throw failure(position < bytes.count ? reason : "unexpected end of file") }
        position += 1
    }

    private mutating func expectLiteral(_ literal: StaticString) throws(TokenizerError) {
        let count = literal.utf8CodeUnitCount
        let matches = literal.withUTF8Buffer { expected in
            position + count <= bytes.count && bytes[position..<position + count].elementsEqual(expected)
        }
        guard matches else { throw failure("expected a value") }
        position += count
    }

    private func peek() -> UInt8? {
        position < bytes.count ? bytes[position] : nil
    }

    private mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x0A, 0x0D, 0x09: position += 1
            default: return
            }
        }
    }
}
