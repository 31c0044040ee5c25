/// Everything that can go wrong while loading a tokenizer.
///
/// Every case carries the file's path; where a JSON key is at fault, `key` is its dotted path in the file
/// (`model.merges[17]`, `pre_tokenizer.pretokenizers[0].behavior`). Encoding and decoding never fail: whatever could
/// make them fail is checked when the tokenizer is loaded.
public enum TokenizerError: Error, Equatable, CustomStringConvertible {
    /// A file the tokenizer needs is not there.
    case missingFile(path: String)
    /// The file exists but could not be read.
    case unreadableFile(path: String, reason: String)
    /// The file is not well-formed JSON; `line` and `column` count from 1.
    case malformedJSON(path: String, line: Int, column: Int, reason: String)
    /// A key the tokenizer needs is absent.
    case missingKey(path: String, key: String)
    /// A key holds a value of the wrong kind or an inconsistent one.
    case invalidValue(path: String, key: String, reason: String)
    /// A well-formed setting vlbatch does not implement; `supported` lists what it does implement.
    case unsupported(path: String, key: String, value: String, supported: String)

    /// The file the error is about.
    public var path: String {
        switch self {
        case .missingFile(let path), .unreadableFile(let path, _), .malformedJSON(let path, _, _, _),
            .missingKey(let path, _), .invalidValue(let path, _, _), .unsupported(let path, _, _, _):
            return path
        }
    }

    /// A one-line message naming the file (and the JSON key) and saying what to do.
    public var description: String {
        switch self {
        case .missingFile(let path):
            return "\(path): file not found; a Hugging Face tokenizer directory holds tokenizer.json"
        case .unreadableFile(let path, let reason):
            return "\(path): cannot read the file (\(reason)); check the path and its permissions"
        case .malformedJSON(let path, let line, let column, let reason):
            return "\(path):\(line):\(column): not valid JSON (\(reason)); re-download the file"
        case .missingKey(let path, let key):
            return "\(path): key \"\(key)\" is missing; is this a Hugging Face tokenizer.json?"
        case .invalidValue(let path, let key, let reason):
            return "\(path): key \"\(key)\": \(reason)"
        case .unsupported(let path, let key, let value, let supported):
            return "\(path): key \"\(key)\" is \(value), which vlbatch does not implement (supported: \(supported)); "
                + "vlbatch reads byte-level BPE tokenizers such as Qwen's"
        }
    }
}
