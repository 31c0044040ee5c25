// Norms, activations, softmax and rotary embedding (see vl_elementwise.h for formulas and the determinism contract).
//
// Every ISA computes every result with the same operations in the same order: reductions use 16 lanes (k % 16) and
// the halving tree of vl_kernels.h, element-wise steps are single IEEE operations, and exp and erf are fixed
// sequences of them (vl_exp, vl_gelu_erf) repeated lane by lane. Contraction is switched off below so the compiler cannot fuse a multiply and an add
// in one ISA's code but not in another's; fused multiply-adds appear only where written (fmaf / fmadd).
#pragma STDC FP_CONTRACT OFF

#include "vl_elementwise.h"
#include "vl_simd.h"

#include <immintrin.h>
#include <math.h>


// MARK: - Scalar reference

/// Σ x[k], lane k % 16.
static float sum_scalar(const float *x, size_t n) {
    float s[16] = {0};
    for (size_t k = 0; k < n; ++k) s[k & 15] += x[k];
    return vl_reduce16(s);
}

/// Σ (x[k] - c)², lane k % 16, each step fmaf(t, t, s) with t = x[k] - c.
static float sumsq_scalar(const float *x, size_t n, float c) {
    float s[16] = {0};
    for (size_t k = 0; k < n; ++k) {
        const float t = x[k] - c;
        s[k & 15] = fmaf(t, t, s[k & 15]);
    }
    return vl_reduce16(s);
}

static inline float vl_rms_scale(float sumsq, size_t d, float eps) { return 1.0f / sqrtf(sumsq / (float)d + eps); }

/// out[k] = variant(x[k] * r, w[k]) for k in [from, d); shared by the scalar reference and the vector tails.
VL_INLINE void rms_apply_scalar(const float *x, const float *w, float *out, size_t from, size_t d, float r,
                                vl_rms_norm_variant variant) {
    for (size_t k = from; k < d; ++k) {
        const float y = x[k] * r;
        switch (variant) {
        case VL_RMS_NORM_STANDARD: out[k] = w[k] * y; break;
        case VL_RMS_NORM_ZERO_CENTRED: out[k] = y * (1.0f + w[k]); break;
        default: out[k] = y; break;
        }
    }
}

VL_INLINE void layer_apply_scalar(const float *x, const float *w, const float *b, float *out, size_t from, size_t d,
                                  float mean, float r) {
    for (size_t k = from; k < d; ++k) out[k] = ((x[k] - mean) * r) * w[k] + b[k];
}

static void rms_norm_scalar(const float *x, const float *w, float *out, size_t rows, size_t d, float eps,
                            vl_rms_norm_variant variant) {
    for (size_t row = 0; row < rows; ++row) {
        const float *xr = x + row * d;
        const float r = vl_rms_scale(sumsq_scalar(xr, d, 0.0f), d, eps);
        rms_apply_scalar(xr, w, out + row * d, 0, d, r, variant);
    }
}

static void layer_norm_scalar(const float *x, const float *w, const float *b, float *out, size_t rows, size_t d,
                              float eps) {
    for (size_t row = 0; row < rows; ++row) {
        const float *xr = x + row * d;
        const float mean = sum_scalar(xr, d) / (float)d;
        const float r = 1.0f / sqrtf(sumsq_scalar(xr, d, mean) / (float)d + eps);
        layer_apply_scalar(xr, w, b, out + row * d, 0, d, mean, r);
    }
}

// The activations built on vl_exp (vl_simd.h), written once as a sequence of single IEEE operations that the vector
// forms below repeat lane by lane. GELU-tanh uses 0.5 x (1 + tanh(u)) = x / (1 + exp(-2u)), which has no cancellation.
#define VL_QUICK_GELU_SCALE -1.702f
#define VL_GELU_TANH_SCALE -1.5957691216057308f /* -2 sqrt(2 / pi) */
#define VL_GELU_TANH_CUBIC 0.044715f

