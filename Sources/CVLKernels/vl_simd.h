// Private helpers shared by the kernel files: target attributes, the fixed summation tree of vl_kernels.h in
// scalar, AVX2 and AVX-512 form, tail masks, and the driver that walks rows and batch groups for the
// matrix-vector kernels. Not part of the public interface (it holds intrinsics; public headers must not).
#ifndef VL_SIMD_H
#define VL_SIMD_H

#include <immintrin.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define VL_AVX2 __attribute__((target("avx2,fma,f16c")))
#define VL_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))
#define VL_INLINE static inline __attribute__((always_inline))

/// The float whose upper 16 bits are `h` (bf16 is the top half of an IEEE binary32: exact).
static inline float vl_bf16_value(uint16_t h) {
    const uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/// The IEEE binary16 `h` as a float, exactly, as vcvtph2ps converts it (a signalling NaN comes back quiet).
static inline float vl_f16_value(uint16_t h) {
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exponent = (h >> 10) & 0x1Fu, mantissa = h & 0x3FFu;
    uint32_t u;
    if (exponent == 0x1Fu) {
        u = sign | 0x7F800000u | (mantissa << 13) | (mantissa != 0 ? 0x00400000u : 0);  // infinity, or a quiet NaN
    } else if (exponent != 0) {
        u = sign | ((exponent + 112) << 23) | (mantissa << 13);  // rebias 15 -> 127
    } else {
        const float magnitude = (float)mantissa * 0x1p-24f;  // zero or subnormal: mantissa * 2^-24, exact
        memcpy(&u, &magnitude, 4);
        u |= sign;
    }
    float f;
    memcpy(&f, &u, 4);
    return f;
}

// exp(x) in float by one fixed sequence of IEEE operations, the same in the scalar and AVX2 forms below (AVX-512 code
// uses the AVX2 form: exponentials are not where its wider registers pay), so every ISA gives the same bits (vl_exp
// in vl_elementwise.h states the contract): Cody-Waite reduction
// x = n ln2 + r with n = rint(x log2 e), Cephes' degree-5 polynomial for e^r on |r| <= ln2 / 2, and the scaling by
// 2^n done as two exact halves (2^floor(n/2) then 2^(n - floor(n/2))) so that results near overflow and in the
// subnormal range are rounded once, like any other.
#define VL_EXP_HI 88.72283935546875f  /* above: +inf (exp overflows) */
#define VL_EXP_LO -103.97208404541016f /* below: +0 (exp is under half the smallest subnormal) */
#define VL_EXP_LOG2E 1.44269504088896341f
#define VL_EXP_C1 0.693359375f     /* ln 2, high part (exact in few bits, so n * C1 is exact) */
#define VL_EXP_C2 -2.12194440e-4f  /* ln 2 - C1 */
#define VL_EXP_P0 1.9875691500e-4f
#define VL_EXP_P1 1.3981999507e-3f
#define VL_EXP_P2 8.3334519073e-3f
#define VL_EXP_P3 4.1665795894e-2f
#define VL_EXP_P4 1.6666665459e-1f
#define VL_EXP_P5 5.0000001201e-1f

static inline float vl_pow2_scalar(float n) {  // 2^n for an integer n in [-126, 127], exactly
    const int32_t bits = ((int32_t)n + 127) << 23;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static inline float vl_exp_scalar(float x) {
    if (x != x) return x;
    if (x > VL_EXP_HI) return INFINITY;
    if (x < VL_EXP_LO) return 0.0f;
    const float n = rintf(x * VL_EXP_LOG2E);
    float r = fmaf(n, -VL_EXP_C1, x);
    r = fmaf(n, -VL_EXP_C2, r);
    float p = fmaf(VL_EXP_P0, r, VL_EXP_P1);
    p = fmaf(p, r, VL_EXP_P2);
    p = fmaf(p, r, VL_EXP_P3);
    p = fmaf(p, r, VL_EXP_P4);
    p = fmaf(p, r, VL_EXP_P5);
    const float r2 = r * r;
    float y = fmaf(p, r2, r);
    y = y + 1.0f;
    const float n1 = floorf(n * 0.5f);
    const float scaled = y * vl_pow2_scalar(n1);
    return scaled * vl_pow2_scalar(n - n1);
}

VL_AVX2 VL_INLINE __m256 vl_pow2_avx2(__m256 n) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_cvttps_epi32(n), _mm256_set1_epi32(127)), 23));
}

