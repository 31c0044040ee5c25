// Tiled attention with an online softmax (see vl_attention.h for the formulas and the determinism contract).
//
// One driver, instantiated per ISA with that ISA's primitives: a dot product in the 16-lane order, and the
// element-wise accumulator steps (scale, fused multiply-add of p v, divide). Contraction is switched off so the
// compiler cannot fuse a multiply and an add in one ISA's code but not in another's; fused multiply-adds appear only
// where written (fmaf / fmadd).
#pragma STDC FP_CONTRACT OFF

#include "vl_attention.h"
#include "vl_simd.h"

#include <immintrin.h>
#include <math.h>
#include <string.h>

/// Queries of one head processed together, sharing each key/value tile, copied once into contiguous scratch (the
/// rows of one head are heads x head_dim floats apart, a stride that aliases in L1). Measured at 1024 x 1024 tokens,
/// 16 heads of 80, one thread: 16 queries over 32-key tiles 0.19-0.24 s; 8 queries 0.24-0.33 s; 64-key tiles 0.21-0.27
/// s; before the copy, 8 queries over 32 keys 0.29-0.31 s and 4 over 64 keys 0.33-0.40 s.
#define VL_ATT_QBLOCK 16

size_t vl_attention_scratch_floats(size_t head_dim) {
    return VL_ATTENTION_TILE + VL_ATT_QBLOCK * head_dim + 2 * VL_ATTENTION_TILE * head_dim;
}

// MARK: - Scalar reference primitives

/// Σ a[k] b[k] in the 16-lane order: s[k % 16] = fmaf(a[k], b[k], s[k % 16]), then the halving tree.
static float dot_scalar(const float *a, const float *b, size_t n) {
    float s[16] = {0};
    for (size_t k = 0; k < n; ++k) s[k & 15] = fmaf(a[k], b[k], s[k & 15]);
    return vl_reduce16(s);
}

/// dot_scalar of a with the 4 rows b, b + bs, b + 2 bs, b + 3 bs.
static void dot4_scalar(const float *a, const float *b, size_t bs, size_t n, float out[4]) {
    for (int r = 0; r < 4; ++r) out[r] = dot_scalar(a, b + r * bs, n);
}

VL_INLINE void scale_tail(float *acc, float c, size_t from, size_t n) {
    for (size_t d = from; d < n; ++d) acc[d] = acc[d] * c;
}

VL_INLINE void axpy_tail(float *acc, float p, const float *v, size_t from, size_t n) {
    for (size_t d = from; d < n; ++d) acc[d] = fmaf(p, v[d], acc[d]);
}

VL_INLINE void div_tail(float *out, const float *acc, float l, size_t from, size_t n) {
    for (size_t d = from; d < n; ++d) out[d] = acc[d] / l;
}

static void scale_scalar(float *acc, float c, size_t n) { scale_tail(acc, c, 0, n); }
/// s[j] = exp(s[j] - m) for j < n (vl_exp of vl_simd.h: the vector forms give the same bits).
static void exp_tile_scalar(float *s, float m, size_t n) {
    for (size_t j = 0; j < n; ++j) s[j] = vl_exp_scalar(s[j] - m);
}

// acc[d] += p[j] v_j[d] for the keys j < nkeys of a tile in order (v_j = v + j * ks), one element at a time.
static void axpy_tile_scalar(float *acc, const float *p, const float *v, size_t ks, size_t nkeys, size_t n) {
    for (size_t j = 0; j < nkeys; ++j) axpy_tail(acc, p[j], v + j * ks, 0, n);
}
static void div_scalar(float *out, const float *acc, float l, size_t n) { div_tail(out, acc, l, 0, n); }

// MARK: - AVX2 primitives (16 lanes = two ymm accumulators)

/// Lane masks for a tail of rem (0 < rem < 16) elements: m0 covers lanes 0..7, m1 lanes 8..15.
VL_AVX2 VL_INLINE void att_tail_masks_avx2(size_t rem, __m256i *m0, __m256i *m1) {
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    *m0 = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)rem), idx);
    *m1 = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)rem - 8), idx);
}

