/* Thread pool tests: every thread runs once per run, results are visible afterwards, many
 * short runs in a row (the forward-pass pattern), sleeping workers wake up, and allocation
 * failures are clean. */
#include "base.h"
#include "test.h"

#include <stdatomic.h>
#include <time.h>

#if defined(__SANITIZE_ADDRESS__)
#define N_RUNS 2000
#else
#define N_RUNS 20000
#endif

typedef struct {
    int nth_seen[16];      /* nth each thread saw, by ith */
    long calls[16];        /* how many times each ith ran */
    atomic_long total;     /* sum over all calls of (ith + 1) */
    int64_t partial[16];   /* per-thread partial sums of a range, plain stores */
    int64_t n;
} run_ctx;

static void count_fn(void *vctx, int ith, int nth) {
    run_ctx *c = vctx;
    c->nth_seen[ith] = nth;
    c->calls[ith]++;
    atomic_fetch_add(&c->total, ith + 1);
}

/* Sum 0..n-1 split in contiguous chunks: the partial sums are plain (non-atomic) stores,
 * so the test checks that tpool_run makes the workers' writes visible to the caller. */
static void sum_fn(void *vctx, int ith, int nth) {
    run_ctx *c = vctx;
    int64_t per = (c->n + nth - 1) / nth;
    int64_t lo = per * ith, hi = lo + per < c->n ? lo + per : c->n;
    int64_t s = 0;
    for (int64_t i = lo; i < hi; i++) s += i;
    c->partial[ith] = s;
}

TEST(tpool_null_pool_runs_once_on_caller) {
    run_ctx c = {0};
    ASSERT_EQ_INT(tpool_size(NULL), 1);
    tpool_run(NULL, count_fn, &c);
    ASSERT_EQ_INT(c.calls[0], 1);
    ASSERT_EQ_INT(c.nth_seen[0], 1);
    tpool_free(NULL);
}

TEST(tpool_every_thread_runs_once_per_run) {
    for (int nt = 1; nt <= 8; nt++) {
        tpool *p = tpool_new(nt);
        ASSERT_NOT_NULL(p);
        ASSERT_EQ_INT(tpool_size(p), nt);
        run_ctx c = {0};
        const int runs = 100;
        for (int r = 0; r < runs; r++) tpool_run(p, count_fn, &c);
        for (int i = 0; i < nt; i++) {
            ASSERT_EQ_INT(c.calls[i], runs);
            ASSERT_EQ_INT(c.nth_seen[i], nt);
        }
        for (int i = nt; i < 16; i++) ASSERT_EQ_INT(c.calls[i], 0);
        ASSERT_EQ_INT(atomic_load(&c.total), (long)runs * nt * (nt + 1) / 2);
        tpool_free(p);
    }
}

TEST(tpool_many_short_runs_sum_correctly) {
    for (int nt = 1; nt <= 4; nt++) {
        tpool *p = tpool_new(nt);
        ASSERT_NOT_NULL(p);
        run_ctx c = {0};
        /* More threads than this machine's 2 cores: each run waits for time slices. */
        int runs = nt <= 2 ? N_RUNS : N_RUNS / 20;
        for (int r = 0; r < runs; r++) {
            c.n = 1 + r % 977;
            for (int i = 0; i < nt; i++) c.partial[i] = -12345;
            tpool_run(p, sum_fn, &c);
            int64_t s = 0;
            for (int i = 0; i < nt; i++) s += c.partial[i];
            ASSERT_EQ_INT(s, c.n * (c.n - 1) / 2);
        }
        tpool_free(p);
    }
}

TEST(tpool_more_threads_than_cores) {
    tpool *p = tpool_new(8);
    ASSERT_NOT_NULL(p);
    run_ctx c = {0};
    c.n = 100003;
    for (int r = 0; r < 100; r++) {
        tpool_run(p, sum_fn, &c);
        int64_t s = 0;
        for (int i = 0; i < 8; i++) s += c.partial[i];
        ASSERT_EQ_INT(s, c.n * (c.n - 1) / 2);
    }
    tpool_free(p);
}

/* Workers that have gone to sleep on the condition variable must wake for the next run. */
TEST(tpool_wakes_sleeping_workers) {
    tpool *p = tpool_new(3);
    ASSERT_NOT_NULL(p);
    run_ctx c = {0};
    for (int r = 0; r < 3; r++) {
        tpool_run(p, count_fn, &c);
        /* Long enough for the spin phase to end (it is a few ms) on any machine. */
        struct timespec ts = {0, 150 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    for (int i = 0; i < 3; i++) ASSERT_EQ_INT(c.calls[i], 3);
    tpool_free(p);
}

TEST(tpool_free_right_after_new) {
    for (int i = 0; i < 50; i++) {
        tpool *p = tpool_new(1 + i % 5);
        ASSERT_NOT_NULL(p);
        tpool_free(p);
    }
}

TEST(tpool_bad_sizes_are_clamped) {
    tpool *p = tpool_new(0);
    ASSERT_NOT_NULL(p);
    ASSERT_EQ_INT(tpool_size(p), 1);
    run_ctx c = {0};
    tpool_run(p, count_fn, &c);
    ASSERT_EQ_INT(c.calls[0], 1);
    tpool_free(p);
    p = tpool_new(-3);
    ASSERT_NOT_NULL(p);
    ASSERT_EQ_INT(tpool_size(p), 1);
    tpool_free(p);
}

TEST(tpool_alloc_failures_are_clean) {
    for (long n = 0;; n++) {
        mem_fail_after(n);
        tpool *p = tpool_new(4);
        long attempted = mem_alloc_count();
        mem_fail_after(-1);
        if (p) {
            ASSERT_CMP_INT(n, >=, attempted);
            run_ctx c = {0};
            tpool_run(p, count_fn, &c);
            ASSERT_EQ_INT(atomic_load(&c.total), 10);
            tpool_free(p);
            break;
        }
        ASSERT_CMP_INT(n, <, 10);
    }
}
