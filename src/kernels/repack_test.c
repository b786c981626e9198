/*
 * Repacked weights (kern_repack, KERN_TYPE_*_R8): the packed product equals the unpacked one
 * to float rounding (same integer sums, same activation quantization, other summation
 * order) for every token count (1, short and full groups of 4), odd chunk counts and 1-3
 * threads, with the SIMD kernels (AVX-512 VNNI ones emulated on SIMDe where the CPU lacks
 * AVX-512) and with the plain-C ones; kern_repack_type refuses what it cannot pack; the
 * start-up check of packed kernels catches wrong ones.
 */
#include "kernels.h"
#include "kernels_testutil.h"
#include "test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const int r8_types[] = {GGUF_TYPE_Q4_0, GGUF_TYPE_Q8_0, GGUF_TYPE_Q5_0, GGUF_TYPE_Q4_K,
                               GGUF_TYPE_Q6_K, GGUF_TYPE_Q5_K, GGUF_TYPE_IQ4_XS, GGUF_TYPE_Q3_K,
                               GGUF_TYPE_Q4_1, GGUF_TYPE_Q5_1, GGUF_TYPE_IQ4_NL, GGUF_TYPE_Q2_K};
#define N_R8_TYPES ((int)(sizeof r8_types / sizeof r8_types[0]))

/* Y of the packed matrix against Y of W as the file has it. */
static void check_packed(tpool *pool, int type, int64_t n_in, int64_t n_out, int64_t n_tok,
                         uint64_t *rng) {
    const kern_traits *t = kern_traits_of(type);
    const size_t w_row = (size_t)(n_in / t->block_size) * t->type_size;
    const size_t wbytes = w_row * (size_t)n_out;
    const int ptype = kern_repack_type(type, n_in, n_out);
    ASSERT_TRUE(kern_is_repacked(ptype));
    uint8_t *W = mem_alloc(wbytes), *P = mem_alloc(wbytes);
    float *X = mem_alloc(sizeof(float) * (size_t)(n_in * n_tok));
    float *Y0 = mem_alloc(sizeof(float) * (size_t)(n_out * n_tok));
    float *Y1 = mem_alloc(sizeof(float) * (size_t)(n_out * n_tok));
    float *wf = mem_alloc(sizeof(float) * (size_t)n_in);
    const size_t s0 = kern_matmul_scratch_size(type, n_in, n_tok);
    const size_t s1 = kern_matmul_scratch_size(ptype, n_in, n_tok);
    ASSERT_TRUE(s1 > 0);
    void *sc0 = mem_alloc(s0 ? s0 : 1), *sc1 = mem_alloc(s1);
    ASSERT_TRUE(W && P && X && Y0 && Y1 && wf && sc0 && sc1);
    for (int64_t o = 0; o < n_out; o++) ktest_random_row(type, W + o * w_row, n_in, rng);
    ktest_random_floats(X, n_in * n_tok, rng);
    /* Packed in two parts, as threads would. */
    const int64_t mid = (n_out / 16) * 8;
    ASSERT_EQ_INT(kern_repack(type, W, n_in, n_out, P, 0, mid), 0);
    ASSERT_EQ_INT(kern_repack(type, W, n_in, n_out, P, mid, n_out), 0);
    for (int64_t i = 0; i < n_out * n_tok; i++) Y1[i] = NAN;

    ASSERT_EQ_INT(kern_matmul(pool, type, W, n_in, n_out, X, n_tok, Y0, sc0), 0);
    mem_fail_after(0); /* no allocation inside kern_matmul */
    int rc = kern_matmul(pool, ptype, P, n_in, n_out, X, n_tok, Y1, sc1);
    mem_fail_after(-1);
    ASSERT_EQ_INT(rc, 0);

    for (int64_t o = 0; o < n_out; o++) {
        t->to_float(W + o * w_row, wf, n_in);
        for (int64_t k = 0; k < n_tok; k++) {
            double mag = 0;
            for (int64_t i = 0; i < n_in; i++) mag += fabs((double)wf[i] * X[k * n_in + i]);
            const double a = Y0[k * n_out + o], b = Y1[k * n_out + o];
            if (!(fabs(a - b) <= 1e-5 * mag + 1e-30))
                test_fail(__FILE__, __LINE__,
                          "%s packed n_in=%lld n_out=%lld n_tok=%lld threads=%d: Y[%lld][%lld] = "
                          "%.9g, unpacked %.9g",
                          t->name, (long long)n_in, (long long)n_out, (long long)n_tok,
                          tpool_size(pool), (long long)k, (long long)o, b, a);
        }
    }
    mem_free(W);
    mem_free(P);
    mem_free(X);
    mem_free(Y0);
    mem_free(Y1);
    mem_free(wf);
    mem_free(sc0);
    mem_free(sc1);
}

