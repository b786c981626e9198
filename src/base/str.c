/* Slices (borrowed text views) and a growable byte buffer. */
#include "base.h"

#include <stdio.h>
#include <string.h>

bool str_eq(str_slice a, str_slice b) {
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

bool str_eq_cstr(str_slice a, const char *b) { return str_eq(a, str_from_cstr(b)); }

bool str_starts_with(str_slice s, const char *prefix) {
    size_t n = strlen(prefix);
    return s.len >= n && memcmp(s.ptr, prefix, n) == 0;
}

static int buf_reserve(buf *b, size_t extra) {
    if (b->oom) return BASE_ENOMEM;
    size_t need;
    if (!size_add(b->len, extra, &need) || !size_add(need, 1, &need)) {
        b->oom = true;
        return BASE_ENOMEM;
    }
    if (need <= b->cap) return BASE_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) {
        if (!size_mul(cap, 2, &cap)) { cap = need; break; }
    }
    char *d = mem_realloc(b->data, cap);
    if (!d) {
        b->oom = true;
        return BASE_ENOMEM;
    }
    b->data = d;
    b->cap = cap;
    return BASE_OK;
}

int buf_append(buf *b, const void *data, size_t n) {
    int rc = buf_reserve(b, n);
    if (rc) return rc;
    if (n) memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = 0;
    return BASE_OK;
}

int buf_append_str(buf *b, const char *s) { return buf_append(b, s, strlen(s)); }

int buf_vprintf(buf *b, const char *fmt, va_list ap) {
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) return BASE_EINVAL;
    int rc = buf_reserve(b, (size_t)n);
    if (rc) return rc;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return BASE_OK;
}

int buf_printf(buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

void buf_free(buf *b) {
    mem_free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->oom = false;
}
