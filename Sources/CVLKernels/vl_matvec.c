// Batched matrix-vector products y[b][r] = sum_k W[r][k] * x[b][k], F32 and BF16 weights.
//
// Every output element is computed in the order fixed in vl_kernels.h (16 lanes of fused multiply-adds, k % 16
// picks the lane, then a fixed halving tree), by every ISA. Blocking over rows and batch vectors only changes which
// accumulators live in registers together, never the order of one element's sum, so results are bit-identical
// across ISAs, row ranges (thread splits) and batch sizes.
#include "vl_kernels.h"
#include "vl_simd.h"

#include <immintrin.h>
#include <math.h>
#include <string.h>


// Software prefetch distance, in weight elements ahead in the same row (a prefetch past a row's end warms the
// start of a later row, and never faults).
#ifndef VL_PREFETCH
#define VL_PREFETCH 512
#endif

// MARK: - Scalar reference

static inline float vl_bf16_value(uint16_t h) {
    const uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

#define VL_DEFINE_SCALAR(NAME, WT, VALUE)                                                                            \
    static void NAME(const WT *w, size_t cols, size_t rb, size_t re, const float *x, size_t xs, size_t batch,        \
                     float *y, size_t ys) {                                                                          \
        for (size_t r = rb; r < re; ++r) {                                                                           \
            const WT *row = w + r * cols;                                                                            \
            for (size_t b = 0; b < batch; ++b) {                                                                     \
                const float *xb = x + b * xs;                                                                        \
                float s[16] = {0};                                                                                   \
                for (size_t k = 0; k < cols; ++k) s[k & 15] = fmaf(VALUE(row[k]), xb[k], s[k & 15]);                \
                y[b * ys + r] = vl_reduce16(s);                                                                      \
            }                                                                                                        \
        }                                                                                                            \
    }

#define VL_F32_VALUE(v) (v)
VL_DEFINE_SCALAR(matvec_scalar_f32, float, VL_F32_VALUE)
VL_DEFINE_SCALAR(matvec_scalar_bf16, uint16_t, vl_bf16_value)

// MARK: - AVX2 + FMA (16 lanes = two ymm accumulators per output; up to 4 batch vectors per pass over a row)

VL_AVX2 VL_INLINE __m256 vl_load8_f32(const float *p) { return _mm256_loadu_ps(p); }
VL_AVX2 VL_INLINE __m256 vl_load8_bf16(const uint16_t *p) {
    const __m256i h = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(h, 16));
}

// One block: rows [r, r + R) times batch vectors [0, NB), R and NB compile-time constants after inlining.
#define VL_DEFINE_AVX2_BLOCK(NAME, WT, LOAD8)                                                                        \
    VL_AVX2 VL_INLINE void NAME(const WT *w, size_t cols, size_t r, const int R, const float *x, size_t xs,         \
                                const int NB, float *y, size_t ys) {                                                 \
        __m256 lo[4][4], hi[4][4];                                                                                   \
        for (int i = 0; i < R; ++i)                                                                                  \
            for (int b = 0; b < NB; ++b) lo[i][b] = hi[i][b] = _mm256_setzero_ps();                                  \
        size_t k = 0;                                                                                                \
        for (; k + 16 <= cols; k += 16) { /* one row at a time: 2 weight + 2 input registers, <= 8 accumulators */ \
            for (int i = 0; i < R; ++i) {                                                                            \
                _mm_prefetch((const char *)(w + (r + i) * cols + k + VL_PREFETCH), _MM_HINT_T0);                     \
                const __m256 w0 = LOAD8(w + (r + i) * cols + k), w1 = LOAD8(w + (r + i) * cols + k + 8);             \
                for (int b = 0; b < NB; ++b) {                                                                       \
                    lo[i][b] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x + b * xs + k), lo[i][b]);                       \
                    hi[i][b] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(x + b * xs + k + 8), hi[i][b]);                   \
                }                                                                                                    \
            }                                                                                                        \
        }                                                                                                            \
        if (k < cols) { /* tail of 1..15: inactive lanes keep their value exactly (blend, not a zero FMA) */         \
            const int rem = (int)(cols - k);                                                                         \
            const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);                                           \
            const __m256i m0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(rem), idx);                                      \
            const __m256i m1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(rem - 8), idx);                                  \
            __m256 w0[4], w1[4];                                                                                     \
            for (int i = 0; i < R; ++i) {                                                                            \
                WT tmp[16];                                                                                          \
                memset(tmp, 0, sizeof tmp);                                                                          \
                memcpy(tmp, w + (r + i) * cols + k, (size_t)rem * sizeof(WT));                                       \
                w0[i] = LOAD8(tmp);                                                                                  \
                w1[i] = LOAD8(tmp + 8);                                                                              \
            }                                                                                                        \
            for (int b = 0; b < NB; ++b) {                                                                           \
                const __m256 x0 = _mm256_maskload_ps(x + b * xs + k, m0);                                            \
                const __m256 x1 = _mm256_maskload_ps(x + b * xs + k + 8, m1);                                        \
                for (int i = 0; i < R; ++i) {                                                                        \
                    lo[i][b] = _mm256_blendv_ps(lo[i][b], _mm256_fmadd_ps(w0[i], x0, lo[i][b]),                      \
                                                _mm256_castsi256_ps(m0));                                            \
                    hi[i][b] = _mm256_blendv_ps(hi[i][b], _mm256_fmadd_ps(w1[i], x1, hi[i][b]),                      \
                                                _mm256_castsi256_ps(m1));                                            \
                }                                                                                                    \
            }                                                                                                        \
        }                                                                                                            \
        for (int i = 0; i < R; ++i)                                                                                  \
            for (int b = 0; b < NB; ++b) y[b * ys + r + i] = vl_reduce_avx2(lo[i][b], hi[i][b]);                    \
    }

