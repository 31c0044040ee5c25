// Row-wise and element-wise kernels for vlbatch: RMSNorm (three variants), LayerNorm, activations, SwiGLU, softmax
// and rotate-half rotary embedding. fp32 in and out. ISA-neutral like vl_kernels.h: every kernel takes a vl_isa,
// lowered with vl_isa_supported, and never allocates. Formulas: qwen-architecture.md §1.
//
// What is vectorised: everything. Exponentials (softmax, SiLU, SwiGLU, quick GELU, GELU-tanh, exact GELU's erf and
// attention's) use vl_exp's fixed sequence of IEEE operations (see vl_exp below), the same in every ISA, so the
// vector forms give the scalar reference's bits.
//
// Determinism. Every reduction over a row uses the order of vl_kernels.h: 16 lanes (element k goes to lane k % 16,
// sums of squares as fused multiply-adds), then the fixed halving tree. The scalar reference follows that order, no
// multiply and add are ever contracted except where written as a fused multiply-add, and the element-wise steps
// are single IEEE operations, so every ISA gives bit-identical results. Kernels are per row (per element), so
// results never depend on how rows are split over threads.
//
// Aliasing: `out` may equal `x` (in-place) for every kernel that has both; otherwise buffers must not overlap.
#ifndef VL_ELEMENTWISE_H
#define VL_ELEMENTWISE_H

#include "vl_kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

/// How vl_rms_norm applies its weight to y = x * (1 / sqrt(mean(x²) + eps)) (qwen-architecture.md §1.2).
typedef enum vl_rms_norm_variant {
    /// out = w * y (Qwen2/Qwen3/Llama; also the plain-weight part of Qwen3.5's gated norm).
    VL_RMS_NORM_STANDARD = 0,
    /// out = y * (1 + w) (Qwen3.5: the weight is stored as an offset from 1).
    VL_RMS_NORM_ZERO_CENTRED = 1,
    /// out = y; `weight` is not read and may be NULL.
    VL_RMS_NORM_UNWEIGHTED = 2,
} vl_rms_norm_variant;

/// RMSNorm of `rows` rows of width `d` (x and out are [rows, d], weight is [d]):
/// r = 1 / sqrtf(sumsq / d + eps), with sumsq summed in the 16-lane order; out[k] = variant(x[k] * r, weight[k]).
void vl_rms_norm(vl_isa isa, const float *x, const float *weight, float *out, size_t rows, size_t d, float eps,
                 vl_rms_norm_variant variant);

/// LayerNorm (torch.nn.LayerNorm, biased variance) of `rows` rows of width `d`, two passes:
/// mean = sum / d, var = sum((x - mean)²) / d, r = 1 / sqrtf(var + eps), out[k] = ((x[k] - mean) * r) * w[k] + b[k].
void vl_layer_norm(vl_isa isa, const float *x, const float *weight, const float *bias, float *out, size_t rows,
                   size_t d, float eps);

/// out[i] = exp(x[i]) for i < n, within 1 ulp of the exact value where it is a normal float (measured maximum
/// 0.997 ulp over [-87.3, 88.7]; subnormal results are rounded once), +inf above 88.7228394, +0 below -103.972084,
/// NaN for NaN. Every ISA gives the same bits (vl_simd.h has the operation sequence).
void vl_exp(vl_isa isa, const float *x, float *out, size_t n);

/// An element-wise activation (qwen-architecture.md §1.1) in fp32; "exp" is vl_exp.
typedef enum vl_activation {
    /// x / (1 + exp(-x)).
    VL_ACT_SILU = 0,
    /// Exact GELU (nn.GELU()): 0.5 x (1 + erf(x / sqrt 2)), erf by Abramowitz & Stegun 7.1.26 (absolute error
    /// at most 1.5e-7, as PyTorch's vectorised CPU erf), written so that negative inputs do not cancel.
    VL_ACT_GELU_ERF = 1,
    /// gelu_pytorch_tanh: 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x³))), computed as the equal
    /// x / (1 + exp(-2 sqrt(2 / pi) (x + 0.044715 x³))), which cannot cancel.
    VL_ACT_GELU_TANH = 2,
    /// quick_gelu: x / (1 + exp(-1.702 x)).
    VL_ACT_QUICK_GELU = 3,
} vl_activation;

/// out[i] = act(x[i]) for i < n.
void vl_activate(vl_isa isa, vl_activation act, const float *x, float *out, size_t n);

/// out[i] = silu(gate[i]) * up[i] for i < n (the SwiGLU MLP); out may equal gate or up.
void vl_swiglu(vl_isa isa, const float *gate, const float *up, float *out, size_t n);

/// In-place softmax of x[0 ..< n]: m = max, e = exp(x - m) (vl_exp), x = e / sum(e) (sum in the 16-lane order). Large
/// inputs cannot overflow. At least one element must be finite and none NaN; n == 0 does nothing.
void vl_softmax(vl_isa isa, float *x, size_t n);

/// In-place rotate-half rotary embedding on x [heads, head_dim] (one token): for each head, with h = rotary_dim / 2
/// and i < h, x'[i] = x[i] cos[i] - x[i + h] sin[i] and x'[i + h] = x[i + h] cos[i + h] + x[i] sin[i + h]
/// (x * cos + rotate_half(x) * sin on the first rotary_dim dims); dims >= rotary_dim are left untouched.
/// cos and sin are [rotary_dim] (concat(f, f) in the models). rotary_dim must be even and <= head_dim.
void vl_rope_rotate_half(vl_isa isa, float *x, const float *cos, const float *sin, size_t heads, size_t head_dim,
                         size_t rotary_dim);

#ifdef __cplusplus
}
#endif

#endif
