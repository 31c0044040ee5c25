// Quantization to the q8 / q4 weight layout and to the q8 input form of vl_quant.h, and the weights' decoding. Inputs
// are quantized for every product, so the block quantizer has an AVX2 form, bit-identical to the scalar one; the
// layout steps around it are plain C.
#include "vl_quant.h"
#include "vl_quant_blocks.h"
#include "vl_simd.h"

#include <immintrin.h>
#include <math.h>
#include <string.h>

size_t vl_qweights_bytes(vl_qformat format, size_t rows, size_t cols) {
    const size_t groups = (rows + VL_QGROUP - 1) / VL_QGROUP;
    return groups * (cols / VL_QBLOCK) * vl_qgroup_block_bytes(format);
}

size_t vl_qinputs_bytes(size_t rows, size_t cols) { return rows * (cols / VL_QBLOCK) * VL_QINPUT_BLOCK_BYTES; }

// MARK: - One block

// The scale of the block at w and its values q[i] = round(w[i] / d) clamped to [-limit, limit]; returns d. The clamp
// only matters for denormal scales and non-finite inputs (fminf/fmaxf also turn a NaN quotient into a bound, so the
// conversion to int is always defined).
static float quantize_block_scalar(const float *w, float limit, int8_t q[VL_QBLOCK]) {
    float amax = 0.0f;
    for (int i = 0; i < VL_QBLOCK; ++i) amax = fmaxf(amax, fabsf(w[i]));
    const float d = amax / limit;
    for (int i = 0; i < VL_QBLOCK; ++i) q[i] = d == 0.0f ? 0 : (int8_t)fmaxf(-limit, fminf(limit, roundf(w[i] / d)));
    return d;
}

// quantize_block_scalar 8 lanes at a time, for the same values: max ignores NaN like fmaxf (vmaxps returns its second
// operand when one is NaN), vdivps rounds like the scalar division, roundf's ties away from zero are rebuilt from
// truncation, and the clamp turns NaN into the limit as fminf/fmaxf do.
VL_AVX2 static float quantize_block_avx2(const float *w, float limit_value, int8_t q[VL_QBLOCK]) {
    const __m256 sign_bit = _mm256_set1_ps(-0.0f), limit = _mm256_set1_ps(limit_value), half = _mm256_set1_ps(0.5f);
    __m256 v[4], amax = _mm256_setzero_ps();
    for (int h = 0; h < 4; ++h) {
        v[h] = _mm256_loadu_ps(w + 8 * h);
        amax = _mm256_max_ps(_mm256_andnot_ps(sign_bit, v[h]), amax);
    }
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    const float d = _mm_cvtss_f32(m) / limit_value;
    if (d == 0.0f) {
        memset(q, 0, VL_QBLOCK);
        return d;
    }
    const __m256 dv = _mm256_set1_ps(d);
    __m256i ints[4];
    for (int h = 0; h < 4; ++h) {
        const __m256 t = _mm256_div_ps(v[h], dv);
        const __m256 whole = _mm256_round_ps(t, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
        const __m256 away = _mm256_cmp_ps(_mm256_andnot_ps(sign_bit, _mm256_sub_ps(t, whole)), half, _CMP_GE_OQ);
        const __m256 step = _mm256_and_ps(away, _mm256_or_ps(_mm256_and_ps(t, sign_bit), _mm256_set1_ps(1.0f)));
        const __m256 rounded = _mm256_add_ps(whole, step);
        const __m256 clamped = _mm256_max_ps(_mm256_min_ps(rounded, limit), _mm256_sub_ps(_mm256_setzero_ps(), limit));
        ints[h] = _mm256_cvttps_epi32(clamped);
    }
    const __m256i packed =
        _mm256_packs_epi16(_mm256_packs_epi32(ints[0], ints[1]), _mm256_packs_epi32(ints[2], ints[3]));
    _mm256_storeu_si256((__m256i *)q, _mm256_permutevar8x32_epi32(packed, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
    return d;
}

static float quantize_block(vl_isa isa, const float *w, float limit, int8_t q[VL_QBLOCK]) {
    return isa >= VL_ISA_AVX2 ? quantize_block_avx2(w, limit, q) : quantize_block_scalar(w, limit, q);
}

// MARK: - Inputs

int vl_quantize_inputs(vl_isa isa, vl_qformat format, const float *src, size_t rows, size_t cols, void *dst) {
    if (cols % VL_QBLOCK != 0) return -1;
    const vl_isa level = vl_isa_supported(isa);
    unsigned char *out = dst;
    for (size_t b = 0; b < rows * (cols / VL_QBLOCK); ++b, out += VL_QINPUT_BLOCK_BYTES) {
        int8_t q[VL_QBLOCK];
        const float d = quantize_block(level, src + b * VL_QBLOCK, 127.0f, q);
        int32_t sum = 0;
        for (int i = 0; i < VL_QBLOCK; ++i) sum += q[i];
        const int32_t start = -vl_qoffset(format) * sum;
        memcpy(out, &d, 4);
        memcpy(out + 4, &start, 4);
        memcpy(out + 8, q, VL_QBLOCK);
    }
    return 0;
}

// MARK: - Weights

// Writes row c of group block `block`: its scale d and values q.
static void store_row(vl_qformat format, unsigned char *block, int c, float d, const int8_t q[VL_QBLOCK]) {
    memcpy(block + 4 * c, &d, 4);
    for (int t = 0; t < VL_QBLOCK; ++t) {
        if (format == VL_Q8) {
            block[vl_qbyte(format, c, t)] = (unsigned char)(q[t] + 128);
        } else if (t < 16) {
            block[vl_qbyte(format, c, t)] = (unsigned char)((q[t] + 8) | (q[t + 16] + 8) << 4);
        }
    }
}

int vl_quantize_weights(vl_isa isa, vl_qformat format, const float *src, size_t rows, size_t cols, void *dst) {
    if (cols % VL_QBLOCK != 0) return -1;
    const vl_isa level = vl_isa_supported(isa);
    const size_t nblocks = cols / VL_QBLOCK, groups = (rows + VL_QGROUP - 1) / VL_QGROUP;
    const float limit = format == VL_Q8 ? 127.0f : 7.0f;
    for (size_t g = 0; g < groups; ++g) {
        for (int c = 0; c < VL_QGROUP; ++c) {
            const size_t r = g * VL_QGROUP + (size_t)c;
            for (size_t j = 0; j < nblocks; ++j) {
                int8_t q[VL_QBLOCK] = {0};
                const float d = r < rows ? quantize_block(level, src + r * cols + j * VL_QBLOCK, limit, q) : 0.0f;
                store_row(format, (unsigned char *)vl_qgroup_block(format, dst, cols, g, j), c, d, q);
            }
        }
    }
    return 0;
}

int vl_dequantize_weights(vl_qformat format, const void *w, size_t cols, size_t row_begin, size_t row_end,
                          float *dst) {
    if (cols % VL_QBLOCK != 0) return -1;
    for (size_t r = row_begin; r < row_end; ++r) {
        for (size_t j = 0; j < cols / VL_QBLOCK; ++j) {
            const unsigned char *block = vl_qgroup_block(format, w, cols, r / VL_QGROUP, j);
            const int c = (int)(r % VL_QGROUP);
            const float d = vl_qscale(block + 4 * c);
            for (int t = 0; t < VL_QBLOCK; ++t)
                dst[(r - row_begin) * cols + j * VL_QBLOCK + (size_t)t] = (float)vl_qvalue(format, block, c, t) * d;
        }
    }
    return 0;
}
