/*
 * kern_matmul against a naive double-precision reference: W dequantized with the reference
 * to_float, dotted with the unquantized X in double. The activations are rounded to the
 * weight type's vec_dot_type, which bounds the error: each X element moves by at most
 * ulp/2 of its block's scale, i.e. |X_t|max / 254 for the 8-bit formats (Q8_0, Q8_1, Q8_K),
 * 2^-9 |x| for BF16, 2^-12 |x| for F16. So |Y - ref| <= bound(type) * sum_i |W_oi| * |X_t|max
 * (+ float rounding), which a wrong row, token or tile would exceed by far.
 */
#include "kernels.h"
#include "kernels_testutil.h"
#include "test.h"

#include <math.h>

static double act_bound(int vdt) {
    switch (vdt) {
    case GGUF_TYPE_F32: return 0;
    case GGUF_TYPE_F16: return 1.0 / 4096;
    case GGUF_TYPE_BF16: return 1.0 / 512;
    default: return 1.0 / 254; /* the 8-bit activation formats */
    }
}

typedef struct mm_case {
    int type;
    int64_t n_in, n_out, n_tok;
} mm_case;

/* Run one product and check every output against the reference. */
static void check_case(tpool *pool, const mm_case *k, uint64_t *rng) {
    const kern_traits *rt = kern_traits_ref(k->type);
    ASSERT_NOT_NULL(rt);
    const size_t w_row = (size_t)(k->n_in / rt->block_size) * rt->type_size;
    uint8_t *W = mem_alloc(w_row * (size_t)k->n_out);
    float *X = mem_alloc(sizeof(float) * (size_t)(k->n_in * k->n_tok));
    float *Y = mem_alloc(sizeof(float) * (size_t)(k->n_out * k->n_tok));
    float *wf = mem_alloc(sizeof(float) * (size_t)k->n_in);
    const size_t sc_size = kern_matmul_scratch_size(k->type, k->n_in, k->n_tok);
    void *sc = mem_alloc(sc_size ? sc_size : 1);
    ASSERT_TRUE(W && X && Y && wf && sc);
    for (int64_t o = 0; o < k->n_out; o++) ktest_random_row(k->type, W + o * w_row, k->n_in, rng);
    ktest_random_floats(X, k->n_in * k->n_tok, rng);
    for (int64_t i = 0; i < k->n_out * k->n_tok; i++) Y[i] = NAN;

    /* No allocation inside kern_matmul. */
    mem_fail_after(0);
    int rc = kern_matmul(pool, k->type, W, k->n_in, k->n_out, X, k->n_tok, Y, sc);
    mem_fail_after(-1);
    ASSERT_EQ_INT(rc, 0);

    const double bound = act_bound(rt->vec_dot_type) * 1.01;
    for (int64_t o = 0; o < k->n_out; o++) {
        rt->to_float(W + o * w_row, wf, k->n_in);
        for (int64_t t = 0; t < k->n_tok; t++) {
            const float *x = X + t * k->n_in;
            double ref = 0, wabs = 0, mag = 0, xmax = 0;
            for (int64_t i = 0; i < k->n_in; i++) {
                ref += (double)wf[i] * x[i];
                wabs += fabs(wf[i]);
                mag += fabs((double)wf[i] * x[i]);
                xmax = fmax(xmax, fabs(x[i]));
            }
            const double tol = bound * wabs * xmax + 2e-6 * mag + 1e-30;
            const double got = Y[t * k->n_out + o];
            if (!(fabs(got - ref) <= tol))
                test_fail(__FILE__, __LINE__,
                          "%s n_in=%lld n_out=%lld n_tok=%lld threads=%d: Y[%lld][%lld] = %.9g, "
                          "reference %.9g, tolerance %.3g",
                          rt->name, (long long)k->n_in, (long long)k->n_out, (long long)k->n_tok,
                          tpool_size(pool), (long long)t, (long long)o, got, ref, tol);
        }
    }
    mem_free(W);
    mem_free(X);
    mem_free(Y);
    mem_free(wf);
    mem_free(sc);
}

