/*
 * A bump allocator: request-lifetime memory comes from here and is released in one call
 * (h2o's per-request pool). Chunks are linked; large requests get a chunk of their own.
 */
#include "base.h"

#include <stdio.h>
#include <string.h>

#define ARENA_ALIGN 16

typedef struct chunk {
    struct chunk *next;
    size_t cap, used;
    _Alignas(ARENA_ALIGN) unsigned char data[];
} chunk;

struct arena {
    chunk *head; /* current chunk, newest first */
    size_t chunk_size;
    size_t total;
};

static chunk *chunk_new(size_t cap) {
    size_t sz;
    if (!size_add(sizeof(chunk), cap, &sz)) return NULL;
    chunk *c = mem_alloc(sz);
    if (!c) return NULL;
    c->next = NULL;
    c->cap = cap;
    c->used = 0;
    return c;
}

arena *arena_new(size_t chunk_size) {
    arena *a = mem_alloc(sizeof *a);
    if (!a) return NULL;
    a->head = NULL;
    a->chunk_size = chunk_size ? chunk_size : 64 * 1024;
    a->total = 0;
    return a;
}

void arena_free(arena *a) {
    if (!a) return;
    chunk *c = a->head;
    while (c) {
        chunk *n = c->next;
        mem_free(c);
        c = n;
    }
    mem_free(a);
}

void arena_reset(arena *a) {
    if (!a || !a->head) return;
    /* Keep the oldest chunk (the first one made, normally chunk_size big). */
    chunk *c = a->head, *last = NULL;
    while (c) {
        chunk *n = c->next;
        if (!n) last = c;
        else mem_free(c);
        c = n;
    }
    last->used = 0;
    a->head = last;
    a->total = 0;
}

void *arena_alloc(arena *a, size_t n) {
    size_t need;
    if (!size_add(n, ARENA_ALIGN - 1, &need)) return NULL;
    need &= ~(size_t)(ARENA_ALIGN - 1);
    if (!need) need = ARENA_ALIGN;
    chunk *c = a->head;
    if (!c || c->cap - c->used < need) {
        size_t cap = need > a->chunk_size ? need : a->chunk_size;
        chunk *nc = chunk_new(cap);
        if (!nc) return NULL;
        nc->next = a->head;
        a->head = nc;
        c = nc;
    }
    void *p = c->data + c->used;
    c->used += need;
    a->total += need;
    return p;
}

void *arena_calloc(arena *a, size_t count, size_t size) {
    size_t n;
    if (!size_mul(count, size, &n)) return NULL;
    void *p = arena_alloc(a, n);
    if (p) memset(p, 0, n);
    return p;
}

char *arena_strndup(arena *a, const char *s, size_t n) {
    size_t sz;
    if (!size_add(n, 1, &sz)) return NULL;
    char *r = arena_alloc(a, sz);
    if (!r) return NULL;
    memcpy(r, s, n);
    r[n] = 0;
    return r;
}

char *arena_strdup(arena *a, const char *s) { return arena_strndup(a, s, strlen(s)); }

char *arena_printf(arena *a, const char *fmt, ...) {
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *r = NULL;
    if (n >= 0 && (r = arena_alloc(a, (size_t)n + 1)) != NULL) vsnprintf(r, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    return r;
}

size_t arena_used(const arena *a) { return a->total; }
