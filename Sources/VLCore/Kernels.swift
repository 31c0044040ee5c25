import CVLKernels

/// An instruction-set level for the compute kernels, lowest first; each level implies the ones before it.
public enum InstructionSet: Int, Sendable, CaseIterable, Comparable, CustomStringConvertible {
    /// Portable C, no vector extensions.
    case scalar = 0
    /// AVX2 with FMA and F16C.
    case avx2 = 1
    /// AVX-512 F, BW, VL and DQ.
    case avx512 = 2

    /// The best level this CPU and operating system support (cpuid + XGETBV).
    public static var detected: InstructionSet { InstructionSet(vl_detect_isa()) }

    /// The level kernels use by default: `detected`, or the lower level `VLBATCH_ISA` asks for.
    public static var active: InstructionSet { InstructionSet(vl_active_isa(nil)) }

    /// Why `VLBATCH_ISA` was ignored (unknown value, or a level this machine lacks), or nil when it was not.
    public static var activeNote: String? {
        var note: UnsafePointer<CChar>?
        _ = vl_active_isa(&note)
        return note.map { String(cString: $0) }
    }

    /// Every level this machine can run, lowest first (the ones tests should cover).
    public static var reachable: [InstructionSet] { allCases.filter { $0 <= detected } }

    /// Whether the CPU also has AVX512_BF16; informational, no kernel requires it.
    public static var hasAVX512BF16: Bool { vl_cpu_has_avx512_bf16() != 0 }

    /// Parses `scalar`, `avx2` or `avx512` (ASCII case-insensitive), the values `VLBATCH_ISA` accepts.
    public init?(parsing text: String) {
        var isa = VL_ISA_SCALAR
        guard vl_isa_parse(text, &isa) != 0 else { return nil }
        self.init(isa)
    }

    /// The level to use for an override value (`VLBATCH_ISA`, nil when unset) on a machine that supports
    /// `detected`, and the reason when the override is ignored.
    public static func choose(override: String?, detected: InstructionSet) -> (isa: InstructionSet, note: String?) {
        var note: UnsafePointer<CChar>?
        let isa = vl_isa_choose(override, detected.cValue, &note)
        return (InstructionSet(isa), note.map { String(cString: $0) })
    }

    /// Orders levels from scalar up to AVX-512.
    public static func < (lhs: InstructionSet, rhs: InstructionSet) -> Bool { lhs.rawValue < rhs.rawValue }

    /// The spelling `VLBATCH_ISA` uses.
    public var description: String {
        switch self {
        case .scalar: "scalar"
        case .avx2: "avx2"
        case .avx512: "avx512"
        }
    }

    init(_ isa: vl_isa) { self = InstructionSet(rawValue: Int(isa.rawValue)) ?? .scalar }

    var cValue: vl_isa { vl_isa(rawValue: UInt32(rawValue)) }
}

/// Thin Swift face of the C kernels in `CVLKernels`. Pointers are the caller's; nothing is allocated.
///
/// The matrix-vector products sum every output element in one fixed order (see `vl_kernels.h`), identical for every
/// instruction set, row range and batch size: results are bit-identical across ISAs, thread splits and batch sizes.
public enum Kernels {
    /// Converts bf16 values (the top 16 bits of IEEE binary32) to `Float`, exactly.
    public static func convertBF16ToFloat(
        _ source: UnsafeBufferPointer<UInt16>, into destination: UnsafeMutableBufferPointer<Float>,
        isa: InstructionSet = .active
    ) {
        convert(source, into: destination, isa: isa, with: vl_bf16_to_f32)
    }

    /// Rounds `Float` values to bf16, to nearest with ties to even; NaN stays NaN, no flush of denormals.
    public static func convertFloatToBF16(
        _ source: UnsafeBufferPointer<Float>, into destination: UnsafeMutableBufferPointer<UInt16>,
        isa: InstructionSet = .active
    ) {
        convert(source, into: destination, isa: isa, with: vl_f32_to_bf16)
    }

    /// Converts IEEE binary16 values (raw bit patterns) to `Float`, exactly (a signalling NaN comes back quiet).
    public static func convertF16ToFloat(
        _ source: UnsafeBufferPointer<UInt16>, into destination: UnsafeMutableBufferPointer<Float>,
        isa: InstructionSet = .active
    ) {
        convert(source, into: destination, isa: isa, with: vl_f16_to_f32)
    }

