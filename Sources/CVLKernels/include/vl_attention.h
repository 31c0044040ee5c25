// Scaled dot-product attention for one sequence, fp32 (qwen-architecture.md §1.4):
//   scores = (q k^T) * scale, P = softmax(scores) over the visible keys, out = P v,
// with grouped-query attention: query head h reads KV head h / (heads / kv_heads) (repeat_kv repeats each KV head
// consecutively). ISA-neutral like vl_kernels.h: the kernel takes a vl_isa, lowered with vl_isa_supported, and
// never allocates; it works in a caller-provided scratch buffer of vl_attention_scratch_floats(head_dim) floats.
//
// Tiling. Keys are visited in tiles of a fixed size with an online softmax (running max m and sum l per query, the
// accumulator rescaled by exp(m_old - m_new) when the max grows; flash-attention style), so the Tq x Tk score
// matrix is never materialised: memory is O(tile x head_dim) whatever the sequence length. A few queries of one
// head are processed together so each key/value tile is read from memory once for all of them.
//
// Determinism. Every (query, head) output is computed by itself, in one fixed order, the same for every ISA:
//   s_j = dot(q, k_j) * scale      dot in the 16-lane order of vl_kernels.h (fused multiply-adds, halving tree)
//   per tile (tile boundaries at absolute key indices 0, T, 2T, ..., T = VL_ATTENTION_TILE):
//     t = max of the tile's s_j;  if t > m: c = exp(m - t), l = l * c, acc[d] = acc[d] * c, m = t
//     for each key j in order: p = exp(s_j - m), l = l + p, acc[d] = fma(p, v_j[d], acc[d])
//   out[d] = acc[d] / l
// exp is vl_exp (vl_elementwise.h: within 1 ulp, the same bits on every ISA); the element-wise steps are single IEEE
// operations.
// So results are bit-identical across ISAs, across head-range splits (threads), and a causal decode step (Tq = 1)
// equals the matching row of a causal prefill over the same keys.
//
// Layouts (row-major, contiguous): q and out [tq, heads, head_dim]; k and v [tk, kv_heads, head_dim], key j at
// absolute position j. out must not overlap q, k, v or scratch.
#ifndef VL_ATTENTION_H
#define VL_ATTENTION_H

#include "vl_kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

/// Keys per tile of the online softmax (part of the order above: the tile boundaries are where m may be rescaled).
#define VL_ATTENTION_TILE 32

/// Which keys a query sees.
typedef enum vl_attention_mode {
    /// Every query sees all tk keys (vision: the caller passes one image's tokens, so images never mix).
    VL_ATTENTION_FULL = 0,
    /// Query i sits at absolute position q_start + i and sees keys 0 ... q_start + i (at most tk of them).
    /// Prefill: q_start = 0, tk = tq (or a chunk: q_start = tokens already cached, tk = q_start + tq).
    /// Decode: tq = 1, q_start = tk - 1.
    VL_ATTENTION_CAUSAL = 1,
} vl_attention_mode;

/// Floats of scratch one vl_attention call needs (per calling thread), for any tq and tk: O(tile x head_dim).
size_t vl_attention_scratch_floats(size_t head_dim);

/// Attention of queries q [tq, heads, head_dim] against keys k and values v [tk, kv_heads, head_dim] into out
/// [tq, heads, head_dim], for the query heads h in [head_begin, head_end) only (other heads of out are untouched),
/// so disjoint head ranges can run on different threads (each with its own scratch). heads must be a multiple of
/// kv_heads; scale is usually head_dim^-0.5; q_start is read only in VL_ATTENTION_CAUSAL mode. scratch holds at least
/// vl_attention_scratch_floats(head_dim) floats. With tk == 0 the outputs are set to zero. Does nothing when the
/// shape is invalid (kv_heads == 0, heads % kv_heads != 0, head_end > heads).
void vl_attention(vl_isa isa, const float *q, const float *k, const float *v, float *out, size_t tq, size_t tk,
                  size_t heads, size_t kv_heads, size_t head_dim, float scale, vl_attention_mode mode, size_t q_start,
                  size_t head_begin, size_t head_end, float *scratch);

#ifdef __cplusplus
}
#endif

#endif