static void check_all_types(kern_isa isa) {
    kern_init(isa);
    static const int64_t outs[] = {1, 3, 67};
    static const int64_t toks[] = {1, 2, 5, 33};
    uint64_t rng = 42;
    for (int nt = 1; nt <= 3; nt++) {
        tpool *pool = tpool_new(nt);
        ASSERT_NOT_NULL(pool);
        for (int ti = 0; ti < KTEST_N_DOT_TYPES; ti++) {
            const int type = ktest_dot_types[ti];
            const int64_t bs = kern_traits_ref(type)->block_size;
            const int64_t n_in = bs == 256 ? 512 : 96;
            for (int a = 0; a < 3; a++)
                for (int b = 0; b < 4; b++) {
                    mm_case k = {type, n_in, outs[a], toks[b]};
                    check_case(pool, &k, &rng);
                }
        }
        tpool_free(pool);
    }
    kern_init(KERN_ISA_AUTO);
}

TEST(matmul_all_types_match_reference) { check_all_types(KERN_ISA_AUTO); }

TEST(matmul_all_types_match_reference_ref_kernels) { check_all_types(KERN_ISA_REF); }

/* Enough rows to span several weight tiles, and a NULL pool. */
TEST(matmul_many_tiles) {
    uint64_t rng = 5;
    mm_case k1 = {GGUF_TYPE_F32, 1024, 300, 9};
    check_case(NULL, &k1, &rng);
    tpool *pool = tpool_new(2);
    ASSERT_NOT_NULL(pool);
    check_case(pool, &k1, &rng);
    mm_case k2 = {GGUF_TYPE_Q8_0, 4096, 200, 7};
    check_case(pool, &k2, &rng);
    mm_case k3 = {GGUF_TYPE_Q4_K, 2048, 131, 1};
    check_case(pool, &k3, &rng);
    /* The GEMM kernels over several tiles, with short last groups and odd rows. */
    const mm_case more[] = {{GGUF_TYPE_Q4_0, 4096, 203, 7},  {GGUF_TYPE_Q5_0, 2048, 301, 6},
                            {GGUF_TYPE_Q4_K, 2048, 131, 9},  {GGUF_TYPE_Q6_K, 1024, 257, 13},
                            {GGUF_TYPE_Q8_0, 1024, 3, 19},   {GGUF_TYPE_F16, 2048, 301, 7},
                            {GGUF_TYPE_F16, 100, 20, 5} /* n_in not a multiple of 8: vec_dot */,
                            {GGUF_TYPE_BF16, 1024, 130, 10}};
    for (int i = 0; i < (int)(sizeof more / sizeof more[0]); i++) check_case(pool, &more[i], &rng);
    tpool_free(pool);
}

/* Token t of a batch gives bit for bit what it gives in any other batch, whatever its
 * position and neighbours and the split across threads (the GEMM kernels never mix tokens
 * in a lane), and what it gives alone (mat-vec) to float rounding: the GEMM kernels sum in
 * another order than vec_dot. */
