import CVLKernels

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
        try [Float](unsafeUninitializedCapacity: count) { (buffer, initialized) throws(CoreError) in
            try floats(0..<count, into: buffer)
            initialized = count
        }
    }

    /// Elements `elements` as `Float` (converted exactly from BF16, F16 or F32) into `output`, which holds at least
    /// `elements.count` floats: a part of a large tensor without a copy of the whole of it.
    public func floats(_ elements: Range<Int>, into output: UnsafeMutableBufferPointer<Float>) throws(CoreError) {
        precondition(elements.lowerBound >= 0 && elements.upperBound <= count, "elements outside the tensor")
        precondition(output.count >= elements.count, "output smaller than the elements")
        guard [.bfloat16, .float16, .float32].contains(dtype) else {
            throw .unsupportedConversion(path: file.path, tensor: name, dtype: dtype.rawValue, to: "Float")
        }
        guard let out = output.baseAddress, !elements.isEmpty else { return }
        withUnsafeBytes { bytes in
            let source = bytes.baseAddress! + elements.lowerBound * dtype.size
            let n = elements.count
            // The data section starts right after a header of arbitrary length, so a tensor may be misaligned for
            // its element type: the vector conversions take aligned 16-bit input; others go element by element.
            let isa = InstructionSet.active.cValue
            switch dtype {
            case .float32: UnsafeMutableRawPointer(out).copyMemory(from: source, byteCount: n * 4)
            case .bfloat16 where Int(bitPattern: source) % 2 == 0:
                vl_bf16_to_f32(isa, source.assumingMemoryBound(to: UInt16.self), out, n)
            case .float16 where Int(bitPattern: source) % 2 == 0:
                vl_f16_to_f32(isa, source.assumingMemoryBound(to: UInt16.self), out, n)
            default:
                for index in 0..<n {
                    let bits = UInt16(littleEndian: source.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self))
                    // bf16 is the upper half of a float32: shifting the bits back up is exact.
                    out[index] =
                        dtype == .bfloat16 ? Float(bitPattern: UInt32(bits) << 16) : Float(Float16(bitPattern: bits))
                }
            }
        }
    }
}
