// Batched matrix-vector products of q8 / q4 weights with q8 activations (formats and order in vl_quant.h).
//
// Integer products, as llama.cpp's Q8_0 / Q4_0 dot products: per 32-weight block, the int8 weights times the int8
// activations are summed exactly in 8 integer lanes of 4 products each, then every lane is scaled by d_w * d_x and
// added into float lane l with one fused multiply-add. AVX2 forms the lane sums with vpmaddubsw + vpmaddwd (the sign
// trick: |w| times x with w's sign; exact, as |pair sums| <= 2 * 127 * 127 < 2^15) and does the same float
// operations in the same order as the scalar reference, so results are bit-identical for every ISA, row range and
// batch size. Eight lanes (one ymm per output) leave registers for 8 vectors per pass over a weight row. AVX-512
// machines run the AVX2 code: a VNNI (vpdpbusd) variant waits for a machine to test it on.
#include "vl_quant.h"
#include "vl_simd.h"

#include <immintrin.h>
#include <math.h>
#include <string.h>


enum { VL_FMT_Q8 = 0, VL_FMT_Q4 = 1 };

static inline size_t vl_block_bytes(int fmt) { return fmt == VL_FMT_Q8 ? VL_Q8_BLOCK_BYTES : VL_Q4_BLOCK_BYTES; }

static inline float vl_block_scale(const unsigned char *blk) {
    float d;
    memcpy(&d, blk, 4);
    return d;
}

// MARK: - Scalar reference

// The 32 signed values of a weight block.
static inline void vl_block_values(int fmt, const unsigned char *blk, int q[VL_QBLOCK]) {
    for (int j = 0; j < 16; ++j) {
        if (fmt == VL_FMT_Q8) {
            q[j] = (int8_t)blk[4 + j];
            q[j + 16] = (int8_t)blk[20 + j];
        } else {
            q[j] = (blk[4 + j] & 15) - 8;
            q[j + 16] = (blk[4 + j] >> 4) - 8;
        }
    }
}

static void matvec_scalar(int fmt, const unsigned char *w, size_t cols, size_t rb, size_t re, const unsigned char *xq,
                          size_t batch, float *y, size_t ys) {
    const size_t nblocks = cols / VL_QBLOCK, bb = vl_block_bytes(fmt);
    for (size_t r = rb; r < re; ++r) {
        for (size_t b = 0; b < batch; ++b) {
            float s[8] = {0};
            for (size_t j = 0; j < nblocks; ++j) {
                const unsigned char *wb = w + (r * nblocks + j) * bb, *xb = xq + (b * nblocks + j) * VL_Q8_BLOCK_BYTES;
                int q[VL_QBLOCK];
                vl_block_values(fmt, wb, q);
                const float d = vl_block_scale(wb) * vl_block_scale(xb);
                for (int l = 0; l < 8; ++l) {
                    int sum = 0;
                    for (int t = 4 * l; t < 4 * l + 4; ++t) sum += q[t] * (int8_t)xb[4 + t];
                    s[l] = fmaf((float)sum, d, s[l]);
                }
            }
            y[b * ys + r] = vl_reduce8(s);
        }
    }
}

// MARK: - AVX2 + FMA

// The 32 signed weights of a block as int8 lanes in order.
VL_AVX2 VL_INLINE __m256i vl_block_ints_avx2(int fmt, const unsigned char *blk) {
    if (fmt == VL_FMT_Q8) return _mm256_loadu_si256((const __m256i *)(blk + 4));
    const __m128i raw = _mm_loadu_si128((const __m128i *)(blk + 4)), mask = _mm_set1_epi8(15);
    const __m256i nibbles = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(raw, 4), mask), _mm_and_si128(raw, mask));
    return _mm256_sub_epi8(nibbles, _mm256_set1_epi8(8));
}

