/*
 * Name -> index hash tables for keys and tensors, built once at open so that lookups are
 * O(1) even for files with thousands of tensors. Open addressing with linear probing; the
 * table stores indices only and asks the caller for names, so no name is stored twice.
 */
#include "gguf_int.h"

static uint64_t hash_name(const char *s) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) {
        h ^= (uint8_t)*s;
        h *= 1099511628211ull;
    }
    return h ^ (h >> 29);
}

int gguf_index_init(gguf_index *ix, int64_t n) {
    uint64_t cap = 16;
    /* At most half full keeps probe sequences short. n is bounded by the file size. */
    while (cap < (uint64_t)n * 2) cap *= 2;
    ix->slots = mem_calloc(cap, sizeof *ix->slots);
    if (!ix->slots) return BASE_ENOMEM;
    ix->mask = cap - 1;
    return BASE_OK;
}

void gguf_index_free(gguf_index *ix) {
    mem_free(ix->slots);
    ix->slots = NULL;
    ix->mask = 0;
}

int64_t gguf_index_insert(gguf_index *ix, const char *name, int64_t i,
                          const char *(*names)(const void *ctx, int64_t j), const void *ctx) {
    for (uint64_t h = hash_name(name) & ix->mask;; h = (h + 1) & ix->mask) {
        int64_t s = ix->slots[h];
        if (s == 0) {
            ix->slots[h] = i + 1;
            return -1;
        }
        if (strcmp(names(ctx, s - 1), name) == 0) return s - 1;
    }
}

int64_t gguf_index_find(const gguf_index *ix, const char *name,
                        const char *(*names)(const void *ctx, int64_t j), const void *ctx) {
    if (!ix->slots || !name) return -1;
    for (uint64_t h = hash_name(name) & ix->mask;; h = (h + 1) & ix->mask) {
        int64_t s = ix->slots[h];
        if (s == 0) return -1;
        if (strcmp(names(ctx, s - 1), name) == 0) return s - 1;
    }
}
