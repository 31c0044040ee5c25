// The gated delta rule (see vl_delta_rule.h for the formula and the order of operations every ISA follows).
//
// Two passes over the state per token: the first decays S and accumulates m = Sᵀk in the same sweep, the second
// writes k ⊗ d and accumulates o = Sᵀq from the updated rows. Vector code keeps a block of j in registers (the m or o
// accumulators) and walks i, so each state row is loaded and stored once per pass.
#pragma STDC FP_CONTRACT OFF

#include "vl_delta_rule.h"
#include "vl_simd.h"

#include <immintrin.h>
#include <math.h>
#include <string.h>

// MARK: - Scalar reference

/// Columns [j0, j1) of one token's update; the vector kernels use it for their tails.
static void delta_columns_scalar(float *S, size_t dk, size_t dv, size_t j0, size_t j1, const float *q,
                                 const float *k, const float *v, float alpha, float beta, float *out) {
    for (size_t j = j0; j < j1; ++j) {
        float m = 0.0f;
        for (size_t i = 0; i < dk; ++i) {
            S[i * dv + j] = S[i * dv + j] * alpha;
            m = fmaf(k[i], S[i * dv + j], m);
        }
        const float d = beta * (v[j] - m);
        float o = 0.0f;
        for (size_t i = 0; i < dk; ++i) {
            S[i * dv + j] = fmaf(k[i], d, S[i * dv + j]);
            o = fmaf(q[i], S[i * dv + j], o);
        }
        out[j] = o;
    }
}

// MARK: - AVX2 (8 columns per register, 4 registers per block)

/// Columns [j0, dv) of one token's update.
VL_AVX2 static void delta_token_avx2(float *S, size_t dk, size_t dv, size_t j0, const float *q, const float *k,
                                     const float *v, float alpha, float beta, float *out) {
    const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
    size_t j = j0;
    for (; j + 32 <= dv; j += 32) {
        __m256 m0 = _mm256_setzero_ps(), m1 = m0, m2 = m0, m3 = m0;
        for (size_t i = 0; i < dk; ++i) {
            float *row = S + i * dv + j;
            const __m256 ki = _mm256_set1_ps(k[i]);
            const __m256 s0 = _mm256_mul_ps(_mm256_loadu_ps(row), va);
            const __m256 s1 = _mm256_mul_ps(_mm256_loadu_ps(row + 8), va);
            const __m256 s2 = _mm256_mul_ps(_mm256_loadu_ps(row + 16), va);
            const __m256 s3 = _mm256_mul_ps(_mm256_loadu_ps(row + 24), va);
            _mm256_storeu_ps(row, s0);
            _mm256_storeu_ps(row + 8, s1);
            _mm256_storeu_ps(row + 16, s2);
            _mm256_storeu_ps(row + 24, s3);
            m0 = _mm256_fmadd_ps(ki, s0, m0);
            m1 = _mm256_fmadd_ps(ki, s1, m1);
            m2 = _mm256_fmadd_ps(ki, s2, m2);
            m3 = _mm256_fmadd_ps(ki, s3, m3);
        }
        const __m256 d0 = _mm256_mul_ps(vb, _mm256_sub_ps(_mm256_loadu_ps(v + j), m0));
        const __m256 d1 = _mm256_mul_ps(vb, _mm256_sub_ps(_mm256_loadu_ps(v + j + 8), m1));
        const __m256 d2 = _mm256_mul_ps(vb, _mm256_sub_ps(_mm256_loadu_ps(v + j + 16), m2));
        const __m256 d3 = _mm256_mul_ps(vb, _mm256_sub_ps(_mm256_loadu_ps(v + j + 24), m3));
        __m256 o0 = _mm256_setzero_ps(), o1 = o0, o2 = o0, o3 = o0;
        for (size_t i = 0; i < dk; ++i) {
            float *row = S + i * dv + j;
            const __m256 ki = _mm256_set1_ps(k[i]), qi = _mm256_set1_ps(q[i]);
            const __m256 s0 = _mm256_fmadd_ps(ki, d0, _mm256_loadu_ps(row));
            const __m256 s1 = _mm256_fmadd_ps(ki, d1, _mm256_loadu_ps(row + 8));
            const __m256 s2 = _mm256_fmadd_ps(ki, d2, _mm256_loadu_ps(row + 16));
            const __m256 s3 = _mm256_fmadd_ps(ki, d3, _mm256_loadu_ps(row + 24));
            _mm256_storeu_ps(row, s0);
            _mm256_storeu_ps(row + 8, s1);
            _mm256_storeu_ps(row + 16, s2);
            _mm256_storeu_ps(row + 24, s3);
            o0 = _mm256_fmadd_ps(qi, s0, o0);
            o1 = _mm256_fmadd_ps(qi, s1, o1);
            o2 = _mm256_fmadd_ps(qi, s2, o2);
            o3 = _mm256_fmadd_ps(qi, s3, o3);
        }
        _mm256_storeu_ps(out + j, o0);
        _mm256_storeu_ps(out + j + 8, o1);
        _mm256_storeu_ps(out + j + 16, o2);
        _mm256_storeu_ps(out + j + 24, o3);
    }
    delta_columns_scalar(S, dk, dv, j, dv, q, k, v, alpha, beta, out);
}