VL_DEFINE_AVX2_BLOCK(block_avx2_f32, float, vl_load8_f32)
VL_DEFINE_AVX2_BLOCK(block_avx2_bf16, uint16_t, vl_load8_bf16)

// One `case` of VL_DEFINE_DRIVER (vl_simd.h): R rows by NB vectors.
#define VL_PAIR(BLOCK, R, NB)                                                                                        \
    case (R) * 16 + (NB): BLOCK(w, cols, r, R, x + b0 * xs, xs, NB, y + b0 * ys, ys); break;

#define VL_AVX2_CASES(B)                                                                                             \
    VL_PAIR(B, 4, 1) VL_PAIR(B, 2, 1) VL_PAIR(B, 2, 2) VL_PAIR(B, 1, 1) VL_PAIR(B, 1, 2) VL_PAIR(B, 1, 3)            \
    VL_PAIR(B, 1, 4)

VL_DEFINE_DRIVER(matvec_avx2_f32, VL_AVX2, float, 4, VL_AVX2_RMAIN, VL_AVX2_CASES(block_avx2_f32))
VL_DEFINE_DRIVER(matvec_avx2_bf16, VL_AVX2, uint16_t, 4, VL_AVX2_RMAIN, VL_AVX2_CASES(block_avx2_bf16))

// MARK: - AVX-512 (16 lanes = one zmm accumulator per output; up to 8 batch vectors per pass over a row)

VL_AVX512 VL_INLINE __m512 vl_load16_f32(const float *p, __mmask16 m) { return _mm512_maskz_loadu_ps(m, p); }
VL_AVX512 VL_INLINE __m512 vl_load16_bf16(const uint16_t *p, __mmask16 m) {
    const __m512i h = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, p));
    return _mm512_castsi512_ps(_mm512_slli_epi32(h, 16));
}