// The accumulators start at +0 and never become -0 (an exact-zero fused result is +0 under round-to-nearest), so
// the fmadd of masked-off zero lanes adds +0 and leaves them unchanged: the tail matches the scalar loop exactly.
VL_AVX2 VL_INLINE float dot_avx2(const float *a, const float *b, size_t n) {
    __m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps();
    size_t k = 0;
    for (; k + 16 <= n; k += 16) {
        lo = _mm256_fmadd_ps(_mm256_loadu_ps(a + k), _mm256_loadu_ps(b + k), lo);
        hi = _mm256_fmadd_ps(_mm256_loadu_ps(a + k + 8), _mm256_loadu_ps(b + k + 8), hi);
    }
    if (k < n) {
        __m256i m0, m1;
        att_tail_masks_avx2(n - k, &m0, &m1);
        lo = _mm256_fmadd_ps(_mm256_maskload_ps(a + k, m0), _mm256_maskload_ps(b + k, m0), lo);
        hi = _mm256_fmadd_ps(_mm256_maskload_ps(a + k + 8, m1), _mm256_maskload_ps(b + k + 8, m1), hi);
    }
    return vl_reduce_avx2(lo, hi);
}

// dot_avx2 of a with 4 rows at once: four independent accumulator pairs hide the FMA latency that one dot's chain
// exposes (each score is still summed in the 16-lane order).
VL_AVX2 VL_INLINE void dot4_avx2(const float *a, const float *b, size_t bs, size_t n, float out[4]) {
    __m256 lo[4], hi[4];
    for (int r = 0; r < 4; ++r) lo[r] = hi[r] = _mm256_setzero_ps();
    size_t k = 0;
    for (; k + 16 <= n; k += 16) {
        const __m256 a0 = _mm256_loadu_ps(a + k), a1 = _mm256_loadu_ps(a + k + 8);
        for (int r = 0; r < 4; ++r) {
            lo[r] = _mm256_fmadd_ps(a0, _mm256_loadu_ps(b + r * bs + k), lo[r]);
            hi[r] = _mm256_fmadd_ps(a1, _mm256_loadu_ps(b + r * bs + k + 8), hi[r]);
        }
    }
    if (k < n) {
        __m256i m0, m1;
        att_tail_masks_avx2(n - k, &m0, &m1);
        const __m256 a0 = _mm256_maskload_ps(a + k, m0), a1 = _mm256_maskload_ps(a + k + 8, m1);
        for (int r = 0; r < 4; ++r) {
            lo[r] = _mm256_fmadd_ps(a0, _mm256_maskload_ps(b + r * bs + k, m0), lo[r]);
            hi[r] = _mm256_fmadd_ps(a1, _mm256_maskload_ps(b + r * bs + k + 8, m1), hi[r]);
        }
    }
    for (int r = 0; r < 4; ++r) out[r] = vl_reduce_avx2(lo[r], hi[r]);
}

VL_AVX2 VL_INLINE void exp_tile_avx2(float *s, float m, size_t n) {
    const __m256 mv = _mm256_set1_ps(m);
    size_t j = 0;
    for (; j + 8 <= n; j += 8) _mm256_storeu_ps(s + j, vl_exp_avx2(_mm256_sub_ps(_mm256_loadu_ps(s + j), mv)));
    exp_tile_scalar(s + j, m, n - j);
}

VL_AVX2 VL_INLINE void scale_avx2(float *acc, float c, size_t n) {
    const __m256 vc = _mm256_set1_ps(c);
    size_t d = 0;
    for (; d + 8 <= n; d += 8) _mm256_storeu_ps(acc + d, _mm256_mul_ps(_mm256_loadu_ps(acc + d), vc));
    scale_tail(acc, c, d, n);
}

// Elements [d0, d0 + 8R) of axpy_tile_scalar with their R accumulators in registers for the whole tile (R a
// compile-time constant after inlining): each element still receives its keys' terms in key order, and acc is
// loaded and stored once per tile, not once per key.
VL_AVX2 VL_INLINE void axpy_chunk_avx2(float *acc, const float *p, const float *v, size_t ks, size_t nkeys, size_t d0,
                                       const int R) {
    __m256 a[8];
    for (int r = 0; r < R; ++r) a[r] = _mm256_loadu_ps(acc + d0 + 8 * r);
    for (size_t j = 0; j < nkeys; ++j) {
        const __m256 vp = _mm256_set1_ps(p[j]);
        for (int r = 0; r < R; ++r) a[r] = _mm256_fmadd_ps(vp, _mm256_loadu_ps(v + j * ks + d0 + 8 * r), a[r]);
    }
    for (int r = 0; r < R; ++r) _mm256_storeu_ps(acc + d0 + 8 * r, a[r]);
}

