/*
 * Every SIMD kernel against its reference, on random rows of several lengths (one block, odd
 * block counts, long rows; float rows with tails). vec_dot may differ from the reference only
 * by float summation order: |simd - ref| <= 1e-5 * sum |x_i * y_i|. to_float and the f16 rows
 * must be bit-exact. Runs for every ISA the CPU has (AVX-512 tests skip on CPUs without it).
 */
#include "kernels_testutil.h"

static void check_isa(kern_isa isa) {
    if (!kern_cpu_supports(isa)) TEST_SKIP("the CPU lacks this instruction set");
    ASSERT_EQ_INT(kern_init(isa), isa);
    uint64_t rng = 2024;
    static const int64_t blocks[] = {1, 2, 3, 7, 16, 33};
    static const int64_t flens[] = {1, 7, 8, 15, 16, 31, 33, 100, 257, 4099};
    for (int ti = 0; ti < KTEST_N_DOT_TYPES; ti++) {
        const kern_traits *t = kern_traits_of(ktest_dot_types[ti]);
        const kern_traits *r = kern_traits_ref(t->type);
        const kern_traits *vt = kern_traits_ref(t->vec_dot_type);
        const bool flt = t->block_size == 1;
        const int nlen = flt ? 10 : 6;
        for (int li = 0; li < nlen; li++) {
            const int64_t n = flt ? flens[li]
                                  : blocks[li] * (vt->block_size > t->block_size ? vt->block_size
                                                                                 : t->block_size);
            void *w = mem_alloc((size_t)(n / t->block_size) * t->type_size);
            void *a = mem_alloc((size_t)(n / vt->block_size) * vt->type_size);
            float *x = mem_alloc((size_t)n * 4), *y1 = mem_alloc((size_t)n * 4),
                  *y2 = mem_alloc((size_t)n * 4);
            for (int rep = 0; rep < 4; rep++) {
                ktest_random_row(t->type, w, n, &rng);
                ktest_random_floats(x, n, &rng);
                vt->from_float(x, a, n);
                float s1, s2;
                t->vec_dot(n, &s1, w, a);
                r->vec_dot(n, &s2, w, a);
                double abs_sum;
                ktest_dot_dequant(t->type, w, vt->type, a, n, &abs_sum);
                if (fabs((double)s1 - s2) > 1e-5 * abs_sum + 1e-30)
                    test_fail(__FILE__, __LINE__,
                              "%s %s vec_dot n=%lld: %.9g, ref %.9g (abs sum %g)",
                              kern_isa_name(isa), t->name, (long long)n, s1, s2, abs_sum);
                t->to_float(w, y1, n);
                r->to_float(w, y2, n);
                if (memcmp(y1, y2, (size_t)n * 4) != 0)
                    test_fail(__FILE__, __LINE__, "%s %s to_float n=%lld differs from ref",
                              kern_isa_name(isa), t->name, (long long)n);
                if (t->from_float) {
                    /* Quantizers must give the reference's bytes. */
                    size_t nbytes = (size_t)(n / t->block_size) * t->type_size;
                    void *q1 = mem_alloc(nbytes), *q2 = mem_alloc(nbytes);
                    t->from_float(x, q1, n);
                    r->from_float(x, q2, n);
                    if (memcmp(q1, q2, nbytes) != 0)
                        test_fail(__FILE__, __LINE__, "%s %s from_float n=%lld differs from ref",
                                  kern_isa_name(isa), t->name, (long long)n);
                    mem_free(q1);
                    mem_free(q2);
                }
            }
            mem_free(w);
            mem_free(a);
            mem_free(x);
            mem_free(y1);
            mem_free(y2);
        }
    }
    /* The activation quantizers. */
    static const int acts[] = {GGUF_TYPE_Q8_0, GGUF_TYPE_Q8_1, GGUF_TYPE_Q8_K};
    for (int k = 0; k < 3; k++) {
        const kern_traits *t = kern_traits_of(acts[k]), *r = kern_traits_ref(acts[k]);
        const int64_t n = 7 * 256 + 32; /* an odd number of 32-blocks */
        float *x = mem_alloc(n * 4);
        size_t nbytes = (size_t)(n / t->block_size) * t->type_size;
        void *q1 = mem_alloc(nbytes), *q2 = mem_alloc(nbytes);
        ktest_random_floats(x, n, &rng);
        /* Exact halves after scaling (each 32-block's extreme is 127, so d = 1 and
         * Q8_K's iscale = -1): they check the rounding rules (roundf vs nearest even). */
        for (int j = 0; j < 256; j++) x[j] = j % 32 == 0 ? 127.0f : (float)(j % 7 - 3) + 0.5f;
        x[256 + 5] = 0; /* an all-zero block too */
        memset(x + 256, 0, 256 * 4);
        t->from_float(x, q1, n);
        r->from_float(x, q2, n);
        if (memcmp(q1, q2, nbytes) != 0)
            test_fail(__FILE__, __LINE__, "%s %s from_float differs from ref", kern_isa_name(isa),
                      t->name);
        mem_free(x);
        mem_free(q1);
        mem_free(q2);
    }
    /* The public f16 rows. */
    uint16_t h[4099];
    float f[4099], g[4099];
    for (int i = 0; i < 4099; i++) h[i] = (uint16_t)test_rand_u32(&rng);
    kern_f16_to_f32_row(h, f, 4099);
    kern_f16_to_f32_row_ref(h, g, 4099);
    ASSERT_EQ_INT(memcmp(f, g, sizeof f), 0);
    uint16_t h1[4099], h2[4099];
    for (int i = 0; i < 4099; i++) f[i] = test_rand_f32(&rng) * 70000.0f;
    kern_f32_to_f16_row(f, h1, 4099);
    kern_f32_to_f16_row_ref(f, h2, 4099);
    ASSERT_EQ_INT(memcmp(h1, h2, sizeof h1), 0);
}

