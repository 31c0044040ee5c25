/// tokenizer.json read and checked: every stage of HF's pipeline mapped to what vlbatch runs, or an error naming
/// the key vlbatch cannot honour.
///
/// The stages mirror HF tokenizers' `Tokenizer` (`tokenizer/serialization.rs`): `normalizer`, `pre_tokenizer`,
/// `model`, `post_processor`, `decoder`, plus `added_tokens`, `truncation` and `padding`.
struct TokenizerFile {
    /// Whether the normalizer is NFC (alone or in a `Sequence`); otherwise there is none.
    var normalizesNFC: Bool
    /// The pre-tokenizer's splitting (its `ByteLevel` mapping is implied by working on bytes).
    var splitter: PieceSplitter
    /// Model vocabulary plus added tokens.
    var vocabulary: Vocabulary
    /// The BPE model.
    var model: BytePairModel
    /// `added_tokens` with the ids tokenizers gives them, in tokenizers' search order: special tokens first.
    var addedTokens: [AddedToken]

    /// Ids must stay below this, so that id-indexed tables stay small (Qwen3.5's highest is 248 k).
    private static let idLimit = 1 << 24

    /// Parses and checks the bytes of a tokenizer.json; `path` names it in errors.
    init(bytes: [UInt8], path: String) throws(TokenizerError) {
        var reader = JSONReader(bytes: bytes, path: path)
        var sections: [String: JSONValue] = [:]
        var modelSettings: [String: JSONValue]?
        var vocabulary: ModelVocabulary?
        var merges: RawMerges?
        var members = try reader.beginObject()
        while try reader.next(&members) {
            let key = try reader.readKey()
            guard key == "model" else {
                sections[key] = try reader.readValue()
                continue
            }
            // The model section is streamed: `vocab` and `merges` are nearly all of the file.
            var settings: [String: JSONValue] = [:]
            var modelMembers = try reader.beginObject()
            while try reader.next(&modelMembers) {
                switch try reader.readKey() {
                case "vocab": vocabulary = try Self.readVocabulary(&reader)
                case "merges": merges = try RawMerges(&reader)
                case let other: settings[other] = try reader.readValue()
                }
            }
            modelSettings = settings
        }
        try reader.expectEnd()

        let root = ConfigNode(value: .object(sections), key: "", path: path)
        guard let modelSettings else { throw .missingKey(path: path, key: "model") }
        let model = ConfigNode(value: .object(modelSettings), key: "model", path: path)
        guard let vocabulary else { throw .missingKey(path: path, key: "model.vocab") }
        guard let merges else { throw .missingKey(path: path, key: "model.merges") }

        for key in ["truncation", "padding"] where root.member(key) != nil {
            throw .unsupported(
                path: path, key: key, value: "set", supported: "null (vlbatch never truncates or pads when encoding)")
        }
        normalizesNFC = try Self.normalizesNFC(root.member("normalizer"))
        splitter = try Self.splitter(root.member("pre_tokenizer"), path: path)
        try Self.checkPostProcessor(root.member("post_processor"))
        try Self.checkDecoder(root.member("decoder"), path: path)
        let ignoreMerges = try Self.checkModelSettings(model)

        addedTokens = try Self.addedTokens(root.member("added_tokens"), model: vocabulary)
        self.vocabulary = Vocabulary(model: vocabulary, addedTokens: addedTokens)
        self.model = BytePairModel(
            byteIDs: try Self.byteIDs(vocabulary, path: path),
            merges: try merges.resolve(in: vocabulary, path: path),
            wholePieces: ignoreMerges ? vocabulary.index : nil)
    }

    // MARK: - model

    /// Reads `model.vocab`.
    private static func readVocabulary(_ reader: inout JSONReader) throws(TokenizerError) -> ModelVocabulary {
        var vocabulary = ModelVocabulary()
        var text: [UInt8] = []
        var members = try reader.beginObject()
        while try reader.next(&members) {
            text.removeAll(keepingCapacity: true)
            try reader.readKey(appendingTo: &text)
            let id = try reader.readInteger()
            guard (0..<idLimit).contains(id) else {
                throw .invalidValue(
                    path: reader.path, key: "model.vocab",
                    reason: "id \(id) of \"\(String(decoding: text, as: UTF8.self))\" is outside 0..<\(idLimit)")
            }
            text.withUnsafeBufferPointer { vocabulary.add(text: $0, id: Int32(id)) }
        }
        return vocabulary
    }

