import CVLKernels

/// How a weight matrix is stored for the matrix-vector kernels, chosen per run (`--weights bf16|f16|q8|q4`).
///
/// The block formats are laid out byte for byte in `vl_quant.h`: rows cut into blocks of 32 weights with a binary32
/// scale each, `q8` with `d = max|w| / 127` and int8 values (36 bytes per block), `q4` with `d = max|w| / 7` and values
/// −7…7 (20 bytes per block), stored in groups of 16 rows whose blocks of the same columns sit together, 4 weights of
/// each row per 32-bit lane, so that one vector load feeds the integer dot product for 16 rows. Products with q8 and
/// q4 weights quantize their input vectors to q8 too and multiply in integers (see `ProductInputs`).
public enum WeightFormat: String, Sendable, CaseIterable, CustomStringConvertible {
    /// bf16, round to nearest even: 2 bytes per weight.
    case bf16
    /// IEEE binary16, round to nearest even: 2 bytes per weight.
    case f16
    /// 8-bit symmetric blocks of 32 with an fp32 scale: 36 bytes per 32 weights (9 bits per weight).
    case q8
    /// 4-bit symmetric blocks of 32 with an fp32 scale: 20 bytes per 32 weights (5 bits per weight).
    case q4

    /// Whether this is a block format (q8, q4), whose products take q8-quantized inputs.
    public var isBlockQuantized: Bool { blockFormat != nil }

    /// Columns a row must be a multiple of: 32 for the block formats, 1 otherwise.
    public var columnMultiple: Int { isBlockQuantized ? Int(VL_QBLOCK) : 1 }

    /// Rows a block-format matrix is stored in groups of (16): its byte count covers whole groups.
    public static let rowGroup = Int(VL_QGROUP)

    /// Bytes that a `[rows, cols]` matrix takes in this format (`cols` a multiple of `columnMultiple`; the block
    /// formats round `rows` up to a multiple of `rowGroup`).
    public func byteCount(rows: Int, cols: Int) -> Int {
        if let block = blockFormat { return vl_qweights_bytes(block, rows, cols) }
        return rows * cols * 2
    }

    /// The kernels' name of a block format, nil for bf16 and f16.
    var blockFormat: vl_qformat? {
        switch self {
        case .bf16, .f16: nil
        case .q8: VL_Q8
        case .q4: VL_Q4
        }
    }

    /// The spelling `--weights` accepts.
    public var description: String { rawValue }
}

/// A row-major `[rows, cols]` weight matrix stored in a `WeightFormat`.
///
/// A bf16 or f16 checkpoint tensor kept in its own format is not copied: the matrix reads it where the checkpoint is
/// mapped, so a 16-bit model takes its file size in memory once, not twice.
///
/// Built once at load time, from F32 values or straight from a checkpoint tensor (`init(converting:format:)`).
/// bf16 and f16 products equal `Kernels.matvec` on `dequantized()` bit for bit; q8 and q4 products multiply q8
/// inputs in integers (`vl_quant.h`), and differ from that by the input quantization only. All are bit-identical
/// for every instruction set, row range and batch size.
public struct QuantizedMatrix: Sendable {
    /// The storage format.
    public let format: WeightFormat
    /// Rows (output features).
    public let rows: Int
    /// Columns (input features).
    public let cols: Int
    /// Where the encoded bytes live.
    private enum Storage: Sendable {
        /// Memory the matrix owns (converted or quantized weights).
        case owned([UInt8])
        /// A checkpoint tensor used as it is mapped (bf16 / f16 kept verbatim).
        case mapped(TensorView)
    }

    private let storage: Storage

    /// A copy of the encoded matrix, `format.byteCount(rows:cols:)` bytes, laid out as `vl_quant.h` describes.
    public var bytes: [UInt8] { withUnsafeBytes { [UInt8]($0) } }

    /// Whether the matrix reads the checkpoint's mapping rather than memory of its own.
    public var isMapped: Bool {
        if case .mapped = storage { return true }
        return false
    }

