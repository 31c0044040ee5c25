// The product of q8 / q4 weights with q8 inputs (layout and order in vl_quant.h), for decoding and prefill alike.
//
// Per 32-weight block, a weight row times an input row is one exact integer; the float steps are one multiplication
// d_w * d_x and one fused multiply-add per block. The scalar reference does exactly that; the fast forms form the
// same integers in another order (integer addition is exact), so results are bit-identical for every ISA, row split
// and batch.
//
// The fast forms compute a tile of R input rows by a few units of weight rows over a range of blocks, with float
// accumulators in registers and one integer accumulator per output and block:
// - AVX-512 with VNNI: units of a whole group (16 rows, one zmm). A 64-byte chunk of a group block is 16 rows times
//   4 offset (unsigned) weights; vpdpbusd adds their products with 4 input values broadcast to every lane. Each
//   block's integer lane starts at -offset * sum(x) (stored with the input block), which leaves sum w x.
// - AVX2 (and AVX-512 without VNNI): units of half a group (8 rows, one ymm): the weights back to signed bytes, then
//   vpmaddubsw on |w| and x with w's sign (exact: |pair sums| <= 2 * 127 * 127 < 2^15) and vpmaddwd into 32 bits.
// The driver streams few inputs (decoding) through the row range in one pass, each weight read once from memory for
// all of them; many inputs (prefill) go in cache blocks of rows by columns, each block read from memory once and
// reused from cache by every strip of input rows. A block of columns stores its partial sums to Y and the next one
// reloads them, which changes no bit.
#include "vl_quant.h"
#include "vl_quant_blocks.h"
#include "vl_simd.h"

#include <immintrin.h>
#include <math.h>
#include <string.h>

// Cache blocks of the prefill path: VL_QPROD_KC blocks (512 columns) of VL_QPROD_NC rows: 147 KB of q8 weights in
// L2; a strip's input rows (6 x 640 bytes) in L1.
#define VL_QPROD_KC 16
#define VL_QPROD_NC 256
// How far ahead of the group block in use the decoding path prefetches, in group blocks (9 KB of q8, 5 KB of q4): it
// reads a row range as one contiguous run, whole rows of one group after another. Measured on a 2-core Sapphire
// Rapids VM, q4, one input: 12-16 GB/s without, 19-24 with. (Cutting the rows into runs of columns whose inputs stay
// in L1 measured no better at 8 inputs, within this VM's noise, and breaks the run.)
#define VL_QPROD_PREFETCH 16

