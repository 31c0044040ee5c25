import Foundation

@testable import VLTokenizer

/// A small byte-level BPE tokenizer.json written by the tests: the 256 byte characters (id = byte), seven merges
/// (ids 256…262), the Qwen2 pattern, NFC, and added tokens exercising every flag.
///
/// The expectations in the tests that use it come from HF tokenizers 0.23.3 on the same document (built by an
/// equivalent Python script; `Tokenizer.from_file(...).encode(text, add_special_tokens=False).ids`).
enum TinyTokenizer {
    /// How `model.merges` is written.
    enum MergeForm: CaseIterable, Sendable {
        /// `["h", "e"]` (tokenizers 0.20 and later).
        case pairs
        /// `"h e"` (older files), after a `#version` line as merges.txt files start.
        case strings
    }

    static let merges = [("h", "e"), ("l", "l"), ("he", "ll"), ("hell", "o"), ("Ġ", "w"), ("a", "a"), ("Ġ", "Ġ")]

    /// The added tokens: `(id in the file, content, flags)`; tokenizers renumbers them from 263 (see
    /// `TokenizerFile.addedTokens`), except `é`, which is the byte-level character of byte 0xE9 and so gets id 233.
    static var addedTokens: [[String: Any]] {
        [
            added(300, "<tok>", special: true), added(301, "<lst>", lstrip: true), added(302, "<rst>", rstrip: true),
            added(303, "<sw>", singleWord: true), added(304, "ṩ", normalized: true), added(308, "é", special: true),
            added(305, "<to"), added(306, "ab"), added(307, "abc"),
        ]
    }

    /// The document as a JSON object, for tests to alter before writing.
    static func document(mergeForm: MergeForm = .pairs) -> [String: Any] {
        var vocab: [String: Int] = [:]
        for (byte, character) in ByteLevel.characters.enumerated() { vocab[String(Character(character))] = byte }
        for (index, merge) in merges.enumerated() { vocab[merge.0 + merge.1] = 256 + index }
        let byteLevel: [String: Any] = [
            "type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false,
        ]
        let mergeList: [Any] =
            switch mergeForm {
            case .pairs: merges.map { [$0.0, $0.1] }
            case .strings: ["#version: 0.2"] + merges.map { "\($0.0) \($0.1)" }
            }
        return [
            "version": "1.0", "truncation": NSNull(), "padding": NSNull(), "added_tokens": addedTokens,
            "normalizer": ["type": "NFC"],
            "pre_tokenizer": [
                "type": "Sequence",
                "pretokenizers": [
                    [
                        "type": "Split", "pattern": ["Regex": PieceSplitter.qwen2Pattern], "behavior": "Isolated",
                        "invert": false,
                    ],
                    byteLevel,
                ],
            ],
            "post_processor": byteLevel, "decoder": byteLevel,
            "model": [
                "type": "BPE", "dropout": NSNull(), "unk_token": NSNull(), "continuing_subword_prefix": "",
                "end_of_word_suffix": "", "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
                "vocab": vocab, "merges": mergeList,
            ],
        ]
    }

    /// The JSON text of `document`.
    static func json(_ document: [String: Any]) -> String {
        String(decoding: try! JSONSerialization.data(withJSONObject: document, options: [.sortedKeys]), as: UTF8.self)
    }

    /// Loads `document` (by default the unaltered one).
    static func load(_ document: [String: Any] = document()) throws(TokenizerError) -> Tokenizer {
        try loadTokenizer(json: json(document))
    }

    private static func added(
        _ id: Int, _ content: String, special: Bool = false, lstrip: Bool = false, rstrip: Bool = false,
        singleWord: Bool = false, normalized: Bool = false
    ) -> [String: Any] {
        [
            "id": id, "content": content, "special": special, "lstrip": lstrip, "rstrip": rstrip,
            "single_word": singleWord, "normalized": normalized,
        ]
    }
}

extension Dictionary where Key == String, Value == Any {
    /// Sets the value at a dotted path of object keys (`"model.dropout"`), creating nothing.
    mutating func set(_ path: String, _ value: Any) {
        let keys = path.split(separator: ".").map(String.init)
        if keys.count == 1 {
            self[keys[0]] = value
            return
        }
        var child = self[keys[0]] as! [String: Any]
        child.set(keys.dropFirst().joined(separator: "."), value)
        self[keys[0]] = child
    }
}