// MARK: - AVX-512 (16 columns per register, 4 registers per block)

VL_AVX512 static void delta_token_avx512(float *S, size_t dk, size_t dv, const float *q, const float *k,
                                         const float *v, float alpha, float beta, float *out) {
    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    size_t j = 0;
    for (; j + 64 <= dv; j += 64) {
        __m512 m0 = _mm512_setzero_ps(), m1 = m0, m2 = m0, m3 = m0;
        for (size_t i = 0; i < dk; ++i) {
            float *row = S + i * dv + j;
            const __m512 ki = _mm512_set1_ps(k[i]);
            const __m512 s0 = _mm512_mul_ps(_mm512_loadu_ps(row), va);
            const __m512 s1 = _mm512_mul_ps(_mm512_loadu_ps(row + 16), va);
            const __m512 s2 = _mm512_mul_ps(_mm512_loadu_ps(row + 32), va);
            const __m512 s3 = _mm512_mul_ps(_mm512_loadu_ps(row + 48), va);
            _mm512_storeu_ps(row, s0);
            _mm512_storeu_ps(row + 16, s1);
            _mm512_storeu_ps(row + 32, s2);
            _mm512_storeu_ps(row + 48, s3);
            m0 = _mm512_fmadd_ps(ki, s0, m0);
            m1 = _mm512_fmadd_ps(ki, s1, m1);
            m2 = _mm512_fmadd_ps(ki, s2, m2);
            m3 = _mm512_fmadd_ps(ki, s3, m3);
        }
        const __m512 d0 = _mm512_mul_ps(vb, _mm512_sub_ps(_mm512_loadu_ps(v + j), m0));
        const __m512 d1 = _mm512_mul_ps(vb, _mm512_sub_ps(_mm512_loadu_ps(v + j + 16), m1));
        const __m512 d2 = _mm512_mul_ps(vb, _mm512_sub_ps(_mm512_loadu_ps(v + j + 32), m2));
        const __m512 d3 = _mm512_mul_ps(vb, _mm512_sub_ps(_mm512_loadu_ps(v + j + 48), m3));
        __m512 o0 = _mm512_setzero_ps(), o1 = o0, o2 = o0, o3 = o0;
        for (size_t i = 0; i < dk; ++i) {
            float *row = S + i * dv + j;
            const __m512 ki = _mm512_set1_ps(k[i]), qi = _mm512_set1_ps(q[i]);
            const __m512 s0 = _mm512_fmadd_ps(ki, d0, _mm512_loadu_ps(row));
            const __m512 s1 = _mm512_fmadd_ps(ki, d1, _mm512_loadu_ps(row + 16));
            const __m512 s2 = _mm512_fmadd_ps(ki, d2, _mm512_loadu_ps(row + 32));
            const __m512 s3 = _mm512_fmadd_ps(ki, d3, _mm512_loadu_ps(row + 48));
            _mm512_storeu_ps(row, s0);
            _mm512_storeu_ps(row + 16, s1);
            _mm512_storeu_ps(row + 32, s2);
            _mm512_storeu_ps(row + 48, s3);
            o0 = _mm512_fmadd_ps(qi, s0, o0);
            o1 = _mm512_fmadd_ps(qi, s1, o1);
            o2 = _mm512_fmadd_ps(qi, s2, o2);
            o3 = _mm512_fmadd_ps(qi, s3, o3);
        }
        _mm512_storeu_ps(out + j, o0);
        _mm512_storeu_ps(out + j + 16, o1);
        _mm512_storeu_ps(out + j + 32, o2);
        _mm512_storeu_ps(out + j + 48, o3);
    }
    // Fewer than 64 columns left: the AVX2 blocks, then the scalar tail, keep the same order per column.
    delta_token_avx2(S, dk, dv, j, q, k, v, alpha, beta, out);
}

// MARK: - Dispatch

void vl_gated_delta_rule(vl_isa isa, float *state, size_t dk, size_t dv, size_t tokens, const float *q,
                         const float *k, size_t qk_stride, const float *v, size_t v_stride, const float *alpha,
                         const float *beta, float *out, size_t out_stride) {
    const vl_isa level = vl_isa_supported(isa);
    for (size_t t = 0; t < tokens; ++t) {
        const float *qt = q + t * qk_stride, *kt = k + t * qk_stride, *vt = v + t * v_stride;
        float *ot = out + t * out_stride;
        switch (level) {
        case VL_ISA_AVX512: delta_token_avx512(state, dk, dv, qt, kt, vt, alpha[t], beta[t], ot); break;
        case VL_ISA_AVX2: delta_token_avx2(state, dk, dv, 0, qt, kt, vt, alpha[t], beta[t], ot); break;
        default: delta_columns_scalar(state, dk, dv, 0, dv, qt, kt, vt, alpha[t], beta[t], ot); break;
        }
    }
}
