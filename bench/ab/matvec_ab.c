/*
 * A/B of two builds of one packed-kernel file (bench/ab/run.sh compiles them with their patch
 * function renamed patch_A and patch_B): a single-token product (mat-vec) over a matrix larger
 * than the caches, timed with A, with B, and a plain read of as many bytes, round after round,
 * so that drifts of the host's memory bandwidth hit both alike. Prints each one's median share
 * of the plain read and the median of the per-round time ratios A / B (above 1: B is faster)
 * with its quartiles.
 *
 *   bench/ab/matvec_ab TYPE [THREADS [ROUNDS]]
 *       TYPE: q4_0, q5_0, q8_0, q3_k, q4_k, q5_k, q6_k, iq4_xs
 */
#include "base/base.h"
#include "kernels/kernels_int.h"

#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Each fills the kernel tables with its build's kernels; the Q3_K, Q4_K, Q5_K and IQ4_XS
 * files' patch functions take no batch table (run.sh then defines AB_NO_BATCH). */
#ifdef AB_NO_BATCH
void patch_A(kern_r8_fn *table);
void patch_B(kern_r8_fn *table);
#define PATCH(f) f(kern_r8_table)
#else
void patch_A(kern_r8_fn *table, kern_r8b_fn *batch);
void patch_B(kern_r8_fn *table, kern_r8b_fn *batch);
#define PATCH(f) f(kern_r8_table, kern_r8b_table)
#endif
/* gemm_r8_avx2.c's patch function calls the other files' ones: run.sh renames those to
 * these, so that only the file under test changes. */
void ab_skip_r8q6k(kern_r8_fn *table, kern_r8b_fn *batch);
void ab_skip_r8k(kern_r8_fn *table);
void ab_skip_r8q5k(kern_r8_fn *table);
void ab_skip_r8iq4xs(kern_r8_fn *table);
void ab_skip_r8q3k(kern_r8_fn *table);
void ab_skip_r8q6k(kern_r8_fn *table, kern_r8b_fn *batch) { (void)table, (void)batch; }
void ab_skip_r8k(kern_r8_fn *table) { (void)table; }
void ab_skip_r8q5k(kern_r8_fn *table) { (void)table; }
void ab_skip_r8iq4xs(kern_r8_fn *table) { (void)table; }
void ab_skip_r8q3k(kern_r8_fn *table) { (void)table; }

#define MAX_ROUNDS 64

typedef struct {
    const float *buf;
    size_t n;
    float sums[64];
} read_ctx;

/* The plain read: 8 independent sums, so that the loads alone set the pace. */
__attribute__((target("avx2"))) static void read_fn(void *vctx, int ith, int nth) {
    read_ctx *c = vctx;
    const size_t per = (c->n / (size_t)nth) & ~(size_t)63;
    const float *p = c->buf + per * (size_t)ith;
    __m256 a[8];
    for (int k = 0; k < 8; k++) a[k] = _mm256_setzero_ps();
    for (size_t i = 0; i < per; i += 64)
        for (int k = 0; k < 8; k++) a[k] = _mm256_add_ps(a[k], _mm256_load_ps(p + i + 8 * k));
    for (int k = 1; k < 8; k++) a[0] = _mm256_add_ps(a[0], a[k]);
    float t[8];
    _mm256_storeu_ps(t, a[0]);
    c->sums[ith] = t[0] + t[7];
}

static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double seconds(void) { return (double)time_now_ns() / 1e9; }

