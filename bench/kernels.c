/*
 * Kernel benchmark: the machine's memory read bandwidth, then for each weight type the
 * mat-vec speed on a matrix larger than the caches (GB/s of weight bytes and % of the measured
 * bandwidth: generation is bound by that ratio) and the mat-mat speed of a prompt batch
 * (GFLOP/s). Also the thread pool's cost per run. Best of several repetitions everywhere,
 * because the machine may be shared; each mat-vec is compared with a plain AVX2 read of the
 * same weight buffer (the faster of one stream and 8, see sum_avx2) timed alternately with
 * it, so drifts in bandwidth cancel out. Likewise each mat-mat with the register-blocked GEMM
 * kernels is timed alternately with the same product on the vec_dot kernels (LOCALAI_GEMM=off),
 * where the type has a GEMM kernel. Types with a repacked form (kern_repack) get a second row,
 * "r8": the mat-vec on the packed copy, and the mat-mat as GEMM on the file's layout -> the
 * packed kernels.
 *
 *   build/bench/kernels [-t MAX_THREADS] [--type q4_0] [--mb WEIGHT_MB] [--reps N] [--no-mm]
 *                       [--mm-only]
 */
#include "base/base.h"
#include "kernels/kernels.h"

#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

typedef struct opts {
    int max_threads;
    const char *type; /* NULL: all */
    int weight_mb;
    int reps;
    bool mm, mv;
} opts;

static const int bench_types[] = {
    GGUF_TYPE_Q4_0, GGUF_TYPE_Q8_0, GGUF_TYPE_Q4_K, GGUF_TYPE_Q6_K,  GGUF_TYPE_Q5_K,
    GGUF_TYPE_Q3_K, GGUF_TYPE_Q2_K, GGUF_TYPE_Q4_1, GGUF_TYPE_Q5_0,  GGUF_TYPE_Q5_1,
    GGUF_TYPE_IQ4_NL, GGUF_TYPE_IQ4_XS, GGUF_TYPE_F16, GGUF_TYPE_BF16, GGUF_TYPE_F32,
};
#define N_BENCH_TYPES ((int)(sizeof bench_types / sizeof bench_types[0]))

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static inline uint64_t rng_next(void) {
    uint64_t x = rng_state;
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    return rng_state = x;
}

/* Random bytes of the form s10xxxxx: any two or four of them read as an f16, bf16 or f32
 * scale give a finite, normal number, so every type's blocks are valid without knowing their
 * layout (speed does not depend on the values, but NaN and denormals could). */
static void fill_weights(uint8_t *p, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t r = (rng_next() & 0x9F9F9F9F9F9F9F9Full) | 0x4040404040404040ull;
        memcpy(p + i, &r, 8);
    }
    for (; i < n; i++) p[i] = 0x40;
}

/* ---- memory bandwidth ---- */

typedef struct bw_ctx {
    const float *buf;
    size_t n; /* floats */
    int streams;
    float sums[64];
} bw_ctx;

/* A plain read of n floats as BW_STREAMS interleaved streams (each a contiguous part, read
 * 128 bytes at a time in turn): one stream alone reads slower than the bus allows on some
 * CPUs (the prefetchers follow each stream only so far ahead, within a 4 KiB page), and the
 * packed mat-vec kernels read several streams too (kern_r8v_fn). Best of 1 and 8 streams. */
#define BW_STREAMS 8
__attribute__((target("avx2"))) static float sum_avx2(const float *p, size_t n, int streams) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    const size_t sub = (n / (size_t)streams) & ~(size_t)31;
    for (size_t i = 0; i + 32 <= sub; i += 32)
        for (int k = 0; k < streams; k++) {
            const float *q = p + (size_t)k * sub + i;
            a0 = _mm256_add_ps(a0, _mm256_load_ps(q));
            a1 = _mm256_add_ps(a1, _mm256_load_ps(q + 8));
            a2 = _mm256_add_ps(a2, _mm256_load_ps(q + 16));
            a3 = _mm256_add_ps(a3, _mm256_load_ps(q + 24));
        }
    __m256 s = _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
    float t[8];
    _mm256_storeu_ps(t, s);
    return t[0] + t[1] + t[2] + t[3] + t[4] + t[5] + t[6] + t[7];
}