TEST(matmul_batch_equals_single_token) {
    uint64_t rng = 9;
    const int64_t n_in = 256, n_out = 45, n_tok = 6;
    const int types[] = {GGUF_TYPE_Q4_0, GGUF_TYPE_Q8_0, GGUF_TYPE_Q5_0,
                         GGUF_TYPE_Q4_K, GGUF_TYPE_Q6_K, GGUF_TYPE_F16, GGUF_TYPE_BF16,
                         GGUF_TYPE_F32};
    tpool *pool = tpool_new(3);
    ASSERT_NOT_NULL(pool);
    for (int ti = 0; ti < (int)(sizeof types / sizeof types[0]); ti++) {
        const kern_traits *t = kern_traits_of(types[ti]);
        const size_t w_row = (size_t)(n_in / t->block_size) * t->type_size;
        static uint8_t W[45 * 256 * 4];
        static float X[6 * 256], Xr[6 * 256], Yb[6 * 45], Yr[6 * 45], Y1[45];
        static uint8_t sc[6 * 256 * 8]; /* F16: the rows and 2 groups of 4 tokens as floats */
        ASSERT_CMP_INT(kern_matmul_scratch_size(types[ti], n_in, n_tok), <=, (long long)sizeof sc);
        for (int64_t o = 0; o < n_out; o++) ktest_random_row(types[ti], W + o * w_row, n_in, &rng);
        ktest_random_floats(X, n_in * n_tok, &rng);
        /* The last 5 tokens in reverse order: other positions, other group-mates. */
        for (int64_t tk = 1; tk < n_tok; tk++)
            memcpy(Xr + (n_tok - 1 - tk) * n_in, X + tk * n_in, sizeof(float) * (size_t)n_in);
        ASSERT_EQ_INT(kern_matmul(pool, types[ti], W, n_in, n_out, X, n_tok, Yb, sc), 0);
        ASSERT_EQ_INT(kern_matmul(NULL, types[ti], W, n_in, n_out, Xr, n_tok - 1, Yr, sc), 0);
        for (int64_t tk = 0; tk < n_tok; tk++) {
            if (tk > 0)
                ASSERT_EQ_INT(memcmp(Yr + (n_tok - 1 - tk) * n_out, Yb + tk * n_out,
                                     sizeof(float) * (size_t)n_out), 0);
            ASSERT_EQ_INT(kern_matmul(pool, types[ti], W, n_in, n_out, X + tk * n_in, 1, Y1, sc), 0);
            for (int64_t o = 0; o < n_out; o++) {
                /* Float rounding: relative to sum |w_i x_i|, not to the (cancelled) result. */
                static float wf[256];
                double mag = 0;
                kern_traits_ref(types[ti])->to_float(W + o * w_row, wf, n_in);
                for (int64_t i = 0; i < n_in; i++) mag += fabs((double)wf[i] * X[tk * n_in + i]);
                ASSERT_NEAR(Y1[o], Yb[tk * n_out + o], 2e-6 * mag + 1e-30);
            }
        }
    }
    tpool_free(pool);
}

/* F32 batches without scratch (allowed: X is used as it is) skip the GEMM, and agree with it
 * to float rounding. */
TEST(matmul_f32_batch_without_scratch) {
    uint64_t rng = 21;
    enum { NI = 256, NO = 37, NT = 9 };
    static float W[NO * NI], X[NT * NI], Y0[NT * NO], Y1[NT * NO];
    static uint8_t sc[3 * 4 * NI * 4];
    ktest_random_floats(W, NO * NI, &rng);
    ktest_random_floats(X, NT * NI, &rng);
    ASSERT_CMP_INT(kern_matmul_scratch_size(GGUF_TYPE_F32, NI, NT), <=, (long long)sizeof sc);
    ASSERT_EQ_INT(kern_matmul(NULL, GGUF_TYPE_F32, W, NI, NO, X, NT, Y0, sc), 0);
    ASSERT_EQ_INT(kern_matmul(NULL, GGUF_TYPE_F32, W, NI, NO, X, NT, Y1, NULL), 0);
    for (int t = 0; t < NT; t++)
        for (int o = 0; o < NO; o++) {
            double mag = 0;
            for (int i = 0; i < NI; i++) mag += fabs((double)W[o * NI + i] * X[t * NI + i]);
            ASSERT_NEAR(Y0[t * NO + o], Y1[t * NO + o], 2e-6 * mag + 1e-30);
        }
}

