/*
 * The metadata half of the reader: parses the key/value section (validating every length
 * against the bytes left, nested arrays included) and answers typed lookups. Values stay in
 * the mapping; only keys are copied (they are returned NUL-terminated) and STRING arrays get
 * an offset table so that element i is found in O(1).
 */
#include "gguf_int.h"

static const char *kv_key_at(const void *ctx, int64_t j) { return ((const gguf *)ctx)->kvs[j].key; }

/* Bytes an element of an array of this type needs at least (hostile counts). */
static size_t min_elem_bytes(int t) {
    if (t == GGUF_VT_STRING) return 8;
    if (t == GGUF_VT_ARRAY) return 12;
    return gguf_vtype_size(t);
}

/* Parse (and skip) one value of type t at c. kv is the top-level entry, which records the
 * array facts; nested arrays pass NULL. */
static int read_value(gguf *g, gguf_cur *c, int t, int depth, gguf_kv *kv, int64_t i,
                      const char *key, err_buf *eb) {
    size_t at = c->pos;
    if (t == GGUF_VT_STRING) {
        const uint8_t *p;
        uint64_t len;
        if (gguf_cur_left(c) < 8)
            return err_set(eb, BASE_EFORMAT, "kv %lld ('%.80s'): string length at offset %zu: "
                           "truncated (file size %zu)", (long long)i, key, at, g->size);
        if (!gguf_cur_str(c, &p, &len))
            return err_set(eb, BASE_EFORMAT, "kv %lld ('%.80s'): string length %llu at offset %zu "
                           "exceeds file (size %zu)", (long long)i, key, (unsigned long long)len,
                           at, g->size);
        return BASE_OK;
    }
    if (t != GGUF_VT_ARRAY) {
        size_t n = gguf_vtype_size(t);
        if (gguf_cur_left(c) < n)
            return err_set(eb, BASE_EFORMAT, "kv %lld ('%.80s'): %s value at offset %zu: "
                           "truncated (file size %zu)", (long long)i, key, gguf_vtype_name(t), at,
                           g->size);
        c->pos += n;
        return BASE_OK;
    }
    if (depth >= GGUF_MAX_ARR_DEPTH)
        return err_set(eb, BASE_EFORMAT, "kv %lld ('%.80s'): arrays nested deeper than %d at "
                       "offset %zu", (long long)i, key, GGUF_MAX_ARR_DEPTH, at);
    uint32_t et;
    uint64_t n;
    if (!gguf_cur_u32(c, &et))
        return err_set(eb, BASE_EFORMAT, "kv %lld ('%.80s'): array element type at offset %zu: "
                       "truncated (file size %zu)", (long long)i, key, at, g->size);
    if (et >= GGUF_VT_COUNT)
        return err_set(eb, BASE_EFORMAT, "kv %lld ('%.80s'): unknown array element type %u at "
                       "offset %zu", (long long)i, key, et, at);
    if (!gguf_cur_u64(c, &n))
        return err_set(eb, BASE_EFORMAT, "kv %lld ('%.80s'): array count at offset %zu: "
                       "truncated (file size %zu)", (long long)i, key, at + 4, g->size);
    uint64_t need;
    if (__builtin_mul_overflow(n, (uint64_t)min_elem_bytes((int)et), &need) ||
        need > gguf_cur_left(c))
        return err_set(eb, BASE_EFORMAT, "kv %lld ('%.80s'): array of %llu %s at offset %zu "
                       "exceeds file (size %zu)", (long long)i, key, (unsigned long long)n,
                       gguf_vtype_name((int)et), at, g->size);
    size_t data_pos = c->pos;
    if (kv) {
        kv->arr_type = (int)et;
        kv->arr_n = n;
        kv->arr_data = c->base + data_pos;
    }
    if (et == GGUF_VT_STRING) {
        if (kv) {
            /* n <= bytes left / 8, so this allocation is bounded by the file size. */
            kv->str_offsets = mem_alloc((size_t)(n ? n : 1) * sizeof *kv->str_offsets);
            if (!kv->str_offsets)
                return err_set(eb, BASE_ENOMEM, "kv %lld ('%.80s'): out of memory for %llu "
                               "string offsets", (long long)i, key, (unsigned long long)n);
        }
        for (uint64_t j = 0; j < n; j++) {
            const uint8_t *p;
            uint64_t len;
            size_t sat = c->pos;
            if (kv) kv->str_offsets[j] = sat - data_pos;
            if (gguf_cur_left(c) < 8)
                return err_set(eb, BASE_EFORMAT, "kv %lld ('%.80s'): string %llu: length at "
                               "offset %zu: truncated (file size %zu)", (long long)i, key,
                               (unsigned long long)j, sat, g->size);
            if (!gguf_cur_str(c, &p, &len))
                return err_set(eb, BASE_EFORMAT, "kv %lld ('%.80s'): string %llu: length %llu at "
                               "offset %zu exceeds file (size %zu)", (long long)i, key,
                               (unsigned long long)j, (unsigned long long)len, sat, g->size);
        }
        return BASE_OK;
    }
    if (et == GGUF_VT_ARRAY) {
        for (uint64_t j = 0; j < n; j++) {
            int rc = read_value(g, c, GGUF_VT_ARRAY, depth + 1, NULL, i, key, eb);
            if (rc) return rc;
        }
        return BASE_OK;
    }
    c->pos += (size_t)need; /* checked against the bytes left above */
    return BASE_OK;
}

