/// One tensor of a safetensors file: its dtype, shape and a zero-copy view of its little-endian, C-order bytes.
///
/// The view keeps the file's mapping alive, so its bytes stay valid for as long as the view exists.
public struct TensorView: Sendable {
    /// The tensor's name in the file's header.
    public let name: String
    /// The element type.
    public let dtype: SafeTensorsDType
    /// The dimensions, outermost first; `[]` for a scalar.
    public let shape: [Int]
    private let file: MappedFile
    /// Where the tensor's bytes sit in the whole file (not relative to the data section).
    private let range: Range<Int>

    init(name: String, dtype: SafeTensorsDType, shape: [Int], file: MappedFile, range: Range<Int>) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.file = file
        self.range = range
    }

    /// The path of the file that holds the tensor.
    public var path: String { file.path }

    /// The number of elements (the product of `shape`).
    public var count: Int { range.count / dtype.size }

    /// The number of bytes.
    public var byteCount: Int { range.count }

    /// Calls `body` with the tensor's bytes, which may not be aligned to the element size.
    public func withUnsafeBytes<Result, Failure: Error>(
        _ body: (UnsafeRawBufferPointer) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        try withExtendedLifetime(file) { () throws(Failure) -> Result in
            try body(UnsafeRawBufferPointer(rebasing: file.bytes[range]))
        }
    }

    /// Faults the tensor's pages in now, for tensors read in place for the rest of the run.
    public func prefetchResidentPages() {
        file.prefetch(range)
    }

    /// Tells the kernel the tensor's pages are not needed now (`madvise(MADV_DONTNEED)` on the whole pages inside
    /// it): after a tensor was converted, its file pages need not stay resident. Reading the view again is still
    /// valid; the pages come back from the file.
    public func releaseResidentPages() {
        file.releaseResidentPages(range)
    }

    /// The elements as `Float`, converted from BF16, F16 or F32.
    public func floats() throws(CoreError) -> [Float] {
        switch dtype {
        case .bfloat16:
            // bf16 is the upper half of a float32: shifting the bits back up is exact.
            return converted(UInt16.self) { Float(bitPattern: UInt32($0) << 16) }
        case .float16:
            return converted(UInt16.self) { Float(Float16(bitPattern: $0)) }
        case .float32:
            return converted(UInt32.self) { Float(bitPattern: $0) }
        default:
            throw .unsupportedConversion(path: file.path, tensor: name, dtype: dtype.rawValue, to: "Float")
        }
    }

    /// Reads each element as a little-endian `Bits` and maps it through `convert`.
    private func converted<Bits: FixedWidthInteger>(_: Bits.Type, _ convert: (Bits) -> Float) -> [Float] {
        withUnsafeBytes { bytes in
            // The data section starts right after a header of arbitrary length, so loads must allow misalignment.
            [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
                for index in 0..<count {
                    let bits = bytes.loadUnaligned(fromByteOffset: index * MemoryLayout<Bits>.size, as: Bits.self)
                    buffer[index] = convert(Bits(littleEndian: bits))
                }
                initialized = count
            }
        }
    }
}
