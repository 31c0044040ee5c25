import Foundation

/// A Hugging Face byte-level BPE tokenizer (`tokenizer.json`, as Qwen2 through Qwen3.5 ship it): text ↔ token ids,
/// identical to HF tokenizers.
///
/// Encoding runs HF's pipeline: added tokens are cut out of the raw text first; the text between them is
/// NFC-normalised, cut into pieces by the pre-tokenizer pattern, and each piece's bytes merged by BPE. Nothing is
/// added around the result (Qwen's files add no BOS or EOS; `load` rejects a post-processor that would).
///
/// Thread safety: a `Tokenizer` is immutable apart from its cache of encoded pieces, which is split into shards
/// that each sit behind a lock, so one instance encodes and decodes from any number of threads at once.
public final class Tokenizer: Sendable {
    /// One past the highest token id (model vocabulary and added tokens).
    public let vocabularySize: Int
    /// The added tokens flagged `special`, by content: `<|im_start|>`, `<|image_pad|>`, …
    public let specialTokens: [String: Int32]
    /// The tokens of `added_tokens`, by id.
    public let addedTokens: [AddedToken]

    /// Whether `encode(_:)` matches special tokens in the text: transformers' `split_special_tokens`, negated.
    public let parsesSpecialTokens: Bool

    private let normalizesNFC: Bool
    /// Added tokens with `normalized: false`, found in the raw text.
    private let rawTokens: AddedTokenMatcher
    /// Added tokens with `normalized: true`, found in the normalised text between the raw ones.
    private let normalizedTokens: AddedTokenMatcher
    private let splitter: PieceSplitter
    let model: BytePairModel
    let vocabulary: Vocabulary

    /// Loads `tokenizer.json` (and `tokenizer_config.json`, if present) from a model or tokenizer directory.
    public static func load(directory: URL) throws(TokenizerError) -> Tokenizer {
        try load(tokenizerJSON: directory.appendingPathComponent("tokenizer.json"))
    }

    /// Loads a `tokenizer.json`, and the `tokenizer_config.json` beside it if there is one (only its
    /// `split_special_tokens` matters: it sets ``parsesSpecialTokens``).
    public static func load(tokenizerJSON file: URL) throws(TokenizerError) -> Tokenizer {
        let configFile = file.deletingLastPathComponent().appendingPathComponent("tokenizer_config.json")
        var splitSpecialTokens = false
        if FileManager.default.fileExists(atPath: configFile.path) {
            var reader = JSONReader(bytes: try readFile(configFile), path: configFile.path)
            guard case .object(let config) = try reader.readValue() else {
                throw .invalidValue(path: configFile.path, key: "", reason: "the file must hold a JSON object")
            }
            switch config["split_special_tokens"] {
            case .none, .null: break
            case .bool(let flag): splitSpecialTokens = flag
            default:
                throw .invalidValue(path: configFile.path, key: "split_special_tokens", reason: "must be true or false")
            }
        }
        let tokenizerFile = try TokenizerFile(bytes: try readFile(file), path: file.path)
        return Tokenizer(tokenizerFile, splitSpecialTokens: splitSpecialTokens)
    }

    /// A tokenizer from a parsed tokenizer.json; `splitSpecialTokens` is transformers' `split_special_tokens`.
    init(_ file: TokenizerFile, splitSpecialTokens: Bool = false) {
        parsesSpecialTokens = !splitSpecialTokens
        normalizesNFC = file.normalizesNFC
        splitter = file.splitter
        model = file.model
        vocabulary = file.vocabulary
        vocabularySize = file.vocabulary.size
        addedTokens = file.addedTokens.sorted { $0.id < $1.id }
        specialTokens = Dictionary(
            file.addedTokens.filter(\.isSpecial).map { ($0.content, $0.id) }, uniquingKeysWith: { $1 })
        rawTokens = AddedTokenMatcher(tokens: file.addedTokens.filter { !$0.normalized }) { Array($0.content.utf8) }
        // tokenizers normalises the content of `normalized` tokens before searching the normalised text for them.
        let normalizesNFC = file.normalizesNFC
        normalizedTokens = AddedTokenMatcher(tokens: file.addedTokens.filter(\.normalized)) { token in
            var content = token.content
            var pattern: [UInt8] = []
            content.withUTF8 {
                normalizesNFC ? HFNormalizer.appendNFC(of: $0, to: &pattern) : pattern.append(contentsOf: $0)
            }
            return pattern
        }
    }

    /// The token ids of `text`; no special tokens are added. Special-token strings in the text (`<|im_end|>`)
    /// become their tokens unless the checkpoint sets `split_special_tokens` (see ``parsesSpecialTokens``).
    public func encode(_ text: String) -> [Int32] {
        encode(text, parsingSpecialTokens: parsesSpecialTokens)
    }