    /// Checks the BPE settings; returns `ignore_merges`.
    private static func checkModelSettings(_ model: ConfigNode) throws(TokenizerError) -> Bool {
        let type = try model.requiredString("type")
        guard type == "BPE" else { throw model.unsupported("type", value: "\"\(type)\"", supported: "BPE") }
        if let dropout = model.member("dropout") {
            guard case .number(let value) = dropout.value else { throw dropout.invalid("must be a number or null") }
            if value != 0 {
                throw model.unsupported(
                    "dropout", value: "\(value)", supported: "null or 0 (dropout makes encoding random)")
            }
        }
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let affix = try model.string(key), !affix.isEmpty {
                throw model.unsupported(key, value: "\"\(affix)\"", supported: "null or \"\" (byte-level BPE has none)")
            }
        }
        // `unk_token`, `byte_fallback` and `fuse_unk` only act on a character missing from the vocabulary, which
        // `byteIDs` rules out: every byte's character must be there.
        _ = try model.bool("byte_fallback", default: false)
        _ = try model.bool("fuse_unk", default: false)
        _ = try model.string("unk_token")
        return try model.bool("ignore_merges", default: false)
    }

    /// The id of each byte's character; all 256 must be in the vocabulary, so every piece can be encoded.
    private static func byteIDs(_ vocabulary: ModelVocabulary, path: String) throws(TokenizerError) -> [Int32] {
        var ids: [Int32] = []
        for byte in UInt8.min...UInt8.max {
            guard let id = [byte].withUnsafeBufferPointer(vocabulary.id(ofBytes:)) else {
                throw .invalidValue(
                    path: path, key: "model.vocab",
                    reason: "no token for byte 0x\(String(byte, radix: 16)) (\"\(ByteLevel.characters[Int(byte)])\"); "
                        + "vlbatch needs a byte-level vocabulary holding all 256 byte characters")
            }
            ids.append(id)
        }
        return ids
    }

    // MARK: - Pipeline stages

    private static func normalizesNFC(_ node: ConfigNode?) throws(TokenizerError) -> Bool {
        guard let node else { return false }
        let type = try node.requiredString("type")
        switch type {
        case "NFC":
            return true
        case "Sequence":
            var nfc = false
            for child in try node.elements("normalizers") {
                if try normalizesNFC(child) { nfc = true }
            }
            return nfc
        default:
            throw node.unsupported("type", value: "\"\(type)\"", supported: "NFC, Sequence of NFC, null")
        }
    }

    private static func splitter(_ node: ConfigNode?, path: String) throws(TokenizerError) -> PieceSplitter {
        guard let node else { throw .missingKey(path: path, key: "pre_tokenizer") }
        let supported = "ByteLevel, or Sequence of one Split (behavior Isolated) and ByteLevel (use_regex false)"
        let type = try node.requiredString("type")
        switch type {
        case "ByteLevel":
            return try byteLevelUsesRegex(node) ? .forPattern(PieceSplitter.gpt2Pattern)! : .whole
        case "Sequence":
            let stages = try node.elements("pretokenizers")
            guard let byteLevel = stages.last, try byteLevel.requiredString("type") == "ByteLevel" else {
                throw node.unsupported(
                    "pretokenizers", value: "a sequence not ending in ByteLevel", supported: supported)
            }
            let usesRegex = try byteLevelUsesRegex(byteLevel)
            switch stages.count {
            case 1:
                return usesRegex ? .forPattern(PieceSplitter.gpt2Pattern)! : .whole
            case 2 where !usesRegex:
                return try split(stages[0], supported: supported)
            default:
                throw node.unsupported(
                    "pretokenizers", value: "a sequence of \(stages.count) stages", supported: supported)
            }
        default:
            throw node.unsupported("type", value: "\"\(type)\"", supported: supported)
        }
    }

    /// Checks a `ByteLevel` pre-tokenizer; returns `use_regex` (tokenizers' defaults are `true` for both flags).
    private static func byteLevelUsesRegex(_ node: ConfigNode) throws(TokenizerError) -> Bool {
        if try node.bool("add_prefix_space", default: true) {
            throw node.unsupported("add_prefix_space", value: "true", supported: "false")
        }
        return try node.bool("use_regex", default: true)
    }

    private static func split(_ node: ConfigNode, supported: String) throws(TokenizerError) -> PieceSplitter {
        let type = try node.requiredString("type")
        guard type == "Split" else { throw node.unsupported("type", value: "\"\(type)\"", supported: supported) }
        let behavior = try node.requiredString("behavior")
        guard behavior == "Isolated" else {
            throw node.unsupported("behavior", value: "\"\(behavior)\"", supported: "Isolated")
        }
        // `invert` swaps which pieces count as matches; with Isolated every piece stands alone either way.
        _ = try node.bool("invert", default: false)
        guard let pattern = node.member("pattern") else { throw node.missing("pattern") }
        if let regex = try pattern.string("Regex") {
            guard let splitter = PieceSplitter.forPattern(regex) else {
                throw pattern.invalid("ICU cannot compile the regular expression \(regex)", key: "Regex")
            }
            return splitter
        }
        if let literal = try pattern.string("String") {
            guard !literal.isEmpty else { throw pattern.invalid("must not be empty", key: "String") }
            return .regex(RegexSplitter(literal: literal))
        }
        throw pattern.invalid("must hold \"Regex\" or \"String\"")
    }

    /// The post-processor must add nothing: `encode` returns the tokens of the text alone, as Qwen's files do.
    private static func checkPostProcessor(_ node: ConfigNode?) throws(TokenizerError) {
        guard let node else { return }
        let supported = "null, ByteLevel, or TemplateProcessing / Sequence that add no tokens"
        let type = try node.requiredString("type")
        switch type {
        case "ByteLevel":
            return
        case "Sequence":
            for child in try node.elements("processors") { try checkPostProcessor(child) }
        case "TemplateProcessing":
            let sequenceOnly: JSONValue = .array([
                .object(["Sequence": .object(["id": .string("A"), "type_id": .number(0)])])
            ])
            guard node.member("single")?.value == sequenceOnly else {
                throw node.unsupported("single", value: "a template that adds tokens", supported: supported)
            }
        default:
            throw node.unsupported("type", value: "\"\(type)\"", supported: supported)
        }
    }

    private static func checkDecoder(_ node: ConfigNode?, path: String) throws(TokenizerError) {
        guard let node else { throw .missingKey(path: path, key: "decoder") }
        let type = try node.requiredString("type")
        guard type == "ByteLevel" else { throw node.unsupported("type", value: "\"\(type)\"", supported: "ByteLevel") }
    }

    /// Reads `added_tokens`, numbering them as tokenizers does rather than trusting their `id` keys.
    ///
    /// tokenizers' deserializer passes the entries to `AddedVocabulary::add_tokens`, which gives a token already in
    /// the model vocabulary that token's id and any other the next free id (the model vocabulary's entry count, or
    /// one past the highest added id), and only warns when that differs from the file. An entry repeating a content
    /// replaces the earlier one's flags. Genuine files number their tokens exactly that way.
    private static func addedTokens(
        _ node: ConfigNode?, model: ModelVocabulary
    ) throws(TokenizerError) -> [AddedToken] {
        guard let node else { return [] }
        var tokens: [AddedToken] = []
        var indexByContent: [String: Int] = [:]
        var highestAdded: Int32?
        for entry in try node.elements() {
            let content = try entry.requiredString("content")
            _ = try entry.requiredInteger("id")
            if content.isEmpty { continue }
            let special = try entry.bool("special", default: false)
            let id: Int32
            if let index = indexByContent[content] {
                id = tokens[index].id
            } else if let existing = model.id(ofText: content) {
                id = existing
            } else if let highest = highestAdded, highest >= model.count || model.count == 0 {
                id = highest + 1
            } else {
                id = Int32(model.count)
            }
            guard id < idLimit else { throw entry.invalid("too many added tokens (ids reach \(idLimit))") }
            highestAdded = max(highestAdded ?? id, id)
            let token = AddedToken(
                id: id, content: content, isSpecial: special,
                singleWord: try entry.bool("single_word", default: false),
                leftStrip: try entry.bool("lstrip", default: false),
                rightStrip: try entry.bool("rstrip", default: false),
                // tokenizers' `AddedToken::from`: special tokens are not normalised unless asked.
                normalized: try entry.bool("normalized", default: !special))
            if let index = indexByContent[content] {
                tokens[index] = token
            } else {
                indexByContent[content] = tokens.count
                tokens.append(token)
            }
        }
        // tokenizers searches special tokens first, then the others; the order only matters between tokens whose
        // normalised forms coincide.
        return tokens.filter(\.isSpecial) + tokens.filter { !$0.isSpecial }
    }
}

