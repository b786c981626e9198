/* Tests of the type table and dispatch. */
#include "kernels_int.h"
#include "test.h"

#include <stdlib.h>

TEST(kern_table_layouts) {
    static const struct {
        int type;
        const char *name;
        int bs;
        size_t size;
        int vdt;
    } want[] = {
        {GGUF_TYPE_F32, "F32", 1, 4, GGUF_TYPE_F32},
        {GGUF_TYPE_F16, "F16", 1, 2, GGUF_TYPE_F16},
        {GGUF_TYPE_BF16, "BF16", 1, 2, GGUF_TYPE_BF16},
        {GGUF_TYPE_Q4_0, "Q4_0", 32, 18, GGUF_TYPE_Q8_0},
        {GGUF_TYPE_Q4_1, "Q4_1", 32, 20, GGUF_TYPE_Q8_1},
        {GGUF_TYPE_Q5_0, "Q5_0", 32, 22, GGUF_TYPE_Q8_0},
        {GGUF_TYPE_Q5_1, "Q5_1", 32, 24, GGUF_TYPE_Q8_1},
        {GGUF_TYPE_Q8_0, "Q8_0", 32, 34, GGUF_TYPE_Q8_0},
        {GGUF_TYPE_Q8_1, "Q8_1", 32, 36, GGUF_TYPE_Q8_1},
        {GGUF_TYPE_Q2_K, "Q2_K", 256, 84, GGUF_TYPE_Q8_K},
        {GGUF_TYPE_Q3_K, "Q3_K", 256, 110, GGUF_TYPE_Q8_K},
        {GGUF_TYPE_Q4_K, "Q4_K", 256, 144, GGUF_TYPE_Q8_K},
        {GGUF_TYPE_Q5_K, "Q5_K", 256, 176, GGUF_TYPE_Q8_K},
        {GGUF_TYPE_Q6_K, "Q6_K", 256, 210, GGUF_TYPE_Q8_K},
        {GGUF_TYPE_Q8_K, "Q8_K", 256, 292, GGUF_TYPE_Q8_K},
        {GGUF_TYPE_IQ4_NL, "IQ4_NL", 32, 18, GGUF_TYPE_Q8_0},
        {GGUF_TYPE_IQ4_XS, "IQ4_XS", 256, 136, GGUF_TYPE_Q8_K},
    };
    int n_supported = 0;
    for (int t = -3; t < GGUF_TYPE_COUNT + 5; t++)
        if (kern_traits_ref(t)) n_supported++;
    ASSERT_EQ_INT(n_supported, (int)(sizeof want / sizeof want[0]));
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const kern_traits *t = kern_traits_of(want[i].type);
        ASSERT_NOT_NULL(t);
        ASSERT_EQ_INT(t->type, want[i].type);
        ASSERT_EQ_STR(t->name, want[i].name);
        ASSERT_EQ_INT(t->block_size, want[i].bs);
        ASSERT_EQ_UINT(t->type_size, want[i].size);
        ASSERT_EQ_INT(t->vec_dot_type, want[i].vdt);
        ASSERT_NOT_NULL(t->to_float);
        /* The activation formats have no dot; every weight type has one. */
        bool act = want[i].type == GGUF_TYPE_Q8_1 || want[i].type == GGUF_TYPE_Q8_K;
        ASSERT_EQ_INT(t->vec_dot == NULL, act);
        /* Every vec_dot_type can be produced from floats. */
        ASSERT_NOT_NULL(kern_traits_of(t->vec_dot_type)->from_float);
    }
}

TEST(kern_check_type_messages) {
    err_buf eb = {0};
    ASSERT_EQ_INT(kern_check_type(GGUF_TYPE_Q4_K, &eb), 0);
    ASSERT_EQ_INT(kern_check_type(GGUF_TYPE_IQ2_XXS, &eb), BASE_EUNSUPPORTED);
    ASSERT_EQ_STR(eb.msg, "tensor type IQ2_XXS (16) is not supported");
    ASSERT_NULL(kern_traits_of(GGUF_TYPE_IQ2_XXS));
    ASSERT_NULL(kern_traits_of(-1));
    ASSERT_NULL(kern_traits_of(GGUF_TYPE_COUNT));
    ASSERT_NULL(kern_traits_of(4)); /* removed Q4_2 */
    ASSERT_EQ_INT(kern_check_type(1000, &eb), BASE_EUNSUPPORTED);
    ASSERT_EQ_STR(eb.msg, "tensor type unknown (1000) is not supported");
    ASSERT_EQ_INT(kern_check_type(GGUF_TYPE_TQ2_0, NULL), BASE_EUNSUPPORTED);
}

