/* Tests of the quantizers (hand-derived outputs on known vectors, round-trip error bounds)
 * and of the reference dots (consistent with dequantize-then-multiply). */
#include "kernels_testutil.h"

TEST(kern_q8_0_known) {
    /* amax 127 gives d = 1 exactly, so q = roundf(x): halves round away from zero. */
    float x[32] = {127, 2.5f, -2.5f, 0.49f, -0.5f, 1.5f, -126.6f, 3};
    block_q8_0 b;
    kern_traits_ref(GGUF_TYPE_Q8_0)->from_float(x, &b, 32);
    ASSERT_EQ_UINT(b.d, 0x3c00);
    const int8_t want[8] = {127, 3, -3, 0, -1, 2, -127, 3};
    for (int j = 0; j < 8; j++) ASSERT_EQ_INT(b.qs[j], want[j]);
    for (int j = 8; j < 32; j++) ASSERT_EQ_INT(b.qs[j], 0);
    /* All zeros: d = 0, q = 0. */
    float z[32] = {0};
    kern_traits_ref(GGUF_TYPE_Q8_0)->from_float(z, &b, 32);
    ASSERT_EQ_UINT(b.d, 0);
    /* Q8_1 adds s = d * sum(q). */
    block_q8_1 c;
    kern_traits_ref(GGUF_TYPE_Q8_1)->from_float(x, &c, 32);
    ASSERT_EQ_UINT(c.d, 0x3c00);
    ASSERT_EQ_INT(c.qs[1], 3);
    ASSERT_EQ_UINT(c.s, kern_f32_to_f16(127 + 3 - 3 + 0 - 1 + 2 - 127 + 3));
}

TEST(kern_q8_K_known) {
    /* The largest magnitude, 127, maps to -127: iscale = -1 and d = -1; values round to
     * nearest even. */
    float x[256] = {127, 2.5f, 3.5f, -0.5f, -1.5f, 0.4f};
    block_q8_K b;
    kern_traits_ref(GGUF_TYPE_Q8_K)->from_float(x, &b, 256);
    ASSERT_NEAR(b.d, -1.0, 0);
    const int8_t want[6] = {-127, -2, -4, 0, 2, 0};
    for (int j = 0; j < 6; j++) ASSERT_EQ_INT(b.qs[j], want[j]);
    ASSERT_EQ_INT(b.bsums[0], -127 - 2 - 4 + 2);
    for (int j = 1; j < 16; j++) ASSERT_EQ_INT(b.bsums[j], 0);
    /* A negative extreme: -254 maps to -127 with iscale = 0.5; 3 -> 1.5 -> 2 (even). */
    float y[256] = {3, -254, 1, 5};
    kern_traits_ref(GGUF_TYPE_Q8_K)->from_float(y, &b, 256);
    ASSERT_NEAR(b.d, 2.0, 0);
    ASSERT_EQ_INT(b.qs[0], 2);
    ASSERT_EQ_INT(b.qs[1], -127);
    ASSERT_EQ_INT(b.qs[2], 0); /* 0.5 -> 0 */
    ASSERT_EQ_INT(b.qs[3], 2); /* 2.5 -> 2 */
}

TEST(kern_q4_0_known) {
    /* The extreme -8 gives d = 1; q = trunc(x + 8.5) clamped to 15. */
    float x[32] = {-8, 7, 0.5f, -0.5f, 7.4f, -7.6f, 3.49f};
    block_q4_0 b;
    kern_traits_ref(GGUF_TYPE_Q4_0)->from_float(x, &b, 32);
    ASSERT_EQ_UINT(b.d, 0x3c00);
    const int want[7] = {0, 15, 9, 8, 15, 0, 11};
    for (int j = 0; j < 7; j++) ASSERT_EQ_INT(b.qs[j] & 0xF, want[j]);
    for (int j = 0; j < 16; j++) ASSERT_EQ_INT(b.qs[j] >> 4, 8); /* zeros in the upper half */
    /* A positive extreme flips d's sign: 8 -> d = -1, so 8 -> q 0 and -7 -> q 15. */
    float y[32] = {8, -7};
    kern_traits_ref(GGUF_TYPE_Q4_0)->from_float(y, &b, 32);
    ASSERT_EQ_UINT(b.d, 0xbc00);
    ASSERT_EQ_INT(b.qs[0] & 0xF, 0);
    ASSERT_EQ_INT(b.qs[1] & 0xF, 15);
}

