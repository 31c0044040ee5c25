// Matrix multiply of q8-quantized input rows by q8 / q4 weights, in integers (order in vl_matmul.h).
//
// Per 32-weight block, the product of an input row's block and a weight row's block is an exact integer; the float
// steps are one multiplication d_w * d_x and one fused multiply-add per block. The scalar reference does exactly
// that; the fast forms form the same integers, so results are bit-identical for every ISA and column split.
//
// AVX-512 with VNNI tiles the product as vl_matmul.c does (a register tile of R input rows by 32 weight columns over a
// packed panel), with vpdpbusd adding 4 byte products per lane: the panel holds the weights offset to unsigned bytes
// (q8: w + 128, q4: the stored nibble q + 8), 4 consecutive k of one column per 32-bit lane, and each block's integer
// lane starts at -offset * sum(x) (the sum of the input block, computed once per row strip), which leaves
// sum w x exactly (|partial sums| < 2^21). Each block then costs 8 vpdpbusd per accumulator against one conversion,
// one multiplication and one fused multiply-add, about 3x the fp32 matrix multiply's products per instruction.
// AVX2 (and AVX-512 without VNNI) forms each block's integer with the vpmaddubsw sign trick of the matrix-vector
// kernels, one output at a time: exact and simple, about as fast as the fp32 multiply of those machines.
#include "vl_matmul.h"
#include "vl_quant_blocks.h"
#include "vl_simd.h"

#include <immintrin.h>
#include <math.h>
#include <string.h>

// Cache blocking as vl_matmul.c: a packed block of KC k by NC columns (128 KiB of bytes plus scales) in L2, one row
// strip's input blocks in L1. KC is a multiple of the 32-weight block, NC of the 32-column panel; NC spans 8 panels
// so that a strip's lane starts are computed once for all of them.
#define VL_MMQ_KC 512
#define VL_MMQ_NC 256
#define VL_MMQ_NR 32
#define VL_MMQ_MR 6

/// The bytes of one panel: kc weights (offset bytes) of NR columns, then kc / 32 scales of NR columns.
static size_t panel_bytes(size_t kc) { return kc * VL_MMQ_NR + kc / VL_QBLOCK * VL_MMQ_NR * sizeof(float); }

size_t vl_matmul_quant_workspace_size(size_t k, size_t n_count) {
    const size_t kc = k < VL_MMQ_KC ? k : VL_MMQ_KC;
    const size_t nc = n_count < VL_MMQ_NC ? n_count : VL_MMQ_NC;
    return (nc + VL_MMQ_NR - 1) / VL_MMQ_NR * panel_bytes(kc);
}

/// The offset that makes a format's weights unsigned bytes (see offset_bytes): 128 for q8, 8 for q4.
static inline int weight_offset(int fmt) { return fmt == VL_FMT_Q8 ? 128 : 8; }

// MARK: - Scalar reference and AVX2 (one output at a time)

// The order of vl_matmul.h for one output after another, with BLOCK_SUM(fmt, weight block, input block) giving a
// block's exact integer.
#define VL_DEFINE_MMQ_BY_OUTPUT(NAME, ATTR, BLOCK_SUM)                                                               \
    ATTR static void NAME(int fmt, const unsigned char *xq, size_t rows, size_t k, const unsigned char *w, size_t n, \
                          size_t nb, size_t ne, const float *bias, float *y) {                                       \
        const size_t nblocks = k / VL_QBLOCK, bb = vl_block_bytes(fmt);                                              \
        for (size_t m = 0; m < rows; ++m) {                                                                          \
            for (size_t j = nb; j < ne; ++j) {                                                                       \
                float s = 0.0f;                                                                                      \
                for (size_t b = 0; b < nblocks; ++b) {                                                               \
                    const unsigned char *wb = w + (j * nblocks + b) * bb;                                            \
                    const unsigned char *xb = xq + (m * nblocks + b) * VL_Q8_BLOCK_BYTES;                            \
                    s = fmaf((float)BLOCK_SUM(fmt, wb, xb), vl_block_scale(wb) * vl_block_scale(xb), s);             \
                }                                                                                                    \
                y[m * n + j] = bias ? s + bias[j] : s;                                                               \
            }                                                                                                        \
        }                                                                                                            \
    }

