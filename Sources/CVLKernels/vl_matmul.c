// Matrix multiply Y[m][n] = sum_k X[m][k] * W[n][k] (+ bias[n]), F32, BF16 and F16 weights, over a column range
// (q8 / q4 weights: vl_quant_product.c).
//
// Order of every element's sum (see vl_matmul.h): sequential over k with fused multiply-adds from +0, then the bias
// added once. The fast variants block the loops GotoBLAS-style but keep that order exactly:
//   for each block of NC columns of the range:
//     for each block of KC values of k (in increasing k):
//       pack W[cols][k block] into panels of NR columns, [k][NR] each (bf16 and f16 converted exactly while packing)
//       for each strip of MR rows of X, for each panel: a register tile of MR x NR accumulators, loaded from Y
//       (zero for the first K block), runs the k block's FMAs in increasing k, and is stored back to Y (the bias
//       is added after the last K block).
// A float stored to Y and reloaded is the same float, so the K blocking leaves the per-element order sequential.
// The tile shape is AVX2 6 x 16 (12 ymm accumulators) and AVX-512 8 x 32 (16 zmm accumulators); tails in M use a
// smaller tile, tails in N are zero-padded in the panel and masked at load and store, tails in K are just shorter.
#include "vl_matmul.h"
#include "vl_simd.h"

#include <immintrin.h>
#include <math.h>
#include <string.h>

// Cache blocking: a packed block of KC x NC floats (256 KiB) stays in L2 while every row strip of X passes over it;
// one row strip (MR x KC floats) stays in L1. NC is a multiple of every NR.
#ifndef VL_MM_KC
#define VL_MM_KC 512
#endif
#ifndef VL_MM_NC
#define VL_MM_NC 128
#endif

size_t vl_matmul_workspace_size(size_t k, size_t n_count) {
    const size_t kc = k < VL_MM_KC ? k : VL_MM_KC;
    size_t nc = n_count < VL_MM_NC ? n_count : VL_MM_NC;
    nc = (nc + 31) / 32 * 32;
    return kc * nc * sizeof(float);
}

#define VL_MM_F32(v) (v)

// MARK: - Scalar reference

#define VL_DEFINE_MM_SCALAR(NAME, WT, VALUE)                                                                         \
    static void NAME(const float *x, size_t rows, size_t k, const WT *w, size_t n, size_t nb, size_t ne,             \
                     const float *bias, float *y) {                                                                  \
        for (size_t m = 0; m < rows; ++m) {                                                                          \
            const float *xr = x + m * k;                                                                             \
            for (size_t j = nb; j < ne; ++j) {                                                                       \
                const WT *wr = w + j * k;                                                                            \
                float s = 0.0f;                                                                                      \
                for (size_t kk = 0; kk < k; ++kk) s = fmaf(xr[kk], VALUE(wr[kk]), s);                                \
                y[m * n + j] = bias ? s + bias[j] : s;                                                               \
            }                                                                                                        \
        }                                                                                                            \
    }

VL_DEFINE_MM_SCALAR(matmul_scalar_f32, float, VL_MM_F32)
VL_DEFINE_MM_SCALAR(matmul_scalar_bf16, uint16_t, vl_bf16_value)
VL_DEFINE_MM_SCALAR(matmul_scalar_f16, uint16_t, vl_f16_value)

// MARK: - Packing

// A panel holds NR columns of a K block, k-major: dst[p * kc * NR + kk * NR + jj] = W[j0 + p * NR + jj][k0 + kk] for
// columns j0 + p * NR + jj < j0 + nc, else 0 (so tails in N multiply by zero and are masked at the store).

// The 8 x 8 transpose of r[0..7] in place: afterwards r[q] holds element q of every input row.
VL_AVX2 VL_INLINE void vl_transpose8_avx2(__m256 r[8]) {
    __m256 t[8], u[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
        u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
        u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
        u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int i = 0; i < 4; ++i) {
        r[i] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x20);
        r[i + 4] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
    }
}

