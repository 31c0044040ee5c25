// Machine-limit probes for the benchmarks: a streaming read (bandwidth), independent FMA chains (peak flops) and
// independent int8 dot-product chains (peak integer operations).
#include "vl_kernels.h"
#include "vl_quant_blocks.h"
#include "vl_simd.h"

#include <immintrin.h>
#include <string.h>


// MARK: - Read bandwidth

static uint64_t vl_sum_tail(const unsigned char *p, size_t n) {
    uint64_t sum = 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t word;
        memcpy(&word, p + i, 8);
        sum += word;
    }
    for (; i < n; ++i) sum += p[i];
    return sum;
}

static uint64_t read_scalar(const unsigned char *p, size_t bytes) { return vl_sum_tail(p, bytes); }

VL_AVX2 static uint64_t read_avx2(const unsigned char *p, size_t bytes) {
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
    size_t i = 0;
    for (; i + 128 <= bytes; i += 128) {
        a0 = _mm256_add_epi64(a0, _mm256_loadu_si256((const __m256i *)(p + i)));
        a1 = _mm256_add_epi64(a1, _mm256_loadu_si256((const __m256i *)(p + i + 32)));
        a2 = _mm256_add_epi64(a2, _mm256_loadu_si256((const __m256i *)(p + i + 64)));
        a3 = _mm256_add_epi64(a3, _mm256_loadu_si256((const __m256i *)(p + i + 96)));
    }
    uint64_t lanes[4];
    _mm256_storeu_si256((__m256i *)lanes, _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3)));
    return lanes[0] + lanes[1] + lanes[2] + lanes[3] + vl_sum_tail(p + i, bytes - i);
}

VL_AVX512 static uint64_t read_avx512(const unsigned char *p, size_t bytes) {
    __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
    size_t i = 0;
    for (; i + 256 <= bytes; i += 256) {
        a0 = _mm512_add_epi64(a0, _mm512_loadu_si512(p + i));
        a1 = _mm512_add_epi64(a1, _mm512_loadu_si512(p + i + 64));
        a2 = _mm512_add_epi64(a2, _mm512_loadu_si512(p + i + 128));
        a3 = _mm512_add_epi64(a3, _mm512_loadu_si512(p + i + 192));
    }
    const uint64_t lanes = (uint64_t)_mm512_reduce_add_epi64(_mm512_add_epi64(_mm512_add_epi64(a0, a1),
                                                                              _mm512_add_epi64(a2, a3)));
    return lanes + vl_sum_tail(p + i, bytes - i);
}

uint64_t vl_probe_read_bandwidth(vl_isa isa, const void *buffer, size_t bytes, size_t repeats) {
    const unsigned char *p = (const unsigned char *)buffer;
    const vl_isa level = vl_isa_supported(isa);
    uint64_t sum = 0;
    for (size_t r = 0; r < repeats; ++r) {
        switch (level) {
        case VL_ISA_AVX512: sum += read_avx512(p, bytes); break;
        case VL_ISA_AVX2: sum += read_avx2(p, bytes); break;
        default: sum += read_scalar(p, bytes); break;
        }
    }
    return sum;
}

// MARK: - FMA peak (12 independent chains: enough to cover FMA latency x ports on current x86 cores)

static volatile float vl_probe_sink;

static double fma_scalar(size_t iterations) {
    float a[12];
    for (int j = 0; j < 12; ++j) a[j] = (float)j;
    const float m = 0.999999f, c = 1e-6f;
    for (size_t i = 0; i < iterations; ++i)
        for (int j = 0; j < 12; ++j) a[j] = a[j] * m + c;
    float s = 0;
    for (int j = 0; j < 12; ++j) s += a[j];
    vl_probe_sink = s;
    return (double)iterations * 12 * 2;
}

VL_AVX2 static double fma_avx2(size_t iterations) {
    __m256 a[12];
    for (int j = 0; j < 12; ++j) a[j] = _mm256_set1_ps((float)j);
    const __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-6f);
    for (size_t i = 0; i < iterations; ++i)
        for (int j = 0; j < 12; ++j) a[j] = _mm256_fmadd_ps(a[j], m, c);
    __m256 s = a[0];
    for (int j = 1; j < 12; ++j) s = _mm256_add_ps(s, a[j]);
    vl_probe_sink = _mm256_cvtss_f32(s);
    return (double)iterations * 12 * 8 * 2;
}

VL_AVX512 static double fma_avx512(size_t iterations) {
    __m512 a[12];
    for (int j = 0; j < 12; ++j) a[j] = _mm512_set1_ps((float)j);
    const __m512 m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-6f);
    for (size_t i = 0; i < iterations; ++i)
        for (int j = 0; j < 12; ++j) a[j] = _mm512_fmadd_ps(a[j], m, c);
    __m512 s = a[0];
    for (int j = 1; j < 12; ++j) s = _mm512_add_ps(s, a[j]);
    vl_probe_sink = _mm512_reduce_add_ps(s);
    return (double)iterations * 12 * 16 * 2;
}

double vl_probe_fma_peak(vl_isa isa, size_t iterations) {
    switch (vl_isa_supported(isa)) {
    case VL_ISA_AVX512: return fma_avx512(iterations);
    case VL_ISA_AVX2: return fma_avx2(iterations);
    default: return fma_scalar(iterations);
    }
}

// MARK: - int8 peak (12 independent vpdpbusd chains, as the FMA probe)

VL_AVX512_VNNI static double int8_avx512(size_t iterations) {
    __m512i a[12];
    for (int j = 0; j < 12; ++j) a[j] = _mm512_set1_epi32(j);
    const __m512i u = _mm512_set1_epi8(3), v = _mm512_set1_epi8(-2);
    for (size_t i = 0; i < iterations; ++i)
        for (int j = 0; j < 12; ++j) a[j] = _mm512_dpbusd_epi32(a[j], u, v);
    __m512i s = a[0];
    for (int j = 1; j < 12; ++j) s = _mm512_add_epi32(s, a[j]);
    vl_probe_sink = (float)_mm512_reduce_add_epi32(s);
    return (double)iterations * 12 * 64 * 2;
}

double vl_probe_int8_peak(vl_isa isa, size_t iterations) {
    return vl_isa_supported(isa) == VL_ISA_AVX512 && vl_has_avx512_vnni() ? int8_avx512(iterations) : 0;
}