static inline float vl_silu(float x) { return x / (1.0f + vl_exp_scalar(-x)); }

static inline float vl_gelu_tanh(float x) {
    float t = x * x;
    t = t * x;
    t = t * VL_GELU_TANH_CUBIC;
    t = t + x;
    t = t * VL_GELU_TANH_SCALE;
    return x / (1.0f + vl_exp_scalar(t));
}

static inline float vl_quick_gelu(float x) { return x / (1.0f + vl_exp_scalar(VL_QUICK_GELU_SCALE * x)); }

// Exact GELU 0.5 x (1 + erf(x / sqrt 2)) with erf by Abramowitz & Stegun 7.1.26 (|error| <= 1.5e-7, the formula
// PyTorch's vectorised CPU erf uses): for a = |z|, 1 - erf(a) = q = t (A1 + t (A2 + t (A3 + t (A4 + t A5)))) e^(-a^2)
// with t = 1 / (1 + P a). Then 1 + erf(z) is q for z < 0 and 2 - q otherwise, so negative inputs never cancel.
#define VL_ERF_SQRT_HALF 0.70710678118654752440f
#define VL_ERF_P 0.3275911f
#define VL_ERF_A1 0.254829592f
#define VL_ERF_A2 -0.284496736f
#define VL_ERF_A3 1.421413741f
#define VL_ERF_A4 -1.453152027f
#define VL_ERF_A5 1.061405429f

static inline float vl_gelu_erf(float x) {
    const float z = x * VL_ERF_SQRT_HALF, a = fabsf(z);
    const float t = 1.0f / fmaf(VL_ERF_P, a, 1.0f);
    float r = fmaf(VL_ERF_A5, t, VL_ERF_A4);
    r = fmaf(r, t, VL_ERF_A3);
    r = fmaf(r, t, VL_ERF_A2);
    r = fmaf(r, t, VL_ERF_A1);
    const float q = (r * t) * vl_exp_scalar(-(a * a));
    const float one_plus_erf = z < 0.0f ? q : 2.0f - q;
    return (0.5f * x) * one_plus_erf;
}

static float vl_activation_value(vl_activation act, float x) {
    switch (act) {
    case VL_ACT_SILU: return vl_silu(x);
    case VL_ACT_GELU_ERF: return vl_gelu_erf(x);
    case VL_ACT_GELU_TANH: return vl_gelu_tanh(x);
    case VL_ACT_QUICK_GELU: return vl_quick_gelu(x);
    }
    return x;
}

/// The max of softmax (max is exact, so every ISA may take it in any order).
static float softmax_max(const float *x, size_t n) {
    float m = x[0];
    for (size_t k = 1; k < n; ++k) m = x[k] > m ? x[k] : m;
    return m;
}

static void exp_shifted_scalar(const float *x, float shift, float *out, size_t n) {
    for (size_t k = 0; k < n; ++k) out[k] = vl_exp_scalar(x[k] - shift);
}

static void softmax_scalar(float *x, size_t n) {
    exp_shifted_scalar(x, softmax_max(x, n), x, n);
    const float s = sum_scalar(x, n);
    for (size_t k = 0; k < n; ++k) x[k] = x[k] / s;
}

VL_INLINE void rope_pairs_scalar(float *x, const float *cs, const float *sn, size_t from, size_t h) {
    for (size_t i = from; i < h; ++i) {
        const float a = x[i], b = x[i + h];
        x[i] = a * cs[i] - b * sn[i];
        x[i + h] = b * cs[i + h] + a * sn[i + h];
    }
}

static void rope_scalar(float *x, const float *cs, const float *sn, size_t heads, size_t hd, size_t rd) {
    for (size_t head = 0; head < heads; ++head) rope_pairs_scalar(x + head * hd, cs, sn, 0, rd / 2);
}

// MARK: - AVX2 (16 lanes = two ymm accumulators)