// Packs panels of any NR that is a multiple of 8 through registers: each group of 8 full columns is read as 8 x 8
// blocks (8 values of 8 weight rows) and transposed (the scalar loop's strided writes made packing a fifth of the time
// at M = 256 with AVX2, and half of it with AVX-512's wider panels). The last kc % 8 values of a group, and the
// columns of a partial group, convert one value at a time through SCALAR.
#define VL_DEFINE_MM_PACK_TRANSPOSED(NAME, WT, LOAD8, SCALAR)                                                        \
    VL_AVX2 static void NAME(const WT *w, size_t k, size_t j0, size_t nc, size_t k0, size_t kc, size_t nr,           \
                             float *dst) {                                                                           \
        for (size_t p = 0; p * nr < nc; ++p) {                                                                       \
            float *panel = dst + p * kc * nr;                                                                        \
            const size_t valid = nc - p * nr < nr ? nc - p * nr : nr, full = valid / 8 * 8;                          \
            for (size_t g = 0; g < full; g += 8) {                                                                   \
                const WT *src = w + (j0 + p * nr + g) * k + k0;                                                      \
                size_t kk = 0;                                                                                       \
                for (; kk + 8 <= kc; kk += 8) {                                                                      \
                    __m256 r[8];                                                                                     \
                    for (int i = 0; i < 8; ++i) r[i] = LOAD8(src + i * k + kk);                                      \
                    vl_transpose8_avx2(r);                                                                           \
                    for (int q = 0; q < 8; ++q) _mm256_storeu_ps(panel + (kk + q) * nr + g, r[q]);                   \
                }                                                                                                    \
                for (; kk < kc; ++kk)                                                                                \
                    for (size_t i = 0; i < 8; ++i) panel[kk * nr + g + i] = SCALAR(src[i * k + kk]);                 \
            }                                                                                                        \
            for (size_t jj = full; jj < nr; ++jj) {                                                                  \
                const WT *src = w + (j0 + p * nr + jj) * k + k0;                                                     \
                for (size_t kk = 0; kk < kc; ++kk) panel[kk * nr + jj] = jj < valid ? SCALAR(src[kk]) : 0.0f;        \
            }                                                                                                        \
        }                                                                                                            \
    }

VL_DEFINE_MM_PACK_TRANSPOSED(pack_transposed_f32, float, vl_load8_f32, VL_MM_F32)
VL_DEFINE_MM_PACK_TRANSPOSED(pack_transposed_bf16, uint16_t, vl_load8_bf16, vl_bf16_value)
VL_DEFINE_MM_PACK_TRANSPOSED(pack_transposed_f16, uint16_t, vl_load8_f16, vl_f16_value)

// MARK: - AVX2 + FMA (6 x 16 tile)

// R rows (compile-time after inlining) of X starting at x (row stride ldx) times one packed panel bp ([kc][16]),
// into Y at y (row stride ldy), columns masked by m0 (0..7) and m1 (8..15). bias: NULL, or the tile's 16 biases
// when this is the last K block.
VL_AVX2 VL_INLINE void mm_tile_avx2(const float *x, size_t ldx, const float *bp, size_t kc, float *y, size_t ldy,
                                    const int R, __m256i m0, __m256i m1, int first, const float *bias) {
    __m256 c0[6], c1[6];
    for (int i = 0; i < R; ++i) {
        c0[i] = first ? _mm256_setzero_ps() : _mm256_maskload_ps(y + i * ldy, m0);
        c1[i] = first ? _mm256_setzero_ps() : _mm256_maskload_ps(y + i * ldy + 8, m1);
    }
    for (size_t kk = 0; kk < kc; ++kk) {
        const __m256 b0 = _mm256_loadu_ps(bp + kk * 16), b1 = _mm256_loadu_ps(bp + kk * 16 + 8);
        for (int i = 0; i < R; ++i) {
            const __m256 a = _mm256_broadcast_ss(x + i * ldx + kk);
            c0[i] = _mm256_fmadd_ps(a, b0, c0[i]);
            c1[i] = _mm256_fmadd_ps(a, b1, c1[i]);
        }
    }
    if (bias) {
        const __m256 bias0 = _mm256_maskload_ps(bias, m0), bias1 = _mm256_maskload_ps(bias + 8, m1);
        for (int i = 0; i < R; ++i) {
            c0[i] = _mm256_add_ps(c0[i], bias0);
            c1[i] = _mm256_add_ps(c1[i], bias1);
        }
    }
    for (int i = 0; i < R; ++i) {
        _mm256_maskstore_ps(y + i * ldy, m0, c0[i]);
        _mm256_maskstore_ps(y + i * ldy + 8, m1, c1[i]);
    }
}

#define VL_MM_TILE_CASE(TILE, R, ...)                                                                                \
    case R: TILE(xt, k, bp, kc, yt, n, R, __VA_ARGS__); break;

