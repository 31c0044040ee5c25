// Batched matrix-vector products y[b][r] = sum_k W[r][k] * x[b][k], F32, BF16 and F16 weights.
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

// MARK: - Scalar reference

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
VL_DEFINE_SCALAR(matvec_scalar_f16, uint16_t, vl_f16_value)

// MARK: - AVX2 + FMA (16 lanes = two ymm accumulators per output; up to 4 batch vectors per pass over a row)


// One block: rows [r, r + R) times batch vectors [0, NB) over columns [k, k_end); R and NB are compile-time constants
// after inlining. The accumulators enter from `state` (unless k == 0) and leave through it, unless k_end == cols: then
// the tail is added and the block writes its outputs.
#define VL_DEFINE_AVX2_BLOCK(NAME, WT, LOAD8)                                                                        \
    VL_AVX2 VL_INLINE void NAME(const WT *w, size_t cols, size_t r, const int R, const float *x, size_t xs,         \
                                const int NB, size_t k, size_t k_end, __m256 state[2][4][4], float *y, size_t ys) {  \
        __m256 acc[2][4][4]; /* [half: lanes 0..7 or 8..15][row][vector] */                                        \
        for (int h = 0; h < 2; ++h)                                                                                  \
            for (int i = 0; i < R; ++i)                                                                              \
                for (int b = 0; b < NB; ++b) acc[h][i][b] = k == 0 ? _mm256_setzero_ps() : state[h][i][b];           \
        for (; k + 16 <= k_end; k += 16) {                                                                           \
            /* prefetch the same columns of the next row block: one block ahead, whatever the row length */          \
            for (int i = 0; i < R; ++i) _mm_prefetch((const char *)(w + (r + R + i) * cols + k), _MM_HINT_T0);     \
            for (int h = 0; h < 2; ++h) { /* each input load feeds R rows: R + NB loads for R * NB FMAs */           \
                __m256 wv[4];                                                                                        \
                for (int i = 0; i < R; ++i) wv[i] = LOAD8(w + (r + i) * cols + k + 8 * h);                          \
                for (int b = 0; b < NB; ++b) {                                                                       \
                    const __m256 xv = _mm256_loadu_ps(x + b * xs + k + 8 * h);                                       \
                    for (int i = 0; i < R; ++i) acc[h][i][b] = _mm256_fmadd_ps(wv[i], xv, acc[h][i][b]);             \
                }                                                                                                    \
            }                                                                                                        \
        }                                                                                                            \
        if (k_end < cols) {                                                                                          \
            for (int h = 0; h < 2; ++h)                                                                              \
                for (int i = 0; i < R; ++i)                                                                          \
                    for (int b = 0; b < NB; ++b) state[h][i][b] = acc[h][i][b];                                      \
            return;                                                                                                  \
        }                                                                                                            \
        if (k < cols) { /* tail of 1..15: inactive lanes keep their value exactly (blend, not a zero FMA) */         \
            const int rem = (int)(cols - k);                                                                         \
            const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);                                           \
            const __m256i m[2] = {_mm256_cmpgt_epi32(_mm256_set1_epi32(rem), idx),                                   \
                                  _mm256_cmpgt_epi32(_mm256_set1_epi32(rem - 8), idx)};                              \
            __m256 wv[2][4];                                                                                         \
            for (int i = 0; i < R; ++i) {                                                                            \
                WT tmp[16];                                                                                          \
                memset(tmp, 0, sizeof tmp);                                                                          \
                memcpy(tmp, w + (r + i) * cols + k, (size_t)rem * sizeof(WT));                                       \
                wv[0][i] = LOAD8(tmp);                                                                               \
                wv[1][i] = LOAD8(tmp + 8);                                                                           \
            }                                                                                                        \
            for (int h = 0; h < 2; ++h)                                                                              \
                for (int b = 0; b < NB; ++b) {                                                                       \
                    const __m256 xv = _mm256_maskload_ps(x + b * xs + k + 8 * h, m[h]);                              \
                    for (int i = 0; i < R; ++i)                                                                      \
                        acc[h][i][b] = _mm256_blendv_ps(acc[h][i][b], _mm256_fmadd_ps(wv[h][i], xv, acc[h][i][b]),   \
                                                        _mm256_castsi256_ps(m[h]));                                  \
                }                                                                                                    \
        }                                                                                                            \
        for (int i = 0; i < R; ++i)                                                                                  \
            for (int b = 0; b < NB; ++b) y[b * ys + r + i] = vl_reduce_avx2(acc[0][i][b], acc[1][i][b]);            \
    }

