import Testing

@testable import VLCore

@Suite struct NumpyArrayFileTests {
    @Test(arguments: [([3], "(3,)"), ([2, 3], "(2, 3)"), ([1, 1, 4], "(1, 1, 4)"), ([0, 5], "(0, 5)")])
    func headerIsAlignedAndDescribesShape(shape: [Int], expectedShape: String) throws {
        let count = shape.reduce(1, *)
        let values = (0..<count).map { Float($0) * 0.5 - 1 }
        let bytes = NumpyArrayFile.encode(float32: values, shape: shape)
        #expect(Array(bytes[0..<8]) == [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0])
        let headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
        #expect((10 + headerLength) % 64 == 0)
        let header = String(decoding: bytes[10..<(10 + headerLength)], as: UTF8.self)
        #expect(header.hasSuffix("\n"))
        #expect(header.contains("'descr': '<f4'"))
        #expect(header.contains("'fortran_order': False"))
        #expect(header.contains("'shape': \(expectedShape)"))
        #expect(bytes.count == 10 + headerLength + count * 4)
    }

    @Test func dataIsLittleEndianFloat32InOrder() {
        let bytes = NumpyArrayFile.encode(float32: [1.0, -2.5], shape: [2])
        let data = Array(bytes.suffix(8))
        #expect(data == [0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x20, 0xC0])
    }
}
