/*
 * The GGUF writer: collects metadata and tensors in memory and serializes them as a
 * version 3 file that the reader (read.c) accepts. Values are stored already encoded, so
 * serializing is a copy and gguf_writer_copy_kv can take any value, nested arrays
 * included, byte for byte from an open file. Tensors are laid out in the order added, each
 * padded to the alignment (general.alignment when set, else 32).
 */
#include "gguf_int.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

typedef struct wkv {
    char *key;
    int type;     /* gguf_vtype */
    uint8_t *val; /* the encoded value (what follows the type field in the file) */
    size_t len;
} wkv;

typedef struct wtensor {
    char *name;
    int type;
    int n_dims;
    int64_t ne[GGUF_MAX_DIMS];
    void *data;
    size_t nbytes;
} wtensor;

struct gguf_writer {
    wkv *kvs;
    size_t n_kv, cap_kv;
    wtensor *ts;
    size_t n_t, cap_t;
};

gguf_writer *gguf_writer_new(void) { return mem_calloc(1, sizeof(gguf_writer)); }

void gguf_writer_free(gguf_writer *w) {
    if (!w) return;
    for (size_t i = 0; i < w->n_kv; i++) {
        mem_free(w->kvs[i].key);
        mem_free(w->kvs[i].val);
    }
    for (size_t i = 0; i < w->n_t; i++) {
        mem_free(w->ts[i].name);
        mem_free(w->ts[i].data);
    }
    mem_free(w->kvs);
    mem_free(w->ts);
    mem_free(w);
}

/* Take ownership of val (len bytes) as key's value; frees val on failure. */
static int set_owned(gguf_writer *w, const char *key, int type, uint8_t *val, size_t len) {
    if (!w || !key || !key[0]) {
        mem_free(val);
        return BASE_EINVAL;
    }
    if (strcmp(key, "general.alignment") == 0) {
        uint32_t a = 0;
        if (type == GGUF_VT_U32) memcpy(&a, val, 4);
        if (a == 0 || (a & (a - 1)) != 0) {
            mem_free(val);
            return BASE_EINVAL;
        }
    }
    for (size_t i = 0; i < w->n_kv; i++) {
        if (strcmp(w->kvs[i].key, key) == 0) {
            mem_free(w->kvs[i].val);
            w->kvs[i].type = type;
            w->kvs[i].val = val;
            w->kvs[i].len = len;
            return BASE_OK;
        }
    }
    if (w->n_kv == w->cap_kv) {
        size_t cap = w->cap_kv ? w->cap_kv * 2 : 16;
        wkv *n = mem_realloc(w->kvs, cap * sizeof *n);
        if (!n) {
            mem_free(val);
            return BASE_ENOMEM;
        }
        w->kvs = n;
        w->cap_kv = cap;
    }
    char *k = mem_strdup(key);
    if (!k) {
        mem_free(val);
        return BASE_ENOMEM;
    }
    w->kvs[w->n_kv++] = (wkv){k, type, val, len};
    return BASE_OK;
}

static int set_copy(gguf_writer *w, const char *key, int type, const void *val, size_t len) {
    uint8_t *v = mem_alloc(len);
    if (!v) return BASE_ENOMEM;
    memcpy(v, val, len);
    return set_owned(w, key, type, v, len);
}

int gguf_writer_set_u8(gguf_writer *w, const char *k, uint8_t v) { return set_copy(w, k, GGUF_VT_U8, &v, 1); }
int gguf_writer_set_i8(gguf_writer *w, const char *k, int8_t v) { return set_copy(w, k, GGUF_VT_I8, &v, 1); }
int gguf_writer_set_u16(gguf_writer *w, const char *k, uint16_t v) { return set_copy(w, k, GGUF_VT_U16, &v, 2); }
int gguf_writer_set_i16(gguf_writer *w, const char *k, int16_t v) { return set_copy(w, k, GGUF_VT_I16, &v, 2); }
int gguf_writer_set_u32(gguf_writer *w, const char *k, uint32_t v) { return set_copy(w, k, GGUF_VT_U32, &v, 4); }
int gguf_writer_set_i32(gguf_writer *w, const char *k, int32_t v) { return set_copy(w, k, GGUF_VT_I32, &v, 4); }
int gguf_writer_set_u64(gguf_writer *w, const char *k, uint64_t v) { return set_copy(w, k, GGUF_VT_U64, &v, 8); }
int gguf_writer_set_i64(gguf_writer *w, const char *k, int64_t v) { return set_copy(w, k, GGUF_VT_I64, &v, 8); }
int gguf_writer_set_f32(gguf_writer *w, const char *k, float v) { return set_copy(w, k, GGUF_VT_F32, &v, 4); }
int gguf_writer_set_f64(gguf_writer *w, const char *k, double v) { return set_copy(w, k, GGUF_VT_F64, &v, 8); }