    /// Calls `body` with the encoded matrix's bytes (aligned to at least 2 bytes).
    public func withUnsafeBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        switch storage {
        case .owned(let bytes): return try bytes.withUnsafeBytes(body)
        case .mapped(let tensor): return try tensor.withUnsafeBytes(body)
        }
    }

    /// Encodes `values` (`[rows, cols]`, row-major) in `format`.
    ///
    /// - Precondition: `cols` is a multiple of `format.columnMultiple` (32 for q8 and q4) and
    ///   `values.count == rows * cols`; the loader checks shapes and keeps other tensors in higher precision.
    public init(
        quantizing values: UnsafeBufferPointer<Float>, rows: Int, cols: Int, format: WeightFormat,
        isa: InstructionSet = .active
    ) {
        precondition(rows >= 0 && cols >= 0 && values.count == rows * cols, "values are not [rows, cols]")
        precondition(cols % format.columnMultiple == 0, "\(format) needs cols to be a multiple of 32, got \(cols)")
        let count = format.byteCount(rows: rows, cols: cols)
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            if let src = values.baseAddress, let dst = UnsafeMutableRawPointer(buffer.baseAddress), count > 0 {
                Self.encode(src, rows: rows, cols: cols, format: format, isa: isa, into: dst)
            }
            initialized = count
        }
        self.init(format: format, rows: rows, cols: cols, storage: .owned(bytes))
    }

    /// Encodes `rows` rows of `cols` floats at `source` in `format` into `destination`
    /// (`format.byteCount(rows:cols:)` bytes). Rows are encoded independently.
    private static func encode(
        _ source: UnsafePointer<Float>, rows: Int, cols: Int, format: WeightFormat, isa: InstructionSet,
        into destination: UnsafeMutableRawPointer
    ) {
        let isa = isa.cValue
        if let block = format.blockFormat {
            _ = vl_quantize_weights(isa, block, source, rows, cols, destination)
            return
        }
        let halves = destination.bindMemory(to: UInt16.self, capacity: rows * cols)
        if format == .bf16 {
            vl_f32_to_bf16(isa, source, halves, rows * cols)
        } else {
            vl_f32_to_f16(isa, source, halves, rows * cols)
        }
    }

    /// Encodes the `[rows, cols]` checkpoint tensor in `format` a band of rows at a time, through one small float
    /// buffer: a full F32 copy of a large tensor (an embedding table is about a gigabyte) cost most of the load
    /// time in page faults. Bands are whole row groups, as the block formats store them.
    private init(encoding tensor: TensorView, rows: Int, cols: Int, format: WeightFormat) throws(CoreError) {
        let count = format.byteCount(rows: rows, cols: cols)
        let group = WeightFormat.rowGroup
        let band = max(1, (1 << 18) / max(cols * group, 1)) * group
        var floats = [Float](repeating: 0, count: band * cols)
        var failure: CoreError?
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            floats.withUnsafeMutableBufferPointer { chunk in
                guard let dst = UnsafeMutableRawPointer(buffer.baseAddress), let src = chunk.baseAddress else { return }
                for first in stride(from: 0, to: rows, by: band) {
                    let last = min(rows, first + band)
                    do throws(CoreError) {
                        try tensor.floats((first * cols)..<(last * cols), into: chunk)
                    } catch {
                        failure = error
                        return
                    }
                    let offset = format.byteCount(rows: first, cols: cols)
                    Self.encode(src, rows: last - first, cols: cols, format: format, isa: .active, into: dst + offset)
                }
            }
            initialized = count
        }
        if let failure { throw failure }
        self.init(format: format, rows: rows, cols: cols, storage: .owned(bytes))
    }

    /// Encodes `values` (`[rows, cols]`, row-major) in `format`; see `init(quantizing:rows:cols:format:isa:)`.
    /// Every `isa` gives the same bytes.
    public init(quantizing values: [Float], rows: Int, cols: Int, format: WeightFormat, isa: InstructionSet = .active) {
        self = values.withUnsafeBufferPointer {
            QuantizedMatrix(quantizing: $0, rows: rows, cols: cols, format: format, isa: isa)
        }
    }

    /// Encodes a 2-D checkpoint tensor (BF16, F16 or F32, shape `[rows, cols]`) in `format`: load-time
    /// quantization. A BF16 tensor kept as bf16, or an F16 one kept as f16, is copied bit for bit; every other pair
    /// goes through `Float` (exact for these dtypes) and is rounded once.
    ///
    /// - Throws: `CoreError.unsupportedConversion` for other dtypes, `CoreError.invalidWeightShape` when the
    ///   tensor is not 2-D or its columns are not a multiple of `format.columnMultiple`.
    public init(converting tensor: TensorView, format: WeightFormat) throws(CoreError) {
        guard tensor.shape.count == 2, tensor.shape[1] % format.columnMultiple == 0 else {
            throw .invalidWeightShape(path: tensor.path, tensor: tensor.name, shape: tensor.shape, format: "\(format)")
        }
        let (rows, cols) = (tensor.shape[0], tensor.shape[1])
        let verbatim =
            (tensor.dtype == .bfloat16 && format == .bf16) || (tensor.dtype == .float16 && format == .f16)
        // Stored little-endian in the file, as the kernels read them on x86-64 and arm64. The kernels load 16-bit
        // values, so a tensor at an odd offset (legal in safetensors, never written by the usual tools) is copied.
        let aligned = tensor.withUnsafeBytes { Int(bitPattern: $0.baseAddress) % 2 == 0 }
        if verbatim && aligned {
            tensor.prefetchResidentPages()
            self.init(format: format, rows: rows, cols: cols, storage: .mapped(tensor))
        } else if verbatim {
            self.init(format: format, rows: rows, cols: cols, storage: .owned(tensor.withUnsafeBytes { [UInt8]($0) }))
        } else {
            try self.init(encoding: tensor, rows: rows, cols: cols, format: format)
            // The checkpoint's pages of this tensor are not needed any more; let the kernel reclaim them now rather
            // than hold the file and its converted copy in memory together until loading ends.
            tensor.releaseResidentPages()
        }
    }

    private init(format: WeightFormat, rows: Int, cols: Int, storage: Storage) {
        self.format = format
        self.rows = rows
        self.cols = cols
        self.storage = storage
    }

    /// The weights as the kernels see them, `[rows, cols]` row-major F32.
    public func dequantized() -> [Float] {
        let count = rows * cols
        return [Float](unsafeUninitializedCapacity: count) { out, initialized in
            withUnsafeBytes { raw in
                guard let src = raw.baseAddress, let dst = out.baseAddress else { return }
                decode(src, rows: 0..<rows, into: dst)
            }
            initialized = count
        }
    }

    /// Decodes the rows `range` of the encoded matrix at `src` into `output`, row after row.
    private func decode(_ src: UnsafeRawPointer, rows range: Range<Int>, into output: UnsafeMutablePointer<Float>) {
        let (isa, count) = (InstructionSet.active.cValue, range.count * cols)
        let halves = src.assumingMemoryBound(to: UInt16.self) + range.lowerBound * cols
        switch format {
        case .bf16: vl_bf16_to_f32(isa, halves, output, count)
        case .f16: vl_f16_to_f32(isa, halves, output, count)
        case .q8, .q4:
            _ = vl_dequantize_weights(format.blockFormat!, src, cols, range.lowerBound, range.upperBound, output)
        }
    }

    /// Decodes row `row` into `output` (`cols` floats): an embedding lookup from a matrix that doubles as the tied
    /// `lm_head`. Each element equals the same element of `dequantized()`.
    public func decodeRow(_ row: Int, into output: UnsafeMutablePointer<Float>) {
        precondition(row >= 0 && row < rows, "row \(row) is outside 0..<\(rows)")
        withUnsafeBytes { decode($0.baseAddress!, rows: row..<(row + 1), into: output) }
    }

    /// `outputs[b * outputStride + r] = Σ_k W[r][k] * x_b[k]` for `r` in `rowRange` and the `inputs.batch` vectors
    /// `x_b` of `inputs`, with `W` the stored matrix, in the order `vl_kernels.h` (bf16, f16) or `vl_quant.h` (q8,
    /// q4) fixes.
    ///
    /// `outputs` is `[batch, outputStride]`, `outputStride` ≥ `rowRange.upperBound`, so disjoint row ranges can run
    /// on different threads with the same `inputs` (q8 and q4 share no work between ranges that start and end on
    /// multiples of `WeightFormat.rowGroup`).
    ///
    /// - Precondition: `inputs` was prepared for this matrix's format and column count.
    public func matvec(
        rows rowRange: Range<Int>, inputs: ProductInputs, outputs: UnsafeMutablePointer<Float>, outputStride: Int,
        isa: InstructionSet = .active
    ) {
        precondition(rowRange.lowerBound >= 0 && rowRange.upperBound <= rows, "row range outside the matrix")
        precondition(rowRange.upperBound <= outputStride, "outputStride is smaller than the row range")
        precondition(
            inputs.cols == cols && inputs.isQuantized == format.isBlockQuantized, "inputs not prepared for \(format)")
        let (begin, end, batch) = (rowRange.lowerBound, rowRange.upperBound, inputs.batch)
        withUnsafeBytes { raw in
            inputs.storage.withUnsafeBytes { prepared in
                guard let w = raw.baseAddress, let x = prepared.baseAddress else { return }
                let (isa, halves, floats) = (
                    isa.cValue, w.assumingMemoryBound(to: UInt16.self), x.assumingMemoryBound(to: Float.self)
                )
                switch format {
                case .bf16: vl_matvec_bf16(isa, halves, cols, begin, end, floats, cols, batch, outputs, outputStride)
                case .f16: vl_matvec_f16(isa, halves, cols, begin, end, floats, cols, batch, outputs, outputStride)
                case .q8, .q4:
                    vl_qproduct(isa, format.blockFormat!, w, cols, begin, end, x, batch, nil, outputs, outputStride)
                }
            }
        }
    }

    /// The relative RMS error `sqrt(Σ (a − o)² / Σ o²)` of `approximation` against `original` (0 when both are 0).
    public static func relativeRMSError(original: [Float], approximation: [Float]) -> Double {
        precondition(original.count == approximation.count, "the arrays differ in length")
        var error = 0.0
        var energy = 0.0
        for (o, a) in zip(original, approximation) {
            let diff = Double(a) - Double(o)
            error += diff * diff
            energy += Double(o) * Double(o)
        }
        return energy == 0 ? (error == 0 ? 0 : .infinity) : (error / energy).squareRoot()
    }
}