/// The int32 stored at p (any alignment).
static inline int32_t load_i32(const unsigned char *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

// MARK: - Scalar reference

static void product_scalar(vl_qformat fmt, const unsigned char *w, size_t cols, size_t rb, size_t re,
                           const unsigned char *xq, size_t batch, const float *bias, float *y, size_t ys) {
    const size_t nblocks = cols / VL_QBLOCK;
    for (size_t b = 0; b < batch; ++b) {
        for (size_t r = rb; r < re; ++r) {
            float s = 0.0f;
            for (size_t j = 0; j < nblocks; ++j) {
                const unsigned char *block = vl_qgroup_block(fmt, w, cols, r / VL_QGROUP, j);
                const unsigned char *xb = xq + (b * nblocks + j) * VL_QINPUT_BLOCK_BYTES;
                const int c = (int)(r % VL_QGROUP);
                int sum = 0;
                for (int t = 0; t < VL_QBLOCK; ++t) sum += vl_qvalue(fmt, block, c, t) * (int8_t)xb[8 + t];
                s = fmaf((float)sum, vl_qscale(block + 4 * c) * vl_qscale(xb), s);
            }
            y[b * ys + r] = bias ? s + bias[r] : s;
        }
    }
}

// MARK: - Driver

// Prefetches the group block VL_QPROD_PREFETCH after `block` in memory: later in this group's row, then the next
// group's (prefetches past the matrix are dropped by the CPU, never a fault).
static inline void prefetch_ahead(vl_qformat fmt, const unsigned char *block) {
    const size_t bytes = vl_qgroup_block_bytes(fmt);
    for (size_t line = 0; line < bytes; line += 64)
        _mm_prefetch((const char *)block + VL_QPROD_PREFETCH * bytes + line, _MM_HINT_T0);
}

/// The lanes of a unit of U weight rows starting at row `first` that fall in [rb, re), as a bit mask.
static inline unsigned unit_lanes(size_t first, size_t U, size_t rb, size_t re) {
    const size_t lo = rb > first ? rb - first : 0, hi = re - first >= U ? U : re - first;
    return ((1u << hi) - 1u) & ~((1u << lo) - 1u);
}

// Defines NAME(w, cols, rb, re, x, batch, bias, y, ys) for format FMT over units of U weight rows. Up to STREAM
// inputs (`stream`) go through the row range in one run, tiles of all the inputs by one unit over whole rows. More go in cache blocks of VL_QPROD_NC rows by VL_QPROD_KC blocks, strips of MR input rows,
// tiles of up to NU units. CASES: `case units * 16 + rows:` labels calling the tile with (u, units, x strip, rows,
// j0, j1, y strip, first, bias or NULL, stream).
#define VL_DEFINE_QPRODUCT_DRIVER(NAME, ATTR, FMT, U, STREAM, MR, NU, CASES)                                         \
    ATTR static void NAME(const unsigned char *w, size_t cols, size_t rb, size_t re, const unsigned char *x,         \
                          size_t batch, const float *bias, float *y, size_t ys) {                                    \
        const size_t nblocks = cols / VL_QBLOCK, xrb = nblocks * VL_QINPUT_BLOCK_BYTES;                              \
        const size_t ub = rb / (U), ue = (re + (U)-1) / (U);                                                         \
        const int stream = batch <= (STREAM);                                                                        \
        const size_t kc = stream ? nblocks : VL_QPROD_KC;                                                            \
        const size_t nc = stream ? ue - ub : VL_QPROD_NC / (U);                                                      \
        const size_t mr = stream ? batch : (MR), nu = stream ? 1 : (NU);                                             \
        for (size_t uc = ub; uc < ue; uc += nc) {                                                                    \
            const size_t uce = ue - uc < nc ? ue : uc + nc;                                                          \
            size_t j0 = 0;                                                                                           \
            do { /* at least once, so that cols == 0 still writes its outputs */                                     \
                const size_t j1 = nblocks - j0 > kc ? j0 + kc : nblocks;                                             \
                const int first = j0 == 0;                                                                           \
                const float *last_bias = j1 == nblocks ? bias : NULL;                                                \
                for (size_t m0 = 0; m0 < batch; m0 += mr) {                                                          \
                    const size_t rows = batch - m0 < mr ? batch - m0 : mr;                                           \
                    const unsigned char *xs = x + m0 * xrb;                                                          \
                    float *yt = y + m0 * ys;                                                                         \
                    for (size_t u = uc; u < uce; u += nu) {                                                          \
                        const size_t units = uce - u < nu ? uce - u : nu;                                            \
                        switch (units * 16 + rows) { CASES default: break; }                                         \
                    }                                                                                                \
                }                                                                                                    \
                j0 = j1;                                                                                             \
            } while (j0 < nblocks);                                                                                  \
        }                                                                                                            \
    }

// MARK: - AVX2 + FMA (8 weight rows per unit)

// The signed weights t = 4q .. 4q + 3 of the 8 rows of unit u (half h of its group) in a group block, per 32-bit
// lane: q8 chunk q back from offset bytes; q4 chunk q % 4, low nibbles for q < 4, high ones after.
VL_AVX2 VL_INLINE __m256i unit_quads_avx2(vl_qformat fmt, const unsigned char *block, int h, int q) {
    if (fmt == VL_Q8)
        return _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(block + 64 + 64 * q + 32 * h)),
                                _mm256_set1_epi8((char)0x80));
    const __m256i raw = _mm256_loadu_si256((const __m256i *)(block + 64 + 64 * (q % 4) + 32 * h));
    const __m256i nibbles = q < 4 ? raw : _mm256_srli_epi16(raw, 4);
    return _mm256_sub_epi8(_mm256_and_si256(nibbles, _mm256_set1_epi8(15)), _mm256_set1_epi8(8));
}

// The lanes of unit u in [rb, re) as an AVX2 mask (all bits set in a lane that is in).
VL_AVX2 VL_INLINE __m256i lane_mask_avx2(unsigned lanes) {
    const __m256i bits = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    return _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32((int)lanes), bits), bits);
}

