/*
 * The allocation hook. Every heap allocation in the project goes through here so that
 * tests can fail the Nth allocation and check that each caller cleans up (SQLite's and
 * libuv's out-of-memory loops). The counter is process-wide and atomic; tests that use it
 * run in their own process.
 */
#include "base.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static atomic_long fail_at = -1; /* allocation index that starts failing, -1: never */
static atomic_long count;        /* allocations attempted since mem_fail_after */

void mem_fail_after(long n) {
    atomic_store(&count, 0);
    atomic_store(&fail_at, n);
}

long mem_alloc_count(void) { return atomic_load(&count); }

static bool should_fail(void) {
    long i = atomic_fetch_add(&count, 1);
    long f = atomic_load(&fail_at);
    return f >= 0 && i >= f;
}

void *mem_alloc(size_t n) {
    if (should_fail()) return NULL;
    return malloc(n ? n : 1);
}

void *mem_calloc(size_t count_, size_t size) {
    if (should_fail()) return NULL;
    if (!count_ || !size) return calloc(1, 1);
    return calloc(count_, size);
}

void *mem_realloc(void *p, size_t n) {
    if (should_fail()) return NULL;
    return realloc(p, n ? n : 1);
}

void mem_free(void *p) { free(p); }

char *mem_strndup(const char *s, size_t n) {
    char *r = mem_alloc(n + 1);
    if (!r) return NULL;
    memcpy(r, s, n);
    r[n] = 0;
    return r;
}

char *mem_strdup(const char *s) { return mem_strndup(s, strlen(s)); }

void *mem_alloc_aligned(size_t align, size_t n) {
    if (should_fail()) return NULL;
    void *p = NULL;
    if (posix_memalign(&p, align, n ? n : 1) != 0) return NULL;
    return p;
}

void mem_free_aligned(void *p) { free(p); }
