/*
 * gguf internals shared by the reader (read.c, read_kv.c), the name index (index.c) and the
 * writer (write.c). Not part of the public contract: other modules include gguf.h only.
 */
#ifndef GGUF_INT_H
#define GGUF_INT_H

#include "gguf/gguf.h"

#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the gguf reader reads little-endian values in place; port the load helpers first"
#endif

#define GGUF_MAGIC "GGUF"
/* Nested arrays are legal in the format but never used; a bound keeps recursion shallow. */
#define GGUF_MAX_ARR_DEPTH 8

/* An open-addressing hash from NUL-terminated names to indices (keys or tensors). */
typedef struct gguf_index {
    int64_t *slots; /* index + 1, or 0 for an empty slot */
    uint64_t mask;  /* capacity - 1 (capacity a power of two) */
} gguf_index;

/* Sized for n names; returns BASE_ENOMEM. */
int gguf_index_init(gguf_index *ix, int64_t n);
void gguf_index_free(gguf_index *ix);
/* Insert name as entry i; names(ctx, j) gives entry j's name. Returns the existing index
 * when the name is already present (nothing inserted), else -1. */
int64_t gguf_index_insert(gguf_index *ix, const char *name, int64_t i,
                          const char *(*names)(const void *ctx, int64_t j), const void *ctx);
int64_t gguf_index_find(const gguf_index *ix, const char *name,
                        const char *(*names)(const void *ctx, int64_t j), const void *ctx);

/* One metadata entry of an open file. */
typedef struct gguf_kv {
    char *key;            /* owned (names arena), NUL-terminated */
    int type;             /* gguf_vtype */
    const uint8_t *val;   /* the value's bytes in the mapping (after the type field) */
    size_t val_len;       /* bytes the value takes, nested arrays included */
    size_t val_off;       /* file offset of the value, for messages */
    /* ARRAY values: */
    int arr_type;
    uint64_t arr_n;
    const uint8_t *arr_data;
    uint64_t *str_offsets; /* STRING arrays: owned (mem_alloc) */
} gguf_kv;

struct gguf {
    const uint8_t *base; /* the file image */
    size_t size;
    void *map; /* non-NULL when we mmap'd it (gguf_open) */
    size_t map_len;
    char *path;      /* gguf_open: the resolved path */
    gguf_file_id id; /* gguf_open: the file's identity */
    uint32_t version;
    size_t alignment;
    size_t data_off;
    int64_t n_kv;
    gguf_kv *kvs;
    int64_t n_tensors;
    gguf_tensor *tensors;
    arena *names; /* key and tensor names */
    gguf_index kv_index;
    gguf_index tensor_index;
};

/* A bounds-checked cursor over the file image. */
typedef struct gguf_cur {
    const uint8_t *base;
    size_t size;
    size_t pos;
} gguf_cur;

static inline size_t gguf_cur_left(const gguf_cur *c) { return c->size - c->pos; }

static inline bool gguf_cur_u32(gguf_cur *c, uint32_t *v) {
    if (gguf_cur_left(c) < 4) return false;
    memcpy(v, c->base + c->pos, 4);
    c->pos += 4;
    return true;
}

static inline bool gguf_cur_u64(gguf_cur *c, uint64_t *v) {
    if (gguf_cur_left(c) < 8) return false;
    memcpy(v, c->base + c->pos, 8);
    c->pos += 8;
    return true;
}

/* A length-prefixed string: on success *p points at its bytes (len of them) in the image.
 * Fails without moving when the length or the bytes do not fit. */
static inline bool gguf_cur_str(gguf_cur *c, const uint8_t **p, uint64_t *len) {
    uint64_t n;
    if (gguf_cur_left(c) < 8) return false;
    memcpy(&n, c->base + c->pos, 8);
    *len = n;
    if (n > gguf_cur_left(c) - 8) return false;
    *p = c->base + c->pos + 8;
    c->pos += 8 + (size_t)n;
    return true;
}

/* Bytes of one scalar value of a metadata type: 0 for STRING, ARRAY and unknown types. */
size_t gguf_vtype_size(int vtype);

/* Parse the key/value section (read_kv.c): fills g->kvs[0..n_kv) and the key index. */
int gguf_read_kvs(gguf *g, gguf_cur *c, err_buf *eb);

#endif