/// `model.merges` as read, before its tokens are looked up (the file may list `merges` before `vocab`).
private struct RawMerges {
    /// Text of the left then the right token of every rule, back to back.
    private var text: [UInt8] = []
    /// Rule `r`: left is `text[ends[r - 1]..<middles[r]]`, right is `text[middles[r]..<ends[r]]`.
    private var middles: [Int] = []
    private var ends: [Int] = []

    /// Reads the array: `"left right"` strings (older files) or `["left", "right"]` pairs (newer ones).
    init(_ reader: inout JSONReader) throws(TokenizerError) {
        var elements = try reader.beginArray()
        var line: [UInt8] = []
        while try reader.next(&elements) {
            let rule = ends.count
            var key: String { "model.merges[\(rule)]" }
            if reader.nextIsArray() {
                var pair = try reader.beginArray()
                var parts = 0
                while try reader.next(&pair) {
                    parts += 1
                    if parts == 2 { middles.append(text.count) }
                    try reader.readString(appendingTo: &text)
                }
                guard parts == 2 else {
                    throw .invalidValue(path: reader.path, key: key, reason: "expected a pair of tokens")
                }
            } else {
                line.removeAll(keepingCapacity: true)
                try reader.readString(appendingTo: &line)
                // tokenizers' `convert_merges_to_hashmap`: `#version` lines of merges.txt are skipped, and a rule
                // is exactly two tokens separated by one space.
                if line.starts(with: "#version".utf8) { continue }
                guard let space = line.firstIndex(of: UInt8(ascii: " ")),
                    !line[(space + 1)...].contains(UInt8(ascii: " "))
                else {
                    throw .invalidValue(
                        path: reader.path, key: key,
                        reason:
                            "expected two tokens separated by one space, got \"\(String(decoding: line, as: UTF8.self))\""
                    )
                }
                text.append(contentsOf: line[..<space])
                middles.append(text.count)
                text.append(contentsOf: line[(space + 1)...])
            }
            ends.append(text.count)
        }
    }

