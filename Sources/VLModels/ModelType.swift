import Foundation

/// The `model_type` a checkpoint's `config.json` declares: the key every per-family choice is made on.
public enum ModelType {
    /// Reads `model_type` from `config.json` in a model directory.
    public static func read(directory: URL) throws(ModelError) -> String {
        let file = directory.appendingPathComponent("config.json")
        guard let config = try JSONObjectFile.read(file) else { throw .missingFile(path: file.path) }
        guard let modelType = config["model_type"] as? String else {
            throw .invalidConfigValue(path: file.path, key: "model_type", reason: "missing or not a string")
        }
        return modelType
    }

    /// The chat format for the checkpoint in `directory`; an unknown model type is an error naming the ones
    /// vlbatch supports.
    public static func chatFormat(directory: URL) throws(ModelError) -> ChatFormat {
        let modelType = try read(directory: directory)
        guard let format = ChatFormat(modelType: modelType) else {
            throw .invalidConfigValue(
                path: directory.appendingPathComponent("config.json").path, key: "model_type",
                reason: "\"\(modelType)\" is not supported; supported: qwen2_vl, qwen2_5_vl, qwen3_vl, qwen3_5")
        }
        return format
    }
}
