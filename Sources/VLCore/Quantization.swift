import CVLKernels

/// How a weight matrix is stored for the matrix-vector kernels, chosen per run (`--weights bf16|q8|q4`).
///
/// The block formats are laid out byte for byte in `vl_quant.h`: rows cut into blocks of 32 weights, each block a
/// binary32 scale followed by its values. `q8`: 36 bytes per block (`d = max|w| / 127`, int8 values). `q4`: 20 bytes
/// per block (`d = max|w| / 7`, values −7…7 stored as nibbles + 8; byte `j` holds weight `j` low, `j + 16` high).
public enum WeightFormat: String, Sendable, CaseIterable, CustomStringConvertible {
    /// bf16, round to nearest even: 2 bytes per weight.
    case bf16
    /// 8-bit symmetric blocks of 32 with an fp32 scale: 36 bytes per 32 weights (9 bits per weight).
    case q8
    /// 4-bit symmetric blocks of 32 with an fp32 scale: 20 bytes per 32 weights (5 bits per weight).
    case q4

    /// Columns a row must be a multiple of: 32 for the block formats, 1 for bf16.
    public var columnMultiple: Int { self == .bf16 ? 1 : Int(VL_QBLOCK) }

    /// Bytes that a `[rows, cols]` matrix takes in this format (`cols` a multiple of `columnMultiple`).
    public func byteCount(rows: Int, cols: Int) -> Int {
        switch self {
        case .bf16: rows * cols * 2
        case .q8: vl_q8_bytes(rows, cols)
        case .q4: vl_q4_bytes(rows, cols)
        }
    }

    /// The spelling `--weights` accepts.
    public var description: String { rawValue }
}

/// A row-major `[rows, cols]` weight matrix stored in a `WeightFormat`, owning its bytes.
///
/// Built once at load time from F32 rows (convert BF16/F16 checkpoints to F32 first). Its `matvec` gives results
/// bit-identical to `Kernels.matvec` on `dequantized()`, for every instruction set, row range and batch size.
public struct QuantizedMatrix: Sendable {
    /// The storage format.
    public let format: WeightFormat
    /// Rows (output features).
    public let rows: Int
    /// Columns (input features).
    public let cols: Int
    /// The encoded matrix, `format.byteCount(rows:cols:)` bytes, laid out as `vl_quant.h` describes.
    public let bytes: [UInt8]

    /// Encodes `values` (`[rows, cols]`, row-major) in `format`.
    ///
    /// - Precondition: `cols` is a multiple of `format.columnMultiple` (32 for q8 and q4) and
    ///   `values.count == rows * cols`; the loader checks shapes and keeps other tensors in higher precision.
    public init(quantizing values: UnsafeBufferPointer<Float>, rows: Int, cols: Int, format: WeightFormat) {
        precondition(rows >= 0 && cols >= 0 && values.count == rows * cols, "values are not [rows, cols]")
        precondition(cols % format.columnMultiple == 0, "\(format) needs cols to be a multiple of 32, got \(cols)")
        self.format = format
        self.rows = rows
        self.cols = cols
        let count = format.byteCount(rows: rows, cols: cols)
        guard let src = values.baseAddress, count > 0 else {
            bytes = []
            return
        }
        bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            let dst = UnsafeMutableRawPointer(buffer.baseAddress!)
            switch format {
            case .bf16:
                vl_f32_to_bf16(
                    InstructionSet.active.cValue, src, dst.bindMemory(to: UInt16.self, capacity: rows * cols),
                    rows * cols)
            case .q8:
                _ = vl_quantize_q8(VL_ISA_SCALAR, src, rows, cols, dst)
            case .q4:
                _ = vl_quantize_q4(VL_ISA_SCALAR, src, rows, cols, dst)
            }
            initialized = count
        }
    }

    /// Encodes `values` (`[rows, cols]`, row-major) in `format`; see `init(quantizing:rows:cols:format:)`.
    public init(quantizing values: [Float], rows: Int, cols: Int, format: WeightFormat) {
        self = values.withUnsafeBufferPointer {
            QuantizedMatrix(quantizing: $0, rows: rows, cols: cols, format: format)
        }
    }

    /// The weights as the kernels see them, `[rows, cols]` row-major F32.
    public func dequantized() -> [Float] {
        let count = rows * cols
        return [Float](unsafeUninitializedCapacity: count) { out, initialized in
            bytes.withUnsafeBytes { raw in
                guard let src = raw.baseAddress, let dst = out.baseAddress else { return }
                switch format {
                case .bf16:
                    vl_bf16_to_f32(
                        InstructionSet.active.cValue, src.assumingMemoryBound(to: UInt16.self), dst, count)
                case .q8:
                    _ = vl_dequantize_q8(VL_ISA_SCALAR, src, rows, cols, dst)
                case .q4:
                    _ = vl_dequantize_q4(VL_ISA_SCALAR, src, rows, cols, dst)
                }
            }
            initialized = count
        }
    }

    /// `outputs[b * outputStride + r] = Σ_k W[r][k] * inputs[b * cols + k]` for `r` in `rowRange`, `b < batch`,
    /// with `W` the dequantized matrix; as `Kernels.matvec` (the same order of summation, so the same bits).
    ///
    /// `inputs` is `[batch, cols]`; `outputs` is `[batch, outputStride]`, `outputStride` ≥ `rowRange.upperBound`, so
    /// disjoint row ranges can run on different threads.
    public func matvec(
        rows rowRange: Range<Int>, inputs: UnsafePointer<Float>, batch: Int, outputs: UnsafeMutablePointer<Float>,
        outputStride: Int, isa: InstructionSet = .active
    ) {
        precondition(rowRange.lowerBound >= 0 && rowRange.upperBound <= rows, "row range outside the matrix")
        precondition(batch >= 0, "negative batch")
        precondition(rowRange.upperBound <= outputStride, "outputStride is smaller than the row range")
        bytes.withUnsafeBytes { raw in
            guard let w = raw.baseAddress else { return }
            let (begin, end) = (rowRange.lowerBound, rowRange.upperBound)
            switch format {
            case .bf16:
                vl_matvec_bf16(
                    isa.cValue, w.assumingMemoryBound(to: UInt16.self), cols, begin, end, inputs, cols, batch,
                    outputs, outputStride)
            case .q8:
                vl_matvec_q8(isa.cValue, w, cols, begin, end, inputs, cols, batch, outputs, outputStride)
            case .q4:
                vl_matvec_q4(isa.cValue, w, cols, begin, end, inputs, cols, batch, outputs, outputStride)
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
