import CVLKernels

// Swift face of `vl_elementwise.h`: norms, activations, SwiGLU, softmax and rotate-half rotary embedding, fp32.
// Formulas: qwen-architecture.md §1. Every ISA gives bit-identical results (fixed 16-lane reduction order, exp and erf
// as fixed sequences of IEEE operations on every level); see the C header for the details.

extension Kernels {
    /// How `rmsNorm` applies its weight to `y = x / sqrt(mean(x²) + eps)` (qwen-architecture.md §1.2).
    public enum RMSNormVariant: Sendable, CaseIterable {
        /// `w * y`: Qwen2 / Qwen2.5 / Qwen3-VL text models, q/k norms, Qwen2.5-VL vision.
        case standard
        /// `y * (1 + w)`: Qwen3.5, whose weight is stored as an offset from 1.
        case zeroCentred
        /// `y`; no weight is read.
        case unweighted

        var cValue: vl_rms_norm_variant {
            switch self {
            case .standard: VL_RMS_NORM_STANDARD
            case .zeroCentred: VL_RMS_NORM_ZERO_CENTRED
            case .unweighted: VL_RMS_NORM_UNWEIGHTED
            }
        }
    }

    /// An element-wise activation (qwen-architecture.md §1.1), computed in fp32.
    public enum Activation: Sendable, CaseIterable {
        /// `x * sigmoid(x)`.
        case silu
        /// Exact GELU, `0.5 x (1 + erf(x / √2))` (`nn.GELU()`, the patch mergers).
        case geluErf
        /// `gelu_pytorch_tanh`, `0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³)))`.
        case geluTanh
        /// `quick_gelu`, `x * sigmoid(1.702 x)`.
        case quickGelu

        var cValue: vl_activation {
            switch self {
            case .silu: VL_ACT_SILU
            case .geluErf: VL_ACT_GELU_ERF
            case .geluTanh: VL_ACT_GELU_TANH
            case .quickGelu: VL_ACT_QUICK_GELU
            }
        }
    }

    /// RMSNorm of the rows of `input` (`[rows, width]`) into `output` (same shape; may be the same memory).
    ///
    /// `weight` is `[width]`; it may be nil only for `.unweighted`.
    public static func rmsNorm(
        _ input: UnsafeBufferPointer<Float>, weight: UnsafeBufferPointer<Float>?,
        into output: UnsafeMutableBufferPointer<Float>, width: Int, epsilon: Float, variant: RMSNormVariant,
        isa: InstructionSet = .active
    ) {
        let rows = checkRows(input, output, width: width)
        if variant != .unweighted {
            precondition(weight != nil && weight!.count >= width, "weight is shorter than the row width")
        }
        guard rows > 0 else { return }
        vl_rms_norm(
            isa.cValue, input.baseAddress!, weight?.baseAddress, output.baseAddress!, rows, width, epsilon,
            variant.cValue)
    }

    /// LayerNorm (biased variance, as `torch.nn.LayerNorm`) of the rows of `input` (`[rows, width]`) into `output`
    /// (same shape; may be the same memory); `weight` and `bias` are `[width]`.
    public static func layerNorm(
        _ input: UnsafeBufferPointer<Float>, weight: UnsafeBufferPointer<Float>, bias: UnsafeBufferPointer<Float>,
        into output: UnsafeMutableBufferPointer<Float>, width: Int, epsilon: Float, isa: InstructionSet = .active
    ) {
        let rows = checkRows(input, output, width: width)
        precondition(weight.count >= width && bias.count >= width, "weight or bias is shorter than the row width")
        guard rows > 0 else { return }
        vl_layer_norm(
            isa.cValue, input.baseAddress!, weight.baseAddress!, bias.baseAddress!, output.baseAddress!, rows, width,
            epsilon)
    }

    /// `output[i] = exp(input[i])`, within 1 ulp where the result is a normal float, with the same bits on every
    /// instruction set (`vl_exp` in `vl_elementwise.h`); `output` may be the same memory as `input`.
    public static func exp(
        _ input: UnsafeBufferPointer<Float>, into output: UnsafeMutableBufferPointer<Float>,
        isa: InstructionSet = .active
    ) {
        precondition(output.count >= input.count, "output is shorter than input")
        guard let x = input.baseAddress, let out = output.baseAddress else { return }
        vl_exp(isa.cValue, x, out, input.count)
    }

    /// `output[i] = activation(input[i])`; `output` may be the same memory as `input`.
    public static func activate(
        _ activation: Activation, _ input: UnsafeBufferPointer<Float>, into output: UnsafeMutableBufferPointer<Float>,
        isa: InstructionSet = .active
    ) {
        precondition(output.count >= input.count, "output is shorter than input")
        guard let x = input.baseAddress, let out = output.baseAddress else { return }
        vl_activate(isa.cValue, activation.cValue, x, out, input.count)
    }

    /// `output[i] = silu(gate[i]) * up[i]` (the SwiGLU MLP); `output` may be the same memory as `gate` or `up`.
    public static func swiglu(
        gate: UnsafeBufferPointer<Float>, up: UnsafeBufferPointer<Float>,
        into output: UnsafeMutableBufferPointer<Float>, isa: InstructionSet = .active
    ) {
        precondition(up.count == gate.count, "gate and up differ in length")
        precondition(output.count >= gate.count, "output is shorter than gate")
        guard let g = gate.baseAddress, let u = up.baseAddress, let out = output.baseAddress else { return }
        vl_swiglu(isa.cValue, g, u, out, gate.count)
    }

    /// Numerically stable softmax of `values`, in place (max subtracted first, so large inputs cannot overflow).
    ///
    /// At least one value must be finite and none NaN.
    public static func softmax(_ values: UnsafeMutableBufferPointer<Float>, isa: InstructionSet = .active) {
        guard let x = values.baseAddress else { return }
        vl_softmax(isa.cValue, x, values.count)
    }

    /// Rotate-half rotary embedding, in place, on one token's `values` (`[heads, headDim]`): the first `rotaryDim`
    /// dims of each head become `x * cos + rotate_half(x) * sin`; the rest are untouched.
    ///
    /// `cos` and `sin` are `[rotaryDim]` (`concat(f, f)`); `rotaryDim` must be even and at most `headDim`.
    public static func ropeRotateHalf(
        _ values: UnsafeMutableBufferPointer<Float>, cos: UnsafeBufferPointer<Float>, sin: UnsafeBufferPointer<Float>,
        heads: Int, headDim: Int, rotaryDim: Int, isa: InstructionSet = .active
    ) {
        precondition(heads >= 0 && headDim >= 0, "negative rotary shape")
        precondition(rotaryDim >= 0 && rotaryDim % 2 == 0 && rotaryDim <= headDim, "rotaryDim must be even, <= headDim")
        precondition(values.count >= heads * headDim, "values is shorter than heads * headDim")
        precondition(cos.count >= rotaryDim && sin.count >= rotaryDim, "cos or sin is shorter than rotaryDim")
        guard heads > 0, rotaryDim > 0 else { return }
        vl_rope_rotate_half(
            isa.cValue, values.baseAddress!, cos.baseAddress!, sin.baseAddress!, heads, headDim, rotaryDim)
    }

    /// The number of rows of width `width` in `input`, checking that `output` can hold them.
    private static func checkRows(
        _ input: UnsafeBufferPointer<Float>, _ output: UnsafeMutableBufferPointer<Float>, width: Int
    ) -> Int {
        precondition(width > 0, "row width must be positive")
        precondition(input.count % width == 0, "input length is not a multiple of the row width")
        precondition(output.count >= input.count, "output is shorter than input")
        return input.count / width
    }
}
