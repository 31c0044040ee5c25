// bf16 <-> f32 and f16 <-> f32 conversions: scalar reference, AVX2 and AVX-512 variants (all bit-identical).
// f32 -> bf16 uses integer rounding, not vcvtneps2bf16, which treats denormal inputs as zero. f16 uses the F16C
// instructions (vcvtph2ps / vcvtps2ph, exact and round-to-nearest-even, independent of MXCSR's DAZ/FTZ for the
// conversion itself), and the scalar code reproduces them bit for bit, NaN payloads included.
#include "vl_kernels.h"
#include "vl_simd.h"

#include <immintrin.h>
#include <string.h>

static inline uint32_t vl_f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static inline uint16_t vl_round_bf16(uint32_t u) {
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((u >> 16) | 0x0040u);  // NaN: keep it a (quiet) NaN
    return (uint16_t)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);                   // to nearest, ties to even
}

// f32 bits -> binary16, to nearest with ties to even, as vcvtps2ph with imm8 = _MM_FROUND_TO_NEAREST_INT.
static inline uint16_t vl_round_f16(uint32_t u) {
    const uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    const uint32_t a = u & 0x7FFFFFFFu;
    if (a > 0x7F800000u) return sign | 0x7E00u | (uint16_t)((a >> 13) & 0x1FFu);  // NaN: quiet, payload's top bits
    if (a >= 0x477FF000u) return sign | 0x7C00u;                                  // >= 65520 rounds to infinity
    if (a >= 0x38800000u) {                                                       // a normal half (>= 2^-14)
        const uint32_t rebiased = a - 0x38000000u;                                // exponent 127 -> 15
        return sign | (uint16_t)((rebiased + 0xFFFu + ((rebiased >> 13) & 1u)) >> 13);
    }
    float magnitude;  // a subnormal half or zero: count units of 2^-24, rounding to even (the default mode)
    memcpy(&magnitude, &a, 4);
    return sign | (uint16_t)rintf(magnitude * 0x1p24f);
}

// MARK: - Scalar reference

static void f16_to_f32_scalar(const uint16_t *src, float *dst, size_t n) {
    for (size_t i = 0; i < n; ++i) dst[i] = vl_f16_value(src[i]);
}

static void f32_to_f16_scalar(const float *src, uint16_t *dst, size_t n) {
    for (size_t i = 0; i < n; ++i) dst[i] = vl_round_f16(vl_f32_bits(src[i]));
}

static void bf16_to_f32_scalar(const uint16_t *src, float *dst, size_t n) {
    for (size_t i = 0; i < n; ++i) {
        const uint32_t u = (uint32_t)src[i] << 16;
        memcpy(&dst[i], &u, 4);
    }
}

static void f32_to_bf16_scalar(const float *src, uint16_t *dst, size_t n) {
    for (size_t i = 0; i < n; ++i) dst[i] = vl_round_bf16(vl_f32_bits(src[i]));
}

// MARK: - AVX2

VL_AVX2 static void bf16_to_f32_avx2(const uint16_t *src, float *dst, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256i h = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(src + i)));
        _mm256_storeu_si256((__m256i *)(dst + i), _mm256_slli_epi32(h, 16));
    }
    bf16_to_f32_scalar(src + i, dst + i, n - i);
}

VL_AVX2 static void f32_to_bf16_avx2(const float *src, uint16_t *dst, size_t n) {
    const __m256i bias = _mm256_set1_epi32(0x7FFF), one = _mm256_set1_epi32(1), quiet = _mm256_set1_epi32(0x40);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(src + i);
        const __m256i u = _mm256_castps_si256(v);
        const __m256i top = _mm256_srli_epi32(u, 16);
        const __m256i biased = _mm256_add_epi32(_mm256_add_epi32(u, bias), _mm256_and_si256(top, one));
        const __m256i rounded = _mm256_srli_epi32(biased, 16);
        const __m256i nan = _mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_UNORD_Q));
        const __m256i r = _mm256_blendv_epi8(rounded, _mm256_or_si256(top, quiet), nan);
        const __m128i packed = _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
        _mm_storeu_si128((__m128i *)(dst + i), packed);
    }
    f32_to_bf16_scalar(src + i, dst + i, n - i);
}

VL_AVX2 static void f16_to_f32_avx2(const uint16_t *src, float *dst, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i))));
    f16_to_f32_scalar(src + i, dst + i, n - i);
}

VL_AVX2 static void f32_to_f16_avx2(const float *src, uint16_t *dst, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        _mm_storeu_si128((__m128i *)(dst + i), h);
    }
    f32_to_f16_scalar(src + i, dst + i, n - i);
}

// MARK: - AVX-512

VL_AVX512 static void bf16_to_f32_avx512(const uint16_t *src,
                                                                                              float *dst, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512i h = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(src + i)));
        _mm512_storeu_si512(dst + i, _mm512_slli_epi32(h, 16));
    }
    if (i < n) {
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1u);
        const __m512i h = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, src + i));
        _mm512_mask_storeu_epi32(dst + i, m, _mm512_slli_epi32(h, 16));
    }
}

VL_AVX512 static void f32_to_bf16_avx512(const float *src,
                                                                                              uint16_t *dst, size_t n) {
    const __m512i bias = _mm512_set1_epi32(0x7FFF), one = _mm512_set1_epi32(1), quiet = _mm512_set1_epi32(0x40);
    for (size_t i = 0; i < n; i += 16) {
        const __mmask16 m = n - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - i)) - 1u);
        const __m512 v = _mm512_maskz_loadu_ps(m, src + i);
        const __m512i u = _mm512_castps_si512(v);
        const __m512i top = _mm512_srli_epi32(u, 16);
        __m512i r = _mm512_srli_epi32(_mm512_add_epi32(_mm512_add_epi32(u, bias), _mm512_and_si512(top, one)), 16);
        r = _mm512_mask_mov_epi32(r, _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), _mm512_or_si512(top, quiet));
        _mm256_mask_storeu_epi16(dst + i, m, _mm512_cvtepi32_epi16(r));
    }
}

// MARK: - Dispatch

void vl_bf16_to_f32(vl_isa isa, const uint16_t *src, float *dst, size_t n) {
    switch (vl_isa_supported(isa)) {
    case VL_ISA_AVX512: bf16_to_f32_avx512(src, dst, n); break;
    case VL_ISA_AVX2: bf16_to_f32_avx2(src, dst, n); break;
    default: bf16_to_f32_scalar(src, dst, n); break;
    }
}

void vl_f32_to_bf16(vl_isa isa, const float *src, uint16_t *dst, size_t n) {
    switch (vl_isa_supported(isa)) {
    case VL_ISA_AVX512: f32_to_bf16_avx512(src, dst, n); break;
    case VL_ISA_AVX2: f32_to_bf16_avx2(src, dst, n); break;
    default: f32_to_bf16_scalar(src, dst, n); break;
    }
}

// f16 gains nothing from 512-bit registers here (conversion is not the bottleneck): AVX-512 machines run the AVX2 code.
void vl_f16_to_f32(vl_isa isa, const uint16_t *src, float *dst, size_t n) {
    if (vl_isa_supported(isa) >= VL_ISA_AVX2) {
        f16_to_f32_avx2(src, dst, n);
    } else {
        f16_to_f32_scalar(src, dst, n);
    }
}

void vl_f32_to_f16(vl_isa isa, const float *src, uint16_t *dst, size_t n) {
    if (vl_isa_supported(isa) >= VL_ISA_AVX2) {
        f32_to_f16_avx2(src, dst, n);
    } else {
        f32_to_f16_scalar(src, dst, n);
    }
}
