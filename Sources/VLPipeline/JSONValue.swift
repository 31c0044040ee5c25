import Foundation

/// A JSON value, serialized with sorted keys so that every record is byte-identical across runs.
///
/// Records are written by this type rather than `JSONEncoder`: the runner writes one line per item and Foundation's
/// encoder on Linux would be the slowest stage of a run with a fast engine.
public enum JSONValue: Sendable, Equatable, Codable {
    /// `null`.
    case null
    /// `true` or `false`.
    case bool(Bool)
    /// A whole number, written without a fraction.
    case integer(Int)
    /// A number with a fraction; NaN and infinities are written as `null` (JSON has no spelling for them).
    case number(Double)
    /// A string.
    case string(String)
    /// An array.
    case array([JSONValue])
    /// An object; keys are written in byte order of their UTF-8 spelling.
    case object([String: JSONValue])

    /// Decodes any JSON value; numbers without a fraction become `.integer`.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int.self) {
            self = .integer(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    /// Encodes the value through any encoder (used for the job file, which is small).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .integer(let value): try container.encode(value)
        case .number(let value): try value.isFinite ? container.encode(value) : container.encodeNil()
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    /// Parses one JSON text.
    public static func parse(_ text: some StringProtocol) throws -> JSONValue {
        try parse(bytes: Array(text.utf8))
    }

    /// Parses one JSON text given as UTF-8 bytes.
    public static func parse(bytes: [UInt8]) throws -> JSONValue {
        try sharedDecoder.decode(JSONValue.self, from: Data(bytes))
    }

    /// The compact serialization: no spaces, sorted keys, `/` not escaped.
    public var serialized: String {
        var output = ""
        write(to: &output)
        return output
    }

    /// The string of a `.string` value.
    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// The members of an `.object` value.
    public var objectValue: [String: JSONValue]? {
        if case .object(let value) = self { return value }
        return nil
    }

    /// Appends the compact serialization to `output`.
    public func write(to output: inout String) {
        switch self {
        case .null: output += "null"
        case .bool(let value): output += value ? "true" : "false"
        case .integer(let value): output += String(value)
        case .number(let value):
            // A whole number is written without `.0`, so that parsing it back (as `.integer`) and writing it again
            // gives the same text: fingerprints and merged records stay byte-identical.
            if value.isFinite, value == value.rounded(), abs(value) < 9.0e15 {
                output += String(Int(value))
            } else {
                output += value.isFinite ? String(value) : "null"
            }
        case .string(let value): Self.writeString(value, to: &output)
        case .array(let values):
            output += "["
            for (position, value) in values.enumerated() {
                if position > 0 { output += "," }
                value.write(to: &output)
            }
            output += "]"
        case .object(let members):
            output += "{"
            for (position, key) in Self.sortedKeys(members).enumerated() {
                if position > 0 { output += "," }
                Self.writeString(key, to: &output)
                output += ":"
                members[key]!.write(to: &output)
            }
            output += "}"
        }
    }

    /// Keys in byte order of their UTF-8 spelling, the order every record and job file uses.
    static func sortedKeys(_ members: [String: JSONValue]) -> [String] {
        members.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    private static func writeString(_ value: String, to output: inout String) {
        output += "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": output += "\\\""
            case "\\": output += "\\\\"
            case "\n": output += "\\n"
            case "\r": output += "\\r"
            case "\t": output += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                output += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: output.unicodeScalars.append(scalar)
            }
        }
        output += "\""
    }
}

/// One decoder serves every parse: creating one is costly, and decoding with it is thread-safe.
private let sharedDecoder = JSONDecoder()