    /// The merge table: each rule's tokens and their concatenation must be in the vocabulary.
    func resolve(in vocabulary: ModelVocabulary, path: String) throws(TokenizerError) -> MergeTable {
        var table = MergeTable(capacity: ends.count)
        var pair: [UInt8] = []
        try text.withUnsafeBufferPointer { text throws(TokenizerError) in
            for rule in ends.indices {
                let start = rule == 0 ? 0 : ends[rule - 1]
                let left = UnsafeBufferPointer(rebasing: text[start..<middles[rule]])
                let right = UnsafeBufferPointer(rebasing: text[middles[rule]..<ends[rule]])
                func missing(_ token: some Collection<UInt8>) -> TokenizerError {
                    .invalidValue(
                        path: path, key: "model.merges[\(rule)]",
                        reason: "\"\(String(decoding: token, as: UTF8.self))\" is not in model.vocab")
                }
                // Left and right bytes back to back, so that their concatenation is one buffer too.
                pair.removeAll(keepingCapacity: true)
                guard ByteLevel.appendBytes(ofText: left, to: &pair) else {
                    // A rule on a token outside the byte map never applies: pieces hold byte-level tokens only.
                    guard vocabulary.otherTokens[String(decoding: left, as: UTF8.self)] != nil else {
                        throw missing(left)
                    }
                    continue
                }
                let leftCount = pair.count
                guard ByteLevel.appendBytes(ofText: right, to: &pair) else {
                    guard vocabulary.otherTokens[String(decoding: right, as: UTF8.self)] != nil else {
                        throw missing(right)
                    }
                    continue
                }
                try pair.withUnsafeBufferPointer { bytes throws(TokenizerError) in
                    guard let leftID = vocabulary.id(ofBytes: UnsafeBufferPointer(rebasing: bytes[..<leftCount]))
                    else { throw missing(left) }
                    guard let rightID = vocabulary.id(ofBytes: UnsafeBufferPointer(rebasing: bytes[leftCount...]))
                    else { throw missing(right) }
                    guard let merged = vocabulary.id(ofBytes: bytes) else {
                        throw missing(Array(left) + Array(right))
                    }
                    table.set(leftID, rightID, rank: UInt32(rule), merged: merged)
                }
            }
        }
        return table
    }
}

