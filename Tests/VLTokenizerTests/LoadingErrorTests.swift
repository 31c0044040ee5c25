import Foundation
import Testing

@testable import VLTokenizer

/// What `load` rejects, and that each message names the JSON key at fault.
@Suite struct LoadingErrorTests {
    struct Change: CustomTestStringConvertible, Sendable {
        /// Dotted path of the key to set in `TinyTokenizer.document()`.
        let path: String
        let value: @Sendable () -> Any
        /// The key the error must name.
        let key: String
        var testDescription: String { key }
    }

    static var byteLevel: [String: Any] {
        ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false]
    }

    static let changes = [
        Change(path: "model.type", value: { "WordPiece" }, key: "model.type"),
        Change(path: "model.dropout", value: { 0.1 }, key: "model.dropout"),
        Change(path: "model.continuing_subword_prefix", value: { "##" }, key: "model.continuing_subword_prefix"),
        Change(path: "model.end_of_word_suffix", value: { "</w>" }, key: "model.end_of_word_suffix"),
        Change(path: "model.merges", value: { [["h", "e"], ["h", "zz"]] }, key: "model.merges[1]"),
        Change(path: "model.merges", value: { ["#version: 0.2", "h e", "h e l"] }, key: "model.merges[1]"),
        Change(path: "model.merges", value: { [["h", "e", "l"]] }, key: "model.merges[0]"),
        Change(path: "model.vocab", value: { ["a": 0] }, key: "model.vocab"),
        Change(path: "normalizer", value: { ["type": "Lowercase"] }, key: "normalizer.type"),
        Change(
            path: "normalizer", value: { ["type": "Sequence", "normalizers": [["type": "NFC"], ["type": "NFKC"]]] },
            key: "normalizer.normalizers[1].type"),
        Change(path: "pre_tokenizer", value: { ["type": "Whitespace"] }, key: "pre_tokenizer.type"),
        Change(
            path: "pre_tokenizer",
            value: {
                [
                    "type": "Sequence",
                    "pretokenizers": [
                        ["type": "Split", "pattern": ["Regex": "\\s+"], "behavior": "Removed"], byteLevel,
                    ],
                ]
            }, key: "pre_tokenizer.pretokenizers[0].behavior"),
        Change(
            path: "pre_tokenizer",
            value: {
                [
                    "type": "Sequence",
                    "pretokenizers": [
                        ["type": "Split", "pattern": ["Regex": "(["], "behavior": "Isolated"], byteLevel,
                    ],
                ]
            }, key: "pre_tokenizer.pretokenizers[0].pattern.Regex"),
        Change(
            path: "pre_tokenizer", value: { ["type": "ByteLevel", "add_prefix_space": true] },
            key: "pre_tokenizer.add_prefix_space"),
        Change(path: "decoder", value: { ["type": "WordPiece"] }, key: "decoder.type"),
        Change(path: "decoder", value: { NSNull() }, key: "decoder"),
        Change(
            path: "post_processor",
            value: {
                [
                    "type": "TemplateProcessing",
                    "single": [
                        ["SpecialToken": ["id": "<tok>", "type_id": 0]], ["Sequence": ["id": "A", "type_id": 0]],
                    ],
                ]
            }, key: "post_processor.single"),
        Change(path: "truncation", value: { ["max_length": 512] }, key: "truncation"),
        Change(path: "added_tokens", value: { [["content": "<x>"]] }, key: "added_tokens[0].id"),
    ]

    @Test(arguments: changes)
    func namesTheKey(_ change: Change) {
        var document = TinyTokenizer.document()
        document.set(change.path, change.value())
        #expect {
            try TinyTokenizer.load(document)
        } throws: { error in
            guard let error = error as? TokenizerError else { return false }
            let message = error.description
            return message.contains("\"\(change.key)\"") && message.contains("tokenizer.json")
        }
    }

    /// The message states what vlbatch supports and names the file.
    @Test func unsupportedTypeMessage() {
        var document = TinyTokenizer.document()
        document.set("model.type", "Unigram")
        #expect {
            try TinyTokenizer.load(document)
        } throws: { error in
            (error as? TokenizerError)?.description.hasSuffix(
                #"tokenizer.json: key "model.type" is "Unigram", which vlbatch does not implement (supported: BPE); "#
                    + "vlbatch reads byte-level BPE tokenizers such as Qwen's") == true
        }
    }

    @Test(arguments: [
        ("{\"model\": {\"vocab\": {\"a\": 1,}}}", 1, 29), ("{\n  \"a\": tru\n}", 2, 8), ("{\"a\": [1, 2", 1, 12),
        ("{\"a\": \"\\q\"}", 1, 9), ("{\"a\": \"\\ud800\"}", 1, 14),
    ])
    func malformedJSONNamesLineAndColumn(json: String, line: Int, column: Int) {
        #expect {
            try loadTokenizer(json: json)
        } throws: { error in
            guard case .malformedJSON(_, let errorLine, let errorColumn, _) = error as? TokenizerError else {
                return false
            }
            return (errorLine, errorColumn) == (line, column)
        }
    }

    @Test func missingDirectory() {
        let directory = URL(fileURLWithPath: "/nonexistent-vlbatch-tokenizer")
        #expect(throws: TokenizerError.missingFile(path: "/nonexistent-vlbatch-tokenizer/tokenizer.json")) {
            try Tokenizer.load(directory: directory)
        }
    }
}