// The 8 lane sums of 4 products of a block, as floats: |w| * (x with w's sign), pairs, then quads.
VL_AVX2 VL_INLINE __m256 vl_lane_sums_avx2(__m256i w_abs, __m256i w, const unsigned char *xb) {
    const __m256i x = _mm256_loadu_si256((const __m256i *)(xb + 4));
    const __m256i pairs = _mm256_maddubs_epi16(w_abs, _mm256_sign_epi8(x, w));
    return _mm256_cvtepi32_ps(_mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
}

// Rows [r, r + R) times vectors [0, NB) over the blocks of columns [k, k_end); fmt, R and NB are compile-time
// constants after inlining. The accumulators enter from `state` (unless k == 0) and leave through it, unless
// k_end == cols: then the block writes its outputs.
VL_AVX2 VL_INLINE void block_avx2(const int fmt, const unsigned char *w, size_t cols, size_t r, const int R,
                                  const unsigned char *xq, size_t xs, const int NB, size_t k, size_t k_end,
                                  __m256 state[4][8], float *y, size_t ys) {
    const size_t nblocks = cols / VL_QBLOCK, bb = vl_block_bytes(fmt), row_bytes = nblocks * bb;
    __m256 acc[4][8];
    for (int i = 0; i < R; ++i)
        for (int b = 0; b < NB; ++b) acc[i][b] = k == 0 ? _mm256_setzero_ps() : state[i][b];
    for (size_t j = k / VL_QBLOCK; j < k_end / VL_QBLOCK; ++j) {
        for (int i = 0; i < R; ++i) {
            const unsigned char *blk = w + (r + i) * row_bytes + j * bb;
            // the same block of the next row block: one row block ahead, whatever the row length
            _mm_prefetch((const char *)(blk + R * row_bytes), _MM_HINT_T0);
            const __m256i wq = vl_block_ints_avx2(fmt, blk), w_abs = _mm256_sign_epi8(wq, wq);
            const __m256 dw = _mm256_set1_ps(vl_block_scale(blk));
            for (int b = 0; b < NB; ++b) {
                const unsigned char *xb = xq + b * xs + j * VL_Q8_BLOCK_BYTES;
                const __m256 d = _mm256_mul_ps(dw, _mm256_set1_ps(vl_block_scale(xb)));
                acc[i][b] = _mm256_fmadd_ps(vl_lane_sums_avx2(w_abs, wq, xb), d, acc[i][b]);
            }
        }
    }
    for (int i = 0; i < R; ++i)
        for (int b = 0; b < NB; ++b) {
            if (k_end < cols) {
                state[i][b] = acc[i][b];
            } else {
                y[b * ys + r + i] = vl_reduce8_avx2(acc[i][b]);
            }
        }
}

// One `case` of VL_DEFINE_CHUNKED_DRIVER (vl_simd.h): R rows by NB vectors of format FMT.
#define VL_QPAIR(FMT, R, NB)                                                                                         \
    case (R) * 16 + (NB):                                                                                            \
        block_avx2(FMT, w, cols, r, R, x + b0 * xs, xs, NB, k0, k1, state[g], y + b0 * ys, ys);                  \
        break;

// Rows per block for g vectors: 4 for one vector, 2 for two, else one row shared by up to 8 vectors (8 accumulators,
// the weights and their absolute values, and temporaries fill the 16 registers).
#define VL_QAVX2_RMAIN(g) ((g) == 1 ? 4 : (g) == 2 ? 2 : 1)

#define VL_QAVX2_CASES(F)                                                                                            \
    VL_QPAIR(F, 4, 1) VL_QPAIR(F, 2, 1) VL_QPAIR(F, 2, 2) VL_QPAIR(F, 1, 1) VL_QPAIR(F, 1, 2) VL_QPAIR(F, 1, 3)      \
    VL_QPAIR(F, 1, 4) VL_QPAIR(F, 1, 5) VL_QPAIR(F, 1, 6) VL_QPAIR(F, 1, 7) VL_QPAIR(F, 1, 8)

VL_DEFINE_CHUNKED_DRIVER(matvec_avx2_q8, VL_AVX2, unsigned char, unsigned char, __m256, [4][8], 8,
                         VL_QAVX2_RMAIN, VL_QAVX2_CASES(VL_FMT_Q8))
VL_DEFINE_CHUNKED_DRIVER(matvec_avx2_q4, VL_AVX2, unsigned char, unsigned char, __m256, [4][8], 8,
                         VL_QAVX2_RMAIN, VL_QAVX2_CASES(VL_FMT_Q4))

// MARK: - Dispatch

void vl_matvec_q8(vl_isa isa, const void *w, size_t cols, size_t row_begin, size_t row_end, const void *xq,
                  size_t batch, float *y, size_t y_stride) {
    if (cols % VL_QBLOCK != 0) return;
    switch (vl_isa_supported(isa)) {
    case VL_ISA_AVX512: /* the AVX2 code (see the top of this file) */
    case VL_ISA_AVX2: matvec_avx2_q8(w, cols, row_begin, row_end, xq, vl_q8_bytes(1, cols), batch, y, y_stride); break;
    default: matvec_scalar(VL_FMT_Q8, w, cols, row_begin, row_end, xq, batch, y, y_stride); break;
    }
}

void vl_matvec_q4(vl_isa isa, const void *w, size_t cols, size_t row_begin, size_t row_end, const void *xq,
                  size_t batch, float *y, size_t y_stride) {
    if (cols % VL_QBLOCK != 0) return;
    switch (vl_isa_supported(isa)) {
    case VL_ISA_AVX512: /* the AVX2 code (see the top of this file) */
    case VL_ISA_AVX2: matvec_avx2_q4(w, cols, row_begin, row_end, xq, vl_q8_bytes(1, cols), batch, y, y_stride); break;
    default: matvec_scalar(VL_FMT_Q4, w, cols, row_begin, row_end, xq, batch, y, y_stride); break;
    }
}