static void check_shapes(void) {
    static const int64_t ins[] = {32, 96, 1024}, ins_k[] = {256, 512, 2048};
    static const int64_t outs[] = {8, 27, 136}; /* 27: 3 rows after the packed groups */
    static const int64_t toks[] = {1, 2, 3, 4, 5, 9};
    uint64_t rng = 77;
    for (int nth = 1; nth <= 3; nth++) {
        tpool *pool = tpool_new(nth);
        ASSERT_NOT_NULL(pool);
        for (int ti = 0; ti < N_R8_TYPES; ti++)
            for (int a = 0; a < 3; a++)
                for (int b = 0; b < 3; b++)
                    for (int c = 0; c < 6; c++)
                        check_packed(pool, r8_types[ti],
                                     kern_traits_of(r8_types[ti])->block_size == 256 ? ins_k[a] : ins[a],
                                     outs[b], toks[c], &rng);
        tpool_free(pool);
    }
    /* More tokens than one batch-kernel call takes (KERN_R8B_MAXT), 2 threads. */
    tpool *pool2 = tpool_new(2);
    ASSERT_NOT_NULL(pool2);
    for (int ti = 0; ti < N_R8_TYPES; ti++)
        check_packed(pool2, r8_types[ti], 512, 24, KERN_R8B_MAXT * 2 + 3, &rng);
    tpool_free(pool2);
    /* Many chunks, a NULL pool. */
    check_packed(NULL, GGUF_TYPE_Q4_0, 4096, 512, 1, &rng);
    check_packed(NULL, GGUF_TYPE_Q8_0, 2048, 264, 7, &rng);
    check_packed(NULL, GGUF_TYPE_Q4_0, 2048, 264, 7, &rng); /* pairs of groups, an odd one */
    check_packed(NULL, GGUF_TYPE_Q5_0, 2048, 264, 7, &rng);
    check_packed(NULL, GGUF_TYPE_Q4_1, 2048, 264, 7, &rng);
    check_packed(NULL, GGUF_TYPE_Q5_1, 2048, 264, 7, &rng);
    check_packed(NULL, GGUF_TYPE_IQ4_NL, 2048, 264, 7, &rng);
    check_packed(NULL, GGUF_TYPE_Q4_K, 4096, 264, 7, &rng);
    check_packed(NULL, GGUF_TYPE_Q5_K, 4096, 264, 7, &rng);
    check_packed(NULL, GGUF_TYPE_IQ4_XS, 4096, 264, 7, &rng);
    check_packed(NULL, GGUF_TYPE_Q3_K, 4096, 264, 7, &rng);
    check_packed(NULL, GGUF_TYPE_Q2_K, 4096, 264, 7, &rng);
    /* A single token by runs of groups (kern_r8v_fn): chunks of 11 groups (8 runs of 1, 3
     * left over) and of 25 (8 runs of 3, 1 left over). */
    static const int run_types[] = {GGUF_TYPE_Q8_0, GGUF_TYPE_Q4_0, GGUF_TYPE_Q5_1,
                                    GGUF_TYPE_Q4_K, GGUF_TYPE_Q5_K, GGUF_TYPE_Q6_K};
    for (int i = 0; i < 6; i++) {
        check_packed(NULL, run_types[i], 2048, 8 * 45, 1, &rng);
        check_packed(NULL, run_types[i], 512, 8 * 100, 1, &rng);
    }
}

TEST(repack_matches_unpacked) {
    kern_init(KERN_ISA_AUTO);
    if (kern_repack_type(GGUF_TYPE_Q4_0, 32, 8) < 0) {
        test_skip("no repacked kernels on this ISA");
        return;
    }
    check_shapes();
}

/* kern_matmul_multi: each item's Y bit for bit what kern_matmul gives it, whether the items
 * share one conversion and one run (packed types that quantize the tokens alike) or not
 * (unpacked types, Q4_0 next to Q5_0: other offset terms; Q4_1 / Q5_1, Q8_1 tokens, next to
 * Q8_0 or Q5_0), with rows after the packed
 * groups, token counts over one batch-kernel call and 1-3 threads. */