/// Lane masks for a tail of rem (0 < rem < 16) elements: m0 covers lanes 0..7, m1 lanes 8..15.
VL_AVX2 VL_INLINE void vl_tail_masks_avx2(size_t rem, __m256i *m0, __m256i *m1) {
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    *m0 = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)rem), idx);
    *m1 = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)rem - 8), idx);
}

// The accumulators start at +0 and can never become -0 (x + -x is +0 under round-to-nearest), so adding +0 in an
// inactive tail lane leaves it unchanged: the masked tails match the scalar loop exactly.
VL_AVX2 static float sum_avx2(const float *x, size_t n) {
    __m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps();
    size_t k = 0;
    for (; k + 16 <= n; k += 16) {
        lo = _mm256_add_ps(lo, _mm256_loadu_ps(x + k));
        hi = _mm256_add_ps(hi, _mm256_loadu_ps(x + k + 8));
    }
    if (k < n) {
        __m256i m0, m1;
        vl_tail_masks_avx2(n - k, &m0, &m1);
        lo = _mm256_add_ps(lo, _mm256_maskload_ps(x + k, m0));
        hi = _mm256_add_ps(hi, _mm256_maskload_ps(x + k + 8, m1));
    }
    return vl_reduce_avx2(lo, hi);
}

VL_AVX2 static float sumsq_avx2(const float *x, size_t n, float c) {
    const __m256 cv = _mm256_set1_ps(c);
    __m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps();
    size_t k = 0;
    for (; k + 16 <= n; k += 16) {
        const __m256 t0 = _mm256_sub_ps(_mm256_loadu_ps(x + k), cv);
        const __m256 t1 = _mm256_sub_ps(_mm256_loadu_ps(x + k + 8), cv);
        lo = _mm256_fmadd_ps(t0, t0, lo);
        hi = _mm256_fmadd_ps(t1, t1, hi);
    }
    if (k < n) {
        __m256i m0, m1;
        vl_tail_masks_avx2(n - k, &m0, &m1);
        const __m256 t0 = _mm256_and_ps(_mm256_sub_ps(_mm256_maskload_ps(x + k, m0), cv), _mm256_castsi256_ps(m0));
        const __m256 t1 =
            _mm256_and_ps(_mm256_sub_ps(_mm256_maskload_ps(x + k + 8, m1), cv), _mm256_castsi256_ps(m1));
        lo = _mm256_fmadd_ps(t0, t0, lo);
        hi = _mm256_fmadd_ps(t1, t1, hi);
    }
    return vl_reduce_avx2(lo, hi);
}

VL_AVX2 static void rms_norm_avx2(const float *x, const float *w, float *out, size_t rows, size_t d, float eps,
                                  vl_rms_norm_variant variant) {
    const __m256 one = _mm256_set1_ps(1.0f);
    for (size_t row = 0; row < rows; ++row) {
        const float *xr = x + row * d;
        float *o = out + row * d;
        const float r = vl_rms_scale(sumsq_avx2(xr, d, 0.0f), d, eps);
        const __m256 rv = _mm256_set1_ps(r);
        size_t k = 0;
        for (; k + 8 <= d; k += 8) {
            const __m256 y = _mm256_mul_ps(_mm256_loadu_ps(xr + k), rv);
            __m256 v = y;
            if (variant == VL_RMS_NORM_STANDARD) v = _mm256_mul_ps(_mm256_loadu_ps(w + k), y);
            if (variant == VL_RMS_NORM_ZERO_CENTRED) v = _mm256_mul_ps(y, _mm256_add_ps(one, _mm256_loadu_ps(w + k)));
            _mm256_storeu_ps(o + k, v);
        }
        rms_apply_scalar(xr, w, o, k, d, r, variant);
    }
}