int gguf_writer_set_bool(gguf_writer *w, const char *k, bool v) {
    uint8_t b = v ? 1 : 0;
    return set_copy(w, k, GGUF_VT_BOOL, &b, 1);
}

int gguf_writer_set_strn(gguf_writer *w, const char *key, const char *v, size_t len) {
    size_t total;
    if (!v && len) return BASE_EINVAL;
    if (!size_add(len, 8, &total)) return BASE_ERANGE;
    uint8_t *p = mem_alloc(total);
    if (!p) return BASE_ENOMEM;
    uint64_t n = len;
    memcpy(p, &n, 8);
    if (len) memcpy(p + 8, v, len);
    return set_owned(w, key, GGUF_VT_STRING, p, total);
}

int gguf_writer_set_str(gguf_writer *w, const char *key, const char *v) {
    if (!v) return BASE_EINVAL;
    return gguf_writer_set_strn(w, key, v, strlen(v));
}

int gguf_writer_set_arr(gguf_writer *w, const char *key, int elem_type, const void *data,
                        uint64_t n) {
    size_t esz = gguf_vtype_size(elem_type), bytes, total;
    if (!esz || (!data && n)) return BASE_EINVAL; /* STRING, ARRAY or unknown */
    if (n > SIZE_MAX || !size_mul((size_t)n, esz, &bytes) || !size_add(bytes, 12, &total))
        return BASE_ERANGE;
    uint8_t *p = mem_alloc(total);
    if (!p) return BASE_ENOMEM;
    uint32_t et = (uint32_t)elem_type;
    memcpy(p, &et, 4);
    memcpy(p + 4, &n, 8);
    if (bytes) memcpy(p + 12, data, bytes);
    return set_owned(w, key, GGUF_VT_ARRAY, p, total);
}

int gguf_writer_set_arr_str(gguf_writer *w, const char *key, const char *const *strs, uint64_t n) {
    size_t total = 12;
    if (!strs && n) return BASE_EINVAL;
    for (uint64_t i = 0; i < n; i++) {
        if (!strs[i]) return BASE_EINVAL;
        if (!size_add(total, 8, &total) || !size_add(total, strlen(strs[i]), &total))
            return BASE_ERANGE;
    }
    uint8_t *p = mem_alloc(total);
    if (!p) return BASE_ENOMEM;
    uint32_t et = GGUF_VT_STRING;
    memcpy(p, &et, 4);
    memcpy(p + 4, &n, 8);
    size_t pos = 12;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t len = strlen(strs[i]);
        memcpy(p + pos, &len, 8);
        memcpy(p + pos + 8, strs[i], (size_t)len);
        pos += 8 + (size_t)len;
    }
    return set_owned(w, key, GGUF_VT_ARRAY, p, total);
}

int gguf_writer_copy_kv(gguf_writer *w, const gguf *g, const char *prefix) {
    if (!w || !g) return BASE_EINVAL;
    size_t plen = prefix ? strlen(prefix) : 0;
    for (int64_t i = 0; i < g->n_kv; i++) {
        const gguf_kv *kv = &g->kvs[i];
        if (plen && strncmp(kv->key, prefix, plen) != 0) continue;
        int rc = set_copy(w, kv->key, kv->type, kv->val, kv->val_len);
        if (rc) return rc;
    }
    return BASE_OK;
}

int gguf_writer_add_tensor(gguf_writer *w, const char *name, int type, int n_dims,
                           const int64_t *ne, const void *data, size_t nbytes) {
    if (!w || !name || !name[0] || !ne || !data) return BASE_EINVAL;
    size_t want;
    int rc = gguf_tensor_nbytes(type, n_dims, ne, &want);
    if (rc) return rc;
    if (want != nbytes) return BASE_EINVAL;
    for (size_t i = 0; i < w->n_t; i++)
        if (strcmp(w->ts[i].name, name) == 0) return BASE_EINVAL;
    if (w->n_t == w->cap_t) {
        size_t cap = w->cap_t ? w->cap_t * 2 : 16;
        wtensor *n = mem_realloc(w->ts, cap * sizeof *n);
        if (!n) return BASE_ENOMEM;
        w->ts = n;
        w->cap_t = cap;
    }
    wtensor t = {.name = mem_strdup(name), .type = type, .n_dims = n_dims,
                 .data = mem_alloc(nbytes), .nbytes = nbytes};
    if (!t.name || !t.data) {
        mem_free(t.name);
        mem_free(t.data);
        return BASE_ENOMEM;
    }
    for (int d = 0; d < GGUF_MAX_DIMS; d++) t.ne[d] = d < n_dims ? ne[d] : 1;
    memcpy(t.data, data, nbytes);
    w->ts[w->n_t++] = t;
    return BASE_OK;
}

