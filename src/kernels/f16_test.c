/* Tests of the half and bfloat16 conversions: exhaustive round trips, hand-derived rounding
 * cases, and agreement with the CPU's own F16C conversion where it has one. */
#include "kernels_int.h"
#include "test.h"

#include <math.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

static uint32_t f2u(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}
static float u2f(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

TEST(kern_f16_roundtrip_all) {
    for (uint32_t h = 0; h < 65536; h++) {
        float f = kern_f16_to_f32((uint16_t)h);
        bool nan = ((h >> 10) & 0x1f) == 31 && (h & 0x3ff);
        if (nan) {
            ASSERT_TRUE(isnan(f));
            ASSERT_TRUE(isnan(kern_f16_to_f32(kern_f32_to_f16(f))));
        } else {
            ASSERT_EQ_UINT(kern_f32_to_f16(f), h);
        }
    }
}

TEST(kern_f16_values) {
    ASSERT_EQ_UINT(kern_f32_to_f16(1.0f), 0x3c00);
    ASSERT_EQ_UINT(kern_f32_to_f16(-2.0f), 0xc000);
    ASSERT_EQ_UINT(kern_f32_to_f16(65504.0f), 0x7bff);
    ASSERT_EQ_UINT(kern_f32_to_f16(65519.0f), 0x7bff); /* below the midpoint to 65536 */
    ASSERT_EQ_UINT(kern_f32_to_f16(65520.0f), 0x7c00); /* tie rounds to even: infinity */
    ASSERT_EQ_UINT(kern_f32_to_f16(INFINITY), 0x7c00);
    ASSERT_EQ_UINT(kern_f32_to_f16(ldexpf(1, -24)), 0x0001);
    ASSERT_EQ_UINT(kern_f32_to_f16(ldexpf(1, -25)), 0x0000);        /* tie to even (0) */
    ASSERT_EQ_UINT(kern_f32_to_f16(ldexpf(3, -26)), 0x0001);        /* 0.75 ulp: up */
    ASSERT_EQ_UINT(kern_f32_to_f16(ldexpf(3, -25)), 0x0002);        /* 1.5 ulp tie: even 2 */
    ASSERT_EQ_UINT(kern_f32_to_f16(ldexpf(1, -14)), 0x0400);        /* smallest normal */
    ASSERT_EQ_UINT(kern_f32_to_f16(1.0f + ldexpf(1, -11)), 0x3c00); /* tie to even */
    ASSERT_EQ_UINT(kern_f32_to_f16(1.0f + ldexpf(3, -11)), 0x3c02); /* tie to even (up) */
    ASSERT_EQ_UINT(kern_f32_to_f16(-0.0f), 0x8000);
    ASSERT_TRUE(isnan(kern_f16_to_f32(kern_f32_to_f16(NAN))));
    ASSERT_EQ_INT(kern_f16_to_f32(0x0001) == ldexpf(1, -24), 1);
    ASSERT_EQ_INT(kern_f16_to_f32(0x7bff) == 65504.0f, 1);
    ASSERT_EQ_INT(kern_f16_to_f32(0xfc00) == -INFINITY, 1);
}

#if defined(__x86_64__)
__attribute__((target("f16c"))) static uint16_t hw_f32_to_f16(float f) {
    return (uint16_t)_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT);
}

TEST(kern_f16_matches_f16c) {
    /* F16C comes with our AVX2 level. */
    if (!kern_cpu_supports(KERN_ISA_AVX2)) TEST_SKIP("no F16C on this CPU");
    uint64_t rng = 42;
    /* Every float exponent, random mantissas; NaNs compare only as NaN. */
    for (int i = 0; i < 2000000; i++) {
        uint32_t u = test_rand_u32(&rng);
        float f = u2f(u);
        uint16_t a = kern_f32_to_f16(f), b = hw_f32_to_f16(f);
        if (isnan(f)) {
            ASSERT_TRUE(isnan(kern_f16_to_f32(a)));
            continue;
        }
        if (a != b) test_fail(__FILE__, __LINE__, "f32 %08x: ours %04x, f16c %04x", u, a, b);
    }
}
#endif

TEST(kern_f16_rows) {
    uint64_t rng = 7;
    float x[67], y[67];
    uint16_t h[67];
    for (int i = 0; i < 67; i++) x[i] = test_rand_f32(&rng) * 100;
    kern_f32_to_f16_row(x, h, 67);
    kern_f16_to_f32_row(h, y, 67);
    for (int i = 0; i < 67; i++) {
        ASSERT_EQ_UINT(h[i], kern_f32_to_f16(x[i]));
        ASSERT_EQ_UINT(f2u(y[i]), f2u(kern_f16_to_f32(h[i])));
    }
}

TEST(kern_bf16_values) {
    for (uint32_t h = 0; h < 65536; h++) {
        float f = kern_bf16_to_f32((uint16_t)h);
        ASSERT_EQ_UINT(f2u(f), h << 16);
        if (!isnan(f)) ASSERT_EQ_UINT(kern_f32_to_bf16(f), h);
    }
    ASSERT_EQ_UINT(kern_f32_to_bf16(1.0f), 0x3f80);
    ASSERT_EQ_UINT(kern_f32_to_bf16(u2f(0x3f808000u)), 0x3f80); /* tie, even stays */
    ASSERT_EQ_UINT(kern_f32_to_bf16(u2f(0x3f818000u)), 0x3f82); /* tie, odd rounds up */
    ASSERT_EQ_UINT(kern_f32_to_bf16(u2f(0x3f808001u)), 0x3f81); /* above the tie */
    ASSERT_EQ_UINT(kern_f32_to_bf16(u2f(0x7f800001u)), 0x7fc0); /* signalling NaN: quiet */
    ASSERT_EQ_UINT(kern_f32_to_bf16(u2f(0x7f7fffffu)), 0x7f80); /* FLT_MAX rounds to inf */
}
