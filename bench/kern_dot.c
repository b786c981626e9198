/*
 * Speed of the type table's dot products (the inner loop of generation):
 *   1. compute: one thread, weights in cache, ns per 256 weights for vec_dot and for
 *      kern_vec_dot_multi over 8 activation rows (prompt batches);
 *   2. memory: mat-vec over a 256 MiB weight matrix on 2 threads, in GB/s of weights read,
 *      against a plain 2-thread read of the same amount (the bandwidth ceiling).
 * Numbers are minima over repetitions; on a shared machine they still move. Run with
 * `make bench` from the repository root.
 */
#include "kernels/kernels.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const int types[] = {GGUF_TYPE_Q4_0, GGUF_TYPE_Q8_0, GGUF_TYPE_Q4_K,   GGUF_TYPE_Q6_K,
                            GGUF_TYPE_Q5_K, GGUF_TYPE_Q3_K, GGUF_TYPE_Q2_K,   GGUF_TYPE_IQ4_XS,
                            GGUF_TYPE_Q4_1, GGUF_TYPE_Q5_0, GGUF_TYPE_IQ4_NL, GGUF_TYPE_F16,
                            GGUF_TYPE_BF16, GGUF_TYPE_F32};
enum { N_IN = 4096, NR = 8 };

static uint32_t rng = 1;
static float frand(void) {
    rng = rng * 1664525u + 1013904223u;
    return (float)(rng >> 8) / 8388608.0f - 1.0f;
}

/* n_rows rows of weights: random floats quantized with the type's quantizer where it has one,
 * else random bytes with every byte's top bits cleared (keeps half scales small and finite). */
static uint8_t *make_weights(uint8_t *w, const kern_traits *t, size_t row, int64_t n_rows) {
    float x[N_IN];
    for (int64_t r = 0; r < n_rows; r++) {
        uint8_t *p = w + r * row;
        if (r >= 16) {
            memcpy(p, w + (r % 16) * row, row);
        } else if (t->from_float) {
            for (int i = 0; i < N_IN; i++) x[i] = frand();
            t->from_float(x, p, N_IN);
        } else {
            for (size_t i = 0; i < row; i++) p[i] = (uint8_t)(frand() * 128) & 0x3b;
        }
    }
    return w;
}

typedef struct job {
    const kern_traits *t;
    const uint8_t *w;
    const void *a;
    size_t row;
    int64_t n_rows;
    float *out;
    const uint64_t *buf; /* for the read test */
    size_t buf_n;
    uint64_t sink;
} job;

static void matvec_fn(void *ctx, int ith, int nth) {
    job *j = ctx;
    const int64_t r0 = j->n_rows * ith / nth, r1 = j->n_rows * (ith + 1) / nth;
    for (int64_t r = r0; r < r1; r++) j->t->vec_dot(N_IN, &j->out[r], j->w + r * j->row, j->a);
}

static void read_fn(void *ctx, int ith, int nth) {
    job *j = ctx;
    const size_t i0 = j->buf_n * ith / nth, i1 = j->buf_n * (ith + 1) / nth;
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (size_t i = i0; i + 4 <= i1; i += 4) {
        s0 += j->buf[i];
        s1 += j->buf[i + 1];
        s2 += j->buf[i + 2];
        s3 += j->buf[i + 3];
    }
    if (ith == 0) j->sink = s0 + s1 + s2 + s3;
}

static double best_run(tpool *p, tpool_fn fn, job *j, int reps) {
    double best = 1e30;
    for (int k = 0; k < reps; k++) {
        uint64_t t0 = time_now_ns();
        tpool_run(p, fn, j);
        double s = (double)(time_now_ns() - t0) / 1e9;
        if (s < best) best = s;
    }
    return best;
}

int main(void) {
    kern_isa isa = kern_init(KERN_ISA_AUTO);
    printf("kernels: %s\n", kern_isa_name(isa));
    printf("%-7s %12s %14s %12s %10s\n", "type", "ns/256 (1)", "ns/256 (multi)", "2T GB/s",
           "% of read");

    tpool *pool = tpool_new(2);
    const size_t big = (size_t)256 << 20;
    uint8_t *rbuf = mem_alloc_aligned(64, big);
    if (!pool || !rbuf) return 1;
    memset(rbuf, 0, big);
    job rj = {.buf = (const uint64_t *)rbuf, .buf_n = big / 8};
    const double read_gbs = (double)big / best_run(pool, read_fn, &rj, 3) / 1e9;

    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
        const kern_traits *t = kern_traits_of(types[k]);
        const kern_traits *v = kern_traits_of(t->vec_dot_type);
        const size_t row = (size_t)(N_IN / t->block_size) * t->type_size;
        const size_t arow = (size_t)(N_IN / v->block_size) * v->type_size;
        uint8_t *a = mem_alloc(arow * NR);
        float *out = mem_alloc(sizeof(float) * NR * 65536);
        float x[N_IN];
        for (int r = 0; r < NR; r++) {
            for (int i = 0; i < N_IN; i++) x[i] = frand();
            v->from_float(x, a + r * arow, N_IN);
        }
        /* 1. In cache: 256 KiB of weights, many passes. */
        const int64_t hot_rows = (int64_t)((256 << 10) / row);
        uint8_t *hw = make_weights(mem_alloc_aligned(64, row * (size_t)hot_rows), t, row, hot_rows);
        double t1 = 1e30, tm = 1e30;
        for (int rep = 0; rep < 200; rep++) {
            uint64_t t0 = time_now_ns();
            for (int64_t r = 0; r < hot_rows; r++) t->vec_dot(N_IN, &out[r], hw + r * row, a);
            double s = (double)(time_now_ns() - t0);
            if (s < t1) t1 = s;
            t0 = time_now_ns();
            for (int64_t r = 0; r < hot_rows; r++)
                kern_vec_dot_multi(t, N_IN, &out[r * NR], 1, hw + r * row, a, arow, NR);
            s = (double)(time_now_ns() - t0) / NR;
            if (s < tm) tm = s;
        }
        const double per = (double)hot_rows * N_IN / 256;
        /* 2. From memory: 256 MiB of weights, 2 threads. */
        const int64_t rows = (int64_t)(big / row);
        uint8_t *w = make_weights(rbuf, t, row, rows);
        float *y = mem_alloc(sizeof(float) * (size_t)rows);
        double gbs = 0;
        if (w && y) {
            job j = {.t = t, .w = w, .a = a, .row = row, .n_rows = rows, .out = y};
            gbs = (double)row * (double)rows / best_run(pool, matvec_fn, &j, 3) / 1e9;
        }
        printf("%-7s %12.2f %14.2f %12.2f %9.0f%%\n", t->name, t1 / per, tm / per, gbs,
               100 * gbs / read_gbs);
        mem_free_aligned(hw);
        mem_free(y);
        mem_free(a);
        mem_free(out);
    }
    printf("2-thread read bandwidth: %.2f GB/s\n", read_gbs);
    mem_free_aligned(rbuf);
    tpool_free(pool);
    return 0;
}