static void check_multi(tpool *pool, const int *types, int n, int64_t n_in, int64_t n_tok,
                        uint64_t *rng) {
    static const int64_t outs[] = {136, 27, 64, 19};
    kern_mm_item it[KERN_MM_MAX];
    uint8_t *W[KERN_MM_MAX];
    float *Y0[KERN_MM_MAX];
    size_t sc_bytes = 1;
    float *X = mem_alloc(sizeof(float) * (size_t)(n_in * n_tok));
    ASSERT_NOT_NULL(X);
    ktest_random_floats(X, n_in * n_tok, rng);
    for (int i = 0; i < n; i++) {
        const kern_traits *t = kern_traits_of(types[i]);
        const int64_t n_out = outs[i];
        const size_t wbytes = (size_t)(n_in / t->block_size) * t->type_size * (size_t)n_out;
        uint8_t *raw = mem_alloc(wbytes);
        W[i] = mem_alloc(wbytes);
        Y0[i] = mem_alloc(sizeof(float) * (size_t)(n_out * n_tok));
        float *Y = mem_alloc(sizeof(float) * (size_t)(n_out * n_tok));
        ASSERT_TRUE(raw && W[i] && Y0[i] && Y);
        for (int64_t o = 0; o < n_out; o++)
            ktest_random_row(types[i], raw + (size_t)o * (wbytes / (size_t)n_out), n_in, rng);
        int wt = kern_repack_type(types[i], n_in, n_out);
        if (wt >= 0) ASSERT_EQ_INT(kern_repack(types[i], raw, n_in, n_out, W[i], 0, n_out), 0);
        else memcpy(W[i], raw, wbytes), wt = types[i];
        mem_free(raw);
        for (int64_t k = 0; k < n_out * n_tok; k++) Y[k] = NAN;
        it[i] = (kern_mm_item){wt, W[i], n_out, Y};
        const size_t sb = kern_matmul_scratch_size(wt, n_in, n_tok);
        if (sb > sc_bytes) sc_bytes = sb;
    }
    void *sc = mem_alloc(sc_bytes);
    ASSERT_NOT_NULL(sc);
    for (int i = 0; i < n; i++)
        ASSERT_EQ_INT(kern_matmul(pool, it[i].wtype, it[i].W, n_in, it[i].n_out, X, n_tok, Y0[i], sc), 0);
    mem_fail_after(0); /* no allocation inside */
    const int rc = kern_matmul_multi(pool, it, n, n_in, X, n_tok, sc);
    mem_fail_after(-1);
    ASSERT_EQ_INT(rc, 0);
    for (int i = 0; i < n; i++) {
        if (memcmp(Y0[i], it[i].Y, sizeof(float) * (size_t)(it[i].n_out * n_tok)))
            test_fail(__FILE__, __LINE__, "multi item %d (%s) of %d, n_in=%lld n_tok=%lld threads=%d: "
                      "not what kern_matmul gives", i, kern_traits_of(types[i])->name, n,
                      (long long)n_in, (long long)n_tok, tpool_size(pool));
        mem_free(W[i]);
        mem_free(Y0[i]);
        mem_free(it[i].Y);
    }
    mem_free(X);
    mem_free(sc);
}

TEST(matmul_multi_matches_single_products) {
    kern_init(KERN_ISA_AUTO);
    static const int sets[][4] = {
        {GGUF_TYPE_Q4_0, GGUF_TYPE_Q4_0, GGUF_TYPE_Q8_0, -1},
        {GGUF_TYPE_Q8_0, GGUF_TYPE_Q4_0, GGUF_TYPE_Q5_0, GGUF_TYPE_Q8_0},
        {GGUF_TYPE_Q5_0, GGUF_TYPE_Q4_1, GGUF_TYPE_Q5_0, -1},
        {GGUF_TYPE_Q5_1, GGUF_TYPE_Q4_1, GGUF_TYPE_Q8_0, GGUF_TYPE_Q5_1},
        {GGUF_TYPE_IQ4_NL, GGUF_TYPE_Q4_0, GGUF_TYPE_IQ4_NL, GGUF_TYPE_Q8_0},
        {GGUF_TYPE_Q4_K, GGUF_TYPE_Q4_K, GGUF_TYPE_Q6_K, -1},
        {GGUF_TYPE_Q6_K, GGUF_TYPE_Q5_K, GGUF_TYPE_Q3_K, GGUF_TYPE_IQ4_XS},
        {GGUF_TYPE_F32, GGUF_TYPE_Q4_K, -1, -1},
    };
    static const int64_t toks[] = {1, 3, 9, KERN_R8B_MAXT + 5};
    uint64_t rng = 4242;
    for (int nth = 1; nth <= 3; nth++) {
        tpool *pool = tpool_new(nth);
        ASSERT_NOT_NULL(pool);
        for (size_t si = 0; si < sizeof sets / sizeof sets[0]; si++) {
            int n = 0;
            while (n < 4 && sets[si][n] >= 0) n++;
            for (size_t k = 0; k < sizeof toks / sizeof toks[0]; k++)
                check_multi(pool, sets[si], n, 512, toks[k], &rng);
        }
        tpool_free(pool);
    }
    /* Items that cannot be multiplied: the error, as kern_matmul's. */
    float x[32] = {0}, y[8];
    uint8_t w[8 * 18] = {0}, sc[256];
    const kern_mm_item bad = {GGUF_TYPE_Q4_0, w, 8, y};
    ASSERT_EQ_INT(kern_matmul_multi(NULL, &bad, 1, 31, x, 1, sc), BASE_EINVAL);
    ASSERT_EQ_INT(kern_matmul_multi(NULL, &bad, KERN_MM_MAX + 1, 32, x, 1, sc), BASE_EINVAL);
    ASSERT_EQ_INT(kern_matmul_multi(NULL, &bad, 0, 32, x, 1, sc), BASE_OK);
}

