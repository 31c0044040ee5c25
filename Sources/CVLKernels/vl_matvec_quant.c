// Batched matrix-vector products of q8 / q4 weights with q8 activations (formats and order in vl_quant.h).
//
// Integer products, as llama.cpp's Q8_0 / Q4_0 dot products: per 32-weight block, the int8 weights times the int8
// activations are summed exactly in 8 integer lanes of 4 products each, then every lane is scaled by d_w * d_x and
// added into float lane l with one fused multiply-add. AVX2 forms the lane sums with vpmaddubsw + vpmaddwd (the sign
// trick: |w| times x with w's sign; exact, as |pair sums| <= 2 * 127 * 127 < 2^15) and does the same float
// operations in the same order as the scalar reference, so results are bit-identical for every ISA, row range and
// batch size. Eight lanes (one ymm per output) leave registers for 8 vectors per pass over a weight row. With
// AVX512_VNNI the lane sums come from vpdpbusd, two outputs per zmm (see its section); AVX-512 machines without VNNI
// run the AVX2 code.
#include "vl_quant.h"
#include "vl_quant_blocks.h"
#include "vl_simd.h"

#include <immintrin.h>
#include <math.h>
#include <string.h>

// MARK: - Scalar reference

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

// MARK: - AVX-512 with VNNI

// vpdpbusd multiplies unsigned bytes by signed bytes and adds each group of 4 products into a 32-bit lane, exactly.
// The weights become the unsigned operand by an offset: q8 stores w, and w + 128 = w ^ 0x80 is in 1..255; q4 stores
// q + 8 already. So the lane sum is sum (w + k) x = sum w x + k sum x (k = 128 or 8), and starting the lane from
// -k sum x (one vpdpbusd of the constant k with x, negated, shared by every row that meets the same x) leaves the
// exact integer of the scalar code (|partial sums| < 2^18). The float steps are then the scalar ones, lane for lane.
// A zmm holds two outputs, one in lanes 0..7 and one in lanes 8..15, each in the 8-lane order: for one vector the
// pair is two rows (the input block broadcast to both halves), for several vectors it is one row times two vectors
// (the weight block broadcast), so no lane is wasted in either case.
// The 32 offset weights of the blocks at a (lanes 0..31) and b (lanes 32..63), as bytes in order t = 0..31.
VL_AVX512_VNNI VL_INLINE __m512i vl_offset_pair(int fmt, const unsigned char *a, const unsigned char *b) {
    if (fmt == VL_FMT_Q8) {
        const __m512i raw = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(a + 4))),
                                               _mm256_loadu_si256((const __m256i *)(b + 4)), 1);
        return _mm512_xor_si512(raw, _mm512_set1_epi8((char)0x80));
    }
    // 128-bit lanes [a, a, b, b], then the high nibbles of lanes 1 and 3 shifted down: [lo a, hi a, lo b, hi b]
    const __m256i ab = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(a + 4))),
                                               _mm_loadu_si128((const __m128i *)(b + 4)), 1);
    const __m512i twice = _mm512_shuffle_i64x2(_mm512_castsi256_si512(ab), _mm512_castsi256_si512(ab), 0x50);
    const __m512i shifts = _mm512_set_epi64(4, 4, 0, 0, 4, 4, 0, 0);
    return _mm512_and_si512(_mm512_srlv_epi64(twice, shifts), _mm512_set1_epi8(15));
}

// vl_offset_pair(fmt, blk, blk) by broadcast loads.
VL_AVX512_VNNI VL_INLINE __m512i vl_offset_twice(int fmt, const unsigned char *blk) {
    if (fmt == VL_FMT_Q8)
        return _mm512_xor_si512(_mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(blk + 4))),
                                _mm512_set1_epi8((char)0x80));
    const __m512i raw = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(blk + 4)));
    return _mm512_and_si512(_mm512_srlv_epi64(raw, _mm512_set_epi64(4, 4, 0, 0, 4, 4, 0, 0)), _mm512_set1_epi8(15));
}

// The 32 input values of the q8 blocks at a and b (halves as above), and the lane starts -k sum x for them.
VL_AVX512_VNNI VL_INLINE __m512i vl_input_pair(const unsigned char *a, const unsigned char *b) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(a + 4))),
                              _mm256_loadu_si256((const __m256i *)(b + 4)), 1);
}
VL_AVX512_VNNI VL_INLINE __m512i vl_lane_starts(int fmt, __m512i x) {
    const __m512i k = _mm512_set1_epi8(fmt == VL_FMT_Q8 ? (char)0x80 : 8);
    return _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_dpbusd_epi32(_mm512_setzero_si512(), k, x));
}

// [scale of a] x 8, [scale of b] x 8.
VL_AVX512_VNNI VL_INLINE __m512 vl_scale_pair(const unsigned char *a, const unsigned char *b) {
    return _mm512_mask_broadcastss_ps(_mm512_set1_ps(vl_block_scale(a)), 0xFF00, _mm_set_ss(vl_block_scale(b)));
}