    /// The token ids of `text`; with `parsingSpecialTokens: false`, special-token strings in the text are encoded
    /// as plain text (so text from a file cannot inject `<|im_end|>`). Added tokens not flagged `special` are always
    /// matched, as in tokenizers.
    public func encode(_ text: String, parsingSpecialTokens: Bool) -> [Int32] {
        var text = text
        return text.withUTF8 { utf8 in
            var output: [Int32] = []
            output.reserveCapacity(utf8.count / 3 + 1)
            var workspace = MergeWorkspace()
            rawTokens.forEachSegment(in: utf8, skippingSpecial: !parsingSpecialTokens) { segment in
                switch segment {
                case .token(let id):
                    output.append(id)
                case .text(let range):
                    normalizeAndEncode(
                        UnsafeBufferPointer(rebasing: utf8[range]), parsingSpecialTokens: parsingSpecialTokens,
                        into: &output, &workspace)
                }
            }
            return output
        }
    }

    /// The text of `ids`: each token's bytes, decoded as UTF-8 with invalid sequences replaced by U+FFFD (Rust's
    /// `String::from_utf8_lossy`, as in tokenizers' ByteLevel decoder). Unknown ids are skipped, as tokenizers does;
    /// with `skipSpecialTokens`, so are the added tokens flagged `special`.
    public func decode(_ ids: [Int32], skipSpecialTokens: Bool = false) -> String {
        var bytes: [UInt8] = []
        for id in ids { vocabulary.appendBytes(of: id, skipSpecial: skipSpecialTokens, to: &bytes) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The bytes token `id` stands for (empty for an unknown id): what decoding it alone appends, before UTF-8.
    public func bytes(of id: Int32) -> [UInt8] {
        var bytes: [UInt8] = []
        vocabulary.appendBytes(of: id, skipSpecial: false, to: &bytes)
        return bytes
    }

    /// The id of a token given as it appears in the vocabulary (`"Ġhello"`, `"<|im_end|>"`), if there is one.
    public func id(forToken token: String) -> Int32? {
        vocabulary.id(of: token)
    }

    /// The token with id `id` as it appears in the vocabulary (`"Ġhello"`), if there is one.
    public func token(forID id: Int32) -> String? {
        vocabulary.text(of: id)
    }

    // MARK: - Private

    private func normalizeAndEncode(
        _ text: UnsafeBufferPointer<UInt8>, parsingSpecialTokens: Bool, into output: inout [Int32],
        _ workspace: inout MergeWorkspace
    ) {
        // Scalars below U+0300 (lead bytes below 0xCC) are NFC whatever their neighbours.
        guard normalizesNFC, text.contains(where: { $0 >= 0xCC }) else {
            return splitAndEncode(text, parsingSpecialTokens: parsingSpecialTokens, into: &output, &workspace)
        }
        var normalized: [UInt8] = []
        normalized.reserveCapacity(text.count)
        HFNormalizer.appendNFC(of: text, to: &normalized)
        normalized.withUnsafeBufferPointer {
            splitAndEncode($0, parsingSpecialTokens: parsingSpecialTokens, into: &output, &workspace)
        }
    }

    private func splitAndEncode(
        _ text: UnsafeBufferPointer<UInt8>, parsingSpecialTokens: Bool, into output: inout [Int32],
        _ workspace: inout MergeWorkspace
    ) {
        guard !normalizedTokens.isEmpty else { return encodePieces(text, into: &output, &workspace) }
        normalizedTokens.forEachSegment(in: text, skippingSpecial: !parsingSpecialTokens) { segment in
            switch segment {
            case .token(let id): output.append(id)
            case .text(let range): encodePieces(UnsafeBufferPointer(rebasing: text[range]), into: &output, &workspace)
            }
        }
    }

    private func encodePieces(
        _ text: UnsafeBufferPointer<UInt8>, into output: inout [Int32], _ workspace: inout MergeWorkspace
    ) {
        splitter.forEachPiece(in: text) { piece in
            model.encode(UnsafeBufferPointer(rebasing: text[piece]), into: &output, workspace: &workspace)
        }
    }

    private static func readFile(_ file: URL) throws(TokenizerError) -> [UInt8] {
        guard FileManager.default.fileExists(atPath: file.path) else { throw .missingFile(path: file.path) }
        guard let handle = FileHandle(forReadingAtPath: file.path) else {
            throw .unreadableFile(path: file.path, reason: "cannot open it")
        }
        defer { try? handle.close() }
        do {
            // Read straight into the array: going through `Data` copies the 7–15 MB once more.
            let size = Int(try handle.seekToEnd())
            try handle.seek(toOffset: 0)
            return try [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
                while count < size {
                    let got = read(handle.fileDescriptor, buffer.baseAddress! + count, size - count)
                    guard got > 0 else { throw CocoaError(.fileReadUnknown) }
                    count += got
                }
            }
        } catch {
            throw .unreadableFile(path: file.path, reason: error.localizedDescription)
        }
    }
}