TEST(kern_dispatch) {
    ASSERT_EQ_INT(kern_init(KERN_ISA_REF), KERN_ISA_REF);
    ASSERT_EQ_INT(kern_active_isa(), KERN_ISA_REF);
    /* The reference table is what is active under ref. */
    ASSERT_TRUE(kern_traits_of(GGUF_TYPE_Q4_0)->vec_dot ==
                kern_traits_ref(GGUF_TYPE_Q4_0)->vec_dot);
    ASSERT_TRUE(kern_cpu_supports(KERN_ISA_REF));
    kern_isa got = kern_init(KERN_ISA_AUTO);
    if (kern_cpu_supports(KERN_ISA_AVX512))
        ASSERT_EQ_INT(got, KERN_ISA_AVX512);
    else if (kern_cpu_supports(KERN_ISA_AVX2))
        ASSERT_EQ_INT(got, KERN_ISA_AVX2);
    else
        ASSERT_EQ_INT(got, KERN_ISA_REF);
    /* Asking for more than the CPU has falls back. */
    got = kern_init(KERN_ISA_AVX512);
    ASSERT_TRUE(kern_cpu_supports(got));
    ASSERT_EQ_STR(kern_isa_name(KERN_ISA_AVX2), "avx2");
    ASSERT_EQ_STR(kern_isa_name(KERN_ISA_REF), "ref");
}

TEST(kern_dispatch_env) {
    setenv("LOCALAI_KERNELS", "ref", 1);
    ASSERT_EQ_INT(kern_init(KERN_ISA_AUTO), KERN_ISA_REF);
    /* An explicit choice wins over the environment. */
    if (kern_cpu_supports(KERN_ISA_AVX2)) ASSERT_EQ_INT(kern_init(KERN_ISA_AVX2), KERN_ISA_AVX2);
    setenv("LOCALAI_KERNELS", "avx2", 1);
    if (kern_cpu_supports(KERN_ISA_AVX2)) ASSERT_EQ_INT(kern_init(KERN_ISA_AUTO), KERN_ISA_AVX2);
    unsetenv("LOCALAI_KERNELS");
}

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__) && !defined(__clang__)
/* Our CPUID reading agrees with GCC's own feature detection. */
TEST(kern_cpu_detection) {
    __builtin_cpu_init();
    bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                __builtin_cpu_supports("f16c") && __builtin_cpu_supports("bmi2");
    bool avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                  __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
    ASSERT_EQ_INT(kern_cpu_supports(KERN_ISA_AVX2), avx2);
    ASSERT_EQ_INT(kern_cpu_supports(KERN_ISA_AVX512), avx512);
}
#endif

/* The start-up self-check (guarding the AVX-512 kernels) passes on correct kernels and catches
 * a wrong one; exercised here on the AVX2 table, which this machine can run. */
static void wrong_dot(int64_t n, float *s, const void *x, const void *y) {
    /* A typical bug: the last super-block is dropped. */
    kern_traits_ref(GGUF_TYPE_Q4_K)->vec_dot(n - 256, s, x, y);
}

TEST(kern_selfcheck_catches_bad_kernel) {
    if (!kern_cpu_supports(KERN_ISA_AVX2)) TEST_SKIP("no AVX2");
    kern_init(KERN_ISA_AVX2);
    kern_traits table[GGUF_TYPE_COUNT];
    memset(table, 0, sizeof table);
    for (int t = 0; t < GGUF_TYPE_COUNT; t++)
        if (kern_traits_of(t)) table[t] = *kern_traits_of(t);
    for (int t = 0; t < GGUF_TYPE_COUNT; t++)
        if (kern_traits_of(t)) ASSERT_TRUE(kern_selfcheck(table, t));
    table[GGUF_TYPE_Q4_K].vec_dot = wrong_dot;
    log_set_level(LOG_ERROR); /* the expected warning */
    ASSERT_FALSE(kern_selfcheck(table, GGUF_TYPE_Q4_K));
}