// acc += the lane sums of one pair of outputs, in the scalar order: fma((float)i, d_w * d_x, acc).
VL_AVX512_VNNI VL_INLINE __m512 vl_pair_step(__m512 acc, __m512i start, __m512i w, __m512i x, __m512 d) {
    return _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_dpbusd_epi32(start, w, x)), d, acc);
}

// Writes the pair's two outputs (vl_reduce8 of each half) to ya and yb.
VL_AVX512_VNNI VL_INLINE void vl_store_pair(__m512 acc, float *ya, float *yb) {
    *ya = vl_reduce8_avx2(_mm512_castps512_ps256(acc));
    *yb = vl_reduce8_avx2(_mm512_extractf32x8_ps(acc, 1));
}

// One vector, rows [r, r + R) in pairs (R = 1 pairs the row with itself and keeps one half) over the blocks of
// columns [k, k_end), through `state` as block_avx2.
VL_AVX512_VNNI VL_INLINE void block_rows_avx512(const int fmt, const unsigned char *w, size_t cols, size_t r,
                                                const int R, const unsigned char *xq, size_t k, size_t k_end,
                                                __m512 state[4][4], float *y) {
    const size_t nblocks = cols / VL_QBLOCK, bb = vl_block_bytes(fmt), row_bytes = nblocks * bb;
    const int P = (R + 1) / 2;
    __m512 acc[4];
    for (int p = 0; p < P; ++p) acc[p] = k == 0 ? _mm512_setzero_ps() : state[p][0];
    for (size_t j = k / VL_QBLOCK; j < k_end / VL_QBLOCK; ++j) {
        const unsigned char *xb = xq + j * VL_Q8_BLOCK_BYTES;
        const __m512i x = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(xb + 4)));
        const __m512i start = vl_lane_starts(fmt, x);
        const __m512 dx = _mm512_set1_ps(vl_block_scale(xb));
        for (int p = 0; p < P; ++p) {
            const unsigned char *a = w + (r + 2 * p) * row_bytes + j * bb, *b = R == 1 ? a : a + row_bytes;
            // the same block of the next row block, as block_avx2 (without it the rows stream at half speed)
            _mm_prefetch((const char *)(a + R * row_bytes), _MM_HINT_T0);
            if (R > 1) _mm_prefetch((const char *)(b + R * row_bytes), _MM_HINT_T0);
            const __m512 d = _mm512_mul_ps(vl_scale_pair(a, b), dx);
            acc[p] = vl_pair_step(acc[p], start, vl_offset_pair(fmt, a, b), x, d);
        }
    }
    if (k_end < cols) {
        for (int p = 0; p < P; ++p) state[p][0] = acc[p];
        return;
    }
    for (int p = 0; p < P; ++p) {
        float unused;
        vl_store_pair(acc[p], y + r + 2 * p, R == 1 ? &unused : y + r + 2 * p + 1);
    }
}

// Rows [r, r + R), each times vectors [0, NB) in pairs (an odd last vector is paired with itself), otherwise as
// block_rows_avx512.
VL_AVX512_VNNI VL_INLINE void block_vectors_avx512(const int fmt, const unsigned char *w, size_t cols, size_t r,
                                                   const int R, const unsigned char *xq, size_t xs, const int NB,
                                                   size_t k, size_t k_end, __m512 state[4][4], float *y,
                                                   size_t ys) {
    const size_t nblocks = cols / VL_QBLOCK, bb = vl_block_bytes(fmt), row_bytes = nblocks * bb;
    const int P = (NB + 1) / 2;
    __m512 acc[4][4];
    for (int i = 0; i < R; ++i)
        for (int p = 0; p < P; ++p) acc[i][p] = k == 0 ? _mm512_setzero_ps() : state[i][p];
    for (size_t j = k / VL_QBLOCK; j < k_end / VL_QBLOCK; ++j) {
        __m512i x[4], start[4];
        __m512 dx[4];
        for (int p = 0; p < P; ++p) {
            const unsigned char *a = xq + 2 * p * xs + j * VL_Q8_BLOCK_BYTES, *b = 2 * p + 1 < NB ? a + xs : a;
            x[p] = vl_input_pair(a, b);
            start[p] = vl_lane_starts(fmt, x[p]);
            dx[p] = vl_scale_pair(a, b);
        }
        for (int i = 0; i < R; ++i) {
            const unsigned char *blk = w + (r + i) * row_bytes + j * bb;
            _mm_prefetch((const char *)(blk + R * row_bytes), _MM_HINT_T0);  // as in block_rows_avx512
            const __m512i wv = vl_offset_twice(fmt, blk);
            const __m512 dw = _mm512_set1_ps(vl_block_scale(blk));
            for (int p = 0; p < P; ++p)
                acc[i][p] = vl_pair_step(acc[i][p], start[p], wv, x[p], _mm512_mul_ps(dw, dx[p]));
        }
    }
    if (k_end < cols) {
        for (int i = 0; i < R; ++i)
            for (int p = 0; p < P; ++p) state[i][p] = acc[i][p];
        return;
    }
    for (int i = 0; i < R; ++i)
        for (int p = 0; p < P; ++p) {
            float unused;
            vl_store_pair(acc[i][p], y + 2 * p * ys + r + i, 2 * p + 1 < NB ? y + (2 * p + 1) * ys + r + i : &unused);
        }
}