VL_AVX2 static void layer_norm_avx2(const float *x, const float *w, const float *b, float *out, size_t rows,
                                    size_t d, float eps) {
    for (size_t row = 0; row < rows; ++row) {
        const float *xr = x + row * d;
        float *o = out + row * d;
        const float mean = sum_avx2(xr, d) / (float)d;
        const float r = 1.0f / sqrtf(sumsq_avx2(xr, d, mean) / (float)d + eps);
        const __m256 mv = _mm256_set1_ps(mean), rv = _mm256_set1_ps(r);
        size_t k = 0;
        for (; k + 8 <= d; k += 8) {
            const __m256 y = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(xr + k), mv), rv);
            _mm256_storeu_ps(o + k, _mm256_add_ps(_mm256_mul_ps(y, _mm256_loadu_ps(w + k)), _mm256_loadu_ps(b + k)));
        }
        layer_apply_scalar(xr, w, b, o, k, d, mean, r);
    }
}

// The exp-based kernels, 8 lanes at a time with the scalar code for the tail (the same operations, so the same bits).
VL_AVX2 VL_INLINE __m256 vl_silu_avx2(__m256 x) {
    const __m256 e = vl_exp_avx2(_mm256_xor_ps(x, _mm256_set1_ps(-0.0f)));
    return _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}

VL_AVX2 VL_INLINE __m256 vl_gelu_tanh_avx2(__m256 x) {
    __m256 t = _mm256_mul_ps(x, x);
    t = _mm256_mul_ps(t, x);
    t = _mm256_mul_ps(t, _mm256_set1_ps(VL_GELU_TANH_CUBIC));
    t = _mm256_add_ps(t, x);
    t = _mm256_mul_ps(t, _mm256_set1_ps(VL_GELU_TANH_SCALE));
    return _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0f), vl_exp_avx2(t)));
}

VL_AVX2 VL_INLINE __m256 vl_quick_gelu_avx2(__m256 x) {
    const __m256 e = vl_exp_avx2(_mm256_mul_ps(_mm256_set1_ps(VL_QUICK_GELU_SCALE), x));
    return _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}

VL_AVX2 VL_INLINE __m256 vl_gelu_erf_avx2(__m256 x) {
    const __m256 z = _mm256_mul_ps(x, _mm256_set1_ps(VL_ERF_SQRT_HALF));
    const __m256 a = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), z);
    const __m256 one = _mm256_set1_ps(1.0f);
    const __m256 t = _mm256_div_ps(one, _mm256_fmadd_ps(_mm256_set1_ps(VL_ERF_P), a, one));
    __m256 r = _mm256_fmadd_ps(_mm256_set1_ps(VL_ERF_A5), t, _mm256_set1_ps(VL_ERF_A4));
    r = _mm256_fmadd_ps(r, t, _mm256_set1_ps(VL_ERF_A3));
    r = _mm256_fmadd_ps(r, t, _mm256_set1_ps(VL_ERF_A2));
    r = _mm256_fmadd_ps(r, t, _mm256_set1_ps(VL_ERF_A1));
    const __m256 e = vl_exp_avx2(_mm256_xor_ps(_mm256_mul_ps(a, a), _mm256_set1_ps(-0.0f)));
    const __m256 q = _mm256_mul_ps(_mm256_mul_ps(r, t), e);
    const __m256 negative = _mm256_cmp_ps(z, _mm256_setzero_ps(), _CMP_LT_OQ);
    const __m256 one_plus_erf = _mm256_blendv_ps(_mm256_sub_ps(_mm256_set1_ps(2.0f), q), q, negative);
    return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), x), one_plus_erf);
}

// out[i] = F(x[i]) for the vector form F and scalar form SCALAR_F.
#define VL_MAP_AVX2(F, SCALAR_F)                                                                                     \
    do {                                                                                                             \
        size_t i = 0;                                                                                                \
        for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, F(_mm256_loadu_ps(x + i)));                            \
        for (; i < n; ++i) out[i] = SCALAR_F(x[i]);                                                                  \
    } while (0)

