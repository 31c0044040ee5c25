// Private helpers shared by the kernel files: target attributes, the fixed summation tree of vl_kernels.h in
// scalar, AVX2 and AVX-512 form, tail masks, and the driver that walks rows and batch groups for the
// matrix-vector kernels. Not part of the public interface (it holds intrinsics; public headers must not).
#ifndef VL_SIMD_H
#define VL_SIMD_H

#include <immintrin.h>
#include <stddef.h>

#define VL_AVX2 __attribute__((target("avx2,fma,f16c")))
#define VL_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))
#define VL_INLINE static inline __attribute__((always_inline))

/// The halving tree of vl_kernels.h over 16 lane sums: 16 -> 8 -> 4 -> 2 -> 1.
static inline float vl_reduce16(const float s[16]) {
    float t[8], u[4], v[2];
    for (int i = 0; i < 8; ++i) t[i] = s[i] + s[i + 8];
    for (int i = 0; i < 4; ++i) u[i] = t[i] + t[i + 4];
    for (int i = 0; i < 2; ++i) v[i] = u[i] + u[i + 2];
    return v[0] + v[1];
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

// Rows per block for a pass of g batch vectors: fewer rows when more vectors share the registers.
#define VL_AVX2_RMAIN(g) ((g) == 1 ? 4 : (g) == 2 ? 2 : 1)
#define VL_AVX512_RMAIN(g) ((g) <= 2 ? 4 : (g) <= 4 ? 2 : 1)

// Drives a block function over rows and batch groups; each weight row block is read from memory once, and the
// batch groups after the first find it in cache. GROUP: vectors per pass; RMAIN(g): rows per block for g
// vectors; CASES: `case rows * 16 + vectors:` labels calling the block function (VL_PAIR / VL_QPAIR).
#define VL_DEFINE_DRIVER(NAME, ATTR, WT, GROUP, RMAIN, CASES)                                                        \
    ATTR static void NAME(const WT *w, size_t cols, size_t rb, size_t re, const float *x, size_t xs, size_t batch,   \
                          float *y, size_t ys) {                                                                     \
        if (batch == 0) return;                                                                                      \
        const size_t first = batch < (GROUP) ? batch : (GROUP);                                                      \
        const size_t rmain = RMAIN(first);                                                                           \
        for (size_t r = rb; r < re;) {                                                                               \
            const size_t rows = re - r >= rmain ? rmain : 1;                                                         \
            for (size_t b0 = 0; b0 < batch; b0 += (GROUP)) {                                                         \
                const size_t nb = batch - b0 < (GROUP) ? batch - b0 : (GROUP);                                       \
                switch (rows * 16 + nb) { CASES default: break; }                                                    \
            }                                                                                                        \
            r += rows;                                                                                               \
        }                                                                                                            \
    }

#endif
