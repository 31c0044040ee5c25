// Load-time quantization to the q8 and q4 block formats of vl_quant.h, and their decoding. Plain C on purpose: it
// runs once per weight at load time, and one code path keeps the stored bytes independent of the machine.
#include "vl_quant.h"

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

int vl_quantize_q8(vl_isa isa, const float *src, size_t rows, size_t cols, void *dst) {
    (void)isa;
    if (cols % VL_QBLOCK != 0) return -1;
    unsigned char *out = dst;
    for (size_t b = 0; b < rows * (cols / VL_QBLOCK); ++b, out += VL_Q8_BLOCK_BYTES) {
        int q[VL_QBLOCK];
        const float d = vl_quantize_block(src + b * VL_QBLOCK, 127.0f, q);
        memcpy(out, &d, 4);
        for (int i = 0; i < VL_QBLOCK; ++i) {
            const int8_t v = (int8_t)q[i];
            memcpy(out + 4 + i, &v, 1);
        }
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
