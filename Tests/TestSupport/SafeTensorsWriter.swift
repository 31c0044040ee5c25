import Foundation

/// Builds safetensors files in memory, so the tests need no fixture files and no Python.
public enum SafeTensorsWriter {
    /// One tensor to write: its raw little-endian bytes and what the header says about them.
    public struct Tensor: Sendable {
        /// The header key.
        public let name: String
        /// The header's dtype string ("BF16", "F32", ...).
        public let dtype: String
        /// The header's shape.
        public let shape: [Int]
        /// The raw bytes.
        public let data: [UInt8]

        /// A tensor entry.
        public init(name: String, dtype: String, shape: [Int], data: [UInt8]) {
            self.name = name
            self.dtype = dtype
            self.shape = shape
            self.data = data
        }
    }

    /// A valid file: tensors laid out contiguously in the given order, keys written in that order too.
    public static func file(_ tensors: [Tensor], metadata: [String: String] = [:]) -> [UInt8] {
        var entries: [String] = []
        if !metadata.isEmpty {
            let pairs = metadata.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\"\($0.value)\"" }
            entries.append("\"__metadata__\":{\(pairs.joined(separator: ","))}")
        }
        var offset = 0
        for tensor in tensors {
            let shape = tensor.shape.map(String.init).joined(separator: ",")
            entries.append(
                "\"\(tensor.name)\":{\"dtype\":\"\(tensor.dtype)\",\"shape\":[\(shape)],"
                    + "\"data_offsets\":[\(offset),\(offset + tensor.data.count)]}")
            offset += tensor.data.count
        }
        return raw(header: "{" + entries.joined(separator: ",") + "}", data: tensors.flatMap(\.data))
    }

    /// A file with the given header text and data section, valid or not.
    public static func raw(header: String, data: [UInt8] = []) -> [UInt8] {
        raw(length: UInt64(header.utf8.count), rest: Array(header.utf8) + data)
    }

    /// A file whose 8-byte header length is `length`, followed by `rest`.
    public static func raw(length: UInt64, rest: [UInt8]) -> [UInt8] {
        withUnsafeBytes(of: length.littleEndian) { Array($0) } + rest
    }

    /// The little-endian bytes of `values`.
    public static func bytes<T: FixedWidthInteger>(_ values: [T]) -> [UInt8] {
        values.flatMap { value in withUnsafeBytes(of: value.littleEndian) { Array($0) } }
    }

    /// Calls `body` with a fresh directory holding the given files, and removes the directory afterwards.
    public static func withDirectory<Result>(
        _ files: [String: [UInt8]], _ body: (String) throws -> Result
    ) throws -> Result {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("vlcore-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: url) }
        for (name, bytes) in files {
            try Data(bytes).write(to: url.appendingPathComponent(name))
        }
        return try body(url.path)
    }

    /// The name of the `CoreError` case, for comparing errors without their payloads.
    public static func caseName(_ error: any Error) -> String {
        Mirror(reflecting: error).children.first?.label ?? "\(error)"
    }
}
