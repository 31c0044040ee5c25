import Foundation
import Testing

@testable import VLTokenizer

/// The reference fixtures in `Tests/Fixtures/tokenizer` (made by tools/make_tokenizer_fixtures.py with HF tokenizers).
enum TokenizerFixtures {
    static let folder = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures/tokenizer")

    /// The two vocabularies the corpus was encoded with.
    enum Vocabulary: String, CaseIterable, CustomTestStringConvertible, Sendable {
        case qwen2
        case qwen35 = "qwen3.5"

        var testDescription: String { rawValue }
        var directory: URL { folder.appendingPathComponent(rawValue) }
        var tokenizer: Tokenizer { self == .qwen2 ? TokenizerFixtures.qwen2 : TokenizerFixtures.qwen35 }
    }

    /// Loaded once and shared by all tests (loading takes a fraction of a second).
    static let qwen2 = try! Tokenizer.load(directory: Vocabulary.qwen2.directory)
    static let qwen35 = try! Tokenizer.load(directory: Vocabulary.qwen35.directory)

    /// `corpus.jsonl`: one text per line.
    static let corpus: [String] = jsonLines("corpus.jsonl").map { $0["text"] as! String }

    /// `<vocabulary>/expected.jsonl`: HF's ids and decoded text for each corpus line.
    static func expected(_ vocabulary: Vocabulary) -> [(ids: [Int32], decoded: String)] {
        jsonLines("\(vocabulary.rawValue)/expected.jsonl").map { line in
            ((line["ids"] as! [NSNumber]).map(\.int32Value), line["decoded"] as! String)
        }
    }

    /// Corpus lines whose decoded text is not their NFC form, with the reason (`corpus-notes.json`).
    static func nfcRoundTripExceptions(_ vocabulary: Vocabulary) -> Set<Int> {
        let notes = try! JSONSerialization.jsonObject(with: data("corpus-notes.json")) as! [String: Any]
        let exceptions = (notes["nfc_roundtrip_exceptions"] as! [String: [[String: Any]]])[vocabulary.rawValue]!
        return Set(exceptions.map { $0["line"] as! Int })
    }

    static func data(_ name: String) -> Data {
        try! Data(contentsOf: folder.appendingPathComponent(name))
    }

    private static func jsonLines(_ name: String) -> [[String: Any]] {
        String(decoding: data(name), as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.isEmpty }
            .map { try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
    }
}

/// Writes tokenizer.json text to a fresh temporary directory and loads it.
func loadTokenizer(json: String, config: String? = nil) throws(TokenizerError) -> Tokenizer {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vltokenizer-\(UUID().uuidString)")
    try! FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    try! Data(json.utf8).write(to: directory.appendingPathComponent("tokenizer.json"))
    if let config { try! Data(config.utf8).write(to: directory.appendingPathComponent("tokenizer_config.json")) }
    return try Tokenizer.load(directory: directory)
}
