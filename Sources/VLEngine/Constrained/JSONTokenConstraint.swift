import VLTokenizer

/// Constrained decoding of a JSON object: before each token is chosen, every token whose bytes the grammar cannot
/// take next gets logit −inf, and once the object is complete only the stop token is left. The answer therefore
/// always parses and matches the schema, whatever the model prefers or the sampler draws.
public struct JSONTokenConstraint: Sendable {
    /// Every token's bytes, read once per model; added tokens (`<|im_end|>`, ...) are never part of the JSON.
    public final class Vocabulary: Sendable {
        let bytes: [[UInt8]]
        let isAdded: [Bool]
        /// For a token that can only continue a string (no quote, backslash or control byte), its length; else −1.
        let plainLength: [Int]
        /// The tokens by their first byte (added and empty tokens left out).
        let byFirstByte: [[Int32]]

        /// The vocabulary of `tokenizer`, `size` entries (the model's, which may be padded past the tokenizer's).
        public init(tokenizer: Tokenizer, size: Int) {
            var added = [Bool](repeating: false, count: size)
            for token in tokenizer.addedTokens where Int(token.id) < size { added[Int(token.id)] = true }
            isAdded = added
            let bytes = (0..<size).map { tokenizer.bytes(of: Int32($0)) }
            self.bytes = bytes
            plainLength = bytes.indices.map { token in
                let plain =
                    !added[token] && !bytes[token].isEmpty
                    && bytes[token].allSatisfy { $0 >= 0x20 && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }
                return plain ? bytes[token].count : -1
            }
            var buckets = [[Int32]](repeating: [], count: 256)
            for token in bytes.indices where !added[token] && !bytes[token].isEmpty {
                buckets[Int(bytes[token][0])].append(Int32(token))
            }
            byFirstByte = buckets
        }

        /// The bytes of `token` (empty past the tokenizer's vocabulary).
        public func bytesOf(_ token: Int32) -> [UInt8] { bytes[Int(token)] }
    }

    let vocabulary: Vocabulary
    private(set) var grammar: JSONObjectGrammar
    /// The token that ends the answer once the object is complete (`<|im_end|>`).
    public let stopToken: Int32

    /// A constraint at the start of an object of `schema`.
    public init(schema: JSONObjectSchema, vocabulary: Vocabulary, stopToken: Int32) {
        self.vocabulary = vocabulary
        grammar = JSONObjectGrammar(schema: schema)
        self.stopToken = stopToken
    }

    /// Tokens enough for any answer: every token holds at least one byte, plus the stop token.
    public var maxTokens: Int { grammar.maxBytes + 1 }

    /// Whether the object is complete.
    public var isComplete: Bool { grammar.isComplete }

    /// Sets the logits of every token that cannot come next to −inf.
    ///
    /// Two shortcuts keep this cheap on a 150,000–250,000-token vocabulary: inside a string, a token of plain bytes
    /// is allowed exactly when it fits the string's remaining room, with no walk; elsewhere only the tokens whose
    /// first byte the grammar takes are walked (a key or punctuation admits a single byte).
    public func mask(_ logits: inout [Float]) {
        precondition(logits.count <= vocabulary.bytes.count, "logits wider than the vocabulary")
        var allowed = [Bool](repeating: false, count: logits.count)
        if grammar.isComplete {
            if Int(stopToken) < allowed.count { allowed[Int(stopToken)] = true }
        } else if let room = grammar.stringRoom {
            for token in allowed.indices where !vocabulary.isAdded[token] {
                let plain = vocabulary.plainLength[token]
                allowed[token] = plain >= 0 ? plain <= room : grammar.accepts(vocabulary.bytes[token])
            }
        } else {
            for first in 0..<256 {
                var trial = grammar
                guard trial.accept(UInt8(first)) else { continue }
                for token in vocabulary.byFirstByte[first] where Int(token) < allowed.count {
                    allowed[Int(token)] = grammar.accepts(vocabulary.bytes[Int(token)])
                }
            }
        }
        logits.withUnsafeMutableBufferPointer { row in
            for token in row.indices where !allowed[token] { row[token] = -.infinity }
        }
    }

    /// Moves past `token`, which `mask` allowed.
    public mutating func advance(_ token: Int32) {
        guard !grammar.isComplete else { return }
        for byte in vocabulary.bytes[Int(token)] {
            let taken = grammar.accept(byte)
            precondition(taken, "token \(token) was not allowed by the grammar")
        }
    }
}
