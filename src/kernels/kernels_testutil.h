/*
 * Helpers shared by the kernels tests: random but valid blocks of any type (random quant bits,
 * scales set to small finite values), and double-precision reference dots.
 */
#ifndef KERNELS_TESTUTIL_H
#define KERNELS_TESTUTIL_H

#include "kernels_int.h"
#include "test.h"

#include <math.h>
#include <stddef.h>

#if defined(__x86_64__)
/* The AVX-512 kernels built on SIMDe (Makefile: EMU_ALL), for CPUs without AVX-512. */
void kern_patch_avx512_emu(kern_traits *table, kern_r8_fn *r8, kern_r8b_fn *r8b, kern_r8v_fn *r8v,
                           bool vnni);

/* From here on, kern_init(KERN_ISA_AVX512) runs the emulated AVX-512 kernels (VNNI or not)
 * where the CPU lacks AVX-512; a CPU that has it runs the real ones. Each test runs in its
 * own process, so the switch ends with the test. */
static inline void ktest_emulate_avx512(bool vnni) {
    if (!kern_cpu_supports(KERN_ISA_AVX512)) kern_emulate_avx512(kern_patch_avx512_emu, vnni);
}
/* The AMX kernels (gemm_r8amx_avx512.c) with the tile instructions emulated in C, for CPUs
 * without AMX (kern_emulate_amx leaves a CPU that has it on the real ones). */
void kern_patch_amx_emu(kern_r8b_fn *r8b, kern_r8b_fn *r8b2);
static inline void ktest_emulate_amx(void) { kern_emulate_amx(kern_patch_amx_emu); }
#endif

static inline uint16_t ktest_half(uint64_t *rng, float lo, float hi) {
    float u = (test_rand_f32(rng) + 1.0f) * 0.5f;
    return kern_f32_to_f16(lo + (hi - lo) * u);
}

/* Fill n elements' worth of blocks of type with random content whose scales are finite. */
static inline void ktest_random_row(int type, void *dst, int64_t n, uint64_t *rng) {
    const kern_traits *t = kern_traits_ref(type);
    const int64_t nb = n / t->block_size;
    uint8_t *p = dst;
    if (type == GGUF_TYPE_F32) {
        for (int64_t i = 0; i < n; i++) ((float *)dst)[i] = test_rand_f32(rng);
        return;
    }
    if (type == GGUF_TYPE_F16 || type == GGUF_TYPE_BF16) {
        for (int64_t i = 0; i < n; i++) {
            float f = test_rand_f32(rng);
            ((uint16_t *)dst)[i] = type == GGUF_TYPE_F16 ? kern_f32_to_f16(f) : kern_f32_to_bf16(f);
        }
        return;
    }
    for (size_t i = 0; i < (size_t)nb * t->type_size; i++) p[i] = (uint8_t)test_rand_u32(rng);
    for (int64_t b = 0; b < nb; b++, p += t->type_size) {
        uint16_t h[2] = {ktest_half(rng, -0.02f, 0.02f), ktest_half(rng, 0.0f, 0.02f)};
        switch (type) {
        case GGUF_TYPE_Q4_0:
        case GGUF_TYPE_Q5_0:
        case GGUF_TYPE_Q8_0:
        case GGUF_TYPE_IQ4_NL:
        case GGUF_TYPE_IQ4_XS: memcpy(p, h, 2); break;
        case GGUF_TYPE_Q4_1:
        case GGUF_TYPE_Q5_1:
        case GGUF_TYPE_Q4_K:
        case GGUF_TYPE_Q5_K: memcpy(p, h, 4); break;
        case GGUF_TYPE_Q2_K: memcpy(p + offsetof(block_q2_K, d), h, 4); break;
        case GGUF_TYPE_Q3_K: memcpy(p + offsetof(block_q3_K, d), h, 2); break;
        case GGUF_TYPE_Q6_K: memcpy(p + offsetof(block_q6_K, d), h, 2); break;
        default: break;
        }
    }
}

/* Random floats with a few outliers, like real activations. */
static inline void ktest_random_floats(float *x, int64_t n, uint64_t *rng) {
    for (int64_t i = 0; i < n; i++) {
        x[i] = test_rand_f32(rng);
        if ((test_rand_u32(rng) & 63) == 0) x[i] *= 8;
    }
}

/* The float dot of two dequantized rows, in double, and the sum of |a_i * b_i| (the scale
 * tolerances are relative to). */
static inline double ktest_dot_dequant(int xtype, const void *x, int ytype, const void *y,
                                       int64_t n, double *abs_sum) {
    float *a = mem_alloc((size_t)n * sizeof(float));
    float *b = mem_alloc((size_t)n * sizeof(float));
    kern_traits_ref(xtype)->to_float(x, a, n);
    kern_traits_ref(ytype)->to_float(y, b, n);
    double s = 0, as = 0;
    for (int64_t i = 0; i < n; i++) {
        s += (double)a[i] * b[i];
        as += fabs((double)a[i] * b[i]);
    }
    mem_free(a);
    mem_free(b);
    if (abs_sum) *abs_sum = as;
    return s;
}

/* Every weight type with a vec_dot, for loops over types. */
__attribute__((unused)) static const int ktest_dot_types[] = {
    GGUF_TYPE_F32,  GGUF_TYPE_F16,  GGUF_TYPE_BF16, GGUF_TYPE_Q4_0,   GGUF_TYPE_Q4_1,
    GGUF_TYPE_Q5_0, GGUF_TYPE_Q5_1, GGUF_TYPE_Q8_0, GGUF_TYPE_Q2_K,   GGUF_TYPE_Q3_K,
    GGUF_TYPE_Q4_K, GGUF_TYPE_Q5_K, GGUF_TYPE_Q6_K, GGUF_TYPE_IQ4_NL, GGUF_TYPE_IQ4_XS,
};
#define KTEST_N_DOT_TYPES ((int)(sizeof ktest_dot_types / sizeof ktest_dot_types[0]))

#endif
