import Foundation

/// The shape of the JSON object an extraction must produce: its fields in order, each a string, integer, number or
/// boolean, optionally null.
public struct JSONObjectSchema: Sendable, Equatable {
    /// A field's JSON type.
    public enum ValueType: String, Sendable, CaseIterable {
        case string, integer, number, boolean
    }

    /// One key of the object.
    public struct Field: Sendable, Equatable {
        /// The key.
        public var name: String
        /// The value's type.
        public var type: ValueType
        /// Whether `null` is allowed.
        public var optional: Bool

        /// A field.
        public init(name: String, type: ValueType, optional: Bool = false) {
            self.name = name
            self.type = type
            self.optional = optional
        }
    }

    /// The keys, in the order they are written.
    public var fields: [Field]

    /// Bytes a string value may hold between its quotes (escape sequences count by their bytes): the bound that lets
    /// every answer finish within `maxBytes`.
    public static let maxStringBytes = 120
    /// Significant digits a number may have: 15, so that every number parses to a Double exactly.
    public static let maxMantissaDigits = 15
    /// Exponent digits a number may have: 2, so that none overflows a Double (at most 1e99 in size).
    public static let maxExponentDigits = 2
    /// Characters a number may take: sign, digits, point, e, exponent sign and digits.
    public static let maxNumberBytes = 1 + maxMantissaDigits + 1 + 2 + maxExponentDigits

    /// An object with `fields`.
    public init(fields: [Field]) { self.fields = fields }
}

/// A byte-level recogniser of the one JSON text layout vlbatch asks for: `{"a": v, "b": v}` with the schema's keys
/// in order, one space after each colon and comma, and each value of its field's type (or `null` where optional).
///
/// The keys and punctuation admit exactly one byte at each position, the values every byte JSON allows there, so a
/// decoder that only emits bytes `accept` takes produces text that parses and matches the schema. Strings and
/// numbers are bounded (`JSONObjectSchema.maxStringBytes`, `maxNumberBytes`), so every path ends within `maxBytes`.
///
/// The layout (keys, literals) is shared and immutable; the position is a few plain values, so trying a token from
/// the current position (`accepts`) copies no storage — it runs once per vocabulary entry per decode step.
public struct JSONObjectGrammar: Sendable {
    let layout: Layout
    var position = Position()

    /// A recogniser at the start of the object.
    public init(schema: JSONObjectSchema) { layout = Layout(schema: schema) }

    /// Whether the whole object has been read.
    public var isComplete: Bool { position.isComplete }

    /// The most bytes any accepted text takes.
    public var maxBytes: Int { layout.maxBytes }

    /// Takes `byte` if the text can continue with it; returns false (and stays put) otherwise.
    public mutating func accept(_ byte: UInt8) -> Bool { layout.accept(byte, at: &position) }

    /// Inside a string value with no escape pending: how many more plain bytes (no quote, backslash or control byte)
    /// it may take. Nil elsewhere.
    public var stringRoom: Int? {
        guard !position.inLiteral, !position.isComplete, case .string(let length, .none) = position.value else {
            return nil
        }
        return JSONObjectSchema.maxStringBytes - length
    }

    /// Whether the bytes of `token` can all be taken, in order, from here (the recogniser is unchanged).
    public func accepts(_ token: [UInt8]) -> Bool {
        guard !token.isEmpty else { return false }
        var trial = position
        for byte in token where !layout.accept(byte, at: &trial) { return false }
        return true
    }

    /// Where the recogniser stands.
    struct Position: Sendable {
        var segment = 0
        var inLiteral = true
        var offset = 0
        var value = ValueState.start
        var isComplete = false
    }

    /// Where the recogniser is inside a value.
    enum ValueState: Sendable, Equatable {
        case start
        case string(length: Int, escape: Escape)
        /// `digits`: digits so far of the mantissa, or of the exponent once in it.
        case number(digits: Int, phase: NumberPhase)
        case word(Word, matched: Int)
        case done
    }