/* A matrix packed under AVX2 keeps working when the reference kernels are forced. */
TEST(repack_ref_kernels_match) {
    kern_init(KERN_ISA_AUTO);
    if (kern_repack_type(GGUF_TYPE_Q4_0, 32, 8) < 0) {
        test_skip("no repacked kernels on this ISA");
        return;
    }
    uint64_t rng = 3;
    const int64_t n_in = 512, n_out = 40, n_tok = 6;
    for (int ti = 0; ti < N_R8_TYPES; ti++) {
        const int type = r8_types[ti];
        const kern_traits *t = kern_traits_of(type);
        const size_t wbytes = (size_t)(n_in / t->block_size) * t->type_size * n_out;
        const int ptype = kern_repack_type(type, n_in, n_out);
        uint8_t *W = mem_alloc(wbytes), *P = mem_alloc(wbytes);
        float *X = mem_alloc(sizeof(float) * n_in * n_tok);
        float *Ya = mem_alloc(sizeof(float) * n_out * n_tok), *Yr = mem_alloc(sizeof(float) * n_out * n_tok);
        void *sc = mem_alloc(kern_matmul_scratch_size(ptype, n_in, n_tok));
        ASSERT_TRUE(W && P && X && Ya && Yr && sc);
        for (int64_t o = 0; o < n_out; o++)
            ktest_random_row(type, W + o * (wbytes / n_out), n_in, &rng);
        ktest_random_floats(X, n_in * n_tok, &rng);
        ASSERT_EQ_INT(kern_repack(type, W, n_in, n_out, P, 0, n_out), 0);
        ASSERT_EQ_INT(kern_matmul(NULL, ptype, P, n_in, n_out, X, n_tok, Ya, sc), 0);
        kern_init(KERN_ISA_REF);
        ASSERT_EQ_INT(kern_matmul(NULL, ptype, P, n_in, n_out, X, n_tok, Yr, sc), 0);
        kern_init(KERN_ISA_AUTO);
        for (int64_t i = 0; i < n_out * n_tok; i++)
            if (!(fabsf(Ya[i] - Yr[i]) <= 1e-5f * (fabsf(Yr[i]) + 1.0f)))
                test_fail(__FILE__, __LINE__, "%s: Y[%lld] = %.9g, reference kernel %.9g", t->name,
                          (long long)i, Ya[i], Yr[i]);
        mem_free(W);
        mem_free(P);
        mem_free(X);
        mem_free(Ya);
        mem_free(Yr);
        mem_free(sc);
    }
}