// R input rows at x (row stride xrb) times the 8 weight rows of unit u over blocks [j0, j1); outputs at y (row stride
// ys). The accumulators start at zero (first) or from Y; bias (or NULL) is added before the final store.
VL_AVX2 VL_INLINE void tile_avx2(vl_qformat fmt, const unsigned char *w, size_t cols, size_t u,
                                 const unsigned char *x, size_t xrb, const int R, size_t j0, size_t j1, float *y,
                                 size_t ys, size_t rb, size_t re, int first, const float *bias) {
    const __m256i mask = lane_mask_avx2(unit_lanes(u * 8, 8, rb, re));
    const int h = (int)(u % 2);
    float *yu = y + u * 8;
    __m256 acc[4];
    for (int i = 0; i < R; ++i) acc[i] = first ? _mm256_setzero_ps() : _mm256_maskload_ps(yu + i * ys, mask);
    for (size_t j = j0; j < j1; ++j) {
        const unsigned char *block = vl_qgroup_block(fmt, w, cols, u / 2, j);
        __m256i sums[4];
        for (int i = 0; i < R; ++i) sums[i] = _mm256_setzero_si256();
        for (int q = 0; q < VL_QBLOCK / 4; ++q) {
            const __m256i wq = unit_quads_avx2(fmt, block, h, q), w_abs = _mm256_abs_epi8(wq);
            for (int i = 0; i < R; ++i) {
                const __m256i xv = _mm256_set1_epi32(load_i32(x + i * xrb + j * VL_QINPUT_BLOCK_BYTES + 8 + 4 * q));
                const __m256i pairs = _mm256_maddubs_epi16(w_abs, _mm256_sign_epi8(xv, wq));
                sums[i] = _mm256_add_epi32(sums[i], _mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
            }
        }
        const __m256 dw = _mm256_loadu_ps((const float *)(block + 32 * h));
        for (int i = 0; i < R; ++i) {
            const __m256 dx = _mm256_set1_ps(vl_qscale(x + i * xrb + j * VL_QINPUT_BLOCK_BYTES));
            acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums[i]), _mm256_mul_ps(dw, dx), acc[i]);
        }
    }
    const __m256 b = bias ? _mm256_maskload_ps(bias + u * 8, mask) : _mm256_setzero_ps();
    for (int i = 0; i < R; ++i) _mm256_maskstore_ps(yu + i * ys, mask, bias ? _mm256_add_ps(acc[i], b) : acc[i]);
}

#define VL_QAVX2_CASE(FMT, R)                                                                                        \
    case 16 + (R): tile_avx2(FMT, w, cols, u, xs, xrb, R, j0, j1, yt, ys, rb, re, first, last_bias); break;
#define VL_QAVX2_CASES(FMT)                                                                                          \
    VL_QAVX2_CASE(FMT, 1) VL_QAVX2_CASE(FMT, 2) VL_QAVX2_CASE(FMT, 3) VL_QAVX2_CASE(FMT, 4)

VL_DEFINE_QPRODUCT_DRIVER(product_avx2_q8, VL_AVX2, VL_Q8, 8, 4, 4, 1, VL_QAVX2_CASES(VL_Q8))
VL_DEFINE_QPRODUCT_DRIVER(product_avx2_q4, VL_AVX2, VL_Q4, 8, 4, 4, 1, VL_QAVX2_CASES(VL_Q4))

// MARK: - AVX-512 with VNNI (16 weight rows per unit)

