import VLCore

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
    /// A weight file is missing, malformed or holds a tensor of an unusable type.
    case weights(CoreError)
    /// The model needs a tensor the checkpoint does not hold.
    case missingTensor(directory: String, tensor: String)
    /// A tensor whose shape is not the one the config implies.
    case tensorShapeMismatch(directory: String, tensor: String, expected: [Int], actual: [Int])
    /// Tensors the model does not use: a config that does not match its weights, or an unsupported variant.
    case unusedTensors(directory: String, tensors: [String])
    /// Two tensor names of a checkpoint that mean the same weight (a legacy and a current spelling).
    case duplicateTensor(directory: String, tensor: String, spellings: [String])
    /// An input the model cannot take (too many tokens, image features that do not match the image tokens).
    case invalidInput(reason: String)

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
        case .weights(let error):
            return error.description
        case .missingTensor(let directory, let tensor):
            return "\(directory): the checkpoint has no tensor \(tensor); is config.json from the same model?"
        case .tensorShapeMismatch(let directory, let tensor, let expected, let actual):
            return "\(directory): tensor \(tensor) has shape \(actual), the config implies \(expected)"
        case .unusedTensors(let directory, let tensors):
            let listed = tensors.prefix(5).joined(separator: ", ") + (tensors.count > 5 ? ", ..." : "")
            return "\(directory): \(tensors.count) tensor(s) the model does not use (\(listed)); "
                + "is config.json from the same model?"
        case .duplicateTensor(let directory, let tensor, let spellings):
            return "\(directory): tensor \(tensor) is stored twice, as \(spellings.joined(separator: " and "))"
        case .invalidInput(let reason):
            return "invalid model input: \(reason)"
        }
    }
}
