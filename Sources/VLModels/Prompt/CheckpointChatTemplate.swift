import Foundation

/// A checkpoint's own Jinja chat template, and whether it is one whose output vlbatch's ``ChatFormat`` reproduces.
///
/// vlbatch renders prompts with ``ChatFormat`` instead of running Jinja. It reads the checkpoint's template only to
/// confirm that the built-in format is the right one: a fine-tuned checkpoint with an edited template would
/// otherwise receive prompts in a layout it was not trained on, silently. Where the template is not one of the
/// official ones, ``verdict`` says so and the caller warns.
public struct CheckpointChatTemplate: Sendable, Equatable {
    /// How the template relates to the built-in formats.
    public enum Verdict: Sendable, Equatable, CustomStringConvertible {
        /// Exactly an official template that this format reproduces.
        case known(ChatFormat)
        /// A template vlbatch does not know; prompts follow the model type's built-in format regardless.
        case unknown
        /// The checkpoint has no chat template; prompts follow the model type's built-in format.
        case missing

        /// `official qwen2-vl`, `unknown` or `missing`.
        public var description: String {
            switch self {
            case .known(let format): "official \(format.rawValue)"
            case .unknown: "unknown"
            case .missing: "missing"
            }
        }
    }

    /// The file the template came from, if any.
    public let path: String?
    /// What vlbatch makes of it.
    public let verdict: Verdict

    /// Finds the template the way transformers does: `chat_template.jinja`, then `chat_template.json`, then the
    /// `chat_template` key of `tokenizer_config.json` (a string, or a list of named templates: the "default" one).
    public static func read(directory: URL) throws(ModelError) -> CheckpointChatTemplate {
        // Spelled out: a list of typed-throwing function references crashes the Swift 6.3.1 compiler (SILGen),
        // and `??` would erase the typed error.
        var found = try readJinja(directory)
        if found == nil { found = try readTemplateKey(directory, file: "chat_template.json") }
        if found == nil { found = try readTemplateKey(directory, file: "tokenizer_config.json") }
        guard let (text, path) = found else { return CheckpointChatTemplate(path: nil, verdict: .missing) }
        return CheckpointChatTemplate(path: path, verdict: identify(text))
    }

    /// The format an official template text belongs to, by fingerprint of its exact text.
    static func identify(_ template: String) -> Verdict {
        knownTemplates[fingerprint(template)].map(Verdict.known) ?? .unknown
    }

    /// Fingerprints of the official templates whose output ``ChatFormat`` reproduces (see
    /// Tests/Fixtures/chat-templates/SOURCES.md for where each text came from).
    static let knownTemplates: [UInt64: ChatFormat] = [
        0x7124_2f76_359e_71e8: .qwen2VL,  // Qwen2-VL-2B/7B-Instruct and Qwen2.5-VL-Instruct
        0x99ac_2531_85d6_f7c1: .qwen3VL,  // Qwen3-VL-Instruct
        0xf07c_510f_47fb_aca0: .qwen35,  // Qwen3.5-4B (thinks by default; vlbatch's default is not to)
    ]

    /// FNV-1a over the template's UTF-8 bytes, trailing newlines dropped (files end with one, JSON strings do
    /// not): a stable identity for exact texts, not a security measure.
    static func fingerprint(_ text: String) -> UInt64 {
        var bytes = Array(text.utf8)
        while bytes.last == UInt8(ascii: "\n") { bytes.removeLast() }
        return bytes.reduce(0xcbf2_9ce4_8422_2325) { hash, byte in (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
    }

    private static func readJinja(_ directory: URL) throws(ModelError) -> (String, String)? {
        let file = directory.appendingPathComponent("chat_template.jinja")
        guard FileManager.default.fileExists(atPath: file.path) else { return nil }
        do { return (try String(contentsOf: file, encoding: .utf8), file.path) } catch {
            throw .unreadableJSON(path: file.path, reason: String(describing: error))
        }
    }

    /// The `chat_template` key of the JSON file `name` in `directory` (chat_template.json, tokenizer_config.json).
    private static func readTemplateKey(_ directory: URL, file name: String) throws(ModelError) -> (String, String)? {
        let file = directory.appendingPathComponent(name)
        guard let object = try JSONObjectFile.read(file) else { return nil }
        return try templateText(object["chat_template"], file: file).map { ($0, file.path) }
    }

    /// `chat_template` is a string, or (tokenizer_config.json) a list of `{"name", "template"}`.
    private static func templateText(_ value: Any?, file: URL) throws(ModelError) -> String? {
        switch value {
        case nil: return nil
        case let text as String: return text
        case let named as [[String: Any]]:
            return named.first { $0["name"] as? String == "default" }?["template"] as? String
        default:
            throw .invalidConfigValue(
                path: file.path, key: "chat_template", reason: "expected a string or a list of named templates")
        }
    }
}

extension ChatFormat {
    /// The chat format of a checkpoint's `model_type` (config.json), or `nil` for a model type vlbatch lacks.
    public init?(modelType: String) {
        switch modelType {
        case "qwen2_vl", "qwen2_5_vl": self = .qwen2VL
        case "qwen3_vl", "qwen3_vl_moe": self = .qwen3VL
        case "qwen3_5", "qwen3_5_moe": self = .qwen35
        default: return nil
        }
    }
}