static inline int block_sum_scalar(int fmt, const unsigned char *wb, const unsigned char *xb) {
    int q[VL_QBLOCK], sum = 0;
    vl_block_values(fmt, wb, q);
    for (int t = 0; t < VL_QBLOCK; ++t) sum += q[t] * (int8_t)xb[4 + t];
    return sum;
}

// The sum of 8 int32 lanes (exact: integer addition in any order).
VL_AVX2 VL_INLINE int32_t sum8_epi32(__m256i lanes) {
    const __m128i half = _mm_add_epi32(_mm256_castsi256_si128(lanes), _mm256_extracti128_si256(lanes, 1));
    const __m128i quarter = _mm_add_epi32(half, _mm_shuffle_epi32(half, 0x4E));
    return _mm_cvtsi128_si32(_mm_add_epi32(quarter, _mm_shuffle_epi32(quarter, 0xB1)));
}

// |w| times (x with w's sign) in 16-bit pairs (exact: |pair| <= 2 * 127 * 127), then 32-bit quads, then their sum.
VL_AVX2 VL_INLINE int block_sum_avx2(int fmt, const unsigned char *wb, const unsigned char *xb) {
    const __m256i wq = vl_block_ints_avx2(fmt, wb), x = _mm256_loadu_si256((const __m256i *)(xb + 4));
    const __m256i pairs = _mm256_maddubs_epi16(_mm256_sign_epi8(wq, wq), _mm256_sign_epi8(x, wq));
    return sum8_epi32(_mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
}

VL_DEFINE_MMQ_BY_OUTPUT(matmul_scalar, , block_sum_scalar)
VL_DEFINE_MMQ_BY_OUTPUT(matmul_avx2, VL_AVX2, block_sum_avx2)

// MARK: - AVX-512 with VNNI (6 x 32 tile)

// The 32 weights of a block as offset (unsigned) bytes in order t = 0..31: q8 w + 128 = w ^ 0x80, q4 the stored
// nibbles (q + 8), low nibbles first.
VL_AVX512_VNNI VL_INLINE __m256i offset_bytes(int fmt, const unsigned char *blk) {
    if (fmt == VL_FMT_Q8)
        return _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(blk + 4)), _mm256_set1_epi8((char)0x80));
    const __m128i raw = _mm_loadu_si128((const __m128i *)(blk + 4)), mask = _mm_set1_epi8(15);
    return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(raw, 4), mask), _mm_and_si128(raw, mask));
}

// Packs columns [j0, j0 + nc) over k [k0, k0 + kc) into panels of NR columns: panel p's byte (g * NR + c) * 4 + t is
// the offset weight k0 + 4g + t of column j0 + p * NR + c, and its float kc * NR + b * NR + c the scale of that
// column's block k0 / 32 + b. Columns past nc get zero bytes and scales (their outputs are masked at the store).
VL_AVX512_VNNI static void pack_panels(int fmt, const unsigned char *w, size_t k, size_t j0, size_t nc, size_t k0,
                                       size_t kc, unsigned char *dst) {
    const size_t nblocks = k / VL_QBLOCK, bb = vl_block_bytes(fmt), blocks = kc / VL_QBLOCK;
    for (size_t p = 0; p * VL_MMQ_NR < nc; ++p) {
        unsigned char *panel = dst + p * panel_bytes(kc);
        float *scales = (float *)(panel + kc * VL_MMQ_NR);
        for (size_t c = 0; c < VL_MMQ_NR; ++c) {
            const size_t column = p * VL_MMQ_NR + c;
            for (size_t b = 0; b < blocks; ++b) {
                unsigned char bytes[VL_QBLOCK] = {0};
                float d = 0.0f;
                if (column < nc) {
                    const unsigned char *blk = w + ((j0 + column) * nblocks + k0 / VL_QBLOCK + b) * bb;
                    _mm256_storeu_si256((__m256i *)bytes, offset_bytes(fmt, blk));
                    d = vl_block_scale(blk);
                }
                for (size_t g = 0; g < VL_QBLOCK / 4; ++g)
                    memcpy(panel + ((b * VL_QBLOCK / 4 + g) * VL_MMQ_NR + c) * 4, bytes + 4 * g, 4);
                scales[b * VL_MMQ_NR + c] = d;
            }
        }
    }
}