int gguf_read_kvs(gguf *g, gguf_cur *c, err_buf *eb) {
    for (int64_t i = 0; i < g->n_kv; i++) {
        gguf_kv *kv = &g->kvs[i];
        size_t start = c->pos, at = start;
        const uint8_t *p;
        uint64_t len;
        if (gguf_cur_left(c) < 8)
            return err_set(eb, BASE_EFORMAT, "kv %lld: key length at offset %zu: truncated "
                           "(file size %zu)", (long long)i, at, g->size);
        if (!gguf_cur_str(c, &p, &len))
            return err_set(eb, BASE_EFORMAT, "kv %lld: key length %llu at offset %zu exceeds "
                           "file (size %zu)", (long long)i, (unsigned long long)len, at, g->size);
        if (len == 0)
            return err_set(eb, BASE_EFORMAT, "kv %lld: empty key at offset %zu", (long long)i, at);
        if (memchr(p, 0, (size_t)len))
            return err_set(eb, BASE_EFORMAT, "kv %lld: key at offset %zu contains a NUL byte",
                           (long long)i, at);
        kv->key = arena_strndup(g->names, (const char *)p, (size_t)len);
        if (!kv->key) return err_set(eb, BASE_ENOMEM, "out of memory reading kv %lld", (long long)i);
        uint32_t t;
        at = c->pos;
        if (!gguf_cur_u32(c, &t))
            return err_set(eb, BASE_EFORMAT, "kv %lld ('%.80s'): value type at offset %zu: "
                           "truncated (file size %zu)", (long long)i, kv->key, at, g->size);
        if (t >= GGUF_VT_COUNT)
            return err_set(eb, BASE_EFORMAT, "kv %lld ('%.80s'): unknown value type %u at offset "
                           "%zu", (long long)i, kv->key, t, at);
        kv->type = (int)t;
        kv->val_off = c->pos;
        kv->val = c->base + c->pos;
        int rc = read_value(g, c, kv->type, 0, kv, i, kv->key, eb);
        if (rc) return rc;
        kv->val_len = c->pos - kv->val_off;
        int64_t dup = gguf_index_insert(&g->kv_index, kv->key, i, kv_key_at, g);
        if (dup >= 0)
            return err_set(eb, BASE_EFORMAT, "kv %lld at offset %zu: duplicate key '%.80s' (first "
                           "is kv %lld)", (long long)i, start, kv->key, (long long)dup);
    }
    return BASE_OK;
}

int64_t gguf_n_kv(const gguf *g) { return g->n_kv; }

const char *gguf_kv_key(const gguf *g, int64_t i) {
    return i >= 0 && i < g->n_kv ? g->kvs[i].key : NULL;
}