/// A value in tokenizer.json with its dotted key path, for error messages.
private struct ConfigNode {
    let value: JSONValue
    /// Dotted path from the root, such as `pre_tokenizer.pretokenizers[0]`.
    let key: String
    /// The file.
    let path: String

    /// The member `name` of an object, `nil` when absent or null.
    func member(_ name: String) -> ConfigNode? {
        guard case .object(let members) = value, let child = members[name], child != .null else { return nil }
        return ConfigNode(value: child, key: keyPath(name), path: path)
    }

    /// The elements of this array (or of member `name`).
    func elements(_ name: String? = nil) throws(TokenizerError) -> [ConfigNode] {
        let node: ConfigNode
        if let name {
            guard let child = member(name) else { throw missing(name) }
            node = child
        } else {
            node = self
        }
        guard case .array(let elements) = node.value else { throw node.invalid("must be an array") }
        return elements.enumerated().map { ConfigNode(value: $1, key: "\(node.key)[\($0)]", path: path) }
    }

    /// Member `name` as a string, `nil` when absent or null.
    func string(_ name: String) throws(TokenizerError) -> String? {
        guard let child = member(name) else { return nil }
        guard case .string(let string) = child.value else { throw child.invalid("must be a string") }
        return string
    }

    func requiredString(_ name: String) throws(TokenizerError) -> String {
        guard let string = try string(name) else { throw missing(name) }
        return string
    }

    func requiredInteger(_ name: String) throws(TokenizerError) -> Int {
        guard let child = member(name) else { throw missing(name) }
        guard case .number(let number) = child.value, let integer = Int(exactly: number) else {
            throw child.invalid("must be an integer")
        }
        return integer
    }

    /// Member `name` as a Boolean, `defaultValue` when absent or null.
    func bool(_ name: String, default defaultValue: Bool) throws(TokenizerError) -> Bool {
        guard let child = member(name) else { return defaultValue }
        guard case .bool(let flag) = child.value else { throw child.invalid("must be true or false") }
        return flag
    }

    func missing(_ name: String) -> TokenizerError {
        .missingKey(path: path, key: keyPath(name))
    }

    /// An `invalidValue` error for this node, or for its member `name`.
    func invalid(_ reason: String, key name: String? = nil) -> TokenizerError {
        .invalidValue(path: path, key: name.map(keyPath) ?? key, reason: reason)
    }

    func unsupported(_ name: String, value: String, supported: String) -> TokenizerError {
        .unsupported(path: path, key: keyPath(name), value: value, supported: supported)
    }

    private func keyPath(_ name: String) -> String {
        key.isEmpty ? name : "\(key).\(name)"
    }
}