// The lane start -offset * sum(x) and the scale d_x of every block of k [k0, k0 + kc) of R input rows from row m0.
VL_AVX512_VNNI static void strip_starts(int fmt, const unsigned char *xq, size_t k, size_t m0, int R, size_t k0,
                                        size_t kc, int32_t *starts, float *dx) {
    const size_t nblocks = k / VL_QBLOCK, blocks = kc / VL_QBLOCK;
    const __m256i offset = _mm256_set1_epi8((char)weight_offset(fmt));
    for (int i = 0; i < R; ++i) {
        for (size_t b = 0; b < blocks; ++b) {
            const unsigned char *xb = xq + ((m0 + (size_t)i) * nblocks + k0 / VL_QBLOCK + b) * VL_Q8_BLOCK_BYTES;
            const __m256i x = _mm256_loadu_si256((const __m256i *)(xb + 4));
            starts[(size_t)i * blocks + b] = -sum8_epi32(_mm256_dpbusd_epi32(_mm256_setzero_si256(), offset, x));
            dx[(size_t)i * blocks + b] = vl_block_scale(xb);
        }
    }
}

// R rows (compile-time after inlining) of input blocks times one packed panel, into Y at y (row stride ldy),
// columns masked by m0 (0..15) and m1 (16..31); the accumulators start from Y unless `first`, and bias (the tile's 32
// biases, or NULL) is added when this is the last K block.
VL_AVX512_VNNI VL_INLINE void tile_avx512(const unsigned char *x, size_t x_row_bytes, const int32_t *starts,
                                          const float *dx, size_t blocks, const unsigned char *panel, float *y,
                                          size_t ldy, const int R, __mmask16 m0, __mmask16 m1, int first,
                                          const float *bias) {
    const float *scales = (const float *)(panel + blocks * VL_QBLOCK * VL_MMQ_NR);
    __m512 c0[VL_MMQ_MR], c1[VL_MMQ_MR];
    vl_tile32_begin(c0, c1, R, y, ldy, m0, m1, first);
    for (size_t b = 0; b < blocks; ++b) {
        __m512i s0[VL_MMQ_MR], s1[VL_MMQ_MR];
        for (int i = 0; i < R; ++i) s0[i] = s1[i] = _mm512_set1_epi32(starts[(size_t)i * blocks + b]);
        const unsigned char *wb = panel + b * VL_QBLOCK * VL_MMQ_NR;
        for (int g = 0; g < VL_QBLOCK / 4; ++g) {
            const __m512i w0 = _mm512_loadu_si512(wb + g * 4 * VL_MMQ_NR);
            const __m512i w1 = _mm512_loadu_si512(wb + g * 4 * VL_MMQ_NR + 64);
            for (int i = 0; i < R; ++i) {
                int32_t quad;
                memcpy(&quad, x + (size_t)i * x_row_bytes + b * VL_Q8_BLOCK_BYTES + 4 + 4 * g, 4);
                const __m512i xv = _mm512_set1_epi32(quad);
                s0[i] = _mm512_dpbusd_epi32(s0[i], w0, xv);
                s1[i] = _mm512_dpbusd_epi32(s1[i], w1, xv);
            }
        }
        const __m512 d0 = _mm512_loadu_ps(scales + b * VL_MMQ_NR), d1 = _mm512_loadu_ps(scales + b * VL_MMQ_NR + 16);
        for (int i = 0; i < R; ++i) {
            const __m512 di = _mm512_set1_ps(dx[(size_t)i * blocks + b]);
            c0[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s0[i]), _mm512_mul_ps(d0, di), c0[i]);
            c1[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s1[i]), _mm512_mul_ps(d1, di), c1[i]);
        }
    }
    vl_tile32_end(c0, c1, R, y, ldy, m0, m1, bias);
}

#define VL_MMQ_TILE_CASE(R)                                                                                          \
    case R: tile_avx512(xt, x_row_bytes, starts, dx, blocks, bp, yt, n, R, mk0, mk1, first, bt); break;

