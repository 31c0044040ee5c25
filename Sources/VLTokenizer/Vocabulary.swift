/// `model.vocab`: the model's tokens and their ids.
///
/// Byte-level tokens are indexed by the bytes they stand for rather than by their text (`"Ġhello"` is ` hello`), so
/// the BPE model looks pieces up without converting them to characters.
struct ModelVocabulary: Sendable {
    /// Byte-level tokens: the bytes each stands for → id.
    var index = ByteStringTable(capacity: 1 << 18)
    /// Tokens with a character outside the byte map (none in Qwen's files), by text. No text encodes to them.
    var otherTokens: [String: Int32] = [:]

    /// Number of tokens.
    var count: Int { index.count + otherTokens.count }

    /// Records a token given its text; a repeated text keeps the last id, as serde_json's map does.
    mutating func add(text: UnsafeBufferPointer<UInt8>, id: Int32) {
        var bytes: [UInt8] = []
        if ByteLevel.appendBytes(ofText: text, to: &bytes) {
            bytes.withUnsafeBufferPointer { index.set($0, hash: ByteStringTable.hash($0), value: UInt32(id)) }
        } else {
            otherTokens[String(decoding: text, as: UTF8.self)] = id
        }
    }

    /// The id of the byte-level token standing for `bytes`, if any.
    func id(ofBytes bytes: UnsafeBufferPointer<UInt8>) -> Int32? {
        index.find(bytes, hash: ByteStringTable.hash(bytes)).map { Int32(bitPattern: $0) }
    }

    /// The id of the token written `text` in the vocabulary, if any (tokenizers' `BPE::token_to_id`).
    func id(ofText text: String) -> Int32? {
        if let id = otherTokens[text] { return id }
        var text = text
        var bytes: [UInt8] = []
        guard text.withUTF8({ ByteLevel.appendBytes(ofText: $0, to: &bytes) }) else { return nil }
        return bytes.withUnsafeBufferPointer(id(ofBytes:))
    }
}

/// Token text ↔ id for the model vocabulary and the added tokens, and the bytes each id decodes to.
struct Vocabulary: Sendable {
    /// The model's tokens.
    let model: ModelVocabulary
    /// Text of the model tokens outside the byte map, by id.
    private let otherTexts: [Int32: String]
    private let addedByID: [Int32: AddedToken]
    private let addedByContent: [String: Int32]
    /// The bytes of every token, back to back; id `i` decodes to `spans[i]`.
    private let tokenBytes: [UInt8]
    private let spans: [Range<Int>]
    /// Whether each id is a special added token (dropped by `skipSpecialTokens`).
    private let specialIDs: [Bool]

    /// One past the highest id of the model vocabulary and the added tokens.
    var size: Int { specialIDs.count }

    /// Indexes the model vocabulary and the added tokens.
    init(model: ModelVocabulary, addedTokens: [AddedToken]) {
        var highest = max(model.otherTokens.values.max() ?? -1, addedTokens.map(\.id).max() ?? -1)
        model.index.forEachEntry { _, id in highest = max(highest, Int32(id)) }
        let size = Int(highest) + 1
        var specialIDs = [Bool](repeating: false, count: size)
        var addedByID: [Int32: AddedToken] = [:]
        var addedByContent: [String: Int32] = [:]
        for token in addedTokens {
            addedByID[token.id] = token
            addedByContent[token.content] = token.id
            specialIDs[Int(token.id)] = token.isSpecial
        }
        // Each id's bytes. HF's ByteLevel decoder maps an added token's characters too (ASCII ones map to
        // themselves; a token with another character keeps its UTF-8), and a model token outside the byte map keeps
        // its UTF-8 the same way. Added tokens come last: an id in both decodes as the added token, as in
        // tokenizers' `decode`.
        var tokenBytes: [UInt8] = []
        var spans = [Range<Int>](repeating: 0..<0, count: size)
        model.index.forEachEntry { bytes, id in
            spans[Int(id)] = tokenBytes.count..<tokenBytes.count + bytes.count
            tokenBytes.append(contentsOf: bytes)
        }
        for (text, id) in model.otherTokens {
            spans[Int(id)] = tokenBytes.count..<tokenBytes.count + text.utf8.count
            tokenBytes.append(contentsOf: text.utf8)
        }
        for token in addedTokens {
            var content = token.content
            let start = tokenBytes.count
            content.withUTF8 { ByteLevel.appendDecodedBytes(ofText: $0, to: &tokenBytes) }
            spans[Int(token.id)] = start..<tokenBytes.count
        }
        self.model = model
        otherTexts = Dictionary(model.otherTokens.map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        self.addedByID = addedByID
        self.addedByContent = addedByContent
        self.tokenBytes = tokenBytes
        self.spans = spans
        self.specialIDs = specialIDs
    }

    /// The id of a token given its text, added tokens first (tokenizers' `token_to_id`).
    func id(of token: String) -> Int32? {
        addedByContent[token] ?? model.id(ofText: token)
    }

    /// The text of the token with id `id`, added tokens first (tokenizers' `id_to_token`).
    func text(of id: Int32) -> String? {
        guard id >= 0, Int(id) < size else { return nil }
        if let text = addedByID[id]?.content ?? otherTexts[id] { return text }
        let span = spans[Int(id)]
        return span.isEmpty ? nil : ByteLevel.text(ofBytes: tokenBytes[span])
    }

    /// Appends the bytes `id` decodes to; an unknown id, and a special token when `skipSpecial`, add nothing (as
    /// tokenizers' `decode` drops them).
    func appendBytes(of id: Int32, skipSpecial: Bool, to bytes: inout [UInt8]) {
        guard id >= 0, Int(id) < size, !(skipSpecial && specialIDs[Int(id)]) else { return }
        bytes.append(contentsOf: tokenBytes[spans[Int(id)]])
    }
}
