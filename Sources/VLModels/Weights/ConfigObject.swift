import Foundation

/// One JSON object of a `config.json` (the top level or a nested `text_config` / `vision_config`), read with typed
/// accessors whose errors name the file and the full key path.
///
/// Required keys throw when absent; `default:` variants are for keys the Hub files omit because transformers fills in
/// its class default (Qwen2-VL-2B's `vision_config` sets only a few of its fields).
struct ConfigObject {
    /// The file, for error messages.
    let path: String
    /// Where this object sits in the file (`""` for the top level, `"text_config."` for a nested one).
    let keyPrefix: String
    let values: [String: Any]

    /// Reads `config.json` in `directory`.
    static func load(directory: URL) throws(ModelError) -> ConfigObject {
        let file = directory.appendingPathComponent("config.json")
        guard let values = try JSONObjectFile.read(file) else { throw .missingFile(path: file.path) }
        return ConfigObject(path: file.path, keyPrefix: "", values: values)
    }

    /// The nested object under `key`, or nil when there is none.
    func object(_ key: String) throws(ModelError) -> ConfigObject? {
        guard let value = values[key], !(value is NSNull) else { return nil }
        guard let nested = value as? [String: Any] else { throw invalid(key, "is not an object") }
        return ConfigObject(path: path, keyPrefix: keyPrefix + key + ".", values: nested)
    }

    func has(_ key: String) -> Bool { values[key] != nil && !(values[key] is NSNull) }

    func int(_ key: String) throws(ModelError) -> Int {
        guard let value = try optionalInt(key) else { throw invalid(key, "is missing") }
        return value
    }

    func int(_ key: String, default fallback: Int) throws(ModelError) -> Int { try optionalInt(key) ?? fallback }

    func optionalInt(_ key: String) throws(ModelError) -> Int? {
        guard has(key) else { return nil }
        guard let number = values[key] as? NSNumber, !isBoolean(number), let exact = Int(exactly: number.doubleValue)
        else { throw invalid(key, "is not an integer") }
        return exact
    }

    func double(_ key: String) throws(ModelError) -> Double {
        guard let value = try optionalDouble(key) else { throw invalid(key, "is missing") }
        return value
    }

    func optionalDouble(_ key: String) throws(ModelError) -> Double? {
        guard has(key) else { return nil }
        guard let number = values[key] as? NSNumber, !isBoolean(number) else { throw invalid(key, "is not a number") }
        return number.doubleValue
    }

    func bool(_ key: String, default fallback: Bool) throws(ModelError) -> Bool {
        guard has(key) else { return fallback }
        guard let number = values[key] as? NSNumber, isBoolean(number) else { throw invalid(key, "is not true/false") }
        return number.boolValue
    }

    func string(_ key: String, default fallback: String) throws(ModelError) -> String {
        guard has(key) else { return fallback }
        guard let text = values[key] as? String else { throw invalid(key, "is not a string") }
        return text
    }

    func intArray(_ key: String, default fallback: [Int]) throws(ModelError) -> [Int] {
        guard has(key) else { return fallback }
        guard let list = values[key] as? [NSNumber] else { throw invalid(key, "is not a list of integers") }
        var result: [Int] = []
        for number in list {
            guard !isBoolean(number), let exact = Int(exactly: number.doubleValue) else {
                throw invalid(key, "is not a list of integers")
            }
            result.append(exact)
        }
        return result
    }

    func stringArray(_ key: String) throws(ModelError) -> [String]? {
        guard has(key) else { return nil }
        guard let list = values[key] as? [String] else { throw invalid(key, "is not a list of strings") }
        return list
    }

    /// An error about `key` of this object.
    func invalid(_ key: String, _ reason: String) -> ModelError {
        .invalidConfigValue(path: path, key: keyPrefix + key, reason: reason)
    }

    /// JSONSerialization gives `true`/`false` as NSNumber too (objCType "c"); they must not pass for 1 and 0.
    private func isBoolean(_ number: NSNumber) -> Bool { String(cString: number.objCType) == "c" }
}
