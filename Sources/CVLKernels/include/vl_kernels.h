// Compute kernels for vlbatch: a plain scalar reference for every kernel, plus AVX2+FMA and AVX-512 variants chosen
// at run time (cpuid + XGETBV), never by compile flags. This header is ISA-neutral: no intrinsics, no vector types.
//
// Every kernel takes the instruction set explicitly (a vl_isa). A request above what the CPU and OS support is
// lowered to the best supported one, so a kernel never executes an instruction the machine lacks. Kernels write to
// caller buffers and never allocate.
//
// Determinism. The matrix-vector kernels compute every output element in one fixed order, the same for every ISA,
// every row range and every batch size, so the results are bit-identical across instruction sets, thread counts and
// batch sizes:
//   s[0..15] = +0
//   for k in 0 ..< cols:  s[k % 16] = fma(w[k], x[k], s[k % 16])          (fused, one rounding)
//   t[i] = s[i] + s[i + 8]  (i < 8);  u[i] = t[i] + t[i + 4]  (i < 4);  v[i] = u[i] + u[i + 2]  (i < 2)
//   y = v[0] + v[1]
// (16 lanes is one AVX-512 register or two AVX2 registers; the scalar reference follows the same order.)
#ifndef VL_KERNELS_H
#define VL_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// An instruction-set level, lowest first. Each level implies the ones before it.
typedef enum vl_isa {
    /// Portable C, no vector extensions assumed.
    VL_ISA_SCALAR = 0,
    /// AVX2 with FMA and F16C (and the OS saving YMM state).
    VL_ISA_AVX2 = 1,
    /// AVX-512 F, BW, VL and DQ (and the OS saving ZMM and opmask state), on top of VL_ISA_AVX2.
    VL_ISA_AVX512 = 2,
} vl_isa;

/// The best level this CPU and OS support (cpuid + XGETBV); computed once, then cached.
vl_isa vl_detect_isa(void);

/// Whether the CPU also has AVX512_BF16 (vdpbf16ps, vcvtneps2bf16). Informational: no kernel requires it.
int vl_cpu_has_avx512_bf16(void);

/// Parses "scalar", "avx2" or "avx512" (ASCII case-insensitive). Returns 1 and sets *out on success, else 0.
int vl_isa_parse(const char *text, vl_isa *out);

/// The level to use given an override value (the text of VLBATCH_ISA, or NULL when unset) and the detected level.
/// An empty or NULL override gives `detected`. An unknown value, or a level above `detected`, also gives `detected`
/// and sets *note (when note is not NULL) to a static sentence saying why; otherwise *note is set to NULL.
vl_isa vl_isa_choose(const char *override_value, vl_isa detected, const char **note);

/// The level kernels should use in this process: vl_isa_choose(getenv("VLBATCH_ISA"), vl_detect_isa(), ...),
/// computed once. *note (when not NULL) receives the reason an override was ignored, or NULL.
vl_isa vl_active_isa(const char **note);

/// `isa` lowered to at most vl_detect_isa(); what every kernel applies to its isa argument.
vl_isa vl_isa_supported(vl_isa isa);

/// A spin-wait hint to the CPU (x86 `pause`; nothing elsewhere): lets a thread poll a flag without starving its
/// sibling hyperthread or flooding the memory system.
void vl_cpu_relax(void);

// MARK: - Conversions

/// dst[i] = the float whose upper 16 bits are src[i] (exact; bf16 is the top half of an IEEE binary32).
void vl_bf16_to_f32(vl_isa isa, const uint16_t *src, float *dst, size_t n);

/// dst[i] = src[i] rounded to bf16, to nearest with ties to even; infinities stay infinities, denormals are rounded
/// like any other value (no flush to zero), and a NaN stays a NaN (its top 16 bits, with the quiet bit set).
void vl_f32_to_bf16(vl_isa isa, const float *src, uint16_t *dst, size_t n);

/// dst[i] = the IEEE binary16 src[i] as a float (exact; subnormals kept; a signalling NaN becomes quiet, as
/// vcvtph2ps does).
void vl_f16_to_f32(vl_isa isa, const uint16_t *src, float *dst, size_t n);

/// dst[i] = src[i] rounded to IEEE binary16, to nearest with ties to even: magnitudes from 65520 up become infinity,
/// tiny values round to subnormals or zero (no flush), and a NaN stays a quiet NaN with the top 9 bits of its payload
/// (as vcvtps2ph does).
void vl_f32_to_f16(vl_isa isa, const float *src, uint16_t *dst, size_t n);

// MARK: - Matrix-vector products

/// y[b * y_stride + r] = sum over k < cols of w[r * cols + k] * x[b * x_stride + k], for r in [row_begin, row_end)
/// and b < batch. w is row-major [rows, cols] (as nn.Linear stores [out, in]). Each weight row is read from memory
/// once for the whole batch (batches of up to 8 are processed together; larger ones in groups of 8). The order of
/// the sum is the one described at the top of this header, whatever isa, row range or batch size.
void vl_matvec_f32(vl_isa isa, const float *w, size_t cols, size_t row_begin, size_t row_end, const float *x,
                   size_t x_stride, size_t batch, float *y, size_t y_stride);

/// vl_matvec_f32 with bf16 weights (each converted exactly to float before its fused multiply-add).
void vl_matvec_bf16(vl_isa isa, const uint16_t *w, size_t cols, size_t row_begin, size_t row_end, const float *x,
                    size_t x_stride, size_t batch, float *y, size_t y_stride);

/// vl_matvec_f32 with IEEE binary16 weights (each converted exactly to float before its fused multiply-add).
void vl_matvec_f16(vl_isa isa, const uint16_t *w, size_t cols, size_t row_begin, size_t row_end, const float *x,
                   size_t x_stride, size_t batch, float *y, size_t y_stride);

// MARK: - Machine-limit probes (for benchmarks)

/// Reads `bytes` bytes of `buffer` `repeats` times with wide loads and returns a checksum (a 64-bit sum of its
/// 8-byte words plus the trailing bytes) so the reads cannot be optimised away. Time it to get read bandwidth.
uint64_t vl_probe_read_bandwidth(vl_isa isa, const void *buffer, size_t bytes, size_t repeats);

/// Runs `iterations` rounds of independent fused multiply-add chains on the widest vectors of `isa` (plain
/// multiply + add for the scalar level) and returns the number of floating-point operations done (2 per FMA lane).
double vl_probe_fma_peak(vl_isa isa, size_t iterations);

/// Runs `iterations` rounds of independent int8 dot-product chains (AVX512_VNNI vpdpbusd, 64 byte products per
/// instruction) and returns the number of integer operations done (2 per product), or 0 when the CPU (or `isa`) has
/// no AVX512_VNNI: the peak the q8 / q4 matrix multiply is measured against.
double vl_probe_int8_peak(vl_isa isa, size_t iterations);

#ifdef __cplusplus
}
#endif

#endif