VL_DEFINE_AVX2_BLOCK(block_avx2_f32, float, vl_load8_f32)
VL_DEFINE_AVX2_BLOCK(block_avx2_bf16, uint16_t, vl_load8_bf16)
VL_DEFINE_AVX2_BLOCK(block_avx2_f16, uint16_t, vl_load8_f16)

// One `case` of VL_DEFINE_CHUNKED_DRIVER (vl_simd.h): R rows by NB vectors.
#define VL_CPAIR(BLOCK, R, NB)                                                                                       \
    case (R) * 16 + (NB): BLOCK(w, cols, r, R, x + b0 * xs, xs, NB, k0, k1, state[g], y + b0 * ys, ys); break;

// Rows per block: 4 for one vector, else 2; groups of 3 vectors use 2 rows (12 accumulators + 2 weight + 1 input
// registers of the 16).
#define VL_AVX2_RMAIN(g) ((g) == 1 ? 4 : 2)
#define VL_AVX2_CASES(B)                                                                                             \
    VL_CPAIR(B, 4, 1) VL_CPAIR(B, 2, 1) VL_CPAIR(B, 2, 2) VL_CPAIR(B, 2, 3) VL_CPAIR(B, 1, 1) VL_CPAIR(B, 1, 2)      \
    VL_CPAIR(B, 1, 3)

VL_DEFINE_CHUNKED_DRIVER(matvec_avx2_f32, VL_AVX2, float, float, __m256, [2][4][4], 3, VL_AVX2_RMAIN,
                         VL_AVX2_CASES(block_avx2_f32))
VL_DEFINE_CHUNKED_DRIVER(matvec_avx2_bf16, VL_AVX2, uint16_t, float, __m256, [2][4][4], 3, VL_AVX2_RMAIN,
                         VL_AVX2_CASES(block_avx2_bf16))
VL_DEFINE_CHUNKED_DRIVER(matvec_avx2_f16, VL_AVX2, uint16_t, float, __m256, [2][4][4], 3, VL_AVX2_RMAIN,
                         VL_AVX2_CASES(block_avx2_f16))

// MARK: - AVX-512 (16 lanes = one zmm accumulator per output; up to 8 batch vectors per pass over a row)

VL_AVX512 VL_INLINE __m512 vl_load16_f32(const float *p, __mmask16 m) { return _mm512_maskz_loadu_ps(m, p); }
VL_AVX512 VL_INLINE __m512 vl_load16_bf16(const uint16_t *p, __mmask16 m) {
    const __m512i h = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, p));
    return _mm512_castsi512_ps(_mm512_slli_epi32(h, 16));
}
VL_AVX512 VL_INLINE __m512 vl_load16_f16(const uint16_t *p, __mmask16 m) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p));
}