/* Quantize and dequantize n random values; return the rmse relative to the values' rms and
 * the largest error relative to each block's largest magnitude. */
static void roundtrip(int type, int64_t n, double *rel_rmse, double *max_rel) {
    const kern_traits *t = kern_traits_ref(type);
    float *x = mem_alloc((size_t)n * 4), *y = mem_alloc((size_t)n * 4);
    void *q = mem_alloc((size_t)(n / t->block_size) * t->type_size);
    uint64_t rng = 1234 + (uint64_t)type;
    for (int64_t i = 0; i < n; i++) x[i] = test_rand_f32(&rng);
    t->from_float(x, q, n);
    t->to_float(q, y, n);
    double se = 0, sx = 0;
    *max_rel = 0;
    for (int64_t b = 0; b < n / t->block_size; b++) {
        float amax = 0;
        for (int j = 0; j < t->block_size; j++) amax = fmaxf(amax, fabsf(x[b * t->block_size + j]));
        for (int j = 0; j < t->block_size; j++) {
            int64_t i = b * t->block_size + j;
            double e = fabs((double)x[i] - y[i]);
            se += e * e;
            sx += (double)x[i] * x[i];
            if (amax > 0 && e / amax > *max_rel) *max_rel = e / amax;
        }
    }
    *rel_rmse = sqrt(se / sx);
    mem_free(x);
    mem_free(y);
    mem_free(q);
}

TEST(kern_quantize_roundtrip) {
    double rmse, mx;
    roundtrip(GGUF_TYPE_Q8_0, 4096, &rmse, &mx);
    /* Half a step of amax/127, plus the half rounding of d (2^-11 relative). */
    ASSERT_TRUE(mx <= 0.5 / 127 + 127 * 0x1p-11);
    ASSERT_TRUE(rmse < 0.01);
    roundtrip(GGUF_TYPE_Q8_1, 4096, &rmse, &mx);
    ASSERT_TRUE(mx <= 0.5 / 127 + 127 * 0x1p-11);
    roundtrip(GGUF_TYPE_Q8_K, 4096, &rmse, &mx);
    ASSERT_TRUE(mx <= 0.5 / 127 * 1.0001);
    roundtrip(GGUF_TYPE_Q4_0, 4096, &rmse, &mx);
    /* Steps of amax/8; the top value 7.5 steps up clips to 7: at most one step off. */
    ASSERT_TRUE(mx <= 1.0 / 8 + 0.01);
    ASSERT_TRUE(rmse < 0.075); /* about step / sqrt(12) over an rms of 1/sqrt(3) */
    roundtrip(GGUF_TYPE_Q4_K, 4096, &rmse, &mx);
    ASSERT_TRUE(rmse < 0.06); /* the fitted min and scale beat Q4_0 */
    ASSERT_TRUE(mx <= 0.1);
    roundtrip(GGUF_TYPE_F16, 4096, &rmse, &mx);
    ASSERT_TRUE(mx <= 8 * 0x1p-11);
    roundtrip(GGUF_TYPE_BF16, 4096, &rmse, &mx);
    ASSERT_TRUE(mx <= 8 * 0x1p-8);
    roundtrip(GGUF_TYPE_F32, 4096, &rmse, &mx);
    ASSERT_TRUE(mx == 0);
}

/* vec_dot(x, y) against the double dot of the two dequantized rows: only float rounding may
 * separate them. */