// axpy_tile_scalar 64 elements at a time, then the remaining whole vectors in one more pass over the keys (several
// independent accumulators, not one latency-bound chain per vector), then the scalar tail.
VL_AVX2 VL_INLINE void axpy_tile_avx2(float *acc, const float *p, const float *v, size_t ks, size_t nkeys, size_t n) {
    size_t d0 = 0;
    for (; d0 + 64 <= n; d0 += 64) axpy_chunk_avx2(acc, p, v, ks, nkeys, d0, 8);
    switch ((n - d0) / 8) {
    case 7: axpy_chunk_avx2(acc, p, v, ks, nkeys, d0, 7); break;
    case 6: axpy_chunk_avx2(acc, p, v, ks, nkeys, d0, 6); break;
    case 5: axpy_chunk_avx2(acc, p, v, ks, nkeys, d0, 5); break;
    case 4: axpy_chunk_avx2(acc, p, v, ks, nkeys, d0, 4); break;
    case 3: axpy_chunk_avx2(acc, p, v, ks, nkeys, d0, 3); break;
    case 2: axpy_chunk_avx2(acc, p, v, ks, nkeys, d0, 2); break;
    case 1: axpy_chunk_avx2(acc, p, v, ks, nkeys, d0, 1); break;
    default: break;
    }
    d0 += (n - d0) / 8 * 8;
    if (d0 < n)
        for (size_t j = 0; j < nkeys; ++j) axpy_tail(acc, p[j], v + j * ks, d0, n);
}

VL_AVX2 VL_INLINE void div_avx2(float *out, const float *acc, float l, size_t n) {
    const __m256 vl = _mm256_set1_ps(l);
    size_t d = 0;
    for (; d + 8 <= n; d += 8) _mm256_storeu_ps(out + d, _mm256_div_ps(_mm256_loadu_ps(acc + d), vl));
    div_tail(out, acc, l, d, n);
}

// MARK: - AVX-512 primitives (16 lanes = one zmm)

VL_AVX512 VL_INLINE float dot_avx512(const float *a, const float *b, size_t n) {
    __m512 s = _mm512_setzero_ps();
    size_t k = 0;
    for (; k + 16 <= n; k += 16) s = _mm512_fmadd_ps(_mm512_loadu_ps(a + k), _mm512_loadu_ps(b + k), s);
    if (k < n) {
        const __mmask16 m = vl_mask16(n - k);
        s = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + k), _mm512_maskz_loadu_ps(m, b + k), s);
    }
    return vl_reduce_avx512(s);
}

// dot_avx512 of a with 4 rows at once (see dot4_avx2).
VL_AVX512 VL_INLINE void dot4_avx512(const float *a, const float *b, size_t bs, size_t n, float out[4]) {
    __m512 acc[4];
    for (int r = 0; r < 4; ++r) acc[r] = _mm512_setzero_ps();
    size_t k = 0;
    for (; k + 16 <= n; k += 16) {
        const __m512 av = _mm512_loadu_ps(a + k);
        for (int r = 0; r < 4; ++r) acc[r] = _mm512_fmadd_ps(av, _mm512_loadu_ps(b + r * bs + k), acc[r]);
    }
    if (k < n) {
        const __mmask16 m = vl_mask16(n - k);
        const __m512 av = _mm512_maskz_loadu_ps(m, a + k);
        for (int r = 0; r < 4; ++r) acc[r] = _mm512_fmadd_ps(av, _mm512_maskz_loadu_ps(m, b + r * bs + k), acc[r]);
    }
    for (int r = 0; r < 4; ++r) out[r] = vl_reduce_avx512(acc[r]);
}

VL_AVX512 VL_INLINE void scale_avx512(float *acc, float c, size_t n) {
    const __m512 vc = _mm512_set1_ps(c);
    size_t d = 0;
    for (; d + 16 <= n; d += 16) _mm512_storeu_ps(acc + d, _mm512_mul_ps(_mm512_loadu_ps(acc + d), vc));
    scale_tail(acc, c, d, n);
}