/// The input vectors of `QuantizedMatrix.matvec` (and the input rows of `multiply` with q8 / q4 weights), prepared
/// once per step in the form the weight format multiplies: q8 blocks with their sums (`vl_quantize_inputs`) for q8 and
/// q4 weights, the floats themselves otherwise. Prepare them once, then let every thread of a row or column split use
/// them.
///
/// The q8 quantization adds a relative error of about 0.3 % to each product (measured on Gaussian data in the tests),
/// on top of the weights' own; llama.cpp's Q8_0 / Q4_0 products make the same trade.
public struct ProductInputs: Sendable {
    /// Vectors.
    public let batch: Int
    /// Elements per vector.
    public let cols: Int
    /// Whether the vectors are held as q8 blocks.
    public let isQuantized: Bool
    /// The prepared bytes: `[batch, cols]` floats, or `batch` rows of q8 input blocks (`vl_quant.h`).
    let storage: [UInt8]

    /// Prepares `batch` vectors of `cols` floats (`values`, `[batch, cols]`) for weights in `format`.
    ///
    /// - Precondition: `values.count == batch * cols`, and `cols` is a multiple of `format.columnMultiple`.
    public init(
        _ values: UnsafeBufferPointer<Float>, batch: Int, cols: Int, for format: WeightFormat,
        isa: InstructionSet = .active
    ) {
        precondition(batch >= 0 && cols >= 0 && values.count == batch * cols, "values are not [batch, cols]")
        precondition(cols % format.columnMultiple == 0, "\(format) needs cols to be a multiple of 32, got \(cols)")
        self.batch = batch
        self.cols = cols
        isQuantized = format.isBlockQuantized
        if format.isBlockQuantized {
            let count = vl_qinputs_bytes(batch, cols)
            storage = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
                if let src = values.baseAddress, let dst = buffer.baseAddress, count > 0 {
                    _ = vl_quantize_inputs(isa.cValue, format.blockFormat!, src, batch, cols, dst)
                }
                initialized = count
            }
        } else {
            storage = [UInt8](UnsafeRawBufferPointer(values))
        }
    }

    /// Prepares `values` (`[batch, cols]`) for weights in `format`; see `init(_:batch:cols:for:isa:)`.
    public init(_ values: [Float], batch: Int, cols: Int, for format: WeightFormat, isa: InstructionSet = .active) {
        self = values.withUnsafeBufferPointer { ProductInputs($0, batch: batch, cols: cols, for: format, isa: isa) }
    }
}