TEST(kern_ref_dot_matches_dequant) {
    uint64_t rng = 99;
    for (int ti = 0; ti < KTEST_N_DOT_TYPES; ti++) {
        const kern_traits *t = kern_traits_ref(ktest_dot_types[ti]);
        const kern_traits *vt = kern_traits_ref(t->vec_dot_type);
        const int64_t n = 7 * 256;
        void *w = mem_alloc((size_t)(n / t->block_size) * t->type_size);
        void *a = mem_alloc((size_t)(n / vt->block_size) * vt->type_size);
        float *x = mem_alloc((size_t)n * 4);
        ktest_random_row(t->type, w, n, &rng);
        ktest_random_floats(x, n, &rng);
        vt->from_float(x, a, n);
        float s;
        t->vec_dot(n, &s, w, a);
        double abs_sum, want = ktest_dot_dequant(t->type, w, vt->type, a, n, &abs_sum);
        if (fabs(s - want) > 1e-5 * abs_sum)
            test_fail(__FILE__, __LINE__, "%s: dot %.9g, dequantized %.9g (abs sum %g)", t->name, s,
                      want, abs_sum);
        /* And close to the float activations: the Q8 error of x is bounded by ~1% here. */
        float *wf = mem_alloc((size_t)n * 4);
        t->to_float(w, wf, n);
        double exact = 0;
        for (int64_t i = 0; i < n; i++) exact += (double)wf[i] * x[i];
        if (fabs(s - exact) > 0.01 * abs_sum)
            test_fail(__FILE__, __LINE__, "%s: dot %.9g, float dot %.9g", t->name, s, exact);
        mem_free(wf);
        mem_free(w);
        mem_free(a);
        mem_free(x);
    }
}

/* Quantized weights from real floats: vec_dot(q(W), q8(x)) tracks dot(W, x). */
TEST(kern_quantized_dot_tracks_float) {
    static const int types[] = {GGUF_TYPE_Q4_0, GGUF_TYPE_Q8_0, GGUF_TYPE_Q4_K};
    const double tol[] = {0.08, 0.01, 0.07};
    uint64_t rng = 5;
    const int64_t n = 4096;
    float *w = mem_alloc(n * 4), *x = mem_alloc(n * 4);
    for (int k = 0; k < 3; k++) {
        const kern_traits *t = kern_traits_ref(types[k]);
        const kern_traits *vt = kern_traits_ref(t->vec_dot_type);
        void *qw = mem_alloc((size_t)(n / t->block_size) * t->type_size);
        void *qx = mem_alloc((size_t)(n / vt->block_size) * vt->type_size);
        double err2 = 0, ref2 = 0;
        for (int trial = 0; trial < 20; trial++) {
            for (int64_t i = 0; i < n; i++) w[i] = test_rand_f32(&rng);
            for (int64_t i = 0; i < n; i++) x[i] = test_rand_f32(&rng);
            t->from_float(w, qw, n);
            vt->from_float(x, qx, n);
            float s;
            t->vec_dot(n, &s, qw, qx);
            double exact = 0, nw = 0, nx = 0;
            for (int64_t i = 0; i < n; i++) {
                exact += (double)w[i] * x[i];
                nw += (double)w[i] * w[i];
                nx += (double)x[i] * x[i];
            }
            err2 += (s - exact) * (s - exact);
            ref2 += nw * nx / n; /* the expected square of a random dot */
        }
        if (sqrt(err2 / ref2) > tol[k])
            test_fail(__FILE__, __LINE__, "%s: relative dot error %g", t->name, sqrt(err2 / ref2));
        mem_free(qw);
        mem_free(qx);
    }
    mem_free(w);
    mem_free(x);
}

/* Degenerate blocks: all zeros and constant blocks quantize to something that dequantizes
 * back exactly (zeros) or close (constants), with no NaN from a zero scale. */
TEST(kern_quantize_degenerate) {
    static const int types[] = {GGUF_TYPE_Q4_0, GGUF_TYPE_Q8_0, GGUF_TYPE_Q8_1, GGUF_TYPE_Q8_K,
                                GGUF_TYPE_Q4_K};
    float x[512], y[512];
    uint8_t q[2 * 292];
    for (int k = 0; k < 5; k++) {
        const kern_traits *t = kern_traits_ref(types[k]);
        for (int c = 0; c < 3; c++) {
            const float v = c == 0 ? 0.0f : c == 1 ? 0.75f : -3.0f;
            for (int i = 0; i < 512; i++) x[i] = v;
            t->from_float(x, q, 512);
            t->to_float(q, y, 512);
            for (int i = 0; i < 512; i++) {
                if (!(fabsf(y[i] - v) <= 0.02f * fabsf(v)))
                    test_fail(__FILE__, __LINE__, "%s constant %g: element %d is %g", t->name, v, i,
                              y[i]);
            }
        }
    }
}