    /// Rounds `Float` values to IEEE binary16, to nearest with ties to even (65520 and up become infinity, no flush
    /// of subnormals, NaN stays NaN).
    public static func convertFloatToF16(
        _ source: UnsafeBufferPointer<Float>, into destination: UnsafeMutableBufferPointer<UInt16>,
        isa: InstructionSet = .active
    ) {
        convert(source, into: destination, isa: isa, with: vl_f32_to_f16)
    }

    /// Runs an element-wise conversion kernel over `source` into the front of `destination`.
    private static func convert<Source, Destination>(
        _ source: UnsafeBufferPointer<Source>, into destination: UnsafeMutableBufferPointer<Destination>,
        isa: InstructionSet,
        with kernel: (vl_isa, UnsafePointer<Source>?, UnsafeMutablePointer<Destination>?, Int) -> Void
    ) {
        precondition(destination.count >= source.count, "destination is shorter than source")
        guard let src = source.baseAddress, let dst = destination.baseAddress else { return }
        kernel(isa.cValue, src, dst, source.count)
    }

    /// A dense weight matrix, row-major `[rows, cols]` as `nn.Linear` stores `[out, in]`, in one of the element
    /// types the kernels read directly (16-bit types as raw bit patterns, each converted exactly to `Float`).
    public enum DenseWeights {
        /// Float weights.
        case f32(UnsafePointer<Float>)
        /// BF16 weights (the top halves of IEEE binary32 values).
        case bf16(UnsafePointer<UInt16>)
        /// IEEE binary16 weights.
        case f16(UnsafePointer<UInt16>)
    }

    /// `outputs[b * outputStride + r] = Σ_k W[r][k] * inputs[b * cols + k]` for `r` in `rows`, `b < batch`, with `W`
    /// the row-major `[rowCount, cols]` `weights`.
    ///
    /// `inputs` is `[batch, cols]`; `outputs` is `[batch, outputStride]` with `outputStride` ≥ `rows.upperBound`
    /// (usually the weight's row count), so disjoint row ranges can run on different threads.
    public static func matvec(
        weights: DenseWeights, rows: Range<Int>, cols: Int,
        inputs: UnsafePointer<Float>, batch: Int, outputs: UnsafeMutablePointer<Float>, outputStride: Int,
        isa: InstructionSet = .active
    ) {
        precondition(rows.lowerBound >= 0 && cols >= 0 && batch >= 0, "negative matvec shape")
        precondition(rows.upperBound <= outputStride, "outputStride is smaller than the row range")
        let (isa, begin, end) = (isa.cValue, rows.lowerBound, rows.upperBound)
        switch weights {
        case .f32(let w): vl_matvec_f32(isa, w, cols, begin, end, inputs, cols, batch, outputs, outputStride)
        case .bf16(let w): vl_matvec_bf16(isa, w, cols, begin, end, inputs, cols, batch, outputs, outputStride)
        case .f16(let w): vl_matvec_f16(isa, w, cols, begin, end, inputs, cols, batch, outputs, outputStride)
        }
    }

    /// Reads `bytes` `repeats` times with the widest loads of `isa`; returns a checksum. Time it for read bandwidth.
    public static func probeReadBandwidth(
        _ bytes: UnsafeRawBufferPointer, repeats: Int, isa: InstructionSet = .active
    ) -> UInt64 {
        precondition(repeats >= 0, "repeats must not be negative")
        guard let base = bytes.baseAddress else { return 0 }
        return vl_probe_read_bandwidth(isa.cValue, base, bytes.count, repeats)
    }

    /// Runs independent FMA chains on the widest vectors of `isa`; returns the floating-point operations done.
    public static func probeFMAPeak(iterations: Int, isa: InstructionSet = .active) -> Double {
        precondition(iterations >= 0, "iterations must not be negative")
        return vl_probe_fma_peak(isa.cValue, iterations)
    }

    /// Runs independent int8 dot-product chains (AVX512_VNNI); returns the integer operations done, or 0 on a CPU
    /// without them.
    public static func probeInt8Peak(iterations: Int, isa: InstructionSet = .active) -> Double {
        precondition(iterations >= 0, "iterations must not be negative")
        return vl_probe_int8_peak(isa.cValue, iterations)
    }

}