VL_AVX2 static void activate_avx2(vl_activation act, const float *x, float *out, size_t n) {
    switch (act) {
    case VL_ACT_SILU: VL_MAP_AVX2(vl_silu_avx2, vl_silu); break;
    case VL_ACT_GELU_TANH: VL_MAP_AVX2(vl_gelu_tanh_avx2, vl_gelu_tanh); break;
    case VL_ACT_QUICK_GELU: VL_MAP_AVX2(vl_quick_gelu_avx2, vl_quick_gelu); break;
    case VL_ACT_GELU_ERF: VL_MAP_AVX2(vl_gelu_erf_avx2, vl_gelu_erf); break;
    }
}

VL_AVX2 static void swiglu_avx2(const float *gate, const float *up, float *out, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i, _mm256_mul_ps(vl_silu_avx2(_mm256_loadu_ps(gate + i)), _mm256_loadu_ps(up + i)));
    for (; i < n; ++i) out[i] = vl_silu(gate[i]) * up[i];
}

// out[i] = exp(x[i] - shift).
VL_AVX2 static void exp_shifted_avx2(const float *x, float shift, float *out, size_t n) {
    const __m256 sv = _mm256_set1_ps(shift);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, vl_exp_avx2(_mm256_sub_ps(_mm256_loadu_ps(x + i), sv)));
    for (; i < n; ++i) out[i] = vl_exp_scalar(x[i] - shift);
}

VL_AVX2 static void softmax_avx2(float *x, size_t n) {
    exp_shifted_avx2(x, softmax_max(x, n), x, n);
    const float s = sum_avx2(x, n);
    const __m256 sv = _mm256_set1_ps(s);
    size_t k = 0;
    for (; k + 8 <= n; k += 8) _mm256_storeu_ps(x + k, _mm256_div_ps(_mm256_loadu_ps(x + k), sv));
    for (; k < n; ++k) x[k] = x[k] / s;
}

VL_AVX2 static void rope_avx2(float *x, const float *cs, const float *sn, size_t heads, size_t hd, size_t rd) {
    const size_t h = rd / 2;
    for (size_t head = 0; head < heads; ++head) {
        float *xh = x + head * hd;
        size_t i = 0;
        for (; i + 8 <= h; i += 8) {
            const __m256 a = _mm256_loadu_ps(xh + i), b = _mm256_loadu_ps(xh + i + h);
            const __m256 lo = _mm256_sub_ps(_mm256_mul_ps(a, _mm256_loadu_ps(cs + i)),
                                            _mm256_mul_ps(b, _mm256_loadu_ps(sn + i)));
            const __m256 hi = _mm256_add_ps(_mm256_mul_ps(b, _mm256_loadu_ps(cs + i + h)),
                                            _mm256_mul_ps(a, _mm256_loadu_ps(sn + i + h)));
            _mm256_storeu_ps(xh + i, lo);
            _mm256_storeu_ps(xh + i + h, hi);
        }
        rope_pairs_scalar(xh, cs, sn, i, h);
    }
}

// MARK: - AVX-512 (16 lanes = one zmm accumulator)


VL_AVX512 static float sum_avx512(const float *x, size_t n) {
    __m512 s = _mm512_setzero_ps();
    size_t k = 0;
    for (; k + 16 <= n; k += 16) s = _mm512_add_ps(s, _mm512_loadu_ps(x + k));
    if (k < n) s = _mm512_mask_add_ps(s, vl_mask16(n - k), s, _mm512_maskz_loadu_ps(vl_mask16(n - k), x + k));
    return vl_reduce_avx512(s);
}

VL_AVX512 static float sumsq_avx512(const float *x, size_t n, float c) {
    const __m512 cv = _mm512_set1_ps(c);
    __m512 s = _mm512_setzero_ps();
    size_t k = 0;
    for (; k + 16 <= n; k += 16) {
        const __m512 t = _mm512_sub_ps(_mm512_loadu_ps(x + k), cv);
        s = _mm512_fmadd_ps(t, t, s);
    }
    if (k < n) {
        const __mmask16 m = vl_mask16(n - k);
        const __m512 t = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + k), cv);
        s = _mm512_mask3_fmadd_ps(t, t, s, m);  // inactive lanes keep s
    }
    return vl_reduce_avx512(s);
}