TEST(kern_simd_avx2_vs_ref) { check_isa(KERN_ISA_AVX2); }
TEST(kern_simd_avx512_vs_ref) { check_isa(KERN_ISA_AVX512); }

/* The same AVX-512 kernels on SIMDe's portable intrinsics where the CPU lacks AVX-512: the
 * code runs, and is checked, on every x86-64 (speed aside). */
#if defined(__x86_64__)
TEST(kern_simd_avx512_emulated) {
    ktest_emulate_avx512(false);
    check_isa(KERN_ISA_AVX512);
}

TEST(kern_simd_avx512_vnni_emulated) {
    ktest_emulate_avx512(true);
    check_isa(KERN_ISA_AVX512);
}
#endif

/* kern_vec_dot_multi gives exactly vec_dot's floats for every row, whatever the grouping,
 * with output and activation strides. */
static void check_multi(kern_isa isa) {
    if (!kern_cpu_supports(isa)) TEST_SKIP("the CPU lacks this instruction set");
    ASSERT_EQ_INT(kern_init(isa), isa);
    uint64_t rng = 77;
    for (int ti = 0; ti < KTEST_N_DOT_TYPES; ti++) {
        const kern_traits *t = kern_traits_of(ktest_dot_types[ti]);
        const kern_traits *vt = kern_traits_ref(t->vec_dot_type);
        const int64_t n = 3 * 256;
        const size_t by = (size_t)(n / vt->block_size) * vt->type_size + 64; /* padded rows */
        void *w = mem_alloc((size_t)(n / t->block_size) * t->type_size);
        char *a = mem_alloc(by * 9);
        float *x = mem_alloc((size_t)n * 4);
        ktest_random_row(t->type, w, n, &rng);
        for (int r = 0; r < 9; r++) {
            ktest_random_floats(x, n, &rng);
            vt->from_float(x, a + r * by, n);
        }
        for (int nrc = 1; nrc <= 9; nrc++) {
            float s[9 * 3];
            kern_vec_dot_multi(t, n, s, 3, w, a, by, nrc);
            for (int r = 0; r < nrc; r++) {
                float one;
                t->vec_dot(n, &one, w, a + r * by);
                if (memcmp(&one, &s[3 * r], 4) != 0)
                    test_fail(__FILE__, __LINE__, "%s %s nrc=%d row %d: multi %.9g, vec_dot %.9g",
                              kern_isa_name(isa), t->name, nrc, r, s[3 * r], one);
            }
        }
        mem_free(w);
        mem_free(a);
        mem_free(x);
    }
}

TEST(kern_multi_ref) { check_multi(KERN_ISA_REF); }
TEST(kern_multi_avx2) { check_multi(KERN_ISA_AVX2); }
TEST(kern_multi_avx512) { check_multi(KERN_ISA_AVX512); }
#if defined(__x86_64__)
TEST(kern_multi_avx512_emulated) {
    ktest_emulate_avx512(true);
    check_multi(KERN_ISA_AVX512);
}
#endif
