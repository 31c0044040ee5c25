import TestSupport
import Testing

@testable import VLCore

/// Files written by `SafeTensorsWriter` read back exactly, alone and as a sharded checkpoint.
@Suite struct SafeTensorsTests {
    typealias Tensor = SafeTensorsWriter.Tensor

    static let tensors = [
        Tensor(name: "b.bf16", dtype: "BF16", shape: [2], data: SafeTensorsWriter.bytes([UInt16(0x3F80), 0xC020])),
        Tensor(name: "a.f32", dtype: "F32", shape: [1, 2], data: SafeTensorsWriter.bytes([UInt32(0x3F80_0000), 1])),
        Tensor(name: "c.i64", dtype: "I64", shape: [], data: SafeTensorsWriter.bytes([Int64(-7)])),
        Tensor(name: "d.u8", dtype: "U8", shape: [3], data: [1, 2, 255]),
        Tensor(name: "e.empty", dtype: "F16", shape: [0, 4], data: []),
    ]

    /// Calls `body` with `bytes` opened as a `SafeTensorsFile`.
    static func withFile<Result>(_ bytes: [UInt8], _ body: (SafeTensorsFile) throws -> Result) throws -> Result {
        try SafeTensorsWriter.withDirectory(["w.safetensors": bytes]) { directory in
            try body(SafeTensorsFile(path: directory + "/w.safetensors"))
        }
    }

    @Test func roundTripKeepsDTypeShapeBytesAndMetadata() throws {
        try Self.withFile(SafeTensorsWriter.file(Self.tensors, metadata: ["format": "pt", "note": "x"])) { file in
            #expect(file.names == ["a.f32", "b.bf16", "c.i64", "d.u8", "e.empty"])
            #expect(file.metadata == ["format": "pt", "note": "x"])
            for expected in Self.tensors {
                let view = try file.tensor(named: expected.name)
                #expect(view.name == expected.name)
                #expect(view.dtype.rawValue == expected.dtype)
                #expect(view.shape == expected.shape)
                #expect(view.count == expected.shape.reduce(1, *))
                #expect(view.withUnsafeBytes { Array($0) } == expected.data)
            }
        }
    }

    @Test(arguments: [
        // bf16 → f32 keeps the 16 bits as the upper half: 1, -2.5, +inf, and the smallest bf16 subnormal.
        (
            "BF16", SafeTensorsWriter.bytes([UInt16(0x3F80), 0xC020, 0x7F80, 0x0001]),
            [UInt32(0x3F80_0000), 0xC020_0000, 0x7F80_0000, 0x0001_0000]
        ),
        // f16: 1, -2.5, 65504 (largest finite), 2^-24 (smallest subnormal), -inf.
        (
            "F16", SafeTensorsWriter.bytes([UInt16(0x3C00), 0xC100, 0x7BFF, 0x0001, 0xFC00]),
            [0x3F80_0000, 0xC020_0000, 0x477F_E000, 0x3380_0000, 0xFF80_0000]
        ),
        (
            "F32", SafeTensorsWriter.bytes([UInt32(0x3F80_0000), 0xC020_0000, 0x0000_0001]),
            [0x3F80_0000, 0xC020_0000, 0x0000_0001]
        ),
    ])
    func floatsConvertExactly(dtype: String, data: [UInt8], expectedBits: [UInt32]) throws {
        // Names of 1 to 4 characters move the data section by a byte each: misaligned (element by element) and
        // aligned (the vector conversions) starts both occur.
        var alignments = Set<Int>()
        for name in ["t", "tt", "ttt", "tttt"] {
            let tensor = Tensor(name: name, dtype: dtype, shape: [expectedBits.count], data: data)
            try Self.withFile(SafeTensorsWriter.file([tensor])) { file in
                let view = try file.tensor(named: name)
                alignments.insert(view.withUnsafeBytes { Int(bitPattern: $0.baseAddress) % 2 })
                #expect(try view.floats().map(\.bitPattern) == expectedBits, "\(name)")
                // A band of elements converts to the same bits as the whole.
                var part = [Float](repeating: .nan, count: expectedBits.count - 1)
                try part.withUnsafeMutableBufferPointer { try view.floats(1..<expectedBits.count, into: $0) }
                #expect(part.map(\.bitPattern) == Array(expectedBits.dropFirst()), "\(name)")
            }
        }
        #expect(alignments == [0, 1])
    }

