import CVLKernels

// Swift face of `vl_delta_rule.h`: the gated delta rule of Gated DeltaNet layers, one value head at a time, fp32.
// Every ISA gives bit-identical results; see the C header for the formula and the order of operations.

extension Kernels {
    /// Advances one head's recurrent `state` (`[keyDim, valueDim]`) by `tokens` tokens, writing each token's output.
    ///
    /// Token `t` reads `queries` and `keys` at `t * queryKeyStride` (`keyDim` floats each; queries already
    /// L2-normalised and scaled by `keyDim^-1/2`, keys L2-normalised), `values` at `t * valueStride` (`valueDim`),
    /// `decay[t]` (α = exp(g), in (0, 1]) and `beta[t]`, and writes `output` at `t * outputStride` (`valueDim`).
    /// Heads are independent, so different heads may run on different threads.
    public static func gatedDeltaRule(
        state: UnsafeMutablePointer<Float>, keyDim: Int, valueDim: Int, tokens: Int, queries: UnsafePointer<Float>,
        keys: UnsafePointer<Float>, queryKeyStride: Int, values: UnsafePointer<Float>, valueStride: Int,
        decay: UnsafePointer<Float>, beta: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
        outputStride: Int, isa: InstructionSet = .active
    ) {
        precondition(keyDim >= 0 && valueDim >= 0 && tokens >= 0, "negative delta-rule shape")
        precondition(
            queryKeyStride >= keyDim && valueStride >= valueDim && outputStride >= valueDim, "strides too small")
        vl_gated_delta_rule(
            isa.cValue, state, keyDim, valueDim, tokens, queries, keys, queryKeyStride, values, valueStride, decay,
            beta, output, outputStride)
    }
}
