// Matrix multiply for prefill and the vision tower: Y[m][n] = sum_k X[m][k] * W[n][k] (+ bias[n]).
// ISA-neutral: no intrinsics here. Kernels take the instruction set explicitly (lowered like every vl_ kernel) and
// never allocate; the fast variants pack weight panels into a caller-provided workspace.
//
// Determinism. Every output element is computed in one fixed order, the same for every ISA, column range (thread
// split), cache-block size and M:
//   s = +0
//   for k in 0 ..< K:  s = fma(X[m][k], W[n][k], s)        (fused, one rounding; sequential over k)
//   Y[m][n] = s + bias[n]    (or s when bias is NULL)
// Blocking over K keeps this order exactly: the partial sum of one K block is stored to Y as a float and reloaded
// as the accumulator of the next, which changes no bit. Results are therefore bit-identical across ISAs and splits.
#ifndef VL_MATMUL_H
#define VL_MATMUL_H

#include "vl_kernels.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Bytes of workspace vl_matmul_f32 / _bf16 / _f16 need for inner dimension `k` and a column range of
/// `n_count` columns, for any isa (the scalar level needs none, but accepts any). 64-byte alignment is recommended.
size_t vl_matmul_workspace_size(size_t k, size_t n_count);

/// Y[m * n + j] = sum over kk < k of X[m * k + kk] * W[j * k + kk] (+ bias[j]) for m < rows and j in
/// [n_begin, n_end). X is row-major [rows, k] fp32; W is row-major [n, k] (as nn.Linear stores [out, in]); Y is
/// row-major [rows, n]; bias is NULL or [n]. Only the columns [n_begin, n_end) of Y are written, so disjoint column
/// ranges may run on different threads (each with its own workspace of vl_matmul_workspace_size(k,
/// n_end - n_begin) bytes). The summation order is the one fixed at the top of this header.
void vl_matmul_f32(vl_isa isa, const float *x, size_t rows, size_t k, const float *w, size_t n, size_t n_begin,
                   size_t n_end, const float *bias, float *y, void *workspace);

/// vl_matmul_f32 with bf16 weights (raw bit patterns, each converted exactly to float while packing).
void vl_matmul_bf16(vl_isa isa, const float *x, size_t rows, size_t k, const uint16_t *w, size_t n, size_t n_begin,
                    size_t n_end, const float *bias, float *y, void *workspace);

/// vl_matmul_f32 with IEEE binary16 weights (raw bit patterns, each converted exactly to float while packing).
void vl_matmul_f16(vl_isa isa, const float *x, size_t rows, size_t k, const uint16_t *w, size_t n, size_t n_begin,
                   size_t n_end, const float *bias, float *y, void *workspace);

#ifdef __cplusplus
}
#endif

#endif
