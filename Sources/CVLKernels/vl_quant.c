// Quantization to the q8 and q4 block formats of vl_quant.h, and their decoding. q8 also quantizes the input vectors
// of every matrix-vector product, so it has an AVX2 form, bit-identical to the scalar one; the rest runs at load
// time and stays plain C.
#include "vl_quant.h"
#include "vl_simd.h"

#include <immintrin.h>
#include <math.h>
#include <string.h>

size_t vl_q8_bytes(size_t rows, size_t cols) { return rows * (cols / VL_QBLOCK) * VL_Q8_BLOCK_BYTES; }

size_t vl_q4_bytes(size_t rows, size_t cols) { return rows * (cols / VL_QBLOCK) * VL_Q4_BLOCK_BYTES; }

// The scale of a block and its quantized values q[i] = round(w[i] / d) clamped to [-limit, limit]. The clamp only
// matters for denormal scales and non-finite inputs (fminf/fmaxf also turn a NaN quotient into a bound, so the
// conversion to int is always defined).
static float vl_quantize_block(const float *w, float limit, int q[VL_QBLOCK]) {
    float amax = 0.0f;
    for (int i = 0; i < VL_QBLOCK; ++i) amax = fmaxf(amax, fabsf(w[i]));
    const float d = amax / limit;
    for (int i = 0; i < VL_QBLOCK; ++i) {
        q[i] = d == 0.0f ? 0 : (int)fmaxf(-limit, fminf(limit, roundf(w[i] / d)));
    }
    return d;
}

static void quantize_q8_scalar(const float *src, size_t blocks, unsigned char *out) {
    for (size_t b = 0; b < blocks; ++b, out += VL_Q8_BLOCK_BYTES) {
        int q[VL_QBLOCK];
        const float d = vl_quantize_block(src + b * VL_QBLOCK, 127.0f, q);
        memcpy(out, &d, 4);
        for (int i = 0; i < VL_QBLOCK; ++i) {
            const int8_t v = (int8_t)q[i];
            memcpy(out + 4 + i, &v, 1);
        }
    }
}

// vl_quantize_block with limit 127, 8 lanes at a time, for the same bytes: max ignores NaN like fmaxf (vmaxps returns
// its second operand when one is NaN), vdivps rounds like the scalar division, roundf's ties away from zero are
// rebuilt from truncation, and the clamp turns NaN into 127 as fminf/fmaxf do.
VL_AVX2 static void quantize_q8_avx2(const float *src, size_t blocks, unsigned char *out) {
    const __m256 sign_bit = _mm256_set1_ps(-0.0f), limit = _mm256_set1_ps(127.0f), half = _mm256_set1_ps(0.5f);
    for (size_t b = 0; b < blocks; ++b, src += VL_QBLOCK, out += VL_Q8_BLOCK_BYTES) {
        __m256 v[4], amax = _mm256_setzero_ps();
        for (int h = 0; h < 4; ++h) {
            v[h] = _mm256_loadu_ps(src + 8 * h);
            amax = _mm256_max_ps(_mm256_andnot_ps(sign_bit, v[h]), amax);
        }
        __m128 m = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
        m = _mm_max_ps(m, _mm_movehl_ps(m, m));
        m = _mm_max_ss(m, _mm_movehdup_ps(m));
        const float d = _mm_cvtss_f32(m) / 127.0f;
        memcpy(out, &d, 4);
        if (d == 0.0f) {
            memset(out + 4, 0, VL_QBLOCK);
            continue;
        }
        const __m256 dv = _mm256_set1_ps(d);
        __m256i q[4];
        for (int h = 0; h < 4; ++h) {
            const __m256 t = _mm256_div_ps(v[h], dv);
            const __m256 whole = _mm256_round_ps(t, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
            const __m256 away = _mm256_cmp_ps(_mm256_andnot_ps(sign_bit, _mm256_sub_ps(t, whole)), half, _CMP_GE_OQ);
            const __m256 step = _mm256_and_ps(away, _mm256_or_ps(_mm256_and_ps(t, sign_bit), _mm256_set1_ps(1.0f)));
            const __m256 rounded = _mm256_add_ps(whole, step);
            const __m256 low = _mm256_sub_ps(_mm256_setzero_ps(), limit);
            const __m256 clamped = _mm256_max_ps(_mm256_min_ps(rounded, limit), low);
            q[h] = _mm256_cvttps_epi32(clamped);
        }
        const __m256i packed = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
        const __m256i ordered = _mm256_permutevar8x32_epi32(packed, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256((__m256i *)(out + 4), ordered);
    }
}

int vl_quantize_q8(vl_isa isa, const float *src, size_t rows, size_t cols, void *dst) {
    if (cols % VL_QBLOCK != 0) return -1;
    const size_t blocks = rows * (cols / VL_QBLOCK);
    if (vl_isa_supported(isa) >= VL_ISA_AVX2) {
        quantize_q8_avx2(src, blocks, dst);
    } else {
        quantize_q8_scalar(src, blocks, dst);
    }
    return 0;
}

int vl_quantize_q4(vl_isa isa, const float *src, size_t rows, size_t cols, void *dst) {
    (void)isa;
    if (cols % VL_QBLOCK != 0) return -1;
    unsigned char *out = dst;
    for (size_t b = 0; b < rows * (cols / VL_QBLOCK); ++b, out += VL_Q4_BLOCK_BYTES) {
        int q[VL_QBLOCK];
        const float d = vl_quantize_block(src + b * VL_QBLOCK, 7.0f, q);
        memcpy(out, &d, 4);
        for (int j = 0; j < 16; ++j) out[4 + j] = (unsigned char)((q[j] + 8) | ((q[j + 16] + 8) << 4));
    }
    return 0;
}

int vl_dequantize_q8(vl_isa isa, const void *src, size_t rows, size_t cols, float *dst) {
    (void)isa;
    if (cols % VL_QBLOCK != 0) return -1;
    const unsigned char *in = src;
    for (size_t b = 0; b < rows * (cols / VL_QBLOCK); ++b, in += VL_Q8_BLOCK_BYTES) {
        float d;
        memcpy(&d, in, 4);
        for (int i = 0; i < VL_QBLOCK; ++i) dst[b * VL_QBLOCK + i] = (float)(int8_t)in[4 + i] * d;
    }
    return 0;
}

int vl_dequantize_q4(vl_isa isa, const void *src, size_t rows, size_t cols, float *dst) {
    (void)isa;
    if (cols % VL_QBLOCK != 0) return -1;
    const unsigned char *in = src;
    for (size_t b = 0; b < rows * (cols / VL_QBLOCK); ++b, in += VL_Q4_BLOCK_BYTES) {
        float d;
        memcpy(&d, in, 4);
        for (int j = 0; j < 16; ++j) {
            dst[b * VL_QBLOCK + j] = (float)((in[4 + j] & 15) - 8) * d;
            dst[b * VL_QBLOCK + j + 16] = (float)((in[4 + j] >> 4) - 8) * d;
        }
    }
    return 0;
}
