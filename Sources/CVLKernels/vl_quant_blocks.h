// Private helpers for the kernels on block-quantized weights (layout in vl_quant.h): where a group block lives and
// whether the CPU has AVX512_VNNI. Shared by the quantizer, the product kernels and the peak probe; not part of the
// public interface (it holds intrinsics).
#ifndef VL_QUANT_BLOCKS_H
#define VL_QUANT_BLOCKS_H

#include "vl_quant.h"
#include "vl_simd.h"

#include <cpuid.h>
#include <immintrin.h>
#include <stdatomic.h>
#include <string.h>

/// Bytes of one block of a weight row.
static inline size_t vl_qblock_bytes(vl_qformat format) {
    return format == VL_Q8 ? VL_Q8_BLOCK_BYTES : VL_Q4_BLOCK_BYTES;
}

/// Bytes of one group block (16 rows by 32 columns): 64 bytes of scales, then the chunks.
static inline size_t vl_qgroup_block_bytes(vl_qformat format) { return VL_QGROUP * vl_qblock_bytes(format); }

/// The group block of group g (rows 16g ..) and block j (columns 32j ..) of a matrix of `cols` columns.
static inline const unsigned char *vl_qgroup_block(vl_qformat format, const unsigned char *w, size_t cols, size_t g,
                                                   size_t j) {
    return w + (g * (cols / VL_QBLOCK) + j) * vl_qgroup_block_bytes(format);
}

/// The weight offset that makes a format's stored values unsigned (q8: q + 128; q4: nibbles q + 8).
static inline int vl_qoffset(vl_qformat format) { return format == VL_Q8 ? 128 : 8; }

/// The float scale stored at p (any alignment).
static inline float vl_qscale(const unsigned char *p) {
    float d;
    memcpy(&d, p, 4);
    return d;
}

/// The byte of a group block that holds weight t (0..31) of row c (0..15): in chunk t / 4 (q4: (t % 16) / 4, weights
/// 16.. in the high nibbles), lane c, byte t % 4.
static inline size_t vl_qbyte(vl_qformat format, int c, int t) {
    const int chunk = (format == VL_Q8 ? t : t % 16) / 4;
    return 64 + (size_t)(chunk * 64 + 4 * c + t % 4);
}

/// The signed value q of weight t (0..31) of row c (0..15) of a group block.
static inline int vl_qvalue(vl_qformat format, const unsigned char *block, int c, int t) {
    const unsigned char byte = block[vl_qbyte(format, c, t)];
    if (format == VL_Q8) return byte - 128;
    return (t < 16 ? byte & 15 : byte >> 4) - 8;
}

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
