import Foundation

/// Reads small JSON files whose top level is an object (config.json, tokenizer_config.json, chat_template.json).
enum JSONObjectFile {
    /// The object in `file`, or `nil` when there is no such file; unreadable JSON is an error naming the file.
    static func read(_ file: URL) throws(ModelError) -> [String: Any]? {
        guard FileManager.default.fileExists(atPath: file.path) else { return nil }
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: Data(contentsOf: file)) } catch {
            throw .unreadableJSON(path: file.path, reason: String(describing: error))
        }
        guard let dictionary = object as? [String: Any] else {
            throw .unreadableJSON(path: file.path, reason: "the top level is not an object")
        }
        return dictionary
    }
}
