import Foundation

/// One JSON object per line, keys sorted and in snake case, so output is stable across runs.
enum JSONLine {
    static func encode(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}

/// A per-item error as it appears in JSON output: a stable kind for programs, a message for people.
struct ErrorRecord: Encodable {
    let kind: String
    let message: String

    init(_ error: any Error) {
        kind = ErrorRecord.kind(of: error)
        message = String(describing: error)
    }

    /// The enum case name (`truncated`, `aspectRatioTooLarge`, ...) of a module error.
    private static func kind(of error: any Error) -> String {
        let mirror = Mirror(reflecting: error)
        if mirror.displayStyle == .enum, let label = mirror.children.first?.label { return label }
        return String(describing: error).split(separator: "(").first.map(String.init) ?? "error"
    }
}

/// Hands out distinct file stems: `a`, then `a-2`, `a-3`, ... for inputs that share a base name.
struct UniqueFileNames {
    private var used: Set<String> = []

    mutating func claim(stemOf path: String) -> String {
        let stem = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        var candidate = stem
        var suffix = 1
        while used.contains(candidate) {
            suffix += 1
            candidate = "\(stem)-\(suffix)"
        }
        used.insert(candidate)
        return candidate
    }
}