VL_AVX2 VL_INLINE __m256 vl_exp_avx2(__m256 x) {
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(VL_EXP_LOG2E)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fmadd_ps(n, _mm256_set1_ps(-VL_EXP_C1), x);
    r = _mm256_fmadd_ps(n, _mm256_set1_ps(-VL_EXP_C2), r);
    __m256 p = _mm256_fmadd_ps(_mm256_set1_ps(VL_EXP_P0), r, _mm256_set1_ps(VL_EXP_P1));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(VL_EXP_P2));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(VL_EXP_P3));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(VL_EXP_P4));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(VL_EXP_P5));
    __m256 y = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r);
    y = _mm256_add_ps(y, _mm256_set1_ps(1.0f));
    const __m256 n1 = _mm256_floor_ps(_mm256_mul_ps(n, _mm256_set1_ps(0.5f)));
    __m256 e = _mm256_mul_ps(_mm256_mul_ps(y, vl_pow2_avx2(n1)), vl_pow2_avx2(_mm256_sub_ps(n, n1)));
    e = _mm256_blendv_ps(e, _mm256_set1_ps(INFINITY), _mm256_cmp_ps(x, _mm256_set1_ps(VL_EXP_HI), _CMP_GT_OQ));
    e = _mm256_blendv_ps(e, _mm256_setzero_ps(), _mm256_cmp_ps(x, _mm256_set1_ps(VL_EXP_LO), _CMP_LT_OQ));
    return _mm256_blendv_ps(e, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));  // NaN stays NaN
}

/// The halving tree of vl_kernels.h over 16 lane sums: 16 -> 8 -> 4 -> 2 -> 1.
static inline float vl_reduce16(const float s[16]) {
    float t[8], u[4], v[2];
    for (int i = 0; i < 8; ++i) t[i] = s[i] + s[i + 8];
    for (int i = 0; i < 4; ++i) u[i] = t[i] + t[i + 4];
    for (int i = 0; i < 2; ++i) v[i] = u[i] + u[i + 2];
    return v[0] + v[1];
}

/// 8 consecutive weights as floats, exactly (bf16 by a shift, f16 by F16C).
VL_AVX2 VL_INLINE __m256 vl_load8_f32(const float *p) { return _mm256_loadu_ps(p); }
VL_AVX2 VL_INLINE __m256 vl_load8_bf16(const uint16_t *p) {
    const __m256i h = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(h, 16));
}
VL_AVX2 VL_INLINE __m256 vl_load8_f16(const uint16_t *p) {
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}

/// The halving tree over 8 lane sums: 8 -> 4 -> 2 -> 1 (the quantized products' order, vl_quant.h).
static inline float vl_reduce8(const float s[8]) {
    float u[4], v[2];
    for (int i = 0; i < 4; ++i) u[i] = s[i] + s[i + 4];
    for (int i = 0; i < 2; ++i) v[i] = u[i] + u[i + 2];
    return v[0] + v[1];
}

/// vl_reduce8 of the 8 lanes of `s`.
VL_AVX2 VL_INLINE float vl_reduce8_avx2(__m256 s) {
    const __m128 u = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));  // u[i] = s[i] + s[i + 4]
    const __m128 v = _mm_add_ps(u, _mm_movehl_ps(u, u));                                // v[i] = u[i] + u[i + 2]
    return _mm_cvtss_f32(_mm_add_ss(v, _mm_movehdup_ps(v)));                             // v[0] + v[1]
}

/// vl_reduce16 of lanes 0..7 in `lo` and 8..15 in `hi`.
VL_AVX2 VL_INLINE float vl_reduce_avx2(__m256 lo, __m256 hi) {
    const __m256 t = _mm256_add_ps(lo, hi);                                              // t[i] = s[i] + s[i + 8]
    const __m128 u = _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));  // u[i] = t[i] + t[i + 4]
    const __m128 v = _mm_add_ps(u, _mm_movehl_ps(u, u));                                // v[i] = u[i] + u[i + 2]
    return _mm_cvtss_f32(_mm_add_ss(v, _mm_movehdup_ps(v)));                             // v[0] + v[1]
}

/// vl_reduce16 of the 16 lanes of `s`.
VL_AVX512 VL_INLINE float vl_reduce_avx512(__m512 s) {
    const __m256 lo = _mm512_castps512_ps256(s);
    const __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(s), 1));
    const __m256 t = _mm256_add_ps(lo, hi);                                              // t[i] = s[i] + s[i + 8]
    const __m128 u = _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));  // u[i] = t[i] + t[i + 4]
    const __m128 v = _mm_add_ps(u, _mm_movehl_ps(u, u));                                // v[i] = u[i] + u[i + 2]
    return _mm_cvtss_f32(_mm_add_ss(v, _mm_movehdup_ps(v)));                             // v[0] + v[1]
}

/// The mask of the first `rem` (< 16) lanes.
VL_AVX512 VL_INLINE __mmask16 vl_mask16(size_t rem) { return (__mmask16)((1u << rem) - 1u); }