#define VL_DEFINE_AVX512_BLOCK(NAME, WT, LOAD16)                                                                     \
    VL_AVX512 VL_INLINE void NAME(const WT *w, size_t cols, size_t r, const int R, const float *x, size_t xs,       \
                                  const int NB, float *y, size_t ys) {                                               \
        __m512 acc[4][8];                                                                                            \
        for (int i = 0; i < R; ++i)                                                                                  \
            for (int b = 0; b < NB; ++b) acc[i][b] = _mm512_setzero_ps();                                            \
        size_t k = 0;                                                                                                \
        for (; k + 16 <= cols; k += 16) {                                                                            \
            __m512 wv[4];                                                                                            \
            for (int i = 0; i < R; ++i) {                                                                            \
                _mm_prefetch((const char *)(w + (r + i) * cols + k + VL_PREFETCH), _MM_HINT_T0);                     \
                wv[i] = LOAD16(w + (r + i) * cols + k, (__mmask16)0xFFFF);                                           \
            }                                                                                                        \
            for (int b = 0; b < NB; ++b) {                                                                           \
                const __m512 xv = _mm512_loadu_ps(x + b * xs + k);                                                   \
                for (int i = 0; i < R; ++i) acc[i][b] = _mm512_fmadd_ps(wv[i], xv, acc[i][b]);                       \
            }                                                                                                        \
        }                                                                                                            \
        if (k < cols) { /* tail: masked loads, and masked FMAs that leave inactive lanes untouched */                \
            const __mmask16 m = (__mmask16)((1u << (cols - k)) - 1u);                                                \
            __m512 wv[4];                                                                                            \
            for (int i = 0; i < R; ++i) wv[i] = LOAD16(w + (r + i) * cols + k, m);                                   \
            for (int b = 0; b < NB; ++b) {                                                                           \
                const __m512 xv = _mm512_maskz_loadu_ps(m, x + b * xs + k);                                          \
                for (int i = 0; i < R; ++i) acc[i][b] = _mm512_mask3_fmadd_ps(wv[i], xv, acc[i][b], m);              \
            }                                                                                                        \
        }                                                                                                            \
        for (int i = 0; i < R; ++i)                                                                                  \
            for (int b = 0; b < NB; ++b) y[b * ys + r + i] = vl_reduce_avx512(acc[i][b]);                            \
    }

VL_DEFINE_AVX512_BLOCK(block_avx512_f32, float, vl_load16_f32)
VL_DEFINE_AVX512_BLOCK(block_avx512_bf16, uint16_t, vl_load16_bf16)

#define VL_AVX512_CASES(B)                                                                                           \
    VL_PAIR(B, 4, 1) VL_PAIR(B, 4, 2) VL_PAIR(B, 2, 1) VL_PAIR(B, 2, 2) VL_PAIR(B, 2, 3) VL_PAIR(B, 2, 4)            \
    VL_PAIR(B, 1, 1) VL_PAIR(B, 1, 2) VL_PAIR(B, 1, 3) VL_PAIR(B, 1, 4) VL_PAIR(B, 1, 5) VL_PAIR(B, 1, 6)            \
    VL_PAIR(B, 1, 7) VL_PAIR(B, 1, 8)

VL_DEFINE_DRIVER(matvec_avx512_f32, VL_AVX512, float, 8, VL_AVX512_RMAIN, VL_AVX512_CASES(block_avx512_f32))
VL_DEFINE_DRIVER(matvec_avx512_bf16, VL_AVX512, uint16_t, 8, VL_AVX512_RMAIN, VL_AVX512_CASES(block_avx512_bf16))

// MARK: - Dispatch

void vl_matvec_f32(vl_isa isa, const float *w, size_t cols, size_t row_begin, size_t row_end, const float *x,
                   size_t x_stride, size_t batch, float *y, size_t y_stride) {
    switch (vl_isa_supported(isa)) {
    case VL_ISA_AVX512: matvec_avx512_f32(w, cols, row_begin, row_end, x, x_stride, batch, y, y_stride); break;
    case VL_ISA_AVX2: matvec_avx2_f32(w, cols, row_begin, row_end, x, x_stride, batch, y, y_stride); break;
    default: matvec_scalar_f32(w, cols, row_begin, row_end, x, x_stride, batch, y, y_stride); break;
    }
}

void vl_matvec_bf16(vl_isa isa, const uint16_t *w, size_t cols, size_t row_begin, size_t row_end, const float *x,
                    size_t x_stride, size_t batch, float *y, size_t y_stride) {
    switch (vl_isa_supported(isa)) {
    case VL_ISA_AVX512: matvec_avx512_bf16(w, cols, row_begin, row_end, x, x_stride, batch, y, y_stride); break;
    case VL_ISA_AVX2: matvec_avx2_bf16(w, cols, row_begin, row_end, x, x_stride, batch, y, y_stride); break;
    default: matvec_scalar_bf16(w, cols, row_begin, row_end, x, x_stride, batch, y, y_stride); break;
    }
}
