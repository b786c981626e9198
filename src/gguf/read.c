/*
 * The GGUF reader: maps a file (or takes a caller's buffer), validates the header and the
 * tensor table, and answers questions about tensors. Metadata parsing and typed lookups
 * are in read_kv.c. The file is hostile until proven otherwise: every count, length,
 * offset and size is checked against the bytes that are really there, with overflow-safe
 * arithmetic, and each error names the field and its byte offset.
 */
#include "gguf_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* The smallest possible encodings, used to reject hostile counts before allocating:
 * a kv is a key length (8), one key byte, a type (4) and at least a 1-byte value; a
 * tensor info is a name length (8), one name byte, n_dims (4), one ne (8), a type (4) and
 * an offset (8). */
#define MIN_KV_BYTES 14u
#define MIN_TENSOR_BYTES 33u

static const char *tensor_name_at(const void *ctx, int64_t j) {
    return ((const gguf *)ctx)->tensors[j].name;
}

static int read_tensor_info(gguf *g, gguf_cur *c, int64_t i, err_buf *eb) {
    gguf_tensor *t = &g->tensors[i];
    size_t at = c->pos;
    const uint8_t *p;
    uint64_t len;
    if (gguf_cur_left(c) < 8)
        return err_set(eb, BASE_EFORMAT, "tensor %lld: name length at offset %zu: truncated "
                       "(file size %zu)", (long long)i, at, g->size);
    if (!gguf_cur_str(c, &p, &len))
        return err_set(eb, BASE_EFORMAT, "tensor %lld: name length %llu at offset %zu exceeds "
                       "file (size %zu)", (long long)i, (unsigned long long)len, at, g->size);
    if (len == 0)
        return err_set(eb, BASE_EFORMAT, "tensor %lld: empty name at offset %zu",
                       (long long)i, at);
    if (memchr(p, 0, (size_t)len))
        return err_set(eb, BASE_EFORMAT, "tensor %lld: name at offset %zu contains a NUL byte",
                       (long long)i, at);
    char *name = arena_strndup(g->names, (const char *)p, (size_t)len);
    if (!name) return err_set(eb, BASE_ENOMEM, "out of memory reading tensor %lld", (long long)i);
    t->name = name;

    uint32_t n_dims;
    at = c->pos;
    if (!gguf_cur_u32(c, &n_dims))
        return err_set(eb, BASE_EFORMAT, "tensor %lld ('%.80s'): n_dims at offset %zu: truncated "
                       "(file size %zu)", (long long)i, name, at, g->size);
    if (n_dims < 1 || n_dims > GGUF_MAX_DIMS)
        return err_set(eb, BASE_EFORMAT, "tensor %lld ('%.80s'): n_dims %u at offset %zu "
                       "(must be 1..%d)", (long long)i, name, n_dims, at, GGUF_MAX_DIMS);
    t->n_dims = (int)n_dims;
    for (int d = 0; d < GGUF_MAX_DIMS; d++) t->ne[d] = 1;
    for (int d = 0; d < (int)n_dims; d++) {
        uint64_t ne;
        at = c->pos;
        if (!gguf_cur_u64(c, &ne))
            return err_set(eb, BASE_EFORMAT, "tensor %lld ('%.80s'): ne[%d] at offset %zu: "
                           "truncated (file size %zu)", (long long)i, name, d, at, g->size);
        if (ne == 0 || ne > (uint64_t)INT64_MAX)
            return err_set(eb, BASE_EFORMAT, "tensor %lld ('%.80s'): ne[%d] = %lld at offset "
                           "%zu (must be > 0)", (long long)i, name, d, (long long)ne, at);
        t->ne[d] = (int64_t)ne;
    }
    uint32_t type;
    at = c->pos;
    if (!gguf_cur_u32(c, &type))
        return err_set(eb, BASE_EFORMAT, "tensor %lld ('%.80s'): type at offset %zu: truncated "
                       "(file size %zu)", (long long)i, name, at, g->size);
    if (!gguf_type_name((int)type) || type > INT32_MAX)
        return err_set(eb, BASE_EUNSUPPORTED, "tensor %lld ('%.80s'): unknown tensor type %u at "
                       "offset %zu", (long long)i, name, type, at);
    t->type = (int)type;
    at = c->pos;
    if (!gguf_cur_u64(c, &t->offset))
        return err_set(eb, BASE_EFORMAT, "tensor %lld ('%.80s'): data offset at offset %zu: "
                       "truncated (file size %zu)", (long long)i, name, at, g->size);

    int rc = gguf_tensor_nbytes(t->type, t->n_dims, t->ne, &t->nbytes);
    if (rc == BASE_EINVAL)
        return err_set(eb, BASE_EFORMAT, "tensor %lld ('%.80s'): ne[0] = %lld is not a multiple "
                       "of the %s block size %d", (long long)i, name, (long long)t->ne[0],
                       gguf_type_name(t->type), gguf_type_block_size(t->type));
    if (rc)
        return err_set(eb, BASE_EFORMAT, "tensor %lld ('%.80s'): shape [%lld, %lld, %lld, %lld] "
                       "of %s overflows", (long long)i, name, (long long)t->ne[0],
                       (long long)t->ne[1], (long long)t->ne[2], (long long)t->ne[3],
                       gguf_type_name(t->type));
    int64_t dup = gguf_index_insert(&g->tensor_index, name, i, tensor_name_at, g);
    if (dup >= 0)
        return err_set(eb, BASE_EFORMAT, "tensor %lld: duplicate name '%.80s' (first is tensor "
                       "%lld)", (long long)i, name, (long long)dup);
    return BASE_OK;
}