int gguf_kv_type(const gguf *g, int64_t i) { return i >= 0 && i < g->n_kv ? g->kvs[i].type : -1; }

int64_t gguf_find_key(const gguf *g, const char *key) {
    return gguf_index_find(&g->kv_index, key, kv_key_at, g);
}

/* ---- typed lookups ---- */

static int lookup(const gguf *g, const char *key, const gguf_kv **kv, err_buf *eb) {
    int64_t i = gguf_find_key(g, key);
    if (i < 0) return err_set(eb, BASE_ENOTFOUND, "key '%.80s' not found", key ? key : "(null)");
    *kv = &g->kvs[i];
    return BASE_OK;
}

static int wrong_type(const gguf_kv *kv, const char *want, err_buf *eb) {
    return err_set(eb, BASE_ETYPE, "key '%.80s' has type %s, expected %s", kv->key,
                   gguf_vtype_name(kv->type), want);
}

/* An integer value of any width: neg tells which of s (negative) or u (non-negative) holds
 * it. False when the type is not an integer. */
typedef struct int_val {
    bool neg;
    int64_t s;
    uint64_t u;
} int_val;

static bool load_int(int type, const uint8_t *p, int_val *v) {
    union { uint8_t u8; int8_t i8; uint16_t u16; int16_t i16; uint32_t u32; int32_t i32;
            uint64_t u64; int64_t i64; } x;
    size_t n = gguf_vtype_size(type);
    if (!n) return false;
    memcpy(&x, p, n);
    int64_t s;
    switch (type) {
    case GGUF_VT_U8: v->u = x.u8; v->neg = false; return true;
    case GGUF_VT_U16: v->u = x.u16; v->neg = false; return true;
    case GGUF_VT_U32: v->u = x.u32; v->neg = false; return true;
    case GGUF_VT_U64: v->u = x.u64; v->neg = false; return true;
    case GGUF_VT_I8: s = x.i8; break;
    case GGUF_VT_I16: s = x.i16; break;
    case GGUF_VT_I32: s = x.i32; break;
    case GGUF_VT_I64: s = x.i64; break;
    default: return false;
    }
    v->neg = s < 0;
    v->s = s;
    v->u = s < 0 ? 0 : (uint64_t)s;
    return true;
}

static int get_int(const gguf *g, const char *key, int64_t min, uint64_t max, const char *want,
                   int_val *v, err_buf *eb) {
    const gguf_kv *kv = NULL;
    int rc = lookup(g, key, &kv, eb);
    if (rc) return rc;
    if (!load_int(kv->type, kv->val, v)) return wrong_type(kv, want, eb);
    if (v->neg ? v->s < min : v->u > max) {
        if (v->neg)
            return err_set(eb, BASE_ERANGE, "key '%.80s': %s value %lld does not fit %s", kv->key,
                           gguf_vtype_name(kv->type), (long long)v->s, want);
        return err_set(eb, BASE_ERANGE, "key '%.80s': %s value %llu does not fit %s", kv->key,
                       gguf_vtype_name(kv->type), (unsigned long long)v->u, want);
    }
    return BASE_OK;
}

int gguf_get_u32(const gguf *g, const char *key, uint32_t *out, err_buf *eb) {
    int_val v;
    int rc = get_int(g, key, 0, UINT32_MAX, "u32", &v, eb);
    if (!rc) *out = (uint32_t)v.u;
    return rc;
}

int gguf_get_i32(const gguf *g, const char *key, int32_t *out, err_buf *eb) {
    int_val v;
    int rc = get_int(g, key, INT32_MIN, INT32_MAX, "i32", &v, eb);
    if (!rc) *out = v.neg ? (int32_t)v.s : (int32_t)v.u;
    return rc;
}

int gguf_get_u64(const gguf *g, const char *key, uint64_t *out, err_buf *eb) {
    int_val v;
    int rc = get_int(g, key, 0, UINT64_MAX, "u64", &v, eb);
    if (!rc) *out = v.u;
    return rc;
}

int gguf_get_i64(const gguf *g, const char *key, int64_t *out, err_buf *eb) {
    int_val v;
    int rc = get_int(g, key, INT64_MIN, INT64_MAX, "i64", &v, eb);
    if (!rc) *out = v.neg ? v.s : (int64_t)v.u;
    return rc;
}

