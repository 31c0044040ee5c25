// Batched matrix-vector products with q8 and q4 block-quantized weights (formats in vl_quant.h).
//
// Each weight is dequantized exactly as vl_dequantize_q8/q4 do ((float)q * d, one rounding), then summed in the
// order fixed in vl_kernels.h (16 fused multiply-add lanes, k % 16 picks the lane, fixed halving tree). A 32-weight
// block covers the 16 lanes twice, weights 0..15 first, so every lane still sees its terms in increasing k. Results
// are bit-identical to vl_matvec_f32 on the dequantized matrix for every ISA, row range and batch size.
#include "vl_quant.h"
#include "vl_simd.h"

#include <immintrin.h>
#include <math.h>
#include <string.h>


// Software prefetch distance in bytes ahead in the same row (past a row's end it warms a later row; never faults).
#ifndef VL_QPREFETCH
#define VL_QPREFETCH 1024
#endif

enum { VL_FMT_Q8 = 0, VL_FMT_Q4 = 1 };

static inline size_t vl_block_bytes(int fmt) { return fmt == VL_FMT_Q8 ? VL_Q8_BLOCK_BYTES : VL_Q4_BLOCK_BYTES; }

// MARK: - Scalar reference

// The 32 weights of one block, decoded exactly as vl_dequantize_q8/q4 do.
static inline void vl_decode_block(int fmt, const unsigned char *blk, float out[VL_QBLOCK]) {
    float d;
    memcpy(&d, blk, 4);
    if (fmt == VL_FMT_Q8) {
        for (int i = 0; i < VL_QBLOCK; ++i) out[i] = (float)(int8_t)blk[4 + i] * d;
    } else {
        for (int j = 0; j < 16; ++j) {
            out[j] = (float)((blk[4 + j] & 15) - 8) * d;
            out[j + 16] = (float)((blk[4 + j] >> 4) - 8) * d;
        }
    }
}

static void matvec_scalar(int fmt, const unsigned char *w, size_t cols, size_t rb, size_t re, const float *x,
                          size_t xs, size_t batch, float *y, size_t ys) {
    const size_t nblocks = cols / VL_QBLOCK, bb = vl_block_bytes(fmt);
    for (size_t r = rb; r < re; ++r) {
        for (size_t b0 = 0; b0 < batch; b0 += 8) {
            const size_t nb = batch - b0 < 8 ? batch - b0 : 8;
            float s[8][16] = {{0}};
            for (size_t j = 0; j < nblocks; ++j) {
                float wf[VL_QBLOCK];
                vl_decode_block(fmt, w + (r * nblocks + j) * bb, wf);
                for (size_t b = 0; b < nb; ++b) {
                    const float *xb = x + (b0 + b) * xs + j * VL_QBLOCK;
                    for (int i = 0; i < VL_QBLOCK; ++i) s[b][i & 15] = fmaf(wf[i], xb[i], s[b][i & 15]);
                }
            }
            for (size_t b = 0; b < nb; ++b) y[(b0 + b) * ys + r] = vl_reduce16(s[b]);
        }
    }
}

// The signed values of a block: q[0] holds weights 0..15, q[1] weights 16..31, as int8 lanes.
// SSE2 only (the x86-64 baseline), so it needs no target attribute and inlines into the AVX2 and AVX-512 code.
VL_INLINE void vl_block_ints(int fmt, const unsigned char *blk, __m128i q[2]) {
    if (fmt == VL_FMT_Q8) {
        q[0] = _mm_loadu_si128((const __m128i *)(blk + 4));
        q[1] = _mm_loadu_si128((const __m128i *)(blk + 20));
    } else {
        const __m128i raw = _mm_loadu_si128((const __m128i *)(blk + 4));
        const __m128i mask = _mm_set1_epi8(15), eight = _mm_set1_epi8(8);
        q[0] = _mm_sub_epi8(_mm_and_si128(raw, mask), eight);                     // low nibbles: weights 0..15
        q[1] = _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(raw, 4), mask), eight);  // high nibbles: weights 16..31
    }
}

// MARK: - AVX2 + FMA (16 lanes = two ymm accumulators per output; up to 4 batch vectors per pass over a row)