TEST(repack_refuses_what_it_cannot_pack) {
    kern_init(KERN_ISA_AUTO);
    const bool have = kern_repack_type(GGUF_TYPE_Q4_0, 32, 8) >= 0;
    ASSERT_EQ_INT(kern_repack_type(GGUF_TYPE_Q4_0, 32, 7), -1); /* fewer than 8 rows */
    ASSERT_EQ_INT(kern_repack_type(GGUF_TYPE_F16, 256, 8), -1); /* no packed form */
    ASSERT_EQ_INT(kern_repack_type(GGUF_TYPE_Q2_K, 128, 8), -1);
    ASSERT_EQ_INT(kern_repack_type(GGUF_TYPE_Q4_K, 128, 8), -1); /* not whole super-blocks */
    ASSERT_EQ_INT(kern_repack_type(GGUF_TYPE_Q5_K, 384, 8), -1);
    ASSERT_EQ_INT(kern_repack_type(GGUF_TYPE_IQ4_XS, 128, 8), -1);
    ASSERT_EQ_INT(kern_repack_type(GGUF_TYPE_Q3_K, 384, 8), -1);
    ASSERT_EQ_INT(kern_repack_type(GGUF_TYPE_Q8_0, 48, 8), -1);  /* not whole blocks */
    uint8_t w[8 * 18] = {0}, p[8 * 18];
    ASSERT_TRUE(kern_repack(GGUF_TYPE_F16, w, 32, 8, p, 0, 8) != 0);
    ASSERT_TRUE(kern_repack(GGUF_TYPE_Q2_K, w, 32, 8, p, 0, 8) != 0);
    ASSERT_TRUE(kern_repack(GGUF_TYPE_Q4_K, w, 32, 8, p, 0, 8) != 0);
    ASSERT_TRUE(kern_repack(GGUF_TYPE_Q5_K, w, 32, 8, p, 0, 8) != 0);
    ASSERT_TRUE(kern_repack(GGUF_TYPE_IQ4_XS, w, 32, 8, p, 0, 8) != 0);
    ASSERT_TRUE(kern_repack(GGUF_TYPE_Q3_K, w, 32, 8, p, 0, 8) != 0);
    ASSERT_TRUE(kern_repack(GGUF_TYPE_Q4_0, w, 32, 8, p, 0, 4) != 0);
    ASSERT_TRUE(kern_repack(GGUF_TYPE_Q4_0, w, 32, 8, p, 8, 0) != 0);
    float row[32];
    ASSERT_TRUE(kern_get_row(KERN_TYPE_Q4_0_R8, p, 32, 8, 8, row) != 0); /* no such row */
    /* Forced reference kernels: nothing to gain from packing. */
    kern_init(KERN_ISA_REF);
    ASSERT_EQ_INT(kern_repack_type(GGUF_TYPE_Q4_0, 32, 8), -1);
    kern_init(KERN_ISA_AUTO);
    if (have) {
        setenv("LOCALAI_REPACK", "off", 1);
        ASSERT_EQ_INT(kern_repack_type(GGUF_TYPE_Q4_0, 32, 8), -1);
        unsetenv("LOCALAI_REPACK");
        ASSERT_EQ_INT(kern_repack_type(GGUF_TYPE_Q4_0, 32, 8), KERN_TYPE_Q4_0_R8);
        ASSERT_EQ_INT(kern_repack_type(GGUF_TYPE_Q4_K, 256, 8), KERN_TYPE_Q4_K_R8);
        ASSERT_EQ_INT(kern_repack_type(GGUF_TYPE_Q5_K, 256, 8), KERN_TYPE_Q5_K_R8);
        ASSERT_EQ_INT(kern_repack_type(GGUF_TYPE_IQ4_XS, 256, 8), KERN_TYPE_IQ4_XS_R8);
        ASSERT_EQ_INT(kern_repack_type(GGUF_TYPE_Q3_K, 256, 8), KERN_TYPE_Q3_K_R8);
        ASSERT_EQ_INT(kern_repack_type(GGUF_TYPE_Q4_1, 32, 8), KERN_TYPE_Q4_1_R8);
        ASSERT_EQ_INT(kern_repack_type(GGUF_TYPE_Q5_1, 32, 8), KERN_TYPE_Q5_1_R8);
        ASSERT_EQ_INT(kern_repack_type(GGUF_TYPE_IQ4_NL, 32, 8), KERN_TYPE_IQ4_NL_R8);
        ASSERT_EQ_INT(kern_repack_type(GGUF_TYPE_Q2_K, 256, 8), KERN_TYPE_Q2_K_R8);
        setenv("LOCALAI_REPACK", "q4_k", 1); /* a list without Q5_K */
        ASSERT_EQ_INT(kern_repack_type(GGUF_TYPE_Q5_K, 256, 8), -1);
        unsetenv("LOCALAI_REPACK");
    }
}

/* An embedding lookup in a packed matrix gives the file's row exactly, tail rows included. */
TEST(repack_get_row_is_exact) {
    kern_init(KERN_ISA_AUTO);
    if (kern_repack_type(GGUF_TYPE_Q4_0, 32, 8) < 0) {
        test_skip("no repacked kernels on this ISA");
        return;
    }
    uint64_t rng = 11;
    for (int ti = 0; ti < N_R8_TYPES; ti++) {
        const int type = r8_types[ti];
        const kern_traits *t = kern_traits_of(type);
        const int64_t n_in = t->block_size == 256 ? 8192 : 4096, n_out = 21;
        const size_t rb = (size_t)(n_in / t->block_size) * t->type_size;
        uint8_t *W = mem_alloc(rb * n_out), *P = mem_alloc(rb * n_out);
        float *a = mem_alloc(sizeof(float) * n_in), *b = mem_alloc(sizeof(float) * n_in);
        ASSERT_TRUE(W && P && a && b);
        for (int64_t o = 0; o < n_out; o++) ktest_random_row(type, W + o * rb, n_in, &rng);
        const int ptype = kern_repack_type(type, n_in, n_out);
        ASSERT_TRUE(kern_is_repacked(ptype));
        ASSERT_EQ_INT(kern_repack(type, W, n_in, n_out, P, 0, n_out), 0);
        for (int64_t o = 0; o < n_out; o++) {
            ASSERT_EQ_INT(kern_get_row(type, W, n_in, n_out, o, a), 0);
            ASSERT_EQ_INT(kern_get_row(ptype, P, n_in, n_out, o, b), 0);
            if (memcmp(a, b, sizeof(float) * (size_t)n_in) != 0)
                test_fail(__FILE__, __LINE__, "%s: packed row %lld differs", t->name, (long long)o);
        }
        mem_free(W);
        mem_free(P);
        mem_free(a);
        mem_free(b);
    }
}

#if defined(__x86_64__)
/* The AVX-512 VNNI packed kernels (gemm_r8*_avx512.c), emulated on SIMDe where the CPU lacks
 * AVX-512, on the same shapes; they must be the ones installed (not AVX2's after a failed
 * start-up check). */