// One block, as VL_DEFINE_AVX2_BLOCK: rows [r, r + R) times vectors [0, NB) over columns [k, k_end), through `state`.
#define VL_DEFINE_AVX512_BLOCK(NAME, WT, LOAD16)                                                                     \
    VL_AVX512 VL_INLINE void NAME(const WT *w, size_t cols, size_t r, const int R, const float *x, size_t xs,       \
                                  const int NB, size_t k, size_t k_end, __m512 state[4][8], float *y, size_t ys) {  \
        __m512 acc[4][8];                                                                                            \
        for (int i = 0; i < R; ++i)                                                                                  \
            for (int b = 0; b < NB; ++b) acc[i][b] = k == 0 ? _mm512_setzero_ps() : state[i][b];                     \
        for (; k + 16 <= k_end; k += 16) {                                                                           \
            __m512 wv[4];                                                                                            \
            for (int i = 0; i < R; ++i) {                                                                            \
                _mm_prefetch((const char *)(w + (r + R + i) * cols + k), _MM_HINT_T0);                               \
                wv[i] = LOAD16(w + (r + i) * cols + k, (__mmask16)0xFFFF);                                           \
            }                                                                                                        \
            for (int b = 0; b < NB; ++b) {                                                                           \
                const __m512 xv = _mm512_loadu_ps(x + b * xs + k);                                                   \
                for (int i = 0; i < R; ++i) acc[i][b] = _mm512_fmadd_ps(wv[i], xv, acc[i][b]);                       \
            }                                                                                                        \
        }                                                                                                            \
        if (k_end < cols) {                                                                                          \
            for (int i = 0; i < R; ++i)                                                                              \
                for (int b = 0; b < NB; ++b) state[i][b] = acc[i][b];                                                \
            return;                                                                                                  \
        }                                                                                                            \
        if (k < cols) { /* tail: masked loads, and masked FMAs that leave inactive lanes untouched */                \
            const __mmask16 m = vl_mask16(cols - k);                                                                 \
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
VL_DEFINE_AVX512_BLOCK(block_avx512_f16, uint16_t, vl_load16_f16)

// Rows per block for g vectors: 4 rows for up to 4 vectors (up to 16 accumulators), 3 rows for 5 to 8 (up to 24
// accumulators, 3 weight registers, inputs as memory operands: 32 registers). Each input load then feeds 3 FMAs
// instead of 1, and a batch of 8 is bound by the FMA units rather than the loads: measured in L2 on one Zen 5 core
// (256 x 1536 bf16), 8 vectors run at 19 GB/s of weights with 3 rows, 15 with 2 and 10 with 1.
#define VL_AVX512_RMAIN(g) ((g) <= 4 ? 4 : 3)

// Cases for a first group of g vectors (RMAIN(g) rows), for the last group of a batch over 8 (3 rows, 1..8 vectors)
// and for the rows left over (1 row).
#define VL_AVX512_CASES(B)                                                                                           \
    VL_CPAIR(B, 4, 1) VL_CPAIR(B, 4, 2) VL_CPAIR(B, 4, 3) VL_CPAIR(B, 4, 4) VL_CPAIR(B, 3, 1) VL_CPAIR(B, 3, 2)      \
    VL_CPAIR(B, 3, 3) VL_CPAIR(B, 3, 4) VL_CPAIR(B, 3, 5) VL_CPAIR(B, 3, 6) VL_CPAIR(B, 3, 7) VL_CPAIR(B, 3, 8)      \
    VL_CPAIR(B, 1, 1) VL_CPAIR(B, 1, 2) VL_CPAIR(B, 1, 3) VL_CPAIR(B, 1, 4) VL_CPAIR(B, 1, 5) VL_CPAIR(B, 1, 6)      \
    VL_CPAIR(B, 1, 7) VL_CPAIR(B, 1, 8)

VL_DEFINE_CHUNKED_DRIVER(matvec_avx512_f32, VL_AVX512, float, float, __m512, [4][8], 8, VL_AVX512_RMAIN,
                         VL_AVX512_CASES(block_avx512_f32))
VL_DEFINE_CHUNKED_DRIVER(matvec_avx512_bf16, VL_AVX512, uint16_t, float, __m512, [4][8], 8, VL_AVX512_RMAIN,
                         VL_AVX512_CASES(block_avx512_bf16))
VL_DEFINE_CHUNKED_DRIVER(matvec_avx512_f16, VL_AVX512, uint16_t, float, __m512, [4][8], 8, VL_AVX512_RMAIN,
                         VL_AVX512_CASES(block_avx512_f16))

// MARK: - Dispatch

// The public entry point for weights of element type WT: the best supported isa.
#define VL_DEFINE_MATVEC_DISPATCH(NAME, WT, SUFFIX)                                                                  \
    void NAME(vl_isa isa, const WT *w, size_t cols, size_t row_begin, size_t row_end, const float *x,               \
              size_t x_stride, size_t batch, float *y, size_t y_stride) {                                            \
        switch (vl_isa_supported(isa)) {                                                                             \
        case VL_ISA_AVX512:                                                                                          \
            matvec_avx512_##SUFFIX(w, cols, row_begin, row_end, x, x_stride, batch, y, y_stride);                    \
            break;                                                                                                   \
        case VL_ISA_AVX2: matvec_avx2_##SUFFIX(w, cols, row_begin, row_end, x, x_stride, batch, y, y_stride); break; \
        default: matvec_scalar_##SUFFIX(w, cols, row_begin, row_end, x, x_stride, batch, y, y_stride); break;        \
        }                                                                                                            \
    }

VL_DEFINE_MATVEC_DISPATCH(vl_matvec_f32, float, f32)
VL_DEFINE_MATVEC_DISPATCH(vl_matvec_bf16, uint16_t, bf16)
VL_DEFINE_MATVEC_DISPATCH(vl_matvec_f16, uint16_t, f16)
