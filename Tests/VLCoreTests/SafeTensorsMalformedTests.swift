import TestSupport
import Testing

@testable import VLCore

/// Damaged files and checkpoints are each rejected with the right `CoreError` case, never a crash.
@Suite struct SafeTensorsMalformedTests {
    /// One damaged input and the `CoreError` case it must raise.
    struct Case: CustomTestStringConvertible, Sendable {
        let label: String
        let files: [String: [UInt8]]
        let expected: String
        var testDescription: String { label }

        /// A single file, `w.safetensors`.
        init(_ label: String, _ bytes: [UInt8], _ expected: String) {
            self.init(label, files: ["w.safetensors": bytes], expected)
        }

        /// A checkpoint directory.
        init(_ label: String, files: [String: [UInt8]], _ expected: String) {
            self.label = label
            self.files = files
            self.expected = expected
        }
    }

    static let raw = SafeTensorsWriter.raw(header:data:)

    /// One F32 tensor `t` of shape [2] at the given offsets, over `data` bytes.
    static func f32(_ offsets: String, shape: String = "[2]", data: Int = 8) -> [UInt8] {
        raw(#"{"t":{"dtype":"F32","shape":\#(shape),"data_offsets":\#(offsets)}}"#, [UInt8](repeating: 0, count: data))
    }

    /// Two F32 tensors of shape [1], `a` and `b`, at the given offsets.
    static func pair(_ a: String, _ b: String, data: Int) -> [UInt8] {
        let entry = #"{"dtype":"F32","shape":[1],"data_offsets":"#
        return raw(#"{"a":\#(entry)\#(a)},"b":\#(entry)\#(b)}}"#, [UInt8](repeating: 0, count: data))
    }

    static let files: [Case] = [
        Case("empty file", [], "tooShort"),
        Case("fewer than 8 bytes", [2, 0, 0], "tooShort"),
        Case(
            "header length larger than the file", SafeTensorsWriter.raw(length: 100, rest: Array("{}".utf8)),
            "invalidHeaderLength"),
        Case(
            "header length 2^63", SafeTensorsWriter.raw(length: 1 << 63, rest: Array("{}".utf8)),
            "invalidHeaderLength"),
        Case("header length 1", SafeTensorsWriter.raw(length: 1, rest: Array("{".utf8)), "invalidHeaderLength"),
        Case("header not JSON", raw("not json", []), "malformedJSON"),
        Case(
            "header not UTF-8", raw("{}", []).enumerated().map { $0.offset == 8 ? 0xFF : $0.element },
            "malformedJSON"),
        Case("header not an object", raw("[1, 2]", []), "malformedJSON"),
        Case("entry not an object", raw(#"{"t": 3}"#, []), "invalidEntry"),
        Case("missing dtype", raw(#"{"t":{"shape":[0],"data_offsets":[0,0]}}"#, []), "invalidEntry"),
        Case("missing shape", raw(#"{"t":{"dtype":"F32","data_offsets":[0,0]}}"#, []), "invalidEntry"),
        Case("missing data_offsets", raw(#"{"t":{"dtype":"F32","shape":[0]}}"#, []), "invalidEntry"),
        Case(
            "unknown dtype", raw(#"{"t":{"dtype":"Q4_K","shape":[0],"data_offsets":[0,0]}}"#, []),
            "unknownDType"),
        Case("negative shape", f32("[0,8]", shape: "[-2]"), "invalidEntry"),
        Case("fractional shape", f32("[0,8]", shape: "[2.5]"), "invalidEntry"),
        Case("string shape", f32("[0,8]", shape: #"["2"]"#), "invalidEntry"),
        Case("shape beyond Int", f32("[0,8]", shape: "[1e30]"), "invalidEntry"),
        Case("three data_offsets", f32("[0,4,8]"), "invalidEntry"),
        Case("negative data_offsets", f32("[-8,0]"), "invalidEntry"),
        Case("metadata value not a string", raw(#"{"__metadata__":{"n":1}}"#, []), "invalidEntry"),
        Case("offsets reversed", f32("[8,0]"), "invalidOffsets"),
        Case("offsets past the end", f32("[0,8]", data: 4), "dataSizeMismatch"),
        Case("byte count is not shape × dtype size", f32("[0,6]", data: 6), "sizeMismatch"),
        Case("shape product overflows Int", f32("[0,8]", shape: "[4294967296,4294967296,4]"), "shapeOverflow"),
        Case("overlapping tensors", pair("[0,4]", "[2,6]", data: 6), "invalidOffsets"),
        Case("hole between tensors", pair("[0,4]", "[8,12]", data: 12), "invalidOffsets"),
        Case("hole before the first tensor", f32("[4,12]", data: 12), "invalidOffsets"),
        Case("truncated data section", f32("[0,8]", data: 7), "dataSizeMismatch"),
        Case("bytes after the last tensor", f32("[0,8]", data: 9), "dataSizeMismatch"),
    ]

    static let shard1 = "model-00001-of-00002.safetensors"
    static let shard2 = "model-00002-of-00002.safetensors"

    /// An index mapping each tensor name to a shard file name.
    static func index(_ weightMap: KeyValuePairs<String, String>) -> [UInt8] {
        let pairs = weightMap.map { #""\#($0.key)":"\#($0.value)""# }.joined(separator: ",")
        return Array(#"{"metadata":{"total_size":8},"weight_map":{\#(pairs)}}"#.utf8)
    }

    /// A valid shard holding F32 tensors of shape [1] with the given names.
    static func shard(_ names: String...) -> [UInt8] {
        SafeTensorsWriter.file(names.map { .init(name: $0, dtype: "F32", shape: [1], data: [0, 0, 0, 0]) })
    }

    static let checkpoints: [Case] = [
        Case("index not JSON", files: [SafeTensorsCheckpoint.indexFileName: Array("{".utf8)], "malformedJSON"),
        Case(
            "index without weight_map", files: [SafeTensorsCheckpoint.indexFileName: Array("{}".utf8)],
            "invalidEntry"),
        Case(
            "index naming a missing shard",
            files: [SafeTensorsCheckpoint.indexFileName: index(["a": shard1, "b": shard2]), shard1: shard("a")],
            "missingShard"),
        Case(
            "index naming a tensor absent from its shard",
            files: [SafeTensorsCheckpoint.indexFileName: index(["a": shard1, "b": shard1]), shard1: shard("a")],
            "tensorMissingFromShard"),
        Case(
            "shard with an unlisted tensor",
            files: [SafeTensorsCheckpoint.indexFileName: index(["a": shard1]), shard1: shard("a", "b")],
            "unlistedTensor"),
        Case(
            "tensor in another shard than listed",
            files: [
                SafeTensorsCheckpoint.indexFileName: index(["a": shard1, "b": shard2]),
                shard1: shard("a", "b"), shard2: shard("b"),
            ],
            "unlistedTensor"),
        Case(
            "shard path outside the directory",
            files: [SafeTensorsCheckpoint.indexFileName: index(["a": "../model.safetensors"])], "invalidEntry"),
        Case(
            "damaged shard", files: [SafeTensorsCheckpoint.indexFileName: index(["a": shard1]), shard1: [1]],
            "tooShort"),
    ]

    @Test(arguments: files)
    func fileIsRejected(_ damaged: Case) throws {
        try SafeTensorsWriter.withDirectory(damaged.files) { directory in
            let path = directory + "/w.safetensors"
            let error = #expect(throws: CoreError.self) { try SafeTensorsFile(path: path) }
            #expect(error.map(SafeTensorsWriter.caseName) == damaged.expected)
            #expect(error?.path == path)
            #expect(error?.description.hasPrefix(path + ": ") == true)
        }
    }

    @Test(arguments: checkpoints)
    func checkpointIsRejected(_ damaged: Case) throws {
        try SafeTensorsWriter.withDirectory(damaged.files) { directory in
            let error = #expect(throws: CoreError.self) { try SafeTensorsCheckpoint(directory: directory) }
            #expect(error.map(SafeTensorsWriter.caseName) == damaged.expected)
            #expect(error?.description.hasPrefix(directory + "/") == true)
        }
    }
}