// axpy_tile_avx2 with 16-lane registers: 128 elements (8 zmm) at a time.
VL_AVX512 VL_INLINE void axpy_tile_avx512(float *acc, const float *p, const float *v, size_t ks, size_t nkeys,
                                          size_t n) {
    size_t d0 = 0;
    for (; d0 + 128 <= n; d0 += 128) {
        __m512 a[8];
        for (int r = 0; r < 8; ++r) a[r] = _mm512_loadu_ps(acc + d0 + 16 * r);
        for (size_t j = 0; j < nkeys; ++j) {
            const __m512 vp = _mm512_set1_ps(p[j]);
            for (int r = 0; r < 8; ++r) a[r] = _mm512_fmadd_ps(vp, _mm512_loadu_ps(v + j * ks + d0 + 16 * r), a[r]);
        }
        for (int r = 0; r < 8; ++r) _mm512_storeu_ps(acc + d0 + 16 * r, a[r]);
    }
    for (; d0 + 16 <= n; d0 += 16) {
        __m512 a = _mm512_loadu_ps(acc + d0);
        for (size_t j = 0; j < nkeys; ++j)
            a = _mm512_fmadd_ps(_mm512_set1_ps(p[j]), _mm512_loadu_ps(v + j * ks + d0), a);
        _mm512_storeu_ps(acc + d0, a);
    }
    if (d0 < n)
        for (size_t j = 0; j < nkeys; ++j) axpy_tail(acc, p[j], v + j * ks, d0, n);
}

VL_AVX512 VL_INLINE void div_avx512(float *out, const float *acc, float l, size_t n) {
    const __m512 vl = _mm512_set1_ps(l);
    size_t d = 0;
    for (; d + 16 <= n; d += 16) _mm512_storeu_ps(out + d, _mm512_div_ps(_mm512_loadu_ps(acc + d), vl));
    div_tail(out, acc, l, d, n);
}

// MARK: - Driver

// For each head in [hb, he) and each block of up to VL_ATT_QBLOCK queries: walk the key tiles up to the block's
// furthest visible key; each query of the block consumes the tile (its visible part) completely before the next
// query does, in the order of vl_attention.h. Scratch: scores [VL_ATTENTION_TILE], acc [VL_ATT_QBLOCK, hd], then the
// tile's keys and values [VL_ATTENTION_TILE, hd] each.
#define VL_DEFINE_ATTENTION(NAME, ATTR, DOT, DOT4, SCALE, EXP_TILE, AXPY_TILE, DIV)                                    \
    ATTR static void NAME(const float *q, const float *k, const float *v, float *out, size_t tq, size_t tk,          \
                          size_t heads, size_t kv_heads, size_t hd, float scale, int causal, size_t q_start,         \
                          size_t hb, size_t he, float *scratch) {                                                    \
        const size_t group = heads / kv_heads;                                                                       \
        const size_t qs = heads * hd, ks = kv_heads * hd; /* row strides of q / out and of k / v */                 \
        float *scores = scratch;                                                                                     \
        float *acc = scratch + VL_ATTENTION_TILE;                                                                    \
        float *ktile = acc + VL_ATT_QBLOCK * hd, *vtile = ktile + VL_ATTENTION_TILE * hd;                            \
        for (size_t h = hb; h < he; ++h) {                                                                           \
            const float *kh = k + (h / group) * hd, *vh = v + (h / group) * hd; /* repeat_kv: h // (H / Hkv) */     \
            for (size_t i0 = 0; i0 < tq; i0 += VL_ATT_QBLOCK) {                                                      \
                const size_t nq = tq - i0 < VL_ATT_QBLOCK ? tq - i0 : VL_ATT_QBLOCK;                                 \
                size_t nk[VL_ATT_QBLOCK], kmax = 0;                                                                  \
                float m[VL_ATT_QBLOCK], l[VL_ATT_QBLOCK];                                                            \
                for (size_t b = 0; b < nq; ++b) {                                                                    \
                    size_t n = tk;                                                                                   \
                    if (causal && q_start + i0 + b + 1 < tk) n = q_start + i0 + b + 1;                               \
                    nk[b] = n;                                                                                       \
                    kmax = n > kmax ? n : kmax;                                                                      \
                    m[b] = -INFINITY;                                                                                \
                    l[b] = 0.0f;                                                                                     \
                    for (size_t d = 0; d < hd; ++d) acc[b * hd + d] = 0.0f;                                          \
                }                                                                                                    \
                for (size_t j0 = 0; j0 < kmax; j0 += VL_ATTENTION_TILE) {                                            \
                    /* the head's keys and values of the tile, made contiguous once when several queries share */    \
                    /* them (rows of one head sit heads x head_dim floats apart, a stride that aliases in L1); a */  \
                    /* lone query (decode) reads them in place. The values are the same either way. */               \
                    const float *kt = kh + j0 * ks, *vt = vh + j0 * ks;                                              \
                    size_t ts = ks;                                                                                  \
                    if (nq > 1) {                                                                                    \
                        const size_t tile_end = kmax - j0 < VL_ATTENTION_TILE ? kmax : j0 + VL_ATTENTION_TILE;       \
                        for (size_t j = j0; j < tile_end; ++j) {                                                     \
                            memcpy(ktile + (j - j0) * hd, kh + j * ks, hd * sizeof(float));                          \
                            memcpy(vtile + (j - j0) * hd, vh + j * ks, hd * sizeof(float));                          \
                        }                                                                                            \
                        kt = ktile;                                                                                  \
                        vt = vtile;                                                                                  \
                        ts = hd;                                                                                     \
                    }                                                                                                \
                    for (size_t b = 0; b < nq; ++b) {                                                                \
                        if (nk[b] <= j0) continue;                                                                   \
                        const size_t je = nk[b] - j0 < VL_ATTENTION_TILE ? nk[b] : j0 + VL_ATTENTION_TILE;             \
                        const float *qi = q + (i0 + b) * qs + h * hd;                                                \
                        float *a = acc + b * hd;                                                                     \
                        float t = -INFINITY;                                                                         \
                        size_t j = j0;                                                                               \
                        for (; j + 4 <= je; j += 4) DOT4(qi, kt + (j - j0) * ts, ts, hd, scores + (j - j0));         \
                        for (; j < je; ++j) scores[j - j0] = DOT(qi, kt + (j - j0) * ts, hd);                        \
                        for (j = j0; j < je; ++j) {                                                                  \
                            const float s = scores[j - j0] * scale;                                                  \
                            scores[j - j0] = s;                                                                      \
                            t = s > t ? s : t;                                                                       \
                        }                                                                                            \
                        if (t > m[b]) {                                                                              \
                            const float c = vl_exp_scalar(m[b] - t); /* 0 on the first tile (m = -inf) */            \
                            l[b] = l[b] * c;                                                                         \
                            SCALE(a, c, hd);                                                                         \
                            m[b] = t;                                                                                \
                        }                                                                                            \
                        EXP_TILE(scores, m[b], je - j0); /* the scores become the weights p_j */                     \
                        for (size_t j = j0; j < je; ++j) l[b] = l[b] + scores[j - j0];                               \
                        AXPY_TILE(a, scores, vt, ts, je - j0, hd);                                                   \
                    }                                                                                                \
                }                                                                                                    \
                for (size_t b = 0; b < nq; ++b) DIV(out + (i0 + b) * qs + h * hd, acc + b * hd, l[b], hd);           \
            }                                                                                                        \
        }                                                                                                            \
    }