static size_t writer_alignment(const gguf_writer *w) {
    for (size_t i = 0; i < w->n_kv; i++)
        if (strcmp(w->kvs[i].key, "general.alignment") == 0) {
            uint32_t a;
            memcpy(&a, w->kvs[i].val, 4); /* set_owned checked type and value */
            return a;
        }
    return GGUF_DEFAULT_ALIGNMENT;
}

static size_t pad_to(size_t n, size_t align) { return (align - n % align) % align; }

static int put_str(buf *b, const char *s) {
    uint64_t n = strlen(s);
    buf_append(b, &n, 8);
    return buf_append(b, s, (size_t)n);
}

/* The header, padded to where the data section starts. */
static int write_header(const gguf_writer *w, buf *b, err_buf *eb) {
    static const uint8_t zeros[64];
    size_t align = writer_alignment(w);
    uint32_t version = 3;
    uint64_t nt = w->n_t, nkv = w->n_kv;
    buf_append(b, GGUF_MAGIC, 4);
    buf_append(b, &version, 4);
    buf_append(b, &nt, 8);
    buf_append(b, &nkv, 8);
    for (size_t i = 0; i < w->n_kv; i++) {
        uint32_t t = (uint32_t)w->kvs[i].type;
        put_str(b, w->kvs[i].key);
        buf_append(b, &t, 4);
        buf_append(b, w->kvs[i].val, w->kvs[i].len);
    }
    uint64_t off = 0;
    for (size_t i = 0; i < w->n_t; i++) {
        const wtensor *t = &w->ts[i];
        uint32_t nd = (uint32_t)t->n_dims, type = (uint32_t)t->type;
        put_str(b, t->name);
        buf_append(b, &nd, 4);
        for (int d = 0; d < t->n_dims; d++) buf_append(b, &t->ne[d], 8);
        buf_append(b, &type, 4);
        buf_append(b, &off, 8);
        off += t->nbytes + pad_to(t->nbytes, align);
    }
    /* Without tensors there is no data section to align (gguf-py writes no padding). */
    for (size_t pad = w->n_t ? pad_to(b->len, align) : 0; pad > 0;) {
        size_t n = pad < sizeof zeros ? pad : sizeof zeros;
        buf_append(b, zeros, n);
        pad -= n;
    }
    if (b->oom) return err_set(eb, BASE_ENOMEM, "out of memory serializing the GGUF header");
    return BASE_OK;
}

int gguf_writer_write_buf(gguf_writer *w, buf *out, err_buf *eb) {
    static const uint8_t zeros[64];
    if (!w || !out) return err_set(eb, BASE_EINVAL, "gguf_writer_write_buf: NULL argument");
    size_t align = writer_alignment(w);
    int rc = write_header(w, out, eb);
    if (rc) return rc;
    for (size_t i = 0; i < w->n_t; i++) {
        buf_append(out, w->ts[i].data, w->ts[i].nbytes);
        for (size_t pad = pad_to(w->ts[i].nbytes, align); pad > 0;) {
            size_t n = pad < sizeof zeros ? pad : sizeof zeros;
            buf_append(out, zeros, n);
            pad -= n;
        }
    }
    if (out->oom) return err_set(eb, BASE_ENOMEM, "out of memory serializing GGUF tensor data");
    return BASE_OK;
}

static int write_all(int fd, const void *p, size_t n) {
    const uint8_t *c = p;
    while (n > 0) {
        ssize_t k = write(fd, c, n);
        if (k < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        c += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Streams tensor data straight from the writer, so a big model is not copied twice. */
int gguf_writer_write_file(gguf_writer *w, const char *path, err_buf *eb) {
    static const uint8_t zeros[64];
    if (!w || !path) return err_set(eb, BASE_EINVAL, "gguf_writer_write_file: NULL argument");
    buf hdr = {0};
    int rc = write_header(w, &hdr, eb);
    if (rc) {
        buf_free(&hdr);
        return rc;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        buf_free(&hdr);
        return err_set(eb, BASE_EIO, "cannot create %s: %s", path, strerror(errno));
    }
    size_t align = writer_alignment(w);
    int bad = write_all(fd, hdr.data, hdr.len);
    buf_free(&hdr);
    for (size_t i = 0; i < w->n_t && !bad; i++) {
        bad = write_all(fd, w->ts[i].data, w->ts[i].nbytes);
        for (size_t pad = pad_to(w->ts[i].nbytes, align); pad > 0 && !bad;) {
            size_t n = pad < sizeof zeros ? pad : sizeof zeros;
            bad = write_all(fd, zeros, n);
            pad -= n;
        }
    }
    int e = errno;
    if (close(fd) != 0 && !bad) {
        bad = 1;
        e = errno;
    }
    if (bad) {
        unlink(path);
        return err_set(eb, BASE_EIO, "cannot write %s: %s", path, strerror(e));
    }
    return BASE_OK;
}
