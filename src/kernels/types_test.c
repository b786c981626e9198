/* Tests of the type table and dispatch. */
#include "kernels_int.h"
#include "test.h"

#include <math.h>
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

/* Q8_0 with halves rounded to even (rintf) instead of away from zero: right on almost all
 * data, wrong on exact halves after scaling, which the self-check's data has. */
static void wrong_q8_0(const float *x, void *vy, int64_t n) {
    block_q8_0 *y = vy;
    for (int64_t i = 0; i < n / QK8_0; i++, x += QK8_0) {
        float amax = 0.0f;
        for (int j = 0; j < QK8_0; j++) amax = fmaxf(amax, fabsf(x[j]));
        const float d = amax / 127, id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = kern_f32_to_f16(d);
        for (int j = 0; j < QK8_0; j++) y[i].qs[j] = (int8_t)rintf(x[j] * id);
    }
}

/* Q8_K whose scale comes from the last element of largest magnitude, not the first. */
static void wrong_q8_K(const float *x, void *vy, int64_t n) {
    block_q8_K *y = vy;
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        float max = 0, amax = 0;
        for (int j = 0; j < QK_K; j++) {
            if (fabsf(x[j]) >= amax) {
                amax = fabsf(x[j]);
                max = x[j];
            }
        }
        memset(&y[i], 0, sizeof y[i]);
        if (amax == 0.0f) continue;
        const float iscale = -127.f / max;
        for (int j = 0; j < QK_K; j++) {
            const int v = kern_nearest_int(iscale * x[j]);
            y[i].qs[j] = (int8_t)(v < 127 ? v : 127);
            y[i].bsums[j / 16] = (int16_t)(y[i].bsums[j / 16] + y[i].qs[j]);
        }
        y[i].d = 1 / iscale;
    }
}

/* (kern_selfcheck_catches_bad_kernel has the AVX2 quantizers pass.) */
TEST(kern_selfcheck_catches_bad_quantizer) {
    kern_traits table[GGUF_TYPE_COUNT];
    memset(table, 0, sizeof table);
    for (int t = 0; t < GGUF_TYPE_COUNT; t++)
        if (kern_traits_ref(t)) table[t] = *kern_traits_ref(t);
    log_set_level(LOG_ERROR); /* the expected warnings */
    table[GGUF_TYPE_Q8_0].from_float = wrong_q8_0;
    ASSERT_FALSE(kern_selfcheck(table, GGUF_TYPE_Q8_0));
    table[GGUF_TYPE_Q8_K].from_float = wrong_q8_K;
    ASSERT_FALSE(kern_selfcheck(table, GGUF_TYPE_Q8_K));
}