int gguf_get_f32(const gguf *g, const char *key, float *out, err_buf *eb) {
    const gguf_kv *kv = NULL;
    int rc = lookup(g, key, &kv, eb);
    if (rc) return rc;
    if (kv->type == GGUF_VT_F32) {
        memcpy(out, kv->val, 4);
    } else if (kv->type == GGUF_VT_F64) {
        double d;
        memcpy(&d, kv->val, 8);
        *out = (float)d;
    } else {
        return wrong_type(kv, "f32", eb);
    }
    return BASE_OK;
}

int gguf_get_bool(const gguf *g, const char *key, bool *out, err_buf *eb) {
    const gguf_kv *kv = NULL;
    int rc = lookup(g, key, &kv, eb);
    if (rc) return rc;
    if (kv->type != GGUF_VT_BOOL) return wrong_type(kv, "bool", eb);
    *out = kv->val[0] != 0;
    return BASE_OK;
}

int gguf_get_str(const gguf *g, const char *key, str_slice *out, err_buf *eb) {
    const gguf_kv *kv = NULL;
    int rc = lookup(g, key, &kv, eb);
    if (rc) return rc;
    if (kv->type != GGUF_VT_STRING) return wrong_type(kv, "string", eb);
    uint64_t len;
    memcpy(&len, kv->val, 8);
    out->ptr = (const char *)kv->val + 8;
    out->len = (size_t)len;
    return BASE_OK;
}

int gguf_get_arr(const gguf *g, const char *key, int elem_type, gguf_arr *out, err_buf *eb) {
    const gguf_kv *kv = NULL;
    int rc = lookup(g, key, &kv, eb);
    if (rc) return rc;
    if (kv->type != GGUF_VT_ARRAY) return wrong_type(kv, "array", eb);
    if (kv->arr_type == GGUF_VT_ARRAY)
        return err_set(eb, BASE_ETYPE, "key '%.80s' is an array of arrays (not supported)",
                       kv->key);
    if (elem_type >= 0 && kv->arr_type != elem_type)
        return err_set(eb, BASE_ETYPE, "key '%.80s' is an array of %s, expected an array of %s",
                       kv->key, gguf_vtype_name(kv->arr_type),
                       gguf_vtype_name(elem_type) ? gguf_vtype_name(elem_type) : "(unknown)");
    out->type = kv->arr_type;
    out->n = kv->arr_n;
    out->data = kv->arr_data;
    out->str_offsets = kv->str_offsets;
    return BASE_OK;
}

int64_t gguf_arr_int(const gguf_arr *a, uint64_t i) {
    int_val v;
    if (i >= a->n) return 0;
    const uint8_t *p = a->data;
    if (a->type == GGUF_VT_BOOL) return p[i] != 0;
    size_t n = gguf_vtype_size(a->type);
    if (!load_int(a->type, p + i * n, &v)) return 0;
    return v.neg ? v.s : (int64_t)v.u;
}

double gguf_arr_float(const gguf_arr *a, uint64_t i) {
    if (i >= a->n) return 0;
    const uint8_t *p = a->data;
    if (a->type == GGUF_VT_F32) {
        float f;
        memcpy(&f, p + i * 4, 4);
        return f;
    }
    if (a->type == GGUF_VT_F64) {
        double d;
        memcpy(&d, p + i * 8, 8);
        return d;
    }
    int_val v;
    if (!load_int(a->type, p + i * gguf_vtype_size(a->type), &v)) return 0;
    return v.neg ? (double)v.s : (double)v.u;
}

str_slice gguf_arr_str(const gguf_arr *a, uint64_t i) {
    str_slice s = {"", 0};
    if (a->type != GGUF_VT_STRING || i >= a->n || !a->str_offsets) return s;
    const uint8_t *p = (const uint8_t *)a->data + a->str_offsets[i];
    uint64_t len;
    memcpy(&len, p, 8);
    s.ptr = (const char *)p + 8;
    s.len = (size_t)len;
    return s;
}