static uint64_t rng_next(uint64_t *s) { /* xorshift64 */
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

int main(int argc, char **argv) {
    static const struct {
        const char *name;
        int type;
    } names[] = {{"q4_0", GGUF_TYPE_Q4_0}, {"q5_0", GGUF_TYPE_Q5_0}, {"q8_0", GGUF_TYPE_Q8_0},
                 {"q4_k", GGUF_TYPE_Q4_K}, {"q5_k", GGUF_TYPE_Q5_K}, {"q6_k", GGUF_TYPE_Q6_K},
                 {"iq4_xs", GGUF_TYPE_IQ4_XS}, {"q3_k", GGUF_TYPE_Q3_K}};
    int type = -1;
    for (size_t i = 0; argc > 1 && i < sizeof names / sizeof names[0]; i++)
        if (!strcasecmp(argv[1], names[i].name)) type = names[i].type;
    const int nth = argc > 2 ? atoi(argv[2]) : 2, rounds = argc > 3 ? atoi(argv[3]) : 15;
    if (type < 0 || nth < 1 || rounds < 1 || rounds > MAX_ROUNDS) {
        fprintf(stderr,
                "usage: %s q4_0|q5_0|q8_0|q3_k|q4_k|q5_k|q6_k|iq4_xs [THREADS [ROUNDS <= %d]]\n",
                argv[0], MAX_ROUNDS);
        return 2;
    }
    const int64_t n_in = 4096, n_out = 32768; /* 75-143 MB of weights */
    const kern_traits *tr = kern_traits_of(type);
    const size_t rb = (size_t)(n_in / tr->block_size) * tr->type_size, wb = rb * (size_t)n_out;
    /* Random blocks with sane scales: the speed does not depend on the values. */
    float *x = malloc(sizeof(float) * (size_t)n_in);
    uint8_t *row = malloc(rb), *W = malloc(wb), *P = mem_alloc_aligned(64, wb);
    float *Y = malloc(sizeof(float) * (size_t)n_out);
    float *buf = mem_alloc_aligned(64, wb);
    const int ptype = kern_repack_type(type, n_in, n_out);
    void *scratch = ptype < 0 ? NULL : malloc(kern_matmul_scratch_size(ptype, n_in, 1));
    tpool *pool = tpool_new(nth);
    if (!x || !row || !W || !P || !Y || !buf || !scratch || !pool) {
        fprintf(stderr, "out of memory, or no packed form of %s here\n", argv[1]);
        return 1;
    }
    uint64_t rng = 42;
    for (int64_t i = 0; i < n_in; i++) x[i] = (float)((int)(rng_next(&rng) % 2001) - 1000) / 1000.0f;
    if (tr->from_float) {
        tr->from_float(x, row, n_in);
    } else { /* no quantizer (Q3_K, Q5_K, Q6_K, IQ4_XS): random bytes with the scales set to 1.0
                * (f16 0x3c00): Q3_K's and Q6_K's d end their blocks, Q5_K's d and dmin and
                * IQ4_XS's d start theirs */
        for (size_t k = 0; k < rb; k++) row[k] = (uint8_t)rng_next(&rng);
        const size_t bs = tr->type_size;
        for (size_t b = 0; b < rb; b += bs) {
            const size_t at = type == GGUF_TYPE_Q6_K || type == GGUF_TYPE_Q3_K ? bs - 2 : 0;
            uint8_t *h = row + b + at;
            h[0] = 0, h[1] = 0x3c;
            if (type == GGUF_TYPE_Q5_K) h[2] = 0, h[3] = 0x3c;
        }
    }
    for (int64_t o = 0; o < n_out; o++) memcpy(W + (size_t)o * rb, row, rb);
    if (kern_repack(type, W, n_in, n_out, P, 0, n_out)) return 1;
    for (size_t i = 0; i < wb / 4; i++) buf[i] = 1.0f;
    read_ctx rc = {.buf = buf, .n = wb / 4};

    double share_a[MAX_ROUNDS], share_b[MAX_ROUNDS], ratio[MAX_ROUNDS];
    for (int r = 0; r < rounds; r++) {
        double t0 = seconds();
        tpool_run(pool, read_fn, &rc);
        const double t_read = seconds() - t0;
        PATCH(patch_A);
        t0 = seconds();
        kern_matmul(pool, ptype, P, n_in, n_out, x, 1, Y, scratch);
        const double ta = seconds() - t0;
        PATCH(patch_B);
        t0 = seconds();
        kern_matmul(pool, ptype, P, n_in, n_out, x, 1, Y, scratch);
        const double tb = seconds() - t0;
        share_a[r] = t_read / ta, share_b[r] = t_read / tb, ratio[r] = ta / tb;
    }
    qsort(share_a, (size_t)rounds, sizeof(double), cmp_double);
    qsort(share_b, (size_t)rounds, sizeof(double), cmp_double);
    qsort(ratio, (size_t)rounds, sizeof(double), cmp_double);
    printf("%s, %d threads, %.0f MB, %d rounds: A %.0f%% of the plain read, B %.0f%% (medians); "
           "time A / B %.3f [%.3f .. %.3f]\n",
           argv[1], nth, (double)wb / 1e6, rounds, 100 * share_a[rounds / 2],
           100 * share_b[rounds / 2], ratio[rounds / 2], ratio[rounds / 4], ratio[3 * rounds / 4]);
    return 0;
}