// The register tile of the AVX-512 matrix multiplies: R rows (compile-time after inlining) of 32 float accumulators,
// c0 for columns 0..15 (mask m0) and c1 for 16..31 (mask m1), for the tile of Y at y with row stride ldy.
/// The masks of a tile's columns when nv (1..32) of its 32 columns exist: m0 for columns 0..15, m1 for 16..31.
VL_AVX512 VL_INLINE void vl_tile32_masks(size_t nv, __mmask16 *m0, __mmask16 *m1) {
    *m0 = nv >= 16 ? (__mmask16)0xFFFF : vl_mask16(nv);
    *m1 = nv <= 16 ? (__mmask16)0 : nv >= 32 ? (__mmask16)0xFFFF : vl_mask16(nv - 16);
}
/// Starts the tile at zero (the first K block) or from Y (a later one, which continues the sums stored there).
VL_AVX512 VL_INLINE void vl_tile32_begin(__m512 *c0, __m512 *c1, const int R, const float *y, size_t ldy,
                                         __mmask16 m0, __mmask16 m1, int first) {
    for (int i = 0; i < R; ++i) {
        c0[i] = first ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(m0, y + i * ldy);
        c1[i] = first ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(m1, y + i * ldy + 16);
    }
}
/// Adds the tile's 32 biases (NULL: none, as before the last K block) and stores the tile to Y.
VL_AVX512 VL_INLINE void vl_tile32_end(__m512 *c0, __m512 *c1, const int R, float *y, size_t ldy, __mmask16 m0,
                                       __mmask16 m1, const float *bias) {
    if (bias) {
        const __m512 bias0 = _mm512_maskz_loadu_ps(m0, bias), bias1 = _mm512_maskz_loadu_ps(m1, bias + 16);
        for (int i = 0; i < R; ++i) {
            c0[i] = _mm512_add_ps(c0[i], bias0);
            c1[i] = _mm512_add_ps(c1[i], bias1);
        }
    }
    for (int i = 0; i < R; ++i) {
        _mm512_mask_storeu_ps(y + i * ldy, m0, c0[i]);
        _mm512_mask_storeu_ps(y + i * ldy + 16, m1, c1[i]);
    }
}

// Columns per chunk when several batch groups share a row block: the inputs of a pass (VL_PASS_GROUPS * GROUP
// vectors of VL_MATVEC_CHUNK columns, 9 KB for 9 float vectors) then stay in L1 next to the weights, instead of
// streaming from L2 once per group. A multiple of 32, so chunk boundaries split neither the 16 lanes of the float
// order nor a quantization block. (Measured on AVX2: chunks help when groups share rows; tiling several row blocks
// per chunk, or chunking a single group, made things slower.)
#define VL_MATVEC_CHUNK 256
#define VL_PASS_GROUPS 3

// Drives a block function over rows and batch vectors. For each row block (RMAIN(g) rows for groups of g vectors),
// the batch goes in passes of up to VL_PASS_GROUPS groups of GROUP vectors, so weight rows are read from memory once
// for up to VL_PASS_GROUPS * GROUP vectors; within a pass of several groups the columns go in chunks, and every group
// runs over a chunk before the next chunk, its accumulators parked in state[group] (VEC STATE_DIMS) between chunks.
// Each element's summation order is unchanged. XT: the input element type, xs: the input stride in XT elements. The
// block function takes (k0, k1, state[g]); CASES: `case rows * 16 + vectors:` labels calling it.
#define VL_DEFINE_CHUNKED_DRIVER(NAME, ATTR, WT, XT, VEC, STATE_DIMS, GROUP, RMAIN, CASES)                           \
    ATTR static void NAME(const WT *w, size_t cols, size_t rb, size_t re, const XT *x, size_t xs, size_t batch,      \
                          float *y, size_t ys) {                                                                     \
        if (batch == 0) return;                                                                                      \
        const size_t pass = (GROUP) * VL_PASS_GROUPS;                                                                \
        const size_t rmain = RMAIN(batch < (GROUP) ? batch : (GROUP));                                               \
        const size_t chunk = batch > (GROUP) ? VL_MATVEC_CHUNK : cols;                                               \
        VEC state[VL_PASS_GROUPS] STATE_DIMS;                                                                        \
        for (size_t r = rb; r < re;) {                                                                               \
            const size_t rows = re - r >= rmain ? rmain : 1;                                                         \
            for (size_t p0 = 0; p0 < batch; p0 += pass) {                                                            \
                const size_t pend = batch - p0 < pass ? batch : p0 + pass;                                           \
                size_t k0 = 0;                                                                                       \
                do { /* at least once, so that cols == 0 still writes its zero outputs */                            \
                    const size_t k1 = cols - k0 > chunk ? k0 + chunk : cols;                                         \
                    for (size_t b0 = p0, g = 0; b0 < pend; b0 += (GROUP), ++g) {                                     \
                        const size_t nb = pend - b0 < (GROUP) ? pend - b0 : (GROUP);                                 \
                        switch (rows * 16 + nb) { CASES default: break; }                                            \
                    }                                                                                                \
                    k0 = k1;                                                                                         \
                } while (k0 < cols);                                                                                 \
            }                                                                                                        \
            r += rows;                                                                                               \
        }                                                                                                            \
    }

#endif