VL_AVX512 static void rms_norm_avx512(const float *x, const float *w, float *out, size_t rows, size_t d, float eps,
                                      vl_rms_norm_variant variant) {
    const __m512 one = _mm512_set1_ps(1.0f);
    for (size_t row = 0; row < rows; ++row) {
        const float *xr = x + row * d;
        float *o = out + row * d;
        const float r = vl_rms_scale(sumsq_avx512(xr, d, 0.0f), d, eps);
        const __m512 rv = _mm512_set1_ps(r);
        for (size_t k = 0; k < d; k += 16) {
            const __mmask16 m = d - k >= 16 ? (__mmask16)0xFFFF : vl_mask16(d - k);
            const __m512 y = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, xr + k), rv);
            __m512 v = y;
            if (variant == VL_RMS_NORM_STANDARD) v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, w + k), y);
            if (variant == VL_RMS_NORM_ZERO_CENTRED)
                v = _mm512_mul_ps(y, _mm512_add_ps(one, _mm512_maskz_loadu_ps(m, w + k)));
            _mm512_mask_storeu_ps(o + k, m, v);
        }
    }
}

VL_AVX512 static void layer_norm_avx512(const float *x, const float *w, const float *b, float *out, size_t rows,
                                        size_t d, float eps) {
    for (size_t row = 0; row < rows; ++row) {
        const float *xr = x + row * d;
        float *o = out + row * d;
        const float mean = sum_avx512(xr, d) / (float)d;
        const float r = 1.0f / sqrtf(sumsq_avx512(xr, d, mean) / (float)d + eps);
        const __m512 mv = _mm512_set1_ps(mean), rv = _mm512_set1_ps(r);
        for (size_t k = 0; k < d; k += 16) {
            const __mmask16 m = d - k >= 16 ? (__mmask16)0xFFFF : vl_mask16(d - k);
            const __m512 y = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, xr + k), mv), rv);
            const __m512 v = _mm512_add_ps(_mm512_mul_ps(y, _mm512_maskz_loadu_ps(m, w + k)),
                                           _mm512_maskz_loadu_ps(m, b + k));
            _mm512_mask_storeu_ps(o + k, m, v);
        }
    }
}

VL_AVX512 static void softmax_avx512(float *x, size_t n) {
    exp_shifted_avx2(x, softmax_max(x, n), x, n);
    const __m512 sv = _mm512_set1_ps(sum_avx512(x, n));
    for (size_t k = 0; k < n; k += 16) {
        const __mmask16 m = n - k >= 16 ? (__mmask16)0xFFFF : vl_mask16(n - k);
        _mm512_mask_storeu_ps(x + k, m, _mm512_div_ps(_mm512_maskz_loadu_ps(m, x + k), sv));
    }
}

VL_AVX512 static void rope_avx512(float *x, const float *cs, const float *sn, size_t heads, size_t hd, size_t rd) {
    const size_t h = rd / 2;
    for (size_t head = 0; head < heads; ++head) {
        float *xh = x + head * hd;
        for (size_t i = 0; i < h; i += 16) {
            const __mmask16 m = h - i >= 16 ? (__mmask16)0xFFFF : vl_mask16(h - i);
            const __m512 a = _mm512_maskz_loadu_ps(m, xh + i), b = _mm512_maskz_loadu_ps(m, xh + i + h);
            const __m512 lo = _mm512_sub_ps(_mm512_mul_ps(a, _mm512_maskz_loadu_ps(m, cs + i)),
                                            _mm512_mul_ps(b, _mm512_maskz_loadu_ps(m, sn + i)));
            const __m512 hi = _mm512_add_ps(_mm512_mul_ps(b, _mm512_maskz_loadu_ps(m, cs + i + h)),
                                            _mm512_mul_ps(a, _mm512_maskz_loadu_ps(m, sn + i + h)));
            _mm512_mask_storeu_ps(xh + i, m, lo);
            _mm512_mask_storeu_ps(xh + i + h, m, hi);
        }
    }
}