// Weights 8h .. 8h + 7 of a block as floats, h = 0..3.
VL_AVX2 VL_INLINE void vl_decode_avx2(int fmt, const unsigned char *blk, __m256 out[4]) {
    float d;
    memcpy(&d, blk, 4);
    const __m256 dv = _mm256_set1_ps(d);
    __m128i q[2];
    vl_block_ints(fmt, blk, q);
    for (int h = 0; h < 2; ++h) {
        out[2 * h] = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q[h])), dv);
        out[2 * h + 1] = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(q[h], 8))), dv);
    }
}

// Rows [r, r + R) times batch vectors [0, NB); fmt, R and NB are compile-time constants after inlining.
VL_AVX2 VL_INLINE void block_avx2(const int fmt, const unsigned char *w, size_t cols, size_t r, const int R,
                                  const float *x, size_t xs, const int NB, float *y, size_t ys) {
    const size_t nblocks = cols / VL_QBLOCK, bb = vl_block_bytes(fmt), row_bytes = nblocks * bb;
    __m256 lo[4][4], hi[4][4];
    for (int i = 0; i < R; ++i)
        for (int b = 0; b < NB; ++b) lo[i][b] = hi[i][b] = _mm256_setzero_ps();
    for (size_t j = 0; j < nblocks; ++j) {
        for (int i = 0; i < R; ++i) {
            const unsigned char *blk = w + (r + i) * row_bytes + j * bb;
            _mm_prefetch((const char *)(blk + VL_QPREFETCH), _MM_HINT_T0);
            __m256 wv[4];
            vl_decode_avx2(fmt, blk, wv);
            for (int b = 0; b < NB; ++b) {
                const float *xp = x + b * xs + j * VL_QBLOCK;
                lo[i][b] = _mm256_fmadd_ps(wv[0], _mm256_loadu_ps(xp), lo[i][b]);
                hi[i][b] = _mm256_fmadd_ps(wv[1], _mm256_loadu_ps(xp + 8), hi[i][b]);
                lo[i][b] = _mm256_fmadd_ps(wv[2], _mm256_loadu_ps(xp + 16), lo[i][b]);
                hi[i][b] = _mm256_fmadd_ps(wv[3], _mm256_loadu_ps(xp + 24), hi[i][b]);
            }
        }
    }
    for (int i = 0; i < R; ++i)
        for (int b = 0; b < NB; ++b) y[b * ys + r + i] = vl_reduce_avx2(lo[i][b], hi[i][b]);
}

// One `case` of VL_DEFINE_DRIVER (vl_simd.h): R rows by NB vectors of format FMT.
#define VL_QPAIR(BLOCK, FMT, R, NB)                                                                                  \
    case (R) * 16 + (NB): BLOCK(FMT, w, cols, r, R, x + b0 * xs, xs, NB, y + b0 * ys, ys); break;

#define VL_QAVX2_CASES(F)                                                                                            \
    VL_QPAIR(block_avx2, F, 4, 1) VL_QPAIR(block_avx2, F, 2, 1) VL_QPAIR(block_avx2, F, 2, 2)                        \
    VL_QPAIR(block_avx2, F, 1, 1) VL_QPAIR(block_avx2, F, 1, 2) VL_QPAIR(block_avx2, F, 1, 3)                        \
    VL_QPAIR(block_avx2, F, 1, 4)

VL_DEFINE_DRIVER(matvec_avx2_q8, VL_AVX2, unsigned char, 4, VL_AVX2_RMAIN, VL_QAVX2_CASES(VL_FMT_Q8))
VL_DEFINE_DRIVER(matvec_avx2_q4, VL_AVX2, unsigned char, 4, VL_AVX2_RMAIN, VL_QAVX2_CASES(VL_FMT_Q4))

// MARK: - AVX-512 (16 lanes = one zmm accumulator per output; up to 8 batch vectors per pass over a row)

// Weights 16h .. 16h + 15 of a block as floats, h = 0..1.
VL_AVX512 VL_INLINE void vl_decode_avx512(int fmt, const unsigned char *blk, __m512 out[2]) {
    float d;
    memcpy(&d, blk, 4);
    const __m512 dv = _mm512_set1_ps(d);
    __m128i q[2];
    vl_block_ints(fmt, blk, q);
    for (int h = 0; h < 2; ++h) out[h] = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q[h])), dv);
}