static void bw_fn(void *vctx, int ith, int nth) {
    bw_ctx *c = vctx;
    const size_t per = (c->n / (size_t)nth) & ~(size_t)31;
    c->sums[ith] = sum_avx2(c->buf + per * (size_t)ith, per, c->streams);
}

static double measure_bw(int nt, int reps) {
    const size_t bytes = (size_t)512 << 20;
    float *mem = mem_alloc_aligned(64, bytes);
    if (!mem) return 0;
    for (size_t i = 0; i < bytes / 4; i++) mem[i] = 1.0f;
    tpool *pool = tpool_new(nt);
    bw_ctx c = {.buf = mem, .n = bytes / 4};
    double best = 0;
    for (int r = 0; r < 2 * reps; r++) {
        c.streams = r & 1 ? BW_STREAMS : 1;
        uint64_t t0 = time_now_ns();
        tpool_run(pool, bw_fn, &c);
        double gbs = (double)bytes / (double)(time_now_ns() - t0);
        if (gbs > best) best = gbs;
    }
    tpool_free(pool);
    mem_free_aligned(mem);
    return best;
}

/* ---- thread pool latency ---- */

static void nop_fn(void *ctx, int ith, int nth) { (void)ctx, (void)ith, (void)nth; }

static double measure_tpool_us(int nt) {
    tpool *pool = tpool_new(nt);
    const int runs = 20000;
    double best = 1e30;
    for (int r = 0; r < 3; r++) {
        uint64_t t0 = time_now_ns();
        for (int i = 0; i < runs; i++) tpool_run(pool, nop_fn, NULL);
        double us = (double)(time_now_ns() - t0) / 1e3 / runs;
        if (us < best) best = us;
    }
    tpool_free(pool);
    return best;
}

/* ---- matrix products ---- */

static size_t row_bytes(const kern_traits *t, int64_t n_in) {
    return (size_t)(n_in / t->block_size) * t->type_size;
}

/* Matrices of this size stay in the 32 MiB L3 of the machines we run on. */
#define HOT_MB 8

/* CPU seconds used by the whole process (all threads): with the wall time it tells whether
 * other processes took our cores during a measurement. */
static double cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Best seconds of `reps` products. */
static double time_matmul(tpool *pool, int type, const void *W, int64_t n_in, int64_t n_out,
                          const float *X, int64_t n_tok, float *Y, void *sc, int reps) {
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        uint64_t t0 = time_now_ns();
        if (kern_matmul(pool, type, W, n_in, n_out, X, n_tok, Y, sc) != 0) return -1;
        double s = (double)(time_now_ns() - t0) / 1e9;
        if (s < best) best = s;
    }
    return best;
}

