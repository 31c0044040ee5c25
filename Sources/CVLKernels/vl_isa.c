// Run-time instruction-set detection (cpuid + XGETBV) and the VLBATCH_ISA override.
#include "vl_kernels.h"

#include <stdatomic.h>
#include <stdlib.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static uint64_t vl_xgetbv0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}
#endif

// Cached answers: -1 until computed. Detection is idempotent, so a race only repeats the work.
static _Atomic int vl_cached_isa = -1;
static _Atomic int vl_cached_bf16 = -1;

static void vl_detect_all(void) {
    int isa = VL_ISA_SCALAR;
    int bf16 = 0;
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, c, d;
    if (__get_cpuid(1, &a, &b, &c, &d)) {
        const int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, fma = (c >> 12) & 1, f16c = (c >> 29) & 1;
        if (osxsave && avx) {
            const uint64_t xcr0 = vl_xgetbv0();
            const int ymm_saved = (xcr0 & 0x6) == 0x6;           // XMM and YMM state
            const int zmm_saved = (xcr0 & 0xE6) == 0xE6;         // plus opmask, ZMM_Hi256, Hi16_ZMM
            unsigned a7 = 0, b7 = 0, c7 = 0, d7 = 0;
            if (__get_cpuid_count(7, 0, &a7, &b7, &c7, &d7)) {
                const int avx2 = (b7 >> 5) & 1;
                const int f = (b7 >> 16) & 1, dq = (b7 >> 17) & 1, bw = (b7 >> 30) & 1, vl = (b7 >> 31) & 1;
                if (ymm_saved && avx2 && fma && f16c) {
                    isa = VL_ISA_AVX2;
                    if (zmm_saved && f && dq && bw && vl) {
                        isa = VL_ISA_AVX512;
                        unsigned a71 = 0, b71 = 0, c71 = 0, d71 = 0;
                        if (a7 >= 1 && __get_cpuid_count(7, 1, &a71, &b71, &c71, &d71)) bf16 = (a71 >> 5) & 1;
                    }
                }
            }
        }
    }
#endif
    atomic_store_explicit(&vl_cached_bf16, bf16, memory_order_relaxed);
    atomic_store_explicit(&vl_cached_isa, isa, memory_order_relaxed);
}

vl_isa vl_detect_isa(void) {
    int isa = atomic_load_explicit(&vl_cached_isa, memory_order_relaxed);
    if (isa < 0) {
        vl_detect_all();
        isa = atomic_load_explicit(&vl_cached_isa, memory_order_relaxed);
    }
    return (vl_isa)isa;
}

int vl_cpu_has_avx512_bf16(void) {
    (void)vl_detect_isa();
    return atomic_load_explicit(&vl_cached_bf16, memory_order_relaxed) == 1;
}

vl_isa vl_isa_supported(vl_isa isa) {
    const vl_isa best = vl_detect_isa();
    if ((int)isa < 0) return VL_ISA_SCALAR;
    return isa > best ? best : isa;
}

static int vl_equal_ascii_nocase(const char *text, const char *word) {
    for (; *word; ++text, ++word) {
        char ch = *text;
        if (ch >= 'A' && ch <= 'Z') ch = (char)(ch - 'A' + 'a');
        if (ch != *word) return 0;
    }
    return *text == 0;
}

int vl_isa_parse(const char *text, vl_isa *out) {
    if (!text) return 0;
    static const struct { const char *name; vl_isa isa; } names[] = {
        {"scalar", VL_ISA_SCALAR}, {"avx2", VL_ISA_AVX2}, {"avx512", VL_ISA_AVX512}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; ++i) {
        if (vl_equal_ascii_nocase(text, names[i].name)) {
            if (out) *out = names[i].isa;
            return 1;
        }
    }
    return 0;
}

vl_isa vl_isa_choose(const char *override_value, vl_isa detected, const char **note) {
    const char *why = NULL;
    vl_isa chosen = detected;
    vl_isa requested;
    if (override_value && *override_value) {
        if (!vl_isa_parse(override_value, &requested)) {
            why = "VLBATCH_ISA is not one of scalar, avx2, avx512; using the detected instruction set";
        } else if (requested > detected) {
            if (requested == VL_ISA_AVX512 && detected == VL_ISA_AVX2)
                why = "VLBATCH_ISA=avx512, but this CPU or OS does not support AVX-512 (F, BW, VL, DQ and ZMM state); "
                      "using avx2";
            else if (requested == VL_ISA_AVX512)
                why = "VLBATCH_ISA=avx512, but this CPU or OS supports neither AVX-512 nor AVX2+FMA+F16C; using scalar";
            else
                why = "VLBATCH_ISA=avx2, but this CPU or OS does not support AVX2+FMA+F16C (and YMM state); "
                      "using scalar";
        } else {
            chosen = requested;
        }
    }
    if (note) *note = why;
    return chosen;
}

static _Atomic int vl_cached_active = -1;
static const char *_Atomic vl_cached_note = NULL;

vl_isa vl_active_isa(const char **note) {
    int isa = atomic_load_explicit(&vl_cached_active, memory_order_acquire);
    if (isa < 0) {
        const char *why = NULL;
        isa = (int)vl_isa_choose(getenv("VLBATCH_ISA"), vl_detect_isa(), &why);
        atomic_store_explicit(&vl_cached_note, why, memory_order_relaxed);
        atomic_store_explicit(&vl_cached_active, isa, memory_order_release);
    }
    if (note) *note = atomic_load_explicit(&vl_cached_note, memory_order_relaxed);
    return (vl_isa)isa;
}

void vl_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}