// One `case` of VL_DEFINE_CHUNKED_DRIVER: R rows by NB vectors of format FMT, pairs of rows for a single vector.
#define VL_QPAIR512(FMT, R, NB)                                                                                      \
    case (R) * 16 + (NB):                                                                                            \
        if ((NB) == 1)                                                                                               \
            block_rows_avx512(FMT, w, cols, r, R, x + b0 * xs, k0, k1, state[g], y + b0 * ys);                       \
        else                                                                                                         \
            block_vectors_avx512(FMT, w, cols, r, R, x + b0 * xs, xs, NB, k0, k1, state[g], y + b0 * ys, ys);        \
        break;

// Rows per block: 4 (two row pairs for one vector; up to 4 x 4 accumulators for more, which with the 4 input pairs,
// their lane starts and scales, and the weights fill the 32 registers). Measured in L2 on one Zen 5 core, one
// vector: 4 rows 80 GB/s (q8) and 42 GB/s (q4), 8 rows 63 and 35, 2 rows 60 and 33.
#define VL_QAVX512_RMAIN(g) 4

#define VL_QAVX512_CASES(F)                                                                                          \
    VL_QPAIR512(F, 4, 1) VL_QPAIR512(F, 4, 2) VL_QPAIR512(F, 4, 3) VL_QPAIR512(F, 4, 4) VL_QPAIR512(F, 4, 5)         \
    VL_QPAIR512(F, 4, 6) VL_QPAIR512(F, 4, 7) VL_QPAIR512(F, 4, 8) VL_QPAIR512(F, 1, 1) VL_QPAIR512(F, 1, 2)         \
    VL_QPAIR512(F, 1, 3) VL_QPAIR512(F, 1, 4) VL_QPAIR512(F, 1, 5) VL_QPAIR512(F, 1, 6) VL_QPAIR512(F, 1, 7)         \
    VL_QPAIR512(F, 1, 8)

VL_DEFINE_CHUNKED_DRIVER(matvec_avx512_q8, VL_AVX512_VNNI, unsigned char, unsigned char, __m512, [4][4], 8,
                         VL_QAVX512_RMAIN, VL_QAVX512_CASES(VL_FMT_Q8))
VL_DEFINE_CHUNKED_DRIVER(matvec_avx512_q4, VL_AVX512_VNNI, unsigned char, unsigned char, __m512, [4][4], 8,
                         VL_QAVX512_RMAIN, VL_QAVX512_CASES(VL_FMT_Q4))

// MARK: - Dispatch

void vl_matvec_q8(vl_isa isa, const void *w, size_t cols, size_t row_begin, size_t row_end, const void *xq,
                  size_t batch, float *y, size_t y_stride) {
    if (cols % VL_QBLOCK != 0) return;
    switch (vl_isa_supported(isa)) {
    case VL_ISA_AVX512:
        if (vl_has_avx512_vnni()) {
            matvec_avx512_q8(w, cols, row_begin, row_end, xq, vl_q8_bytes(1, cols), batch, y, y_stride);
            break;
        }
        /* fall through: AVX-512 without VNNI runs the AVX2 code */
    case VL_ISA_AVX2: matvec_avx2_q8(w, cols, row_begin, row_end, xq, vl_q8_bytes(1, cols), batch, y, y_stride); break;
    default: matvec_scalar(VL_FMT_Q8, w, cols, row_begin, row_end, xq, batch, y, y_stride); break;
    }
}

void vl_matvec_q4(vl_isa isa, const void *w, size_t cols, size_t row_begin, size_t row_end, const void *xq,
                  size_t batch, float *y, size_t y_stride) {
    if (cols % VL_QBLOCK != 0) return;
    switch (vl_isa_supported(isa)) {
    case VL_ISA_AVX512:
        if (vl_has_avx512_vnni()) {
            matvec_avx512_q4(w, cols, row_begin, row_end, xq, vl_q8_bytes(1, cols), batch, y, y_stride);
            break;
        }
        /* fall through: AVX-512 without VNNI runs the AVX2 code */
    case VL_ISA_AVX2: matvec_avx2_q4(w, cols, row_begin, row_end, xq, vl_q8_bytes(1, cols), batch, y, y_stride); break;
    default: matvec_scalar(VL_FMT_Q4, w, cols, row_begin, row_end, xq, batch, y, y_stride); break;
    }
}