#define VL_DEFINE_MM_AVX2(NAME, WT, PACK)                                                                            \
    VL_AVX2 static void NAME(const float *x, size_t rows, size_t k, const WT *w, size_t n, size_t nb, size_t ne,     \
                             const float *bias, float *y, float *ws) {                                               \
        const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);                                               \
        for (size_t j0 = nb; j0 < ne; j0 += VL_MM_NC) {                                                              \
            const size_t nc = ne - j0 < VL_MM_NC ? ne - j0 : VL_MM_NC;                                               \
            for (size_t k0 = 0; k0 < k; k0 += VL_MM_KC) {                                                            \
                const size_t kc = k - k0 < VL_MM_KC ? k - k0 : VL_MM_KC;                                             \
                PACK(w, k, j0, nc, k0, kc, 16, ws);                                                                  \
                const int first = k0 == 0, last = k0 + kc == k;                                                      \
                for (size_t m0 = 0; m0 < rows; m0 += 6) {                                                            \
                    const int r = rows - m0 < 6 ? (int)(rows - m0) : 6;                                              \
                    for (size_t p = 0; p * 16 < nc; ++p) {                                                           \
                        const int nv = nc - p * 16 < 16 ? (int)(nc - p * 16) : 16;                                   \
                        const __m256i mk0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(nv), idx);                          \
                        const __m256i mk1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(nv - 8), idx);                      \
                        const float *bt = last && bias ? bias + j0 + p * 16 : NULL;                                  \
                        const float *xt = x + m0 * k + k0, *bp = ws + p * kc * 16;                                   \
                        float *yt = y + m0 * n + j0 + p * 16;                                                        \
                        switch (r) {                                                                                 \
                        VL_MM_TILE_CASE(mm_tile_avx2, 6, mk0, mk1, first, bt)                                        \
                        VL_MM_TILE_CASE(mm_tile_avx2, 5, mk0, mk1, first, bt)                                        \
                        VL_MM_TILE_CASE(mm_tile_avx2, 4, mk0, mk1, first, bt)                                        \
                        VL_MM_TILE_CASE(mm_tile_avx2, 3, mk0, mk1, first, bt)                                        \
                        VL_MM_TILE_CASE(mm_tile_avx2, 2, mk0, mk1, first, bt)                                        \
                        default: mm_tile_avx2(xt, k, bp, kc, yt, n, 1, mk0, mk1, first, bt); break;                  \
                        }                                                                                            \
                    }                                                                                                \
                }                                                                                                    \
            }                                                                                                        \
        }                                                                                                            \
    }

VL_DEFINE_MM_AVX2(matmul_avx2_f32, float, pack_transposed_f32)
VL_DEFINE_MM_AVX2(matmul_avx2_bf16, uint16_t, pack_transposed_bf16)
VL_DEFINE_MM_AVX2(matmul_avx2_f16, uint16_t, pack_transposed_f16)

// MARK: - AVX-512 (8 x 32 tile)

// As mm_tile_avx2 with a [kc][32] panel, two zmm per row, columns masked by m0 (0..15) and m1 (16..31).
VL_AVX512 VL_INLINE void mm_tile_avx512(const float *x, size_t ldx, const float *bp, size_t kc, float *y, size_t ldy,
                                        const int R, __mmask16 m0, __mmask16 m1, int first, const float *bias) {
    __m512 c0[8], c1[8];
    vl_tile32_begin(c0, c1, R, y, ldy, m0, m1, first);
    for (size_t kk = 0; kk < kc; ++kk) {
        const __m512 b0 = _mm512_loadu_ps(bp + kk * 32), b1 = _mm512_loadu_ps(bp + kk * 32 + 16);
        for (int i = 0; i < R; ++i) {
            const __m512 a = _mm512_set1_ps(x[i * ldx + kk]);
            c0[i] = _mm512_fmadd_ps(a, b0, c0[i]);
            c1[i] = _mm512_fmadd_ps(a, b1, c1[i]);
        }
    }
    vl_tile32_end(c0, c1, R, y, ldy, m0, m1, bias);
}