    /// The fixed words a value may be.
    enum Word: Sendable, Equatable {
        case null, `true`, `false`

        var bytes: [UInt8] {
            switch self {
            case .null: Word.nullBytes
            case .true: Word.trueBytes
            case .false: Word.falseBytes
            }
        }

        static let nullBytes = Array("null".utf8)
        static let trueBytes = Array("true".utf8)
        static let falseBytes = Array("false".utf8)
    }

    enum Escape: Sendable, Equatable {
        case none, backslash
        case unicode(remaining: Int)
    }

    enum NumberPhase: Sendable, Equatable {
        /// After a minus sign: a digit must follow.
        case sign
        /// After a leading zero: no more digits of the integer part.
        case zero
        case integer
        /// After the point: a digit must follow.
        case point
        case fraction
        /// After e or E: a sign or digit must follow.
        case exponent
        /// After the exponent's sign: a digit must follow.
        case exponentSign
        case exponentDigits

        /// Whether the number may end here.
        var isComplete: Bool { self == .zero || self == .integer || self == .fraction || self == .exponentDigits }
    }

    /// The schema's fixed text: `literals[i]` precedes field `i`; the last one closes the object.
    final class Layout: Sendable {
        let schema: JSONObjectSchema
        let literals: [[UInt8]]

        init(schema: JSONObjectSchema) {
            self.schema = schema
            var literals: [[UInt8]] = []
            for (index, field) in schema.fields.enumerated() {
                literals.append(Array(((index == 0 ? "{" : ", ") + JSONObjectGrammar.quoted(field.name) + ": ").utf8))
            }
            literals.append(Array((schema.fields.isEmpty ? "{}" : "}").utf8))
            self.literals = literals
        }

        var maxBytes: Int {
            literals.reduce(0) { $0 + $1.count } + schema.fields.reduce(0) { $0 + Self.maxValueBytes($1.type) }
        }

        /// The longest value of `type` (`null` is shorter than each).
        private static func maxValueBytes(_ type: JSONObjectSchema.ValueType) -> Int {
            switch type {
            case .string: JSONObjectSchema.maxStringBytes + 2
            case .integer, .number: JSONObjectSchema.maxNumberBytes
            case .boolean: 5
            }
        }

        func accept(_ byte: UInt8, at position: inout Position) -> Bool {
            guard !position.isComplete else { return false }
            if position.inLiteral {
                let literal = literals[position.segment]
                guard byte == literal[position.offset] else { return false }
                position.offset += 1
                if position.offset == literal.count {
                    if position.segment == schema.fields.count {
                        position.isComplete = true
                    } else {
                        position.inLiteral = false
                        position.value = .start
                    }
                }
                return true
            }
            let field = schema.fields[position.segment]
            if let next = JSONObjectGrammar.step(position.value, byte, field: field) {
                position.value = next
                return true
            }
            // A finished value hands over to the literal that follows.
            guard JSONObjectGrammar.canEnd(position.value), byte == literals[position.segment + 1][0] else {
                return false
            }
            position.segment += 1
            position.inLiteral = true
            position.offset = 0
            return accept(byte, at: &position)
        }
    }

    static func canEnd(_ value: ValueState) -> Bool {
        switch value {
        case .done: true
        case .number(_, let phase): phase.isComplete
        default: false
        }
    }

