/// Everything that can go wrong while reading a model directory or preparing a model's inputs.
///
/// Each message names the file (or the input item) and the offending JSON key where there is one, and says what
/// to do about it.
public enum ModelError: Error, Equatable, CustomStringConvertible {
    /// A file the model directory must contain is not there.
    case missingFile(path: String)
    /// A JSON file could not be read or parsed.
    case unreadableJSON(path: String, reason: String)
    /// A JSON key holds a value vlbatch cannot use.
    case invalidConfigValue(path: String, key: String, reason: String)
    /// A per-call visual-token budget that contradicts itself or the model.
    case invalidImageBudget(reason: String)
    /// A conversation the model's chat format cannot express.
    case invalidPrompt(reason: String)
    /// The tokenizer lacks a special token the chat format needs.
    case missingToken(String)
    /// An image too elongated for Qwen's resize rule (the reference rejects ratios above 200:1).
    case aspectRatioTooLarge(source: String, width: Int, height: Int, limit: Int)

    /// A message naming the file or item and what to do.
    public var description: String {
        switch self {
        case .missingFile(let path):
            return "\(path): file not found; is this a Hugging Face model or processor directory?"
        case .unreadableJSON(let path, let reason):
            return "\(path): cannot read JSON: \(reason)"
        case .invalidConfigValue(let path, let key, let reason):
            return "\(path): key \"\(key)\": \(reason)"
        case .invalidImageBudget(let reason):
            return "invalid image budget: \(reason)"
        case .invalidPrompt(let reason):
            return "invalid prompt: \(reason)"
        case .missingToken(let token):
            return "the tokenizer has no \(token) token; is this a Qwen vision-language checkpoint?"
        case .aspectRatioTooLarge(let source, let width, let height, let limit):
            return "\(source): aspect ratio of \(width)x\(height) exceeds \(limit):1; crop or pad the image first"
        }
    }
}