TEST(repack_matches_unpacked_avx512_vnni_emulated) {
    ASSERT_EQ_INT(kern_init(KERN_ISA_AVX2), KERN_ISA_AVX2);
    kern_r8_fn avx2[KERN_R8_COUNT];
    kern_r8b_fn avx2b[KERN_R8_COUNT];
    memcpy(avx2, kern_r8_table, sizeof avx2);
    memcpy(avx2b, kern_r8b_table, sizeof avx2b);
    ktest_emulate_avx512(true);
    ASSERT_EQ_INT(kern_init(KERN_ISA_AVX512), KERN_ISA_AVX512);
    static const int vnni_types[] = {KERN_TYPE_Q4_0_R8, KERN_TYPE_Q8_0_R8, KERN_TYPE_Q5_0_R8,
                                     KERN_TYPE_Q6_K_R8, KERN_TYPE_Q4_K_R8, KERN_TYPE_Q5_K_R8,
                                     KERN_TYPE_Q4_1_R8, KERN_TYPE_Q5_1_R8, KERN_TYPE_IQ4_NL_R8,
                                    KERN_TYPE_Q4_K_R8, KERN_TYPE_Q5_K_R8};
    for (size_t i = 0; i < sizeof vnni_types / sizeof vnni_types[0]; i++) {
        const int k = vnni_types[i] - KERN_R8_FIRST;
        ASSERT_TRUE(kern_r8_table[k] != avx2[k]);
        if (avx2b[k]) ASSERT_TRUE(kern_r8b_table[k] != avx2b[k]); /* Q4_K, Q5_K: no batch kind */
    }
    check_shapes();
}

/* The kernels of a single token against several groups (kern_r8v_table) give each group bit
 * for bit what the mat-vec kernel gives it alone: every group count, groups next to each other
 * and a group apart (as runs of 2), from group 0 and from group 3, with the groups' own
 * weights (random, not one group repeated as in the start-up check). */
TEST(repack_groups_kernels_match_mat_vec) {
    ktest_emulate_avx512(true);
    ASSERT_EQ_INT(kern_init(KERN_ISA_AVX512), KERN_ISA_AVX512);
    uint64_t rng = 91;
    int n_kernels = 0;
    for (int ti = 0; ti < N_R8_TYPES; ti++) {
        const int type = r8_types[ti];
        const kern_traits *t = kern_traits_of(type);
        const int64_t n_in = t->block_size == 256 ? 512 : 96, n_out = 8 * 20;
        const int ptype = kern_repack_type(type, n_in, n_out);
        ASSERT_TRUE(ptype >= 0);
        const kern_r8v_fn vfn = kern_r8v_table[ptype - KERN_R8_FIRST];
        const kern_r8_fn fn = kern_r8_table[ptype - KERN_R8_FIRST];
        if (!vfn) continue;
        n_kernels++;
        const kern_r8_desc *d = kern_r8_desc_of(ptype);
        const kern_traits *vt = kern_traits_of(d->vtype);
        const int64_t nb = n_in / d->block_elems, vb = n_in / vt->block_size;
        const size_t wbytes = (size_t)(n_in / t->block_size) * t->type_size * (size_t)n_out;
        const size_t gbytes = (size_t)nb * d->block_bytes, x_row = (size_t)vb * vt->type_size;
        uint8_t *W = mem_alloc(wbytes), *P = mem_alloc(wbytes), *xq = mem_alloc(x_row);
        float X[512], dc[2 * 512 / 32], Yv[16 * KERN_R8V_MAXG], Yf[16 * KERN_R8V_MAXG];
        for (int64_t o = 0; o < n_out; o++)
            ktest_random_row(type, W + (size_t)o * (wbytes / (size_t)n_out), n_in, &rng);
        ASSERT_EQ_INT(kern_repack(type, W, n_in, n_out, P, 0, n_out), 0);
        ktest_random_floats(X, n_in, &rng);
        vt->from_float(X, xq, n_in);
        const bool pairs = d->vtype == GGUF_TYPE_Q8_0 || d->vtype == GGUF_TYPE_Q8_1;
        for (int64_t k = 0; pairs && k < vb; k++)
            kern_r8_token_pair(d->vtype, d->offset, xq, k, dc + 2 * k);
        for (int g0 = 0; g0 <= 3; g0 += 3)
            for (int step = 1; step <= 2; step++)
                for (int ng = 1; ng <= KERN_R8V_MAXG; ng++) {
                    const uint8_t *w0 = P + (size_t)g0 * gbytes;
                    const size_t ys = 8 * (size_t)step;
                    for (int i = 0; i < 16 * KERN_R8V_MAXG; i++) Yv[i] = Yf[i] = NAN;
                    vfn(nb, w0, gbytes * (size_t)step, ng, xq, pairs ? dc : NULL, Yv, ys);
                    for (int g = 0; g < ng; g++)
                        fn(nb, w0 + (size_t)(g * step) * gbytes, xq, x_row, pairs ? dc : NULL,
                           Yf + ys * (size_t)g, 8, 1);
                    for (int g = 0; g < ng; g++)
                        if (memcmp(Yv + ys * (size_t)g, Yf + ys * (size_t)g, 8 * sizeof(float)))
                            test_fail(__FILE__, __LINE__,
                                      "%s: group %d of %d (from group %d, %d apart) differs "
                                      "from the mat-vec kernel",
                                      t->name, g, ng, g0, step);
                }
        mem_free(W);
        mem_free(P);
        mem_free(xq);
    }
    ASSERT_EQ_INT(n_kernels, 9); /* the AVX-512 VNNI types' */
}