    /// The state after `byte` within a value, or nil when the value cannot take it.
    static func step(_ state: ValueState, _ byte: UInt8, field: JSONObjectSchema.Field) -> ValueState? {
        let digit = byte >= 0x30 && byte <= 0x39
        switch state {
        case .start:
            if field.optional && byte == UInt8(ascii: "n") { return .word(.null, matched: 1) }
            switch field.type {
            case .string: return byte == UInt8(ascii: "\"") ? .string(length: 0, escape: .none) : nil
            case .boolean:
                if byte == UInt8(ascii: "t") { return .word(.true, matched: 1) }
                return byte == UInt8(ascii: "f") ? .word(.false, matched: 1) : nil
            case .integer, .number:
                if byte == UInt8(ascii: "-") { return .number(digits: 0, phase: .sign) }
                if byte == UInt8(ascii: "0") { return .number(digits: 1, phase: .zero) }
                return digit ? .number(digits: 1, phase: .integer) : nil
            }
        case .word(let word, let matched):
            let bytes = word.bytes
            guard matched < bytes.count, byte == bytes[matched] else { return nil }
            return matched + 1 == bytes.count ? .done : .word(word, matched: matched + 1)
        case .string(let length, let escape):
            return stringStep(length: length, escape: escape, byte)
        case .number(let digits, let phase):
            return numberStep(digits: digits, phase: phase, byte, allowsFraction: field.type == .number)
        case .done:
            return nil
        }
    }

    private static func stringStep(length: Int, escape: Escape, _ byte: UInt8) -> ValueState? {
        let full = length >= JSONObjectSchema.maxStringBytes
        switch escape {
        case .none:
            if byte == UInt8(ascii: "\"") { return .done }
            // A full string only closes; an escape needs room for its longest form (\uXXXX, 6 bytes).
            guard !full, byte >= 0x20 else { return nil }
            if byte == UInt8(ascii: "\\") {
                return length + 6 <= JSONObjectSchema.maxStringBytes
                    ? .string(length: length + 1, escape: .backslash) : nil
            }
            return .string(length: length + 1, escape: .none)
        case .backslash:
            if byte == UInt8(ascii: "u") { return .string(length: length + 1, escape: .unicode(remaining: 4)) }
            return Array("\"\\/bfnrt".utf8).contains(byte) ? .string(length: length + 1, escape: .none) : nil
        case .unicode(let remaining):
            let hex = (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x46) || (byte >= 0x61 && byte <= 0x66)
            guard hex else { return nil }
            return .string(length: length + 1, escape: remaining == 1 ? .none : .unicode(remaining: remaining - 1))
        }
    }

    private static func numberStep(digits: Int, phase: NumberPhase, _ byte: UInt8, allowsFraction: Bool)
        -> ValueState?
    {
        let digit = byte >= 0x30 && byte <= 0x39
        let mantissaRoom = digits < JSONObjectSchema.maxMantissaDigits
        let exponentRoom = digits < JSONObjectSchema.maxExponentDigits
        let isE = byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E")
        switch phase {
        case .sign:
            if byte == UInt8(ascii: "0") { return .number(digits: 1, phase: .zero) }
            return digit ? .number(digits: 1, phase: .integer) : nil
        case .zero, .integer:
            if digit && phase == .integer && mantissaRoom { return .number(digits: digits + 1, phase: .integer) }
            guard allowsFraction else { return nil }
            // A point needs a digit after it, so it needs room for one.
            if byte == UInt8(ascii: ".") && mantissaRoom { return .number(digits: digits, phase: .point) }
            return isE ? .number(digits: 0, phase: .exponent) : nil
        case .point:
            return digit ? .number(digits: digits + 1, phase: .fraction) : nil
        case .fraction:
            if digit && mantissaRoom { return .number(digits: digits + 1, phase: .fraction) }
            return isE ? .number(digits: 0, phase: .exponent) : nil
        case .exponent:
            if byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-") {
                return .number(digits: 0, phase: .exponentSign)
            }
            return digit ? .number(digits: 1, phase: .exponentDigits) : nil
        case .exponentSign:
            return digit ? .number(digits: 1, phase: .exponentDigits) : nil
        case .exponentDigits:
            return digit && exponentRoom ? .number(digits: digits + 1, phase: .exponentDigits) : nil
        }
    }

    /// `text` as a JSON string literal.
    static func quoted(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\t": result += "\\t"
            default:
                if scalar.value < 0x20 {
                    result += String(format: "\\u%04x", scalar.value)
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        return result + "\""
    }
}