VL_AVX512 VL_INLINE void block_avx512(const int fmt, const unsigned char *w, size_t cols, size_t r, const int R,
                                      const float *x, size_t xs, const int NB, float *y, size_t ys) {
    const size_t nblocks = cols / VL_QBLOCK, bb = vl_block_bytes(fmt), row_bytes = nblocks * bb;
    __m512 acc[4][8];
    for (int i = 0; i < R; ++i)
        for (int b = 0; b < NB; ++b) acc[i][b] = _mm512_setzero_ps();
    for (size_t j = 0; j < nblocks; ++j) {
        __m512 wv[4][2];
        for (int i = 0; i < R; ++i) {
            const unsigned char *blk = w + (r + i) * row_bytes + j * bb;
            _mm_prefetch((const char *)(blk + VL_QPREFETCH), _MM_HINT_T0);
            vl_decode_avx512(fmt, blk, wv[i]);
        }
        for (int b = 0; b < NB; ++b) {
            const float *xp = x + b * xs + j * VL_QBLOCK;
            const __m512 x0 = _mm512_loadu_ps(xp), x1 = _mm512_loadu_ps(xp + 16);
            for (int i = 0; i < R; ++i) {
                acc[i][b] = _mm512_fmadd_ps(wv[i][0], x0, acc[i][b]);
                acc[i][b] = _mm512_fmadd_ps(wv[i][1], x1, acc[i][b]);
            }
        }
    }
    for (int i = 0; i < R; ++i)
        for (int b = 0; b < NB; ++b) y[b * ys + r + i] = vl_reduce_avx512(acc[i][b]);
}

#define VL_QAVX512_CASES(F)                                                                                          \
    VL_QPAIR(block_avx512, F, 4, 1) VL_QPAIR(block_avx512, F, 4, 2) VL_QPAIR(block_avx512, F, 2, 1)                  \
    VL_QPAIR(block_avx512, F, 2, 2) VL_QPAIR(block_avx512, F, 2, 3) VL_QPAIR(block_avx512, F, 2, 4)                  \
    VL_QPAIR(block_avx512, F, 1, 1) VL_QPAIR(block_avx512, F, 1, 2) VL_QPAIR(block_avx512, F, 1, 3)                  \
    VL_QPAIR(block_avx512, F, 1, 4) VL_QPAIR(block_avx512, F, 1, 5) VL_QPAIR(block_avx512, F, 1, 6)                  \
    VL_QPAIR(block_avx512, F, 1, 7) VL_QPAIR(block_avx512, F, 1, 8)

VL_DEFINE_DRIVER(matvec_avx512_q8, VL_AVX512, unsigned char, 8, VL_AVX512_RMAIN, VL_QAVX512_CASES(VL_FMT_Q8))
VL_DEFINE_DRIVER(matvec_avx512_q4, VL_AVX512, unsigned char, 8, VL_AVX512_RMAIN, VL_QAVX512_CASES(VL_FMT_Q4))

// MARK: - Dispatch

void vl_matvec_q8(vl_isa isa, const void *w, size_t cols, size_t row_begin, size_t row_end, const float *x,
                  size_t x_stride, size_t batch, float *y, size_t y_stride) {
    if (cols % VL_QBLOCK != 0) return;
    switch (vl_isa_supported(isa)) {
    case VL_ISA_AVX512: matvec_avx512_q8(w, cols, row_begin, row_end, x, x_stride, batch, y, y_stride); break;
    case VL_ISA_AVX2: matvec_avx2_q8(w, cols, row_begin, row_end, x, x_stride, batch, y, y_stride); break;
    default: matvec_scalar(VL_FMT_Q8, w, cols, row_begin, row_end, x, x_stride, batch, y, y_stride); break;
    }
}

void vl_matvec_q4(vl_isa isa, const void *w, size_t cols, size_t row_begin, size_t row_end, const float *x,
                  size_t x_stride, size_t batch, float *y, size_t y_stride) {
    if (cols % VL_QBLOCK != 0) return;
    switch (vl_isa_supported(isa)) {
    case VL_ISA_AVX512: matvec_avx512_q4(w, cols, row_begin, row_end, x, x_stride, batch, y, y_stride); break;
    case VL_ISA_AVX2: matvec_avx2_q4(w, cols, row_begin, row_end, x, x_stride, batch, y, y_stride); break;
    default: matvec_scalar(VL_FMT_Q4, w, cols, row_begin, row_end, x, x_stride, batch, y, y_stride); break;
    }
}