/* packed: the same weights repacked (kern_repack), where the type has a packed form. */
static int bench_type(int type, const opts *o, bool packed) {
    const kern_traits *t = kern_traits_of(type);
    if (!t) return 0;
    const int64_t n_in = 4096;
    const size_t rb = row_bytes(t, n_in);
    const int64_t n_out = (int64_t)(((size_t)o->weight_mb << 20) / rb) & ~(int64_t)7;
    const int ptype = kern_repack_type(type, n_in, n_out);
    if (packed && ptype < 0) return 0;
    const int64_t mm_out = 1024, mm_tok = 128;
    const size_t wbytes = rb * (size_t)n_out;
    uint8_t *W = mem_alloc_aligned(64, wbytes);
    float *X = mem_alloc(sizeof(float) * (size_t)(n_in * mm_tok));
    float *Y = mem_alloc(sizeof(float) * (size_t)(n_out > mm_out * mm_tok ? n_out : mm_out * mm_tok));
    size_t scs = kern_matmul_scratch_size(type, n_in, mm_tok);
    if (packed && kern_matmul_scratch_size(ptype, n_in, mm_tok) > scs)
        scs = kern_matmul_scratch_size(ptype, n_in, mm_tok);
    void *sc = mem_alloc(scs ? scs : 1);
    if (!W || !X || !Y || !sc) {
        fprintf(stderr, "out of memory\n");
        return -1;
    }
    fill_weights(W, wbytes);
    for (int64_t i = 0; i < n_in * mm_tok; i++) X[i] = (float)((int)(rng_next() % 2001) - 1000) / 1000.0f;
    /* The packed copy: the mat-vec reads it, the mat-mat times it against W's GEMM. */
    uint8_t *P = NULL;
    if (packed) {
        P = mem_alloc_aligned(64, wbytes);
        if (!P || kern_repack(type, W, n_in, n_out, P, 0, n_out) != 0) {
            fprintf(stderr, "cannot repack\n");
            return -1;
        }
    }
    const int mv_type = packed ? ptype : type;
    const uint8_t *MV = packed ? P : W;

    printf("%-7s", packed ? "  r8" : t->name);
    for (int nt = 1; o->mv && nt <= o->max_threads; nt++) {
        /* Alternate reading W plainly and multiplying with it, so both see the same memory in
         * the same time window (the bandwidth of a shared machine drifts). */
        tpool *pool = tpool_new(nt);
        bw_ctx bc = {.buf = (const float *)W, .n = wbytes / 4};
        double best_mv = 1e30, best_rd = 1e30, wall = 0, cpu = 0;
        for (int r = 0; r < o->reps; r++) {
            for (int k = 0; k < 2; k++) {
                bc.streams = k ? BW_STREAMS : 1;
                uint64_t t0 = time_now_ns();
                tpool_run(pool, bw_fn, &bc);
                double rd = (double)(time_now_ns() - t0) / 1e9;
                if (rd < best_rd) best_rd = rd;
            }
            double c0 = cpu_seconds();
            double mv = time_matmul(pool, mv_type, MV, n_in, n_out, X, 1, Y, sc, 1);
            cpu += cpu_seconds() - c0;
            wall += mv;
            if (mv < best_mv) best_mv = mv;
        }
        /* The same product on the first HOT_MB of W, which stays in L3: the compute ceiling. */
        int64_t hot_out = (int64_t)(((size_t)HOT_MB << 20) / rb) & ~(int64_t)7;
        double hot = time_matmul(pool, mv_type, MV, n_in, hot_out, X, 1, Y, sc, 4 * o->reps);
        double gbs = (double)wbytes / best_mv / 1e9, rd_gbs = (double)(bc.n * 4) / best_rd / 1e9;
        printf(" | %5.1f GB/s %4.0f%% of %5.1f  cpu %3.0f%%  hot %5.1f", gbs, 100.0 * gbs / rd_gbs,
               rd_gbs, 100.0 * cpu / wall / nt, (double)rb * hot_out / hot / 1e9);
        tpool_free(pool);
    }
    if (o->mm) {
        for (int nt = 1; nt <= o->max_threads; nt++) {
            tpool *pool = tpool_new(nt);
            /* GEMM kernels off and on, alternately (kern_init reads LOCALAI_GEMM). */
            /* Packed rows: W with the GEMM kernels against the packed copy, alternately. */
            double best[2] = {1e30, 1e30};
            for (int r = 0; r < 2 * o->reps; r++) {
                const int on = r & 1;
                if (on || packed) unsetenv("LOCALAI_GEMM");
                else setenv("LOCALAI_GEMM", "off", 1);
                kern_init(KERN_ISA_AUTO);
                double s = packed && on
                               ? time_matmul(pool, ptype, P, n_in, mm_out, X, mm_tok, Y, sc, 1)
                               : time_matmul(pool, type, W, n_in, mm_out, X, mm_tok, Y, sc, 1);
                if (s < best[on]) best[on] = s;
            }
            unsetenv("LOCALAI_GEMM");
            kern_init(KERN_ISA_AUTO);
            const double flop = 2.0 * (double)n_in * mm_out * mm_tok;
            printf(" | %6.1f -> %6.1f GFLOP/s", flop / best[0] / 1e9, flop / best[1] / 1e9);
            tpool_free(pool);
        }
    }
    printf("\n");
    fflush(stdout);
    mem_free_aligned(W);
    if (P) mem_free_aligned(P);
    mem_free(X);
    mem_free(Y);
    mem_free(sc);
    return 0;
}

