/*
 * The compute thread pool. A forward pass issues hundreds of short runs per token, so waking
 * the workers must cost far less than a futex round trip: each run bumps a generation counter
 * that idle workers spin on (with a CPU pause) for a while before falling back to sleeping on
 * a condition variable. The caller takes part as thread 0 and then spins until the workers
 * have counted themselves done.
 *
 * Memory ordering: tpool_run writes fn/ctx, then publishes them with a release increment of
 * `gen`; a worker's acquire load of the new `gen` makes fn/ctx visible. Workers report with a
 * release increment of `n_done`; the caller's acquire load of the final count makes the
 * workers' results visible to it. Sleeping uses a Dekker-style pair of seq_cst accesses
 * (worker: n_sleeping++ then read gen; caller: gen++ then read n_sleeping) so that at least
 * one side sees the other and no wake-up is lost.
 */
#include "base.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#elif defined(__aarch64__)
#define cpu_relax() __asm__ __volatile__("yield" ::: "memory")
#else
#define cpu_relax() ((void)0)
#endif

/* Idle workers spin this many rounds (a few ms) before they sleep: long enough to bridge the
 * gaps between the runs of one forward pass, short enough not to burn a core between tokens
 * that never come. */
#ifndef TPOOL_SPIN_ROUNDS
#define TPOOL_SPIN_ROUNDS 100000
#endif
/* Spinners (idle workers and the waiting caller) yield the CPU every so often, so that a
 * thread preempted by another process (or by our own threads, when a pool has more threads
 * than cores) gets to run instead of waiting a whole time slice. */
#ifndef TPOOL_YIELD_EVERY
#define TPOOL_YIELD_EVERY 64
#endif
#define TPOOL_MAX_THREADS 512

typedef struct worker {
    tpool *pool;
    int ith;
    pthread_t thread;
} worker;

struct tpool {
    int n_threads;
    worker *workers; /* n_threads - 1 of them; the caller is thread 0 */

    /* Written by the caller before publishing a run, read by the workers. */
    tpool_fn fn;
    void *ctx;

    /* Each on its own cache line: the caller writes gen, the workers write n_done. */
    _Alignas(64) atomic_uint gen;
    _Alignas(64) atomic_int n_done;
    _Alignas(64) atomic_int n_sleeping;
    atomic_bool stop;

    pthread_mutex_t mu;
    pthread_cond_t cv;
};

/* Wait until p->gen differs from seen; returns the new generation. */
static unsigned worker_wait(tpool *p, unsigned seen) {
    unsigned g;
    for (int i = 0; i < TPOOL_SPIN_ROUNDS; i++) {
        g = atomic_load_explicit(&p->gen, memory_order_acquire);
        if (g != seen) return g;
        if (i % TPOOL_YIELD_EVERY == TPOOL_YIELD_EVERY - 1)
            sched_yield();
        else
            cpu_relax();
    }
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add(&p->n_sleeping, 1); /* seq_cst: see the header comment */
    while ((g = atomic_load(&p->gen)) == seen) pthread_cond_wait(&p->cv, &p->mu);
    atomic_fetch_sub(&p->n_sleeping, 1);
    pthread_mutex_unlock(&p->mu);
    return g;
}

static void *worker_main(void *arg) {
    worker *w = arg;
    tpool *p = w->pool;
    unsigned seen = 0;
    for (;;) {
        seen = worker_wait(p, seen);
        if (atomic_load_explicit(&p->stop, memory_order_acquire)) break;
        p->fn(p->ctx, w->ith, p->n_threads);
        atomic_fetch_add_explicit(&p->n_done, 1, memory_order_release);
    }
    return NULL;
}

/* Publish a new generation (a run, or the stop flag) and wake any sleepers. */
static void pool_publish(tpool *p) {
    atomic_fetch_add(&p->gen, 1); /* seq_cst, and a release of fn/ctx/stop */
    if (atomic_load(&p->n_sleeping) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
}

static void pool_stop(tpool *p, int n_started) {
    atomic_store_explicit(&p->stop, true, memory_order_relaxed);
    pool_publish(p);
    for (int i = 0; i < n_started; i++) pthread_join(p->workers[i].thread, NULL);
}

tpool *tpool_new(int n_threads) {
    if (n_threads < 1) n_threads = 1;
    if (n_threads > TPOOL_MAX_THREADS) n_threads = TPOOL_MAX_THREADS;
    tpool *p = mem_alloc_aligned(64, sizeof *p);
    if (!p) return NULL;
    *p = (tpool){.n_threads = n_threads};
    atomic_init(&p->gen, 0);
    atomic_init(&p->n_done, 0);
    atomic_init(&p->n_sleeping, 0);
    atomic_init(&p->stop, false);
    if (pthread_mutex_init(&p->mu, NULL) != 0) {
        mem_free_aligned(p);
        return NULL;
    }
    if (pthread_cond_init(&p->cv, NULL) != 0) {
        pthread_mutex_destroy(&p->mu);
        mem_free_aligned(p);
        return NULL;
    }
    int n_started = 0;
    if (n_threads > 1) {
        p->workers = mem_calloc((size_t)n_threads - 1, sizeof *p->workers);
        if (!p->workers) goto fail;
        for (; n_started < n_threads - 1; n_started++) {
            worker *w = &p->workers[n_started];
            w->pool = p;
            w->ith = n_started + 1;
            if (pthread_create(&w->thread, NULL, worker_main, w) != 0) goto fail;
        }
    }
    return p;
fail:
    if (p->workers) pool_stop(p, n_started);
    mem_free(p->workers);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    mem_free_aligned(p);
    return NULL;
}

void tpool_free(tpool *p) {
    if (!p) return;
    pool_stop(p, p->n_threads - 1);
    mem_free(p->workers);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    mem_free_aligned(p);
}

int tpool_size(const tpool *p) { return p ? p->n_threads : 1; }

void tpool_run(tpool *p, tpool_fn fn, void *ctx) {
    if (!p || p->n_threads == 1) {
        fn(ctx, 0, 1);
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    atomic_store_explicit(&p->n_done, 0, memory_order_relaxed);
    pool_publish(p);
    fn(ctx, 0, p->n_threads);
    int want = p->n_threads - 1;
    for (unsigned i = 0; atomic_load_explicit(&p->n_done, memory_order_acquire) != want; i++) {
        if (i % TPOOL_YIELD_EVERY == TPOOL_YIELD_EVERY - 1)
            sched_yield();
        else
            cpu_relax();
    }
}