#define VL_DEFINE_MM_AVX512(NAME, WT, PACK)                                                                          \
    VL_AVX512 static void NAME(const float *x, size_t rows, size_t k, const WT *w, size_t n, size_t nb, size_t ne,   \
                               const float *bias, float *y, float *ws) {                                             \
        for (size_t j0 = nb; j0 < ne; j0 += VL_MM_NC) {                                                              \
            const size_t nc = ne - j0 < VL_MM_NC ? ne - j0 : VL_MM_NC;                                               \
            for (size_t k0 = 0; k0 < k; k0 += VL_MM_KC) {                                                            \
                const size_t kc = k - k0 < VL_MM_KC ? k - k0 : VL_MM_KC;                                             \
                PACK(w, k, j0, nc, k0, kc, 32, ws);                                                                  \
                const int first = k0 == 0, last = k0 + kc == k;                                                      \
                for (size_t m0 = 0; m0 < rows; m0 += 8) {                                                            \
                    const int r = rows - m0 < 8 ? (int)(rows - m0) : 8;                                              \
                    for (size_t p = 0; p * 32 < nc; ++p) {                                                           \
                        const size_t nv = nc - p * 32 < 32 ? nc - p * 32 : 32;                                       \
                        __mmask16 mk0, mk1;                                                                          \
                        vl_tile32_masks(nv, &mk0, &mk1);                                                             \
                        const float *bt = last && bias ? bias + j0 + p * 32 : NULL;                                  \
                        const float *xt = x + m0 * k + k0, *bp = ws + p * kc * 32;                                   \
                        float *yt = y + m0 * n + j0 + p * 32;                                                        \
                        switch (r) {                                                                                 \
                        VL_MM_TILE_CASE(mm_tile_avx512, 8, mk0, mk1, first, bt)                                      \
                        VL_MM_TILE_CASE(mm_tile_avx512, 7, mk0, mk1, first, bt)                                      \
                        VL_MM_TILE_CASE(mm_tile_avx512, 6, mk0, mk1, first, bt)                                      \
                        VL_MM_TILE_CASE(mm_tile_avx512, 5, mk0, mk1, first, bt)                                      \
                        VL_MM_TILE_CASE(mm_tile_avx512, 4, mk0, mk1, first, bt)                                      \
                        VL_MM_TILE_CASE(mm_tile_avx512, 3, mk0, mk1, first, bt)                                      \
                        VL_MM_TILE_CASE(mm_tile_avx512, 2, mk0, mk1, first, bt)                                      \
                        default: mm_tile_avx512(xt, k, bp, kc, yt, n, 1, mk0, mk1, first, bt); break;                \
                        }                                                                                            \
                    }                                                                                                \
                }                                                                                                    \
            }                                                                                                        \
        }                                                                                                            \
    }

VL_DEFINE_MM_AVX512(matmul_avx512_f32, float, pack_transposed_f32)
VL_DEFINE_MM_AVX512(matmul_avx512_bf16, uint16_t, pack_transposed_bf16)
VL_DEFINE_MM_AVX512(matmul_avx512_f16, uint16_t, pack_transposed_f16)

// MARK: - Dispatch

// K = 0: every element is the empty sum +0 (plus the bias), the same for every isa.
static void matmul_empty(size_t rows, size_t n, size_t nb, size_t ne, const float *bias, float *y) {
    for (size_t m = 0; m < rows; ++m)
        for (size_t j = nb; j < ne; ++j) y[m * n + j] = bias ? 0.0f + bias[j] : 0.0f;
}

// The public entry point for weights of element type WT: empty cases, then the best supported isa.
#define VL_DEFINE_MM_DISPATCH(NAME, WT, SUFFIX)                                                                      \
    void NAME(vl_isa isa, const float *x, size_t rows, size_t k, const WT *w, size_t n, size_t n_begin,              \
              size_t n_end, const float *bias, float *y, void *workspace) {                                          \
        if (rows == 0 || n_begin >= n_end) return;                                                                   \
        if (k == 0) {                                                                                                \
            matmul_empty(rows, n, n_begin, n_end, bias, y);                                                          \
            return;                                                                                                  \
        }                                                                                                            \
        switch (vl_isa_supported(isa)) {                                                                             \
        case VL_ISA_AVX512: matmul_avx512_##SUFFIX(x, rows, k, w, n, n_begin, n_end, bias, y, workspace); break;     \
        case VL_ISA_AVX2: matmul_avx2_##SUFFIX(x, rows, k, w, n, n_begin, n_end, bias, y, workspace); break;         \
        default: matmul_scalar_##SUFFIX(x, rows, k, w, n, n_begin, n_end, bias, y); break;                           \
        }                                                                                                            \
    }

VL_DEFINE_MM_DISPATCH(vl_matmul_f32, float, f32)
VL_DEFINE_MM_DISPATCH(vl_matmul_bf16, uint16_t, bf16)
VL_DEFINE_MM_DISPATCH(vl_matmul_f16, uint16_t, f16)