// MARK: - Dispatch

void vl_rms_norm(vl_isa isa, const float *x, const float *weight, float *out, size_t rows, size_t d, float eps,
                 vl_rms_norm_variant variant) {
    if (rows == 0 || d == 0) return;
    switch (vl_isa_supported(isa)) {
    case VL_ISA_AVX512: rms_norm_avx512(x, weight, out, rows, d, eps, variant); break;
    case VL_ISA_AVX2: rms_norm_avx2(x, weight, out, rows, d, eps, variant); break;
    default: rms_norm_scalar(x, weight, out, rows, d, eps, variant); break;
    }
}

void vl_layer_norm(vl_isa isa, const float *x, const float *weight, const float *bias, float *out, size_t rows,
                   size_t d, float eps) {
    if (rows == 0 || d == 0) return;
    switch (vl_isa_supported(isa)) {
    case VL_ISA_AVX512: layer_norm_avx512(x, weight, bias, out, rows, d, eps); break;
    case VL_ISA_AVX2: layer_norm_avx2(x, weight, bias, out, rows, d, eps); break;
    default: layer_norm_scalar(x, weight, bias, out, rows, d, eps); break;
    }
}

void vl_activate(vl_isa isa, vl_activation act, const float *x, float *out, size_t n) {
    switch (vl_isa_supported(isa)) {
    case VL_ISA_AVX512: /* the AVX2 code (see vl_simd.h) */
    case VL_ISA_AVX2: activate_avx2(act, x, out, n); break;
    default:
        for (size_t i = 0; i < n; ++i) out[i] = vl_activation_value(act, x[i]);
        break;
    }
}

void vl_swiglu(vl_isa isa, const float *gate, const float *up, float *out, size_t n) {
    switch (vl_isa_supported(isa)) {
    case VL_ISA_AVX512: /* the AVX2 code (see vl_simd.h) */
    case VL_ISA_AVX2: swiglu_avx2(gate, up, out, n); break;
    default:
        for (size_t i = 0; i < n; ++i) out[i] = vl_silu(gate[i]) * up[i];
        break;
    }
}

void vl_exp(vl_isa isa, const float *x, float *out, size_t n) {
    switch (vl_isa_supported(isa)) {
    case VL_ISA_AVX512: /* the AVX2 code (see vl_simd.h) */
    case VL_ISA_AVX2: exp_shifted_avx2(x, 0.0f, out, n); break;
    default: exp_shifted_scalar(x, 0.0f, out, n); break;
    }
}

void vl_softmax(vl_isa isa, float *x, size_t n) {
    if (n == 0) return;
    switch (vl_isa_supported(isa)) {
    case VL_ISA_AVX512: softmax_avx512(x, n); break;
    case VL_ISA_AVX2: softmax_avx2(x, n); break;
    default: softmax_scalar(x, n); break;
    }
}

void vl_rope_rotate_half(vl_isa isa, float *x, const float *cos, const float *sin, size_t heads, size_t head_dim,
                         size_t rotary_dim) {
    if (rotary_dim < 2 || rotary_dim > head_dim) return;
    switch (vl_isa_supported(isa)) {
    case VL_ISA_AVX512: rope_avx512(x, cos, sin, heads, head_dim, rotary_dim); break;
    case VL_ISA_AVX2: rope_avx2(x, cos, sin, heads, head_dim, rotary_dim); break;
    default: rope_scalar(x, cos, sin, heads, head_dim, rotary_dim); break;
    }
}