TEST(matmul_errors) {
    float X[64] = {0}, Y[4];
    uint8_t W[256] = {0}, sc[256];
    /* A type without traits. */
    ASSERT_EQ_INT(kern_matmul(NULL, GGUF_TYPE_IQ2_XXS, W, 64, 1, X, 1, Y, sc), BASE_EUNSUPPORTED);
    ASSERT_EQ_INT(kern_matmul(NULL, 9999, W, 64, 1, X, 1, Y, sc), BASE_EUNSUPPORTED);
    ASSERT_EQ_INT(kern_matmul(NULL, -1, W, 64, 1, X, 1, Y, sc), BASE_EUNSUPPORTED);
    /* Activation-only formats have no vec_dot. */
    ASSERT_EQ_INT(kern_matmul(NULL, GGUF_TYPE_Q8_K, W, 256, 1, X, 1, Y, sc), BASE_EUNSUPPORTED);
    ASSERT_EQ_INT(kern_matmul_scratch_size(GGUF_TYPE_IQ2_XXS, 256, 1), 0);
    /* n_in not a whole number of blocks. */
    ASSERT_EQ_INT(kern_matmul(NULL, GGUF_TYPE_Q4_0, W, 48, 1, X, 1, Y, sc), BASE_EINVAL);
    ASSERT_EQ_INT(kern_matmul(NULL, GGUF_TYPE_Q4_K, W, 64, 1, X, 1, Y, sc), BASE_EINVAL);
    ASSERT_EQ_INT(kern_matmul_scratch_size(GGUF_TYPE_Q4_K, 64, 1), 0);
    ASSERT_EQ_INT(kern_matmul(NULL, GGUF_TYPE_Q8_0, W, 64, 1, X, 1, Y, NULL), BASE_EINVAL);
    /* Empty products do nothing. */
    ASSERT_EQ_INT(kern_matmul(NULL, GGUF_TYPE_Q8_0, W, 64, 0, X, 1, Y, sc), 0);
    ASSERT_EQ_INT(kern_matmul(NULL, GGUF_TYPE_Q8_0, W, 64, 1, X, 0, Y, sc), 0);
    /* Scratch sizes: Q8_0 is 34 bytes per 32, Q8_K 292 per 256, F32 needs none for one token; batches add
     * the packed groups of 4 tokens for the GEMM (160 bytes per 32, 1232 per 256) after the
     * converted rows rounded up to 64 bytes. */
    /* One token with Q8_0 activations: also the token packed for the mat-vec (128 bytes per 64). */
    ASSERT_EQ_INT(kern_matmul_scratch_size(GGUF_TYPE_Q4_0, 64, 1), 128 + 128);
    ASSERT_EQ_INT(kern_matmul_scratch_size(GGUF_TYPE_Q4_0, 96, 1), 128 + 2 * 128);
    ASSERT_EQ_INT(kern_matmul_scratch_size(GGUF_TYPE_Q4_K, 512, 1), 2 * 292);
    ASSERT_EQ_INT(kern_matmul_scratch_size(GGUF_TYPE_Q4_0, 64, 3), 256 + 1 * 2 * 160);
    ASSERT_EQ_INT(kern_matmul_scratch_size(GGUF_TYPE_Q4_K, 512, 2), 1216 + 1 * 2 * 1232);
    ASSERT_EQ_INT(kern_matmul_scratch_size(GGUF_TYPE_Q4_K, 512, 5), 2944 + 2 * 2 * 1232);
    ASSERT_EQ_INT(kern_matmul_scratch_size(GGUF_TYPE_F16, 10, 2), 2 * 10 * 2);
    /* F32: X as it is for one token; a batch regrouped as floats for the GEMM (n_in a
     * multiple of 8), 4 tokens x n_in per group. */
    ASSERT_EQ_INT(kern_matmul_scratch_size(GGUF_TYPE_F32, 64, 1), 0);
    ASSERT_EQ_INT(kern_matmul_scratch_size(GGUF_TYPE_F32, 64, 5), 2 * 4 * 64 * 4);
    ASSERT_EQ_INT(kern_matmul_scratch_size(GGUF_TYPE_F32, 60, 5), 0);
}
