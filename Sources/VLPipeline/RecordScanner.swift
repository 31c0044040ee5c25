/// Reads a record line's `id` and whether it holds an `error`, without building the record.
///
/// A rerun reads every line of the output before the first item starts, and Foundation's JSON decoder made that the
/// slowest part of resuming a large job. The scanner walks the top-level members once, skipping values by their
/// structure. It answers only for lines of the shape vlbatch writes; for anything else (escapes in the id, odd
/// spacing, a malformed line) it returns `nil` and the caller parses the line fully, which decides.
enum RecordScanner {
    static func scan(_ line: Substring) -> (id: String, isError: Bool)? {
        var bytes = line.utf8[...]
        var id: String?
        var isError = false
        guard bytes.popFirst() == UInt8(ascii: "{") else { return nil }
        while true {
            guard let key = string(&bytes), bytes.popFirst() == UInt8(ascii: ":") else { return nil }
            if key.elementsEqual("id".utf8) {
                guard let value = string(&bytes) else { return nil }
                id = String(Substring(value))
            } else {
                guard skipValue(&bytes) else { return nil }
                if key.elementsEqual("error".utf8) { isError = true }
            }
            switch bytes.popFirst() {
            case UInt8(ascii: ",")?: continue
            case UInt8(ascii: "}")? where bytes.isEmpty: return id.map { ($0, isError) }
            default: return nil
            }
        }
    }

    /// A string without escapes at the start of `bytes`, consumed with its quotes.
    private static func string(_ bytes: inout Substring.UTF8View.SubSequence) -> Substring.UTF8View.SubSequence? {
        guard bytes.first == UInt8(ascii: "\""),
            let end = bytes.dropFirst().firstIndex(where: { $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }),
            bytes[end] == UInt8(ascii: "\"")
        else { return nil }
        defer { bytes = bytes[bytes.index(after: end)...] }
        return bytes[bytes.index(after: bytes.startIndex)..<end]
    }

    /// Skips one value: strings (escapes allowed), nested objects and arrays, numbers and literals.
    private static func skipValue(_ bytes: inout Substring.UTF8View.SubSequence) -> Bool {
        var depth = 0
        var inString = false
        var escaped = false
        while let byte = bytes.first {
            if inString {
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                    if depth == 0 {
                        bytes.removeFirst()
                        return true
                    }
                }
            } else {
                switch byte {
                case UInt8(ascii: "\""): inString = true
                case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    if depth == 0 { return true }
                    depth -= 1
                    if depth == 0 {
                        bytes.removeFirst()
                        return true
                    }
                case UInt8(ascii: ","):
                    if depth == 0 { return true }
                // Numbers, the letters of true, false, null and exponents, and separators inside nested values.
                case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: ":"):
                    break
                case _ where "-+.eEtrufalsn".utf8.contains(byte):
                    break
                default: return false
                }
            }
            bytes.removeFirst()
        }
        return false
    }
}
