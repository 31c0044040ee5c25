import Foundation
import Testing
import VLCore

/// The `.npy` reader the reference-fixture tests use.
@Suite struct NumpyFixtureTests {
    /// A `.npy` file: magic, version, header length (2 bytes in version 1, 4 in versions 2 and 3), header, data.
    static func npy(version: UInt8 = 1, header: String, data: [UInt8]) -> [UInt8] {
        let headerBytes = Array(header.utf8)
        let lengthBytes = version == 1 ? 2 : 4
        let length = (0..<lengthBytes).map { UInt8(truncatingIfNeeded: headerBytes.count >> (8 * $0)) }
        return [0x93] + Array("NUMPY".utf8) + [version, 0] + length + headerBytes + data
    }

    static func write(_ bytes: [UInt8]) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("vlbatch-npy-\(UUID()).npy")
        try Data(bytes).write(to: url)
        return url
    }

    static func littleEndian<T: FixedWidthInteger>(_ values: [T]) -> [UInt8] {
        values.flatMap { value in withUnsafeBytes(of: value.littleEndian) { Array($0) } }
    }

    @Test(arguments: [[3], [2, 3], [1, 2, 2], [0, 4], []])
    func readsWhatNumpyArrayFileWrites(shape: [Int]) throws {
        let values = (0..<shape.reduce(1, *)).map { Float($0) * 0.75 - 2 }
        let url = try Self.write(NumpyArrayFile.encode(float32: values, shape: shape))
        defer { try? FileManager.default.removeItem(at: url) }
        let array = try NumpyFixture.load(url)
        #expect(array.shape == shape)
        #expect(array.floats == values)
    }

    @Test(arguments: [UInt8(1), 2, 3])
    func readsInt64InEveryHeaderVersion(version: UInt8) throws {
        let values: [Int64] = [1, -2, 3, Int64.max, Int64.min, 0]
        let header = "{'descr': '<i8', 'fortran_order': False, 'shape': (2, 3), }  \n"
        let url = try Self.write(Self.npy(version: version, header: header, data: Self.littleEndian(values)))
        defer { try? FileManager.default.removeItem(at: url) }
        let array = try NumpyFixture.loadInt64(url)
        #expect(array.shape == [2, 3])
        #expect(array.values == values)
    }

    @Test func widensOtherDtypes() throws {
        let doubles = Self.littleEndian([1.5, -0.25].map { (value: Double) in value.bitPattern })
        let halves = Self.littleEndian([UInt16(0x3C00), 0xC000, 0x0001])  // 1, -2, the smallest subnormal
        let int32s = Self.littleEndian([Int32(-7), 9])
        let cases: [(String, [UInt8])] = [("<f8", doubles), ("<f2", halves), ("<i4", int32s)]
        var urls: [String: URL] = [:]
        for (descriptor, data) in cases {
            let count = data.count / Int(descriptor.dropFirst(2))!
            let header = "{'descr': '\(descriptor)', 'fortran_order': False, 'shape': (\(count),), }\n"
            urls[descriptor] = try Self.write(Self.npy(header: header, data: data))
        }
        defer { for url in urls.values { try? FileManager.default.removeItem(at: url) } }
        #expect(try NumpyFixture.load(urls["<f8"]!).floats == [1.5, -0.25])
        #expect(try NumpyFixture.load(urls["<f2"]!).floats == [1, -2, 0x1p-24])
        #expect(try NumpyFixture.loadInt64(urls["<i4"]!).values == [-7, 9])
    }

    @Test(arguments: [
        ("{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }\n", [UInt8](repeating: 0, count: 4)),
        ("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }\n", [UInt8](repeating: 0, count: 4)),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n", [UInt8](repeating: 0, count: 4)),
        ("{'descr': '<i8', 'fortran_order': False, 'shape': (1,), }\n", [UInt8](repeating: 0, count: 8)),
        ("{'fortran_order': False, 'shape': (1,), }\n", [UInt8](repeating: 0, count: 4)),
    ])
    func rejectsFilesItCannotReadFaithfully(header: String, data: [UInt8]) throws {
        let url = try Self.write(Self.npy(header: header, data: data))
        defer { try? FileManager.default.removeItem(at: url) }
        #expect(throws: NumpyFixture.Failure.self) { try NumpyFixture.load(url) }
    }

    @Test func rejectsOtherFiles() throws {
        let url = try Self.write(Array("not numpy at all".utf8))
        defer { try? FileManager.default.removeItem(at: url) }
        #expect(throws: NumpyFixture.Failure.self) { try NumpyFixture.loadInt64(url) }
    }
}
