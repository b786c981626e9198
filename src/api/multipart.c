/*
 * multipart/form-data bodies (RFC 7578), as OpenAI's audio uploads send them. The server
 * hands handlers the whole body, so parts are found in place: names, file names and data are
 * slices into the body, nothing is copied. Hostile input is bounded by the body's length.
 */
#include <string.h>
#include <strings.h>

#include "api_int.h"

#define MAX_PARTS 64

/* The value of a parameter (boundary=, name=, filename=) in a header line, unquoted. */
static str_slice header_param(const char *h, size_t n, const char *key) {
    size_t kl = strlen(key);
    for (size_t i = 0; i + kl < n; i++) {
        if (strncasecmp(h + i, key, kl) || h[i + kl] != '=') continue;
        /* A whole word: not "filename=" when looking for "name=". */
        if (i > 0 && h[i - 1] != ' ' && h[i - 1] != ';' && h[i - 1] != '\t') continue;
        size_t v = i + kl + 1, e;
        if (v < n && h[v] == '"') {
            v++;
            for (e = v; e < n && h[e] != '"'; e++)
                if (h[e] == '\\' && e + 1 < n) e++;
        } else {
            for (e = v; e < n && h[e] != ';' && h[e] != ' ' && h[e] != '\r' && h[e] != '\n'; e++) {
            }
        }
        return (str_slice){h + v, e - v};
    }
    return (str_slice){NULL, 0};
}

static const char *find(const char *hay, size_t n, const char *needle, size_t m) {
    return m <= n ? memmem(hay, n, needle, m) : NULL;
}

int api_multipart_parse(const char *content_type, str_slice body, arena *a, api_part **out,
                        int *n_out, api_err *e) {
    *out = NULL;
    *n_out = 0;
    if (!content_type || strncasecmp(content_type, "multipart/form-data", 19))
        return api_fail(e, 400, NULL, "expected a multipart/form-data body (Content-Type is %s)",
                        content_type ? content_type : "missing");
    str_slice b = header_param(content_type, strlen(content_type), "boundary");
    if (!b.len || b.len > 70)
        return api_fail(e, 400, NULL, "the multipart/form-data Content-Type has no valid boundary");
    /* Every delimiter after the first is CRLF "--" boundary. */
    char *delim = arena_alloc(a, b.len + 5);
    api_part *parts = arena_calloc(a, MAX_PARTS, sizeof *parts);
    if (!delim || !parts) return api_fail(e, 500, NULL, "out of memory");
    memcpy(delim, "\r\n--", 4);
    memcpy(delim + 4, b.ptr, b.len);
    size_t dl = b.len + 4;
    const char *p = body.ptr, *end = body.ptr + body.len;
    /* The first boundary may open the body directly (no CRLF before it). */
    const char *first =
        body.len >= dl - 2 && !memcmp(p, delim + 2, dl - 2) ? p : find(p, body.len, delim, dl);
    if (!first) return api_fail(e, 400, NULL, "the multipart body has no boundary line");
    p = first + (first == body.ptr ? dl - 2 : dl);
    int n = 0;
    for (;;) {
        if (end - p >= 2 && !memcmp(p, "--", 2)) break; /* the closing delimiter */
        if (end - p < 2 || memcmp(p, "\r\n", 2))
            return api_fail(e, 400, NULL, "malformed multipart body after a boundary");
        p += 2;
        const char *hend = find(p, (size_t)(end - p), "\r\n\r\n", 4);
        if (!hend) return api_fail(e, 400, NULL, "a multipart part has no end of headers");
        const char *next = find(hend + 4, (size_t)(end - hend - 4), delim, dl);
        if (!next)
            return api_fail(e, 400, NULL, "the multipart body is truncated (no closing boundary)");
        if (n == MAX_PARTS)
            return api_fail(e, 400, NULL, "more than %d multipart parts", MAX_PARTS);
        api_part *part = &parts[n++];
        /* Headers: Content-Disposition and Content-Type, one per CRLF-ended line. */
        for (const char *h = p; h < hend;) {
            const char *le = find(h, (size_t)(hend - h), "\r\n", 2);
            size_t ln = le ? (size_t)(le - h) : (size_t)(hend - h);
            if (ln > 20 && !strncasecmp(h, "Content-Disposition:", 20)) {
                part->name = header_param(h + 20, ln - 20, "name");
                part->filename = header_param(h + 20, ln - 20, "filename");
            } else if (ln > 13 && !strncasecmp(h, "Content-Type:", 13)) {
                const char *v = h + 13;
                while (v < h + ln && *v == ' ') v++;
                part->content_type = (str_slice){v, (size_t)(h + ln - v)};
            }
            h += ln + 2;
        }
        if (!part->name.ptr) return api_fail(e, 400, NULL, "a multipart part has no name");
        part->data = (str_slice){hend + 4, (size_t)(next - hend - 4)};
        p = next + dl;
    }
    *out = parts;
    *n_out = n;
    return 0;
}

const api_part *api_multipart_get(const api_part *parts, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (str_eq_cstr(parts[i].name, name)) return &parts[i];
    return NULL;
}

char *api_part_text(arena *a, const api_part *p) {
    return p ? arena_strndup(a, p->data.ptr, p->data.len) : NULL;
}