VL_AVX512_VNNI static void matmul_avx512(int fmt, const unsigned char *xq, size_t rows, size_t k,
                                         const unsigned char *w, size_t n, size_t nb, size_t ne, const float *bias,
                                         float *y, unsigned char *ws) {
    const size_t x_row_bytes = k / VL_QBLOCK * VL_Q8_BLOCK_BYTES;
    int32_t starts[VL_MMQ_MR * (VL_MMQ_KC / VL_QBLOCK)];
    float dx[VL_MMQ_MR * (VL_MMQ_KC / VL_QBLOCK)];
    for (size_t j0 = nb; j0 < ne; j0 += VL_MMQ_NC) {
        const size_t nc = ne - j0 < VL_MMQ_NC ? ne - j0 : VL_MMQ_NC;
        for (size_t k0 = 0; k0 < k; k0 += VL_MMQ_KC) {
            const size_t kc = k - k0 < VL_MMQ_KC ? k - k0 : VL_MMQ_KC, blocks = kc / VL_QBLOCK;
            pack_panels(fmt, w, k, j0, nc, k0, kc, ws);
            const int first = k0 == 0, last = k0 + kc == k;
            for (size_t m0 = 0; m0 < rows; m0 += VL_MMQ_MR) {
                const int r = rows - m0 < VL_MMQ_MR ? (int)(rows - m0) : VL_MMQ_MR;
                strip_starts(fmt, xq, k, m0, r, k0, kc, starts, dx);
                const unsigned char *xt = xq + m0 * x_row_bytes + k0 / VL_QBLOCK * VL_Q8_BLOCK_BYTES;
                for (size_t p = 0; p * VL_MMQ_NR < nc; ++p) {
                    const size_t nv = nc - p * VL_MMQ_NR < VL_MMQ_NR ? nc - p * VL_MMQ_NR : VL_MMQ_NR;
                    __mmask16 mk0, mk1;
                    vl_tile32_masks(nv, &mk0, &mk1);
                    const float *bt = last && bias ? bias + j0 + p * VL_MMQ_NR : NULL;
                    const unsigned char *bp = ws + p * panel_bytes(kc);
                    float *yt = y + m0 * n + j0 + p * VL_MMQ_NR;
                    switch (r) {
                    VL_MMQ_TILE_CASE(6)
                    VL_MMQ_TILE_CASE(5)
                    VL_MMQ_TILE_CASE(4)
                    VL_MMQ_TILE_CASE(3)
                    VL_MMQ_TILE_CASE(2)
                    default: tile_avx512(xt, x_row_bytes, starts, dx, blocks, bp, yt, n, 1, mk0, mk1, first, bt); break;
                    }
                }
            }
        }
    }
}

// MARK: - Dispatch

static void matmul_quant(vl_isa isa, int fmt, const void *xq, size_t rows, size_t k, const void *w, size_t n,
                         size_t n_begin, size_t n_end, const float *bias, float *y, void *workspace) {
    if (rows == 0 || n_begin >= n_end || k % VL_QBLOCK != 0) return;
    const unsigned char *x = xq, *wq = w;
    switch (vl_isa_supported(isa)) {
    case VL_ISA_AVX512:
        if (vl_has_avx512_vnni()) {
            matmul_avx512(fmt, x, rows, k, wq, n, n_begin, n_end, bias, y, workspace);
            break;
        }
        /* fall through: AVX-512 without VNNI runs the AVX2 code */
    case VL_ISA_AVX2: matmul_avx2(fmt, x, rows, k, wq, n, n_begin, n_end, bias, y); break;
    default: matmul_scalar(fmt, x, rows, k, wq, n, n_begin, n_end, bias, y); break;
    }
}

void vl_matmul_q8(vl_isa isa, const void *xq, size_t rows, size_t k, const void *w, size_t n, size_t n_begin,
                  size_t n_end, const float *bias, float *y, void *workspace) {
    matmul_quant(isa, VL_FMT_Q8, xq, rows, k, w, n, n_begin, n_end, bias, y, workspace);
}

void vl_matmul_q4(vl_isa isa, const void *xq, size_t rows, size_t k, const void *w, size_t n, size_t n_begin,
                  size_t n_end, const float *bias, float *y, void *workspace) {
    matmul_quant(isa, VL_FMT_Q4, xq, rows, k, w, n, n_begin, n_end, bias, y, workspace);
}