static int cmp_by_offset(const void *a, const void *b) {
    const gguf_tensor *x = *(const gguf_tensor *const *)a, *y = *(const gguf_tensor *const *)b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Every tensor aligned, inside the file, and no two overlapping. */
static int check_tensor_data(gguf *g, err_buf *eb) {
    bool sorted = true;
    for (int64_t i = 0; i < g->n_tensors; i++) {
        gguf_tensor *t = &g->tensors[i];
        if (t->offset % g->alignment != 0)
            return err_set(eb, BASE_EFORMAT, "tensor %lld ('%.80s'): data offset %llu is not a "
                           "multiple of the alignment %zu", (long long)i, t->name,
                           (unsigned long long)t->offset, g->alignment);
        size_t start, end;
        if (t->offset > SIZE_MAX || !size_add(g->data_off, (size_t)t->offset, &start) ||
            !size_add(start, t->nbytes, &end) || end > g->size)
            return err_set(eb, BASE_EFORMAT, "tensor %lld ('%.80s'): data [%llu, %llu + %zu) "
                           "past end of file (size %zu, data section at %zu)", (long long)i,
                           t->name, (unsigned long long)t->offset, (unsigned long long)t->offset,
                           t->nbytes, g->size, g->data_off);
        t->data = g->base + start;
        if (i > 0 && t->offset < g->tensors[i - 1].offset) sorted = false;
    }
    /* Writers lay tensors out in order, so the common case needs no sort. */
    const gguf_tensor **order = NULL;
    if (!sorted) {
        order = mem_alloc((size_t)g->n_tensors * sizeof *order);
        if (!order) return err_set(eb, BASE_ENOMEM, "out of memory checking tensor overlap");
        for (int64_t i = 0; i < g->n_tensors; i++) order[i] = &g->tensors[i];
        qsort(order, (size_t)g->n_tensors, sizeof *order, cmp_by_offset);
    }
    int rc = BASE_OK;
    for (int64_t i = 1; i < g->n_tensors; i++) {
        const gguf_tensor *a = order ? order[i - 1] : &g->tensors[i - 1];
        const gguf_tensor *b = order ? order[i] : &g->tensors[i];
        if (a->offset + a->nbytes > b->offset) { /* both were checked to fit the file */
            rc = err_set(eb, BASE_EFORMAT, "tensor '%.80s' data [%llu, %llu) overlaps tensor "
                         "'%.80s' data at %llu", a->name, (unsigned long long)a->offset,
                         (unsigned long long)(a->offset + a->nbytes), b->name,
                         (unsigned long long)b->offset);
            break;
        }
    }
    mem_free(order);
    return rc;
}

static int read_alignment(gguf *g, err_buf *eb) {
    g->alignment = GGUF_DEFAULT_ALIGNMENT;
    int64_t k = gguf_find_key(g, "general.alignment");
    if (k < 0) return BASE_OK;
    const gguf_kv *kv = &g->kvs[k];
    if (kv->type != GGUF_VT_U32)
        return err_set(eb, BASE_EFORMAT, "kv %lld ('general.alignment') at offset %zu has type "
                       "%s, expected u32", (long long)k, kv->val_off, gguf_vtype_name(kv->type));
    uint32_t a;
    memcpy(&a, kv->val, 4);
    if (a == 0 || (a & (a - 1)) != 0)
        return err_set(eb, BASE_EFORMAT, "kv %lld ('general.alignment') at offset %zu: %u is "
                       "not a power of two", (long long)k, kv->val_off, a);
    g->alignment = a;
    return BASE_OK;
}

static int parse(gguf *g, err_buf *eb) {
    const uint8_t *b = g->base;
    if (g->size < 4 || memcmp(b, GGUF_MAGIC, 4) != 0) {
        if (g->size < 4)
            return err_set(eb, BASE_EFORMAT, "file too small (%zu bytes) for the GGUF magic",
                           g->size);
        return err_set(eb, BASE_EFORMAT, "bad magic %02x %02x %02x %02x at offset 0 (not a "
                       "GGUF file)", b[0], b[1], b[2], b[3]);
    }
    gguf_cur c = {b, g->size, 4};
    uint32_t v;
    if (!gguf_cur_u32(&c, &v))
        return err_set(eb, BASE_EFORMAT, "version at offset 4: truncated (file size %zu)",
                       g->size);
    if (v == 1)
        return err_set(eb, BASE_EUNSUPPORTED, "GGUF version 1 at offset 4 is not supported "
                       "(only 2 and 3); convert the file with a newer llama.cpp");
    uint32_t swapped = __builtin_bswap32(v);
    if (v != 2 && v != 3 && swapped >= 1 && swapped <= 3)
        return err_set(eb, BASE_EUNSUPPORTED, "big-endian GGUF file (version %u byte-swapped at "
                       "offset 4) is not supported", swapped);
    if (v != 2 && v != 3)
        return err_set(eb, BASE_EUNSUPPORTED, "GGUF version %u at offset 4 is not supported "
                       "(only 2 and 3)", v);
    g->version = v;
    uint64_t nt, nkv;
    if (!gguf_cur_u64(&c, &nt))
        return err_set(eb, BASE_EFORMAT, "n_tensors at offset 8: truncated (file size %zu)",
                       g->size);
    if (!gguf_cur_u64(&c, &nkv))
        return err_set(eb, BASE_EFORMAT, "n_kv at offset 16: truncated (file size %zu)", g->size);
    /* Counts that cannot fit in the bytes left are rejected before anything is allocated. */
    uint64_t left = gguf_cur_left(&c), need_kv, need_t, need;
    if (__builtin_mul_overflow(nkv, MIN_KV_BYTES, &need_kv) || need_kv > left)
        return err_set(eb, BASE_EFORMAT, "n_kv %llu at offset 16 cannot fit in the %llu bytes "
                       "after the header", (unsigned long long)nkv, (unsigned long long)left);
    if (__builtin_mul_overflow(nt, MIN_TENSOR_BYTES, &need_t) ||
        __builtin_add_overflow(need_t, need_kv, &need) || need > left)
        return err_set(eb, BASE_EFORMAT, "n_tensors %llu at offset 8 cannot fit in the %llu "
                       "bytes after the header", (unsigned long long)nt, (unsigned long long)left);
    g->n_kv = (int64_t)nkv;
    g->n_tensors = (int64_t)nt;

    g->names = arena_new(0);
    g->kvs = mem_calloc(nkv ? nkv : 1, sizeof *g->kvs);
    g->tensors = mem_calloc(nt ? nt : 1, sizeof *g->tensors);
    if (!g->names || !g->kvs || !g->tensors) {
        g->n_kv = g->n_tensors = 0; /* nothing to free inside */
        return err_set(eb, BASE_ENOMEM, "out of memory for %llu kvs and %llu tensors",
                       (unsigned long long)nkv, (unsigned long long)nt);
    }
    if (gguf_index_init(&g->kv_index, g->n_kv) || gguf_index_init(&g->tensor_index, g->n_tensors))
        return err_set(eb, BASE_ENOMEM, "out of memory for the name index");

    int rc = gguf_read_kvs(g, &c, eb);
    if (rc) return rc;
    if ((rc = read_alignment(g, eb))) return rc;
    for (int64_t i = 0; i < g->n_tensors; i++)
        if ((rc = read_tensor_info(g, &c, i, eb))) return rc;

    /* c.pos <= size, so the aligned value cannot overflow by more than alignment. */
    size_t pad = (g->alignment - c.pos % g->alignment) % g->alignment;
    if (!size_add(c.pos, pad, &g->data_off))
        return err_set(eb, BASE_EFORMAT, "data section offset overflows");
    if (g->n_tensors > 0 && g->data_off > g->size)
        return err_set(eb, BASE_EFORMAT, "data section at %zu (header end %zu aligned to %zu) "
                       "past end of file (size %zu)", g->data_off, c.pos, g->alignment, g->size);
    return check_tensor_data(g, eb);
}

static int open_image(const uint8_t *data, size_t size, void *map, gguf **out, err_buf *eb) {
    gguf *g = mem_calloc(1, sizeof *g);
    if (!g) {
        if (map) munmap(map, size);
        return err_set(eb, BASE_ENOMEM, "out of memory opening a GGUF file");
    }
    g->base = data;
    g->size = size;
    g->map = map;
    g->map_len = size;
    int rc = parse(g, eb);
    if (rc) {
        gguf_close(g);
        return rc;
    }
    *out = g;
    return BASE_OK;
}

int gguf_open_memory(const void *data, size_t size, gguf **out, err_buf *eb) {
    if (!out) return err_set(eb, BASE_EINVAL, "gguf_open_memory: out is NULL");
    *out = NULL;
    if (!data && size) return err_set(eb, BASE_EINVAL, "gguf_open_memory: data is NULL");
    static const uint8_t empty[1];
    return open_image(data ? data : empty, size, NULL, out, eb);
}

int gguf_open(const char *path, gguf **out, err_buf *eb) {
    if (!out) return err_set(eb, BASE_EINVAL, "gguf_open: out is NULL");
    *out = NULL;
    if (!path) return err_set(eb, BASE_EINVAL, "gguf_open: path is NULL");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return err_set(eb, BASE_EIO, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return err_set(eb, BASE_EIO, "cannot stat %s: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return err_set(eb, BASE_EIO, "%s is not a regular file", path);
    }
    if (st.st_size == 0) { /* mmap refuses an empty range */
        close(fd);
        return err_set(eb, BASE_EFORMAT, "%s: empty file (not a GGUF file)", path);
    }
    size_t size = (size_t)st.st_size;
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd); /* the mapping stays valid */
    if (map == MAP_FAILED) return err_set(eb, BASE_EIO, "cannot map %s: %s", path, strerror(e));
    err_buf tmp = {0};
    int rc = open_image(map, size, map, out, &tmp);
    if (rc) return err_set(eb, rc, "%s: %s", path, tmp.msg);
    gguf *g = *out;
    g->path = realpath(path, NULL); /* NULL (no identity) if it cannot be resolved */
    g->id = (gguf_file_id){
        .dev = (uint64_t)st.st_dev,
        .ino = (uint64_t)st.st_ino,
        .size = (uint64_t)st.st_size,
        .mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec,
    };
    return 0;
}

bool gguf_file_identity(const gguf *g, const char **path, gguf_file_id *id) {
    if (path) *path = g->path;
    if (id) *id = g->id;
    return g->path != NULL;
}

void gguf_close(gguf *g) {
    if (!g) return;
    if (g->kvs)
        for (int64_t i = 0; i < g->n_kv; i++) mem_free(g->kvs[i].str_offsets);
    mem_free(g->kvs);
    mem_free(g->tensors);
    gguf_index_free(&g->kv_index);
    gguf_index_free(&g->tensor_index);
    arena_free(g->names);
    if (g->map) munmap(g->map, g->map_len);
    free(g->path); /* realpath's */
    mem_free(g);
}

uint32_t gguf_version(const gguf *g) { return g->version; }
size_t gguf_alignment(const gguf *g) { return g->alignment; }
size_t gguf_file_size(const gguf *g) { return g->size; }

void gguf_release_range(const gguf *g, const void *p, size_t n) {
    if (!g->map || !p || !n) return;
    const uintptr_t lo = (uintptr_t)g->map, hi = lo + g->map_len, a = (uintptr_t)p;
    if (a < lo || a > hi || n > hi - a) return;
    const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    const uintptr_t start = (a + page - 1) & ~(page - 1), end = (a + n) & ~(page - 1);
    /* A private, read-only file mapping: the pages go back to the page cache, not lost. */
    if (end > start) madvise((void *)start, end - start, MADV_DONTNEED);
}
size_t gguf_data_offset(const gguf *g) { return g->data_off; }
int64_t gguf_n_tensors(const gguf *g) { return g->n_tensors; }

const gguf_tensor *gguf_tensor_at(const gguf *g, int64_t i) {
    if (i < 0 || i >= g->n_tensors) return NULL;
    return &g->tensors[i];
}

const gguf_tensor *gguf_find_tensor(const gguf *g, const char *name) {
    int64_t i = gguf_index_find(&g->tensor_index, name, tensor_name_at, g);
    return i < 0 ? NULL : &g->tensors[i];
}