/* The AMX kernels (emulated in C where the CPU lacks AMX) for batches of the six types with
 * 32-element blocks and of Q4_K and Q5_K, over
 * the AVX-512 VNNI ones (emulated where the CPU lacks them), on the same shapes plus token
 * counts around the 16-token tiles; the start-up check passes them and catches a wrong one. */
static kern_r8b_fn good_b2fn;

static void wrong_b2(int64_t nb, const void *W, const int8_t *xt, const float *dct, int64_t ld,
                     int nt, float *acc, float *Y, size_t ldy) {
    good_b2fn(nb, W, xt, dct, ld, nt, acc, Y, ldy);
    Y[(size_t)(nt - 1) * ldy + 12] += 1e-3f; /* the second group, the last token */
}

TEST(repack_matches_unpacked_amx) {
    ktest_emulate_avx512(true);
    ktest_emulate_amx();
    ASSERT_EQ_INT(kern_init(KERN_ISA_AVX512), KERN_ISA_AVX512);
    ASSERT_TRUE(kern_amx_active());
    static const int amx_types[] = {KERN_TYPE_Q4_0_R8, KERN_TYPE_Q8_0_R8, KERN_TYPE_Q5_0_R8,
                                    KERN_TYPE_Q4_1_R8, KERN_TYPE_Q5_1_R8, KERN_TYPE_IQ4_NL_R8,
                                    KERN_TYPE_Q4_K_R8, KERN_TYPE_Q5_K_R8};
    for (size_t i = 0; i < sizeof amx_types / sizeof amx_types[0]; i++) {
        const int k = amx_types[i] - KERN_R8_FIRST;
        ASSERT_NOT_NULL(kern_r8b2_table[k]);
        ASSERT_TRUE(kern_selfcheck_r8b2(amx_types[i], kern_r8b2_table[k]));
    }
    check_shapes();
    uint64_t rng = 5;
    static const int64_t toks[] = {8, 15, 16, 17, 40, 64, 100};
    tpool *pool = tpool_new(2);
    ASSERT_NOT_NULL(pool);
    for (size_t i = 0; i < sizeof toks / sizeof toks[0]; i++) {
        check_packed(pool, GGUF_TYPE_Q4_0, 1024, 48, toks[i], &rng);
        check_packed(pool, GGUF_TYPE_Q5_0, 512, 32, toks[i], &rng);
        check_packed(pool, GGUF_TYPE_Q4_1, 512, 32, toks[i], &rng);
        check_packed(pool, GGUF_TYPE_Q5_1, 512, 32, toks[i], &rng);
        check_packed(pool, GGUF_TYPE_IQ4_NL, 512, 32, toks[i], &rng);
        check_packed(pool, GGUF_TYPE_Q4_K, 1280, 40, toks[i], &rng); /* 5 super-blocks, odd group */
        check_packed(pool, GGUF_TYPE_Q5_K, 1280, 40, toks[i], &rng);
        check_packed(pool, GGUF_TYPE_Q8_0, 96, 40, toks[i], &rng); /* 3 blocks: an odd count */
        check_packed(pool, GGUF_TYPE_Q8_0, 2080, 32, toks[i], &rng); /* 65: over one KC run */
    }
    tpool_free(pool);
    good_b2fn = kern_r8b2_table[KERN_TYPE_Q4_0_R8 - KERN_R8_FIRST];
    log_set_level(LOG_ERROR); /* the expected warning */
    ASSERT_FALSE(kern_selfcheck_r8b2(KERN_TYPE_Q4_0_R8, wrong_b2));
}