VL_DEFINE_ATTENTION(attention_scalar, , dot_scalar, dot4_scalar, scale_scalar, exp_tile_scalar, axpy_tile_scalar,
                    div_scalar)
VL_DEFINE_ATTENTION(attention_avx2, VL_AVX2, dot_avx2, dot4_avx2, scale_avx2, exp_tile_avx2, axpy_tile_avx2, div_avx2)
VL_DEFINE_ATTENTION(attention_avx512, VL_AVX512, dot_avx512, dot4_avx512, scale_avx512, exp_tile_avx2, axpy_tile_avx512,
                    div_avx512)

void vl_attention(vl_isa isa, const float *q, const float *k, const float *v, float *out, size_t tq, size_t tk,
                  size_t heads, size_t kv_heads, size_t head_dim, float scale, vl_attention_mode mode, size_t q_start,
                  size_t head_begin, size_t head_end, float *scratch) {
    if (kv_heads == 0 || heads % kv_heads != 0 || head_end > heads || head_begin >= head_end) return;
    if (tk == 0) {
        for (size_t i = 0; i < tq; ++i)
            for (size_t h = head_begin; h < head_end; ++h)
                for (size_t d = 0; d < head_dim; ++d) out[(i * heads + h) * head_dim + d] = 0.0f;
        return;
    }
    const int causal = mode == VL_ATTENTION_CAUSAL;
    switch (vl_isa_supported(isa)) {
    case VL_ISA_AVX512:
        attention_avx512(q, k, v, out, tq, tk, heads, kv_heads, head_dim, scale, causal, q_start, head_begin, head_end,
                         scratch);
        break;
    case VL_ISA_AVX2:
        attention_avx2(q, k, v, out, tq, tk, heads, kv_heads, head_dim, scale, causal, q_start, head_begin, head_end,
                       scratch);
        break;
    default:
        attention_scalar(q, k, v, out, tq, tk, heads, kv_heads, head_dim, scale, causal, q_start, head_begin,
                         head_end, scratch);
        break;
    }
}
