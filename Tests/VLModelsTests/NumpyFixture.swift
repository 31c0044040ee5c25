import Foundation

/// Reads the `.npy` files that reference fixtures are saved as (`numpy.save`): C-order, little-endian arrays with a
/// version 1.0, 2.0 or 3.0 header.
///
/// Format (numpy `lib/format.py`): the magic `\x93NUMPY`, a major and a minor version byte, the header length (a
/// little-endian `UInt16` in version 1, `UInt32` in versions 2 and 3), then a Python dict literal
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }` padded with spaces and a newline, then the raw data.
///
/// `load` gives floats (`<f4`, or `<f8`, `<f2` converted), `loadInt64` integers (`<i8`, or `<i4`, `|i1`, `|u1`, `<u2`,
/// `<u4`, `|b1` widened). Big-endian and Fortran-order files are rejected rather than silently misread.
enum NumpyFixture {
    /// Why a file could not be read.
    struct Failure: Error, CustomStringConvertible {
        let path: String
        let reason: String
        var description: String { "\(path): not a readable .npy file: \(reason)" }
    }

    /// The array in `url` as floats, with its shape (`[]` for a scalar).
    static func load(_ url: URL) throws -> (shape: [Int], floats: [Float]) {
        let array = try RawArray(url)
        let floats: [Float]
        switch array.descriptor {
        case "<f4": floats = array.elements(size: 4) { Float(bitPattern: UInt32(truncatingIfNeeded: $0)) }
        case "<f8": floats = array.elements(size: 8) { Float(Double(bitPattern: $0)) }
        case "<f2": floats = array.elements(size: 2) { Float(halfBits: UInt16(truncatingIfNeeded: $0)) }
        default: throw array.failure("dtype \(array.descriptor) is not a float type")
        }
        return (array.shape, floats)
    }

    /// The array in `url` as 64-bit integers, with its shape (`[]` for a scalar).
    static func loadInt64(_ url: URL) throws -> (shape: [Int], values: [Int64]) {
        let array = try RawArray(url)
        let values: [Int64]
        switch array.descriptor {
        case "<i8": values = array.elements(size: 8) { Int64(bitPattern: $0) }
        case "<i4": values = array.elements(size: 4) { Int64(Int32(truncatingIfNeeded: $0)) }
        case "|i1": values = array.elements(size: 1) { Int64(Int8(truncatingIfNeeded: $0)) }
        case "|u1", "|b1": values = array.elements(size: 1) { Int64($0) }
        case "<u2": values = array.elements(size: 2) { Int64($0) }
        case "<u4": values = array.elements(size: 4) { Int64($0) }
        default: throw array.failure("dtype \(array.descriptor) is not an integer type")
        }
        return (array.shape, values)
    }

    /// A parsed header and the data bytes after it.
    private struct RawArray {
        let path: String
        let descriptor: String
        let shape: [Int]
        let data: Data

        init(_ url: URL) throws {
            path = url.path
            let bytes = try Data(contentsOf: url)
            func fail(_ reason: String) -> Failure { Failure(path: url.path, reason: reason) }
            let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)
            guard bytes.count >= 10, Array(bytes.prefix(6)) == magic else { throw fail("no \\x93NUMPY magic") }
            let start = bytes.startIndex
            let major = bytes[start + 6]
            let lengthBytes: Int
            switch major {
            case 1: lengthBytes = 2
            case 2, 3: lengthBytes = 4
            default: throw fail("format version \(major).\(bytes[start + 7]) is not 1, 2 or 3")
            }
            guard bytes.count >= 8 + lengthBytes else { throw fail("truncated header length") }
            let headerLength = (0..<lengthBytes).reduce(0) { $0 | Int(bytes[start + 8 + $1]) << (8 * $1) }
            let dataStart = 8 + lengthBytes + headerLength
            guard bytes.count >= dataStart else { throw fail("header runs past the end of the file") }
            let header = String(decoding: bytes[(start + 8 + lengthBytes)..<(start + dataStart)], as: UTF8.self)
            guard let descriptor = Self.value(of: "descr", in: header, until: ","),
                let fortran = Self.value(of: "fortran_order", in: header, until: ","),
                let shapeText = Self.value(of: "shape", in: header, until: ")")
            else { throw fail("header \(header) lacks descr, fortran_order or shape") }
            guard fortran == "False" else { throw fail("Fortran-order arrays are not supported") }
            let dimensions = shapeText.trimmingCharacters(in: CharacterSet(charactersIn: "( "))
                .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            var shape: [Int] = []
            for dimension in dimensions {
                guard let size = Int(dimension), size >= 0 else { throw fail("bad shape \(shapeText))") }
                shape.append(size)
            }
            self.descriptor = descriptor.trimmingCharacters(in: CharacterSet(charactersIn: "'\" "))
            self.shape = shape
            data = bytes.subdata(in: (start + dataStart)..<bytes.endIndex)
            if self.descriptor.hasPrefix(">") { throw fail("big-endian dtype \(self.descriptor) is not supported") }
            let elementSize = Int(self.descriptor.dropFirst(2)) ?? 0
            let count = shape.reduce(1, *)
            guard elementSize > 0, data.count == count * elementSize else {
                throw fail("\(data.count) data bytes for shape \(shape) of \(self.descriptor)")
            }
        }

        func failure(_ reason: String) -> Failure { Failure(path: path, reason: reason) }

        /// Each element of `size` little-endian bytes, zero-extended to 64 bits and converted by `convert`.
        func elements<T>(size: Int, _ convert: (UInt64) -> T) -> [T] {
            let count = data.count / size
            return data.withUnsafeBytes { raw in
                (0..<count).map { index in
                    let offset = index * size
                    let bits: UInt64 =
                        switch size {
                        case 1: UInt64(raw[offset])
                        case 2: UInt64(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
                        case 4: UInt64(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
                        default: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
                        }
                    return convert(bits)
                }
            }
        }

        /// The text after `'key':` up to (not including) `terminator`, trimmed; `until: ")"` keeps the tuple's
        /// opening parenthesis out by trimming it later.
        static func value(of key: String, in header: String, until terminator: Character) -> String? {
            guard let keyRange = header.range(of: "'\(key)':") else { return nil }
            let rest = header[keyRange.upperBound...]
            guard let end = rest.firstIndex(of: terminator) else { return nil }
            return rest[..<end].trimmingCharacters(in: .whitespaces)
        }
    }
}

extension Float {
    /// The value of IEEE half-precision `bits` (numpy's `<f2`), exactly.
    fileprivate init(halfBits bits: UInt16) {
        let sign: Float = bits & 0x8000 == 0 ? 1 : -1
        let exponent = Int(bits >> 10 & 0x1F)
        let fraction = Float(bits & 0x3FF)
        switch exponent {
        case 0: self = sign * fraction * 0x1p-24
        case 0x1F: self = fraction == 0 ? sign * .infinity : .nan
        default: self = sign * (1 + fraction / 1024) * Float(sign: .plus, exponent: exponent - 15, significand: 1)
        }
    }
}