/* AVX-512 without VNNI keeps AVX2's packed kernels. */
TEST(repack_avx512_without_vnni_keeps_avx2) {
    ASSERT_EQ_INT(kern_init(KERN_ISA_AVX2), KERN_ISA_AVX2);
    kern_r8_fn r8[KERN_R8_COUNT];
    kern_r8b_fn r8b[KERN_R8_COUNT];
    memcpy(r8, kern_r8_table, sizeof r8);
    memcpy(r8b, kern_r8b_table, sizeof r8b);
    /* Emulated even on an AVX-512 CPU: that one has VNNI, this test needs a CPU without. */
    kern_emulate_avx512(kern_patch_avx512_emu, false);
    ASSERT_EQ_INT(kern_init(KERN_ISA_AVX512), KERN_ISA_AVX512);
    ASSERT_TRUE(memcmp(r8, kern_r8_table, sizeof r8) == 0);
    ASSERT_TRUE(memcmp(r8b, kern_r8b_table, sizeof r8b) == 0);
}

/* The start-up check of the packed kernels passes the installed ones and catches wrong ones;
 * kern_init then keeps AVX-512's vec_dots but AVX2's packed kernels. */
static kern_r8_fn good_fn;
static kern_r8b_fn good_bfn;
static kern_r8v_fn good_vfn;

static void wrong_r8(int64_t nb, const void *W, const uint8_t *xq, size_t x_row,
                     const float *dc, float *Y, size_t ldy, int nt) {
    good_fn(nb, W, xq, x_row, dc, Y, ldy, nt);
    Y[(size_t)(nt - 1) * ldy + 7] *= 1.001f; /* the last row of the last token slightly off */
}

static void wrong_r8b(int64_t nb, const void *W, const int8_t *xt, const float *dct, int64_t ld,
                      int nt, float *acc, float *Y, size_t ldy) {
    good_bfn(nb - 1, W, xt, dct, ld, nt, acc, Y, ldy); /* the last block dropped */
}

static void wrong_r8v(int64_t nb, const void *W, size_t w_step, int ng, const uint8_t *xq,
                      const float *dc, float *Y, size_t y_step) {
    good_vfn(nb, W, w_step, ng, xq, dc, Y, y_step);
    if (ng == KERN_R8V_MAXG) Y[(size_t)(ng - 1) * y_step + 7] *= 1.001f; /* only with the most groups */
}

static void patch_wrong_r8(kern_traits *t, kern_r8_fn *r8, kern_r8b_fn *r8b, kern_r8v_fn *r8v,
                           bool vnni) {
    kern_patch_avx512_emu(t, r8, r8b, r8v, vnni);
    good_fn = r8[KERN_TYPE_Q8_0_R8 - KERN_R8_FIRST];
    r8[KERN_TYPE_Q8_0_R8 - KERN_R8_FIRST] = wrong_r8;
}

TEST(repack_selfcheck_catches_wrong_kernels) {
    ktest_emulate_avx512(true);
    ASSERT_EQ_INT(kern_init(KERN_ISA_AVX512), KERN_ISA_AVX512);
    for (int p = KERN_R8_FIRST; p < KERN_R8_FIRST + KERN_R8_COUNT; p++)
        ASSERT_TRUE(kern_selfcheck_r8(p, kern_r8_table[p - KERN_R8_FIRST],
                                      kern_r8b_table[p - KERN_R8_FIRST],
                                      kern_r8v_table[p - KERN_R8_FIRST]));
    const int q4 = KERN_TYPE_Q4_0_R8 - KERN_R8_FIRST;
    good_fn = kern_r8_table[q4];
    good_bfn = kern_r8b_table[q4];
    good_vfn = kern_r8v_table[q4];
    ASSERT_NOT_NULL(good_vfn);
    log_set_level(LOG_ERROR); /* the expected warnings */
    ASSERT_FALSE(kern_selfcheck_r8(KERN_TYPE_Q4_0_R8, NULL, NULL, wrong_r8v));
    ASSERT_TRUE(kern_selfcheck_r8(KERN_TYPE_Q4_0_R8, NULL, NULL, good_vfn));
    ASSERT_FALSE(kern_selfcheck_r8(KERN_TYPE_Q4_0_R8, wrong_r8, NULL, NULL));
    ASSERT_FALSE(kern_selfcheck_r8(KERN_TYPE_Q4_0_R8, NULL, wrong_r8b, NULL));
    ASSERT_TRUE(kern_selfcheck_r8(KERN_TYPE_Q4_0_R8, NULL, good_bfn, NULL));

    ASSERT_EQ_INT(kern_init(KERN_ISA_AVX2), KERN_ISA_AVX2);
    kern_r8_fn r8[KERN_R8_COUNT];
    memcpy(r8, kern_r8_table, sizeof r8);
    const kern_vec_dot_fn avx2_dot = kern_traits_of(GGUF_TYPE_Q8_0)->vec_dot;
    kern_emulate_avx512(patch_wrong_r8, true);
    ASSERT_EQ_INT(kern_init(KERN_ISA_AVX512), KERN_ISA_AVX512);
    ASSERT_TRUE(memcmp(r8, kern_r8_table, sizeof r8) == 0);
    ASSERT_TRUE(kern_traits_of(GGUF_TYPE_Q8_0)->vec_dot != avx2_dot);
}
#endif
