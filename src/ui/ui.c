/*
 * The web UI's routes: GET / answers index.html, GET /ui/<file> any embedded file. Each
 * answer is validated by its ETag (If-None-Match -> 304) and sent gzip-compressed when the
 * client accepts it and the build made a smaller copy.
 */
#include "ui.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ui_int.h"

/* The page loads only its own files and talks only to this server. Media may also come from
 * blob: URLs: the audio view plays the speech it fetched. */
#define UI_CSP                                                                                     \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "              \
    "media-src 'self' blob:; "                                                                     \
    "connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"

static const ui_asset *find_asset(const char *path) {
    for (size_t i = 0; i < ui_n_assets; i++)
        if (!strcmp(ui_assets[i].path, path)) return &ui_assets[i];
    return NULL;
}

/* Does the If-None-Match list name etag? Weak comparison (RFC 9110 13.1.2): W/ is ignored. */
static bool etag_matches(const char *list, const char *etag) {
    size_t elen = strlen(etag);
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',') p++;
        if (!*p) break;
        if (*p == '*') return true;
        if (!strncmp(p, "W/", 2)) p += 2;
        size_t n = strcspn(p, ",");
        while (n && (p[n - 1] == ' ' || p[n - 1] == '\t')) n--;
        if (n == elen && !memcmp(p, etag, elen)) return true;
        p += strcspn(p, ",");
    }
    return false;
}

/* True when Accept-Encoding lists gzip without q=0. */
static bool accepts_gzip(const char *ae) {
    for (const char *p = ae; p && (p = strcasestr(p, "gzip")); p += 4) {
        bool starts = p == ae || p[-1] == ' ' || p[-1] == ',';
        size_t n = strcspn(p, ",");
        if (!starts || (p[4] != ',' && p[4] != ';' && p[4] != ' ' && p[4])) continue;
        const char *q = strstr(p, "q=");
        if (q && (size_t)(q - p) < n && strtod(q + 2, NULL) == 0) return false;
        return true;
    }
    return false;
}

static void serve(srv_req *r, const ui_asset *a) {
    bool gz = a->gz && accepts_gzip(srv_req_header(r, "Accept-Encoding"));
    /* The two encodings are different representations, so they get different ETags. */
    char etag[96];
    size_t elen = strlen(a->etag);
    if (gz)
        snprintf(etag, sizeof etag, "%.*s-gz\"", (int)(elen - 1), a->etag);
    else
        snprintf(etag, sizeof etag, "%s", a->etag);
    srv_set_header(r, "ETag", etag);
    srv_set_header(r, "Cache-Control", "no-cache");
    srv_set_header(r, "Vary", "Accept-Encoding");
    srv_set_header(r, "X-Content-Type-Options", "nosniff");
    const char *inm = srv_req_header(r, "If-None-Match");
    if (inm && (etag_matches(inm, a->etag) || etag_matches(inm, etag))) {
        srv_respond(r, 304, NULL, "", 0);
        return;
    }
    if (!strncmp(a->content_type, "text/html", 9)) {
        srv_set_header(r, "Content-Security-Policy", UI_CSP);
        srv_set_header(r, "Referrer-Policy", "no-referrer");
    }
    if (gz) {
        srv_set_header(r, "Content-Encoding", "gzip");
        srv_respond(r, 200, a->content_type, (const char *)a->gz, a->gz_len);
    } else {
        srv_respond(r, 200, a->content_type, (const char *)a->data, a->len);
    }
}

static void on_index(srv_req *r, void *ud) {
    const ui_asset *a = find_asset("/ui/index.html");
    if (a)
        serve(r, a);
    else
        srv_respond_error(r, 404, "invalid_request_error", "this build has no web UI");
}

static void on_asset(srv_req *r, void *ud) {
    const ui_asset *a = find_asset(srv_req_path(r));
    if (a)
        serve(r, a);
    else
        srv_respond_error(r, 404, "invalid_request_error", "no such file: %s", srv_req_path(r));
}

int ui_register(server *s) {
    int rc = server_route_public(s, "GET", "/", on_index, NULL);
    return rc ? rc : server_route_public(s, "GET", "/ui/*", on_asset, NULL);
}