    @Test func floatsRejectOtherDTypesAndLookupNamesTheTensor() throws {
        try Self.withFile(SafeTensorsWriter.file(Self.tensors)) { file in
            let unsupported = CoreError.unsupportedConversion(path: file.path, tensor: "d.u8", dtype: "U8", to: "Float")
            #expect(throws: unsupported) { try file.tensor(named: "d.u8").floats() }
            #expect(throws: CoreError.tensorNotFound(path: file.path, tensor: "nope")) {
                try file.tensor(named: "nope")
            }
        }
    }

    @Test func viewOutlivesTheFileValue() throws {
        let view = try Self.withFile(SafeTensorsWriter.file(Self.tensors)) { try $0.tensor(named: "b.bf16") }
        // The directory is gone and the file value released; the view's mapping still holds the bytes.
        #expect(try view.floats() == [1, -2.5])
    }

    @Test func singleFileCheckpoint() throws {
        try SafeTensorsWriter.withDirectory(["model.safetensors": SafeTensorsWriter.file(Self.tensors)]) { directory in
            let checkpoint = try SafeTensorsCheckpoint(directory: directory)
            #expect(checkpoint.files.count == 1)
            #expect(checkpoint.names == ["a.f32", "b.bf16", "c.i64", "d.u8", "e.empty"])
            #expect(try checkpoint.tensor(named: "a.f32").shape == [1, 2])
        }
    }

    @Test func shardedCheckpointFindsEachTensorInItsShard() throws {
        let index = """
            {"metadata": {"total_size": 44}, "weight_map": {
              "a.f32": "model-00001-of-00002.safetensors", "b.bf16": "model-00001-of-00002.safetensors",
              "c.i64": "model-00002-of-00002.safetensors", "d.u8": "model-00002-of-00002.safetensors",
              "e.empty": "model-00002-of-00002.safetensors"}}
            """
        let files = [
            SafeTensorsCheckpoint.indexFileName: Array(index.utf8),
            "model-00001-of-00002.safetensors": SafeTensorsWriter.file(Array(Self.tensors.prefix(2))),
            "model-00002-of-00002.safetensors": SafeTensorsWriter.file(Array(Self.tensors.dropFirst(2))),
            // The index wins over a stray single file.
            SafeTensorsCheckpoint.singleFileName: [],
        ]
        try SafeTensorsWriter.withDirectory(files) { directory in
            let checkpoint = try SafeTensorsCheckpoint(directory: directory)
            #expect(
                checkpoint.files.map(\.path)
                    == [
                        directory + "/model-00001-of-00002.safetensors",
                        directory + "/model-00002-of-00002.safetensors",
                    ])
            #expect(checkpoint.names == Self.tensors.map(\.name).sorted())
            for expected in Self.tensors {
                #expect(try checkpoint.tensor(named: expected.name).withUnsafeBytes { Array($0) } == expected.data)
            }
            #expect(throws: CoreError.tensorNotFound(path: directory, tensor: "z")) {
                try checkpoint.tensor(named: "z")
            }
        }
    }

    @Test func mappedFileNamesWhatIsWrong() throws {
        try SafeTensorsWriter.withDirectory([:]) { directory in
            #expect(throws: CoreError.missingFile(path: directory + "/absent")) {
                try MappedFile(path: directory + "/absent")
            }
            #expect(throws: CoreError.notRegularFile(path: directory)) { try MappedFile(path: directory) }
            #expect(throws: CoreError.noWeights(directory: directory)) {
                try SafeTensorsCheckpoint(directory: directory)
            }
        }
    }
}
