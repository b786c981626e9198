/* Response shaping shared by the handlers: OpenAI's error object, JSON bodies, SSE events,
 * ids, and JSON strings from model text that may hold broken UTF-8. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"

int api_fail(api_err *e, int status, const char *param, const char *fmt, ...) {
    e->status = status;
    e->type = status >= 500 ? "server_error" : "invalid_request_error";
    e->param = param;
    e->code = NULL;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return BASE_EINVAL;
}

char *api_error_json(const api_err *e) {
    json_t *err = json_object();
    json_object_set_new(err, "message", api_json_string(e->msg, strlen(e->msg)));
    json_object_set_new(err, "type", json_string(e->type ? e->type : "invalid_request_error"));
    json_object_set_new(err, "param", e->param ? json_string(e->param) : json_null());
    json_object_set_new(err, "code", e->code ? json_string(e->code) : json_null());
    json_t *root = json_object();
    json_object_set_new(root, "error", err);
    char *s = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return s;
}

void api_respond_err(srv_req *r, const api_err *e) {
    char *s = api_error_json(e);
    if (!s) {
        srv_respond_error(r, 500, "server_error", "out of memory");
        return;
    }
    if (e->status == 503) srv_set_header(r, "Retry-After", "1"); /* busy: worth a retry */
    srv_respond(r, e->status, "application/json", s, strlen(s));
    free(s);
}

void api_respond_json(srv_req *r, int status, const json_t *v) {
    char *s = json_dumps(v, JSON_COMPACT);
    if (!s) {
        srv_respond_error(r, 500, "server_error", "out of memory");
        return;
    }
    srv_respond(r, status, "application/json", s, strlen(s));
    free(s);
}

/* Length of the valid UTF-8 sequence at s[0..n), or 0 when it is not one. */
static size_t utf8_seq(const unsigned char *s, size_t n) {
    unsigned char c = s[0];
    size_t len;
    uint32_t cp;
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf) len = 2, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef) len = 3, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4) len = 4, cp = c & 0x07;
    else return 0;
    if (len > n) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

json_t *api_json_string(const char *s, size_t len) {
    json_t *v = json_stringn(s, len);
    if (v) return v;
    buf b = {0};
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        size_t k = p[i] ? utf8_seq(p + i, len - i) : 1;
        if (k) buf_append(&b, s + i, k), i += k;
        else buf_append_str(&b, "\xef\xbf\xbd"), i++;
    }
    v = b.oom ? NULL : json_stringn(b.data ? b.data : "", b.len);
    buf_free(&b);
    return v;
}

int api_sse_event(buf *out, const json_t *v) {
    char *s = json_dumps(v, JSON_COMPACT);
    if (!s) return BASE_ENOMEM;
    buf_append_str(out, "data: ");
    buf_append_str(out, s);
    buf_append_str(out, "\n\n");
    free(s);
    return out->oom ? BASE_ENOMEM : BASE_OK;
}

void api_make_id(const char *prefix, char *out, size_t cap) {
    /* Unique per process (a counter) and unlikely to repeat across runs (the clock), mixed
     * by splitmix64. Ids need not be secret. */
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    static uint64_t counter;
    pthread_mutex_lock(&mu);
    uint64_t x = time_now_ns() ^ ((uint64_t)time_unix() << 20) ^ (++counter * 0x9e3779b97f4a7c15ull);
    pthread_mutex_unlock(&mu);
    static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    int n = snprintf(out, cap, "%s", prefix);
    for (int i = 0; i < 24 && (size_t)n + 1 < cap; i++, n++) {
        x += 0x9e3779b97f4a7c15ull;
        uint64_t z = x;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        z ^= z >> 31;
        out[n] = al[z % (sizeof al - 1)];
    }
    if ((size_t)n < cap) out[n] = 0;
}