// R input rows at x times the NG groups from group g over blocks [j0, j1), otherwise as tile_avx2. R * NG <= 12
// (integer and float accumulators, the weights and the broadcast inputs fill the 32 registers).
VL_AVX512_VNNI VL_INLINE void tile_avx512(vl_qformat fmt, const unsigned char *w, size_t cols, size_t g,
                                          const int NG, const unsigned char *x, size_t xrb, const int R, size_t j0,
                                          size_t j1, float *y, size_t ys, size_t rb, size_t re, int first,
                                          const float *bias, int stream) {
    // The tile's outputs are the 32-column tile of the matrix multiplies (vl_simd.h) at group g's first row, its
    // second half unused (mask 0, which the compiler folds away) when NG == 1.
    float *yg = y + g * VL_QGROUP;
    const __mmask16 m0 = (__mmask16)unit_lanes(g * VL_QGROUP, VL_QGROUP, rb, re);
    const __mmask16 m1 = NG == 2 ? (__mmask16)unit_lanes((g + 1) * VL_QGROUP, VL_QGROUP, rb, re) : 0;
    __m512 acc[2][8];
    vl_tile32_begin(acc[0], acc[1], R, yg, ys, m0, m1, first);
    for (size_t j = j0; j < j1; ++j) {
        const unsigned char *block[2], *xb[8];
        for (int n = 0; n < NG; ++n) block[n] = vl_qgroup_block(fmt, w, cols, g + (size_t)n, j);
        if (stream) prefetch_ahead(fmt, block[0]);
        __m512i sums[8][2];
        for (int i = 0; i < R; ++i) {
            xb[i] = x + i * xrb + j * VL_QINPUT_BLOCK_BYTES;
            const __m512i start = _mm512_set1_epi32(load_i32(xb[i] + 4));
            for (int n = 0; n < NG; ++n) sums[i][n] = start;
        }
        for (int q = 0; q < VL_QBLOCK / 4; ++q) {
            // q8: chunk q holds weights 4q ..; q4: chunk q % 4 holds them in its low (q < 4) or high nibbles
            __m512i wq[2];
            for (int n = 0; n < NG; ++n) {
                if (fmt == VL_Q8) {
                    wq[n] = _mm512_loadu_si512(block[n] + 64 + 64 * q);
                } else {
                    const __m512i raw = _mm512_loadu_si512(block[n] + 64 + 64 * (q % 4));
                    wq[n] = _mm512_and_si512(q < 4 ? raw : _mm512_srli_epi16(raw, 4), _mm512_set1_epi8(15));
                }
            }
            for (int i = 0; i < R; ++i) {
                const __m512i xv = _mm512_set1_epi32(load_i32(xb[i] + 8 + 4 * q));
                for (int n = 0; n < NG; ++n) sums[i][n] = _mm512_dpbusd_epi32(sums[i][n], wq[n], xv);
            }
        }
        __m512 dw[2];
        for (int n = 0; n < NG; ++n) dw[n] = _mm512_loadu_ps((const float *)block[n]);
        for (int i = 0; i < R; ++i) {
            const __m512 dx = _mm512_set1_ps(vl_qscale(xb[i]));
            for (int n = 0; n < NG; ++n)
                acc[n][i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sums[i][n]), _mm512_mul_ps(dw[n], dx), acc[n][i]);
        }
    }
    vl_tile32_end(acc[0], acc[1], R, yg, ys, m0, m1, bias ? bias + g * VL_QGROUP : NULL);
}

#define VL_QAVX512_CASE(FMT, NG, R)                                                                                  \
    case (NG) * 16 + (R):                                                                                            \
        tile_avx512(FMT, w, cols, u, NG, xs, xrb, R, j0, j1, yt, ys, rb, re, first, last_bias, stream);              \
        break;
#define VL_QAVX512_CASES(FMT)                                                                                        \
    VL_QAVX512_CASE(FMT, 1, 1) VL_QAVX512_CASE(FMT, 1, 2) VL_QAVX512_CASE(FMT, 1, 3) VL_QAVX512_CASE(FMT, 1, 4)      \
    VL_QAVX512_CASE(FMT, 1, 5) VL_QAVX512_CASE(FMT, 1, 6) VL_QAVX512_CASE(FMT, 1, 7) VL_QAVX512_CASE(FMT, 1, 8)      \
    VL_QAVX512_CASE(FMT, 2, 1) VL_QAVX512_CASE(FMT, 2, 2) VL_QAVX512_CASE(FMT, 2, 3) VL_QAVX512_CASE(FMT, 2, 4)      \
    VL_QAVX512_CASE(FMT, 2, 5) VL_QAVX512_CASE(FMT, 2, 6)

VL_DEFINE_QPRODUCT_DRIVER(product_avx512_q8, VL_AVX512_VNNI, VL_Q8, 16, 8, 6, 2, VL_QAVX512_CASES(VL_Q8))
VL_DEFINE_QPRODUCT_DRIVER(product_avx512_q4, VL_AVX512_VNNI, VL_Q4, 16, 8, 6, 2, VL_QAVX512_CASES(VL_Q4))

// MARK: - Dispatch

void vl_qproduct(vl_isa isa, vl_qformat format, const void *w, size_t cols, size_t row_begin, size_t row_end,
                 const void *xq, size_t batch, const float *bias, float *y, size_t y_stride) {
    if (cols % VL_QBLOCK != 0 || row_begin >= row_end || batch == 0) return;
    const unsigned char *wb = w, *x = xq;
    const int q8 = format == VL_Q8;
    switch (vl_isa_supported(isa)) {
    case VL_ISA_AVX512:
        if (vl_has_avx512_vnni()) {
            (q8 ? product_avx512_q8 : product_avx512_q4)(wb, cols, row_begin, row_end, x, batch, bias, y, y_stride);
            break;
        }
        /* fall through: AVX-512 without VNNI runs the AVX2 code */
    case VL_ISA_AVX2:
        (q8 ? product_avx2_q8 : product_avx2_q4)(wb, cols, row_begin, row_end, x, batch, bias, y, y_stride);
        break;
    default: product_scalar(format, wb, cols, row_begin, row_end, x, batch, bias, y, y_stride); break;
    }
}
