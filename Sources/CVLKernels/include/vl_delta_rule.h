#ifndef VL_DELTA_RULE_H
#define VL_DELTA_RULE_H

// The gated delta rule of Qwen3.5's Gated DeltaNet layers (qwen-architecture.md §5.3), one value head, fp32.
//
// State S is [dk, dv] row-major (row i belongs to key dimension i). One token with key k [dk], query q [dk] (already
// L2-normalised and, for q, scaled by dk^-1/2), value v [dv], decay alpha = exp(g) and write strength beta:
//
//     S  = alpha * S
//     m  = Sᵀ k            m[j] = Σ_i k[i] S[i][j]
//     d  = beta * (v - m)
//     S  = S + k ⊗ d       S[i][j] += k[i] d[j]
//     o  = Sᵀ q            o[j] = Σ_i q[i] S[i][j]
//
// Order of operations, the same for every ISA, so every ISA gives bit-identical results: S[i][j] * alpha is one
// rounded multiply; every sum over i runs i = 0, 1, ... with one fmaf per step starting from +0; d[j] is
// beta * (v[j] - m[j]), two rounded operations; the update is fmaf(k[i], d[j], S[i][j]). Vector code works on
// several j at once, which leaves each j's order unchanged.

#include "vl_kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

/// Advances `state` ([dk, dv]) by `tokens` tokens and writes each token's output. Token t reads q + t*qk_stride,
/// k + t*qk_stride, v + t*v_stride, alpha[t], beta[t] and writes out + t*out_stride (dv floats).
void vl_gated_delta_rule(vl_isa isa, float *state, size_t dk, size_t dv, size_t tokens, const float *q,
                         const float *k, size_t qk_stride, const float *v, size_t v_stride, const float *alpha,
                         const float *beta, float *out, size_t out_stride);

#ifdef __cplusplus
}
#endif

#endif
