// Private helpers for the kernels on block-quantized weights (formats in vl_quant.h): reading a block's scale and
// values, and whether the CPU has AVX512_VNNI. Shared by the matrix-vector and the matrix-multiply kernels; not part
// of the public interface (it holds intrinsics).
#ifndef VL_QUANT_BLOCKS_H
#define VL_QUANT_BLOCKS_H

#include "vl_quant.h"
#include "vl_simd.h"

#include <cpuid.h>
#include <immintrin.h>
#include <stdatomic.h>
#include <string.h>

enum { VL_FMT_Q8 = 0, VL_FMT_Q4 = 1 };

static inline size_t vl_block_bytes(int fmt) { return fmt == VL_FMT_Q8 ? VL_Q8_BLOCK_BYTES : VL_Q4_BLOCK_BYTES; }

static inline float vl_block_scale(const unsigned char *blk) {
    float d;
    memcpy(&d, blk, 4);
    return d;
}

// The 32 signed values of a weight block.
static inline void vl_block_values(int fmt, const unsigned char *blk, int q[VL_QBLOCK]) {
    for (int j = 0; j < 16; ++j) {
        if (fmt == VL_FMT_Q8) {
            q[j] = (int8_t)blk[4 + j];
            q[j + 16] = (int8_t)blk[20 + j];
        } else {
            q[j] = (blk[4 + j] & 15) - 8;
            q[j + 16] = (blk[4 + j] >> 4) - 8;
        }
    }
}

// MARK: - AVX2

// The 32 signed weights of a block as int8 lanes in order.
VL_AVX2 VL_INLINE __m256i vl_block_ints_avx2(int fmt, const unsigned char *blk) {
    if (fmt == VL_FMT_Q8) return _mm256_loadu_si256((const __m256i *)(blk + 4));
    const __m128i raw = _mm_loadu_si128((const __m128i *)(blk + 4)), mask = _mm_set1_epi8(15);
    const __m256i nibbles = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(raw, 4), mask), _mm_and_si128(raw, mask));
    return _mm256_sub_epi8(nibbles, _mm256_set1_epi8(8));
}

// MARK: - AVX-512 with VNNI

#define VL_AVX512_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")))

// Whether the CPU has AVX512_VNNI (cpuid 7.0 ECX bit 11); the AVX-512 level does not imply it (Skylake-X lacks it),
// and those machines run the AVX2 code. Cached per file: -1 until asked (detection is idempotent).
static _Atomic int vl_cached_vnni = -1;
static inline int vl_has_avx512_vnni(void) {
    int has = atomic_load_explicit(&vl_cached_vnni, memory_order_relaxed);
    if (has < 0) {
        unsigned a = 0, b = 0, c = 0, d = 0;
        has = __get_cpuid_count(7, 0, &a, &b, &c, &d) ? (int)((c >> 11) & 1) : 0;
        atomic_store_explicit(&vl_cached_vnni, has, memory_order_relaxed);
    }
    return has;
}

#endif
