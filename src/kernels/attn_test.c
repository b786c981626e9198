/*
 * The grouped attention products (kern_attn_scores_f16, kern_attn_values_f16): scores against
 * a double-precision evaluation, values bit for bit against the per-head AVX2 axpy they
 * replace, every head count 1..11 (a pass of 8 and a rest), head sizes with and without a
 * multiple of 8, cache rows wider than a head (the KV heads interleaved), and nothing written
 * past the rows and heads asked for.
 */
#include "kernels.h"
#include "ops_int.h"
#include "test.h"

#include <math.h>
#include <string.h>

#define MAXQ 11
#define MAXP 70
#define MAXD 136
#define KD (2 * MAXD) /* cache row: two KV heads */
#define SENT 12345.0f

static float q[MAXQ * MAXD], S[MAXQ * (MAXP + 1)], O[MAXQ * (MAXD + 1)], O2[MAXQ * (MAXD + 1)];

typedef void (*scores_fn)(const float *, size_t, int, const uint16_t *, size_t, int64_t, int64_t,
                          float *, size_t);
typedef void (*values_fn)(const float *, size_t, int, const uint16_t *, size_t, int64_t, int64_t,
                          float *, size_t);
typedef void (*axpy_fn)(float *, float, const uint16_t *, int64_t);
static uint16_t K[MAXP * KD], V[MAXP * KD];

static void fill(uint64_t *rng) {
    for (int i = 0; i < MAXQ * MAXD; i++) q[i] = test_rand_f32(rng);
    for (int i = 0; i < MAXP * KD; i++) {
        K[i] = kern_f32_to_f16(test_rand_f32(rng));
        V[i] = kern_f32_to_f16(test_rand_f32(rng));
    }
}

static void set_all(float *x, int n) {
    for (int i = 0; i < n; i++) x[i] = SENT;
}

/* Scores: row stride MAXP + 1 (one sentinel column), q rows MAXD apart, K from the second KV
 * head of each cache row. */
static void check_scores(int nq, int cnt, int hd, scores_fn fn) {
    set_all(S, MAXQ * (MAXP + 1));
    const uint16_t *k = K + MAXD;
    fn(q, MAXD, nq, k, KD, cnt, hd, S, MAXP + 1);
    for (int h = 0; h < MAXQ; h++)
        for (int p = 0; p <= MAXP; p++) {
            float got = S[h * (MAXP + 1) + p];
            if (h >= nq || p >= cnt) {
                if (got != SENT)
                    test_fail(__FILE__, __LINE__, "scores nq=%d cnt=%d hd=%d: wrote [%d][%d]", nq, cnt, hd, h, p);
                continue;
            }
            double want = 0, mag = 0;
            for (int d = 0; d < hd; d++) {
                double a = (double)q[h * MAXD + d] * kern_f16_to_f32(k[(size_t)p * KD + d]);
                want += a;
                mag += fabs(a);
            }
            if (!(fabs(got - want) <= 1e-6 * mag + 1e-7))
                test_fail(__FILE__, __LINE__, "scores nq=%d cnt=%d hd=%d [%d][%d]: %.9g vs %.9g", nq, cnt, hd, h, p, got, want);
        }
}

/* Values against the per-head loop over positions with kern_axpy_f16 (of the same ISA). */
static void check_values(int nq, int cnt, int hd, values_fn fn, axpy_fn axpy) {
    for (int i = 0; i < MAXQ * (MAXP + 1); i++) S[i] = 0.5f + 0.5f * (float)((i * 7919) % 1000) / 1000.0f;
    set_all(O, MAXQ * (MAXD + 1));
    set_all(O2, MAXQ * (MAXD + 1));
    const uint16_t *v = V + MAXD;
    fn(S, MAXP + 1, nq, v, KD, cnt, hd, O, MAXD + 1);
    for (int h = 0; h < nq; h++) {
        float *o = O2 + h * (MAXD + 1);
        memset(o, 0, sizeof(float) * (size_t)hd);
        for (int p = 0; p < cnt; p++) axpy(o, S[h * (MAXP + 1) + p], v + (size_t)p * KD, hd);
    }
    for (int i = 0; i < MAXQ * (MAXD + 1); i++)
        if (memcmp(&O[i], &O2[i], sizeof(float)))
            test_fail(__FILE__, __LINE__, "values nq=%d cnt=%d hd=%d: element %d (head %d): %.9g vs %.9g",
                      nq, cnt, hd, i, i / (MAXD + 1), O[i], O2[i]);
}

static const int hds[] = {8, 24, 64, 72, 128, 136, 6, 13};
static const int cnts[] = {1, 2, 3, 4, 5, 9, 33, MAXP};

static void run_all(scores_fn sf, values_fn vf, axpy_fn axpy) {
    for (size_t a = 0; a < sizeof hds / sizeof hds[0]; a++)
        for (size_t b = 0; b < sizeof cnts / sizeof cnts[0]; b++)
            for (int nq = 1; nq <= MAXQ; nq++) {
                check_scores(nq, cnts[b], hds[a], sf);
                check_values(nq, cnts[b], hds[a], vf, axpy);
            }
}

TEST(kern_attn_grouped_ref) {
    uint64_t rng = 11;
    fill(&rng);
    kern_init(KERN_ISA_REF); /* the public functions, as on a CPU without AVX2 */
    run_all(kern_attn_scores_f16, kern_attn_values_f16, kern_axpy_f16);
    kern_init(KERN_ISA_AUTO);
}

#if defined(__x86_64__)
TEST(kern_attn_grouped_avx2) {
    if (!kern_cpu_supports(KERN_ISA_AVX2)) TEST_SKIP("no AVX2 on this CPU");
    uint64_t rng = 12;
    fill(&rng);
    run_all(kern_attn_scores_f16_avx2, kern_attn_values_f16_avx2, kern_axpy_f16_avx2);
}
#endif