static int parse(int argc, char **argv, opts *o) {
    *o = (opts){.max_threads = 2, .weight_mb = 128, .reps = 8, .mm = true, .mv = true};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if ((!strcmp(a, "-t") || !strcmp(a, "--threads")) && v) o->max_threads = atoi(v), i++;
        else if (!strcmp(a, "--type") && v) o->type = v, i++;
        else if (!strcmp(a, "--mb") && v) o->weight_mb = atoi(v), i++;
        else if (!strcmp(a, "--reps") && v) o->reps = atoi(v), i++;
        else if (!strcmp(a, "--no-mm")) o->mm = false;
        else if (!strcmp(a, "--mm-only")) o->mv = false;
        else {
            fprintf(stderr, "usage: %s [-t MAX_THREADS] [--type NAME] [--mb WEIGHT_MB] "
                            "[--reps N] [--no-mm] [--mm-only]\n", argv[0]);
            return -1;
        }
    }
    if (o->max_threads < 1 || o->max_threads > 63 || o->weight_mb < 1 || o->reps < 1) return -1;
    return 0;
}

int main(int argc, char **argv) {
    opts o;
    if (parse(argc, argv, &o) != 0) return 2;
    kern_isa isa = kern_init(KERN_ISA_AUTO);
    /* Other processes competing for the cores lower compute-bound figures: say how busy the
     * machine was. */
    char load[128] = "?";
    FILE *lf = fopen("/proc/loadavg", "r");
    if (lf) {
        if (!fgets(load, sizeof load, lf)) snprintf(load, sizeof load, "?");
        fclose(lf);
        load[strcspn(load, "\n")] = 0;
    }
    printf("load average before the run: %s\n", load);
    printf("kernels bench: ISA %s, threads 1..%d, mat-vec %d MB of weights (n_in 4096), "
           "mat-mat 1024x4096 by 128 tokens, best of %d (mat-mat: of %d each way)\n",
           kern_isa_name(isa), o.max_threads, o.weight_mb, o.reps, o.reps);

    double bw[64] = {0};
    for (int nt = 1; o.mv && nt <= o.max_threads; nt++) {
        bw[nt] = measure_bw(nt, 6);
        printf("memory read bandwidth, %d thread%s: %.1f GB/s\n", nt, nt > 1 ? "s" : "", bw[nt]);
    }
    for (int nt = 2; o.mv && nt <= o.max_threads; nt++)
        printf("thread pool, %d threads: %.2f us per empty run\n", nt, measure_tpool_us(nt));

    printf("%-7s", "type");
    for (int nt = 1; o.mv && nt <= o.max_threads; nt++) printf(" | mat-vec %dt, %% of plain read, cpu share, in-L3       ", nt);
    if (o.mm)
        for (int nt = 1; nt <= o.max_threads; nt++) printf(" | mat-mat %dt: vec_dot -> GEMM ", nt);
    printf("\n");
    int found = 0;
    for (int i = 0; i < N_BENCH_TYPES; i++) {
        const kern_traits *t = kern_traits_of(bench_types[i]);
        if (!t || (o.type && strcasecmp(o.type, t->name) != 0)) continue;
        found++;
        if (bench_type(bench_types[i], &o, false) != 0 || bench_type(bench_types[i], &o, true) != 0)
            return 1;
    }
    if (!found) {
        fprintf(stderr, "no such type: %s\n", o.type ? o.type : "");
        return 2;
    }
    return 0;
}
