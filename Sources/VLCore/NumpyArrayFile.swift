/// Writes arrays in NumPy's `.npy` format (version 1.0), so intermediate tensors can be compared against a
/// Python reference with a plain `np.load`.
///
/// Format: the magic `\x93NUMPY`, version bytes, a little-endian `UInt16` header length, then an ASCII Python dict
/// literal padded with spaces to a multiple of 64 bytes and ended by a newline, then the raw C-order data.
public enum NumpyArrayFile {
    /// The bytes of a `.npy` file holding `values` as little-endian float32 in C order with the given shape.
    public static func encode(float32 values: [Float], shape: [Int]) -> [UInt8] {
        precondition(shape.reduce(1, *) == values.count, "shape \(shape) does not hold \(values.count) values")
        var bytes = header(descriptor: "<f4", shape: shape)
        bytes.reserveCapacity(bytes.count + values.count * 4)
        for value in values {
            withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
        }
        return bytes
    }

    static func header(descriptor: String, shape: [Int]) -> [UInt8] {
        // A one-element tuple needs its trailing comma in Python syntax: (5,).
        let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var dictionary = "{'descr': '\(descriptor)', 'fortran_order': False, 'shape': \(shapeText), }"
        let prefixLength = 10  // magic (6) + version (2) + header length (2)
        let unpadded = prefixLength + dictionary.utf8.count + 1
        dictionary += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0]
        let length = UInt16(dictionary.utf8.count)
        bytes += [UInt8(length & 0xFF), UInt8(length >> 8)]
        bytes += Array(dictionary.utf8)
        return bytes
    }
}
