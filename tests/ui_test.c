/* End to end: `local-ai run` serves the embedded web UI: GET / is the page, /ui/NAME the files
 * with their types, ETag + If-None-Match gives 304, gzip when asked, and no key is needed for
 * the page even when the API wants one. */
#include "api_util.h"

#include <stdio.h>

/* The value of a response header (case-insensitive name), copied into out; NULL if absent. */
static const char *header(const api_resp *r, const char *name, char *out, size_t cap) {
    size_t n = strlen(name);
    for (const char *p = r->headers.data; p && *p;
         p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (!strncasecmp(p, name, n) && p[n] == ':') {
            const char *v = p + n + 1;
            while (*v == ' ') v++;
            size_t len = strcspn(v, "\r\n");
            snprintf(out, cap, "%.*s", (int)len, v);
            return out;
        }
    }
    return NULL;
}

TEST(ui_index_and_assets) {
    api_server s;
    api_server_start(&s, NULL);
    api_resp r;
    char v[512];
    api_http(&s, "GET", "/", NULL, NULL, &r);
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_STR(header(&r, "Content-Type", v, sizeof v), "text/html; charset=utf-8");
    ASSERT_CONTAINS(r.body.data, "<!doctype html>");
    ASSERT_CONTAINS(r.body.data, "/ui/app.js");
    ASSERT_EQ_STR(header(&r, "Cache-Control", v, sizeof v), "no-cache");
    ASSERT_CONTAINS(header(&r, "Content-Security-Policy", v, sizeof v), "default-src 'none'");
    ASSERT_NOT_NULL(header(&r, "ETag", v, sizeof v));
    api_resp_free(&r);

    static const char *const files[][2] = {
        {"/ui/index.html", "text/html; charset=utf-8"},
        {"/ui/app.js", "text/javascript; charset=utf-8"},
        {"/ui/markdown.js", "text/javascript; charset=utf-8"},
        {"/ui/app.css", "text/css; charset=utf-8"},
        {"/ui/pages.css", "text/css; charset=utf-8"},
        {"/ui/util.js", "text/javascript; charset=utf-8"},
        {"/ui/models.js", "text/javascript; charset=utf-8"},
        {"/ui/gallery.js", "text/javascript; charset=utf-8"},
        {"/ui/access.js", "text/javascript; charset=utf-8"},
        {"/ui/admin.js", "text/javascript; charset=utf-8"},
        {"/ui/usage.js", "text/javascript; charset=utf-8"},
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        api_http(&s, "GET", files[i][0], NULL, NULL, &r);
        ASSERT_EQ_INT(r.status, 200);
        ASSERT_EQ_STR(header(&r, "Content-Type", v, sizeof v), files[i][1]);
        ASSERT_EQ_STR(header(&r, "X-Content-Type-Options", v, sizeof v), "nosniff");
        ASSERT_TRUE(r.body.len > 100);
        ASSERT_NULL(header(&r, "Content-Encoding", v, sizeof v));
        api_resp_free(&r);
    }
    api_http(&s, "GET", "/ui/nope.js", NULL, NULL, &r);
    ASSERT_EQ_INT(r.status, 404);
    ASSERT_CONTAINS(api_jstr(r.json, "error.message"), "/ui/nope.js");
    api_resp_free(&r);
    api_http(&s, "GET", "/ui/", NULL, NULL, &r);
    ASSERT_EQ_INT(r.status, 404);
    api_resp_free(&r);
    api_http(&s, "POST", "/", "{}", NULL, &r);
    ASSERT_EQ_INT(r.status, 405);
    api_resp_free(&r);
    api_server_stop(&s);
}

TEST(ui_etag_304_and_gzip) {
    api_server s;
    api_server_start(&s, NULL);
    api_resp r;
    char etag[128], v[256], inm[200];
    api_http(&s, "GET", "/ui/app.js", NULL, NULL, &r);
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_NOT_NULL(header(&r, "ETag", etag, sizeof etag));
    ASSERT_TRUE(etag[0] == '"' && etag[strlen(etag) - 1] == '"');
    size_t plain_len = r.body.len;
    api_resp_free(&r);

    /* The same ETag back: 304 with no body; in a list or weak, too; another tag: 200. */
    const char *forms[] = {"%s", "\"zzz\", %s", "W/%s", "*"};
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        snprintf(inm, sizeof inm, "If-None-Match: ");
        snprintf(inm + strlen(inm), sizeof inm - strlen(inm), forms[i], etag);
        const char *h[] = {inm, NULL};
        api_http(&s, "GET", "/ui/app.js", NULL, h, &r);
        ASSERT_EQ_INT(r.status, 304);
        ASSERT_EQ_INT(r.body.len, 0);
        ASSERT_EQ_STR(header(&r, "ETag", v, sizeof v), etag);
        api_resp_free(&r);
    }
    const char *other[] = {"If-None-Match: \"0000\"", NULL};
    api_http(&s, "GET", "/ui/app.js", NULL, other, &r);
    ASSERT_EQ_INT(r.status, 200);
    api_resp_free(&r);
    /* Each file has its own tag. */
    api_http(&s, "GET", "/ui/app.css", NULL, NULL, &r);
    ASSERT_NE_INT(strcmp(header(&r, "ETag", v, sizeof v), etag), 0);
    api_resp_free(&r);

    /* gzip when asked: the compressed copy, its own ETag, and 304 for that one too. */
    const char *gz[] = {"Accept-Encoding: gzip, deflate", NULL};
    api_http(&s, "GET", "/ui/app.js", NULL, gz, &r);
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_STR(header(&r, "Content-Encoding", v, sizeof v), "gzip");
    ASSERT_EQ_STR(header(&r, "Vary", v, sizeof v), "Accept-Encoding");
    ASSERT_TRUE(r.body.len > 2 && (unsigned char)r.body.data[0] == 0x1f &&
                (unsigned char)r.body.data[1] == 0x8b);
    ASSERT_CMP_INT(r.body.len, <, plain_len);
    char gz_etag[128];
    ASSERT_NOT_NULL(header(&r, "ETag", gz_etag, sizeof gz_etag));
    ASSERT_NE_INT(strcmp(gz_etag, etag), 0);
    api_resp_free(&r);
    snprintf(inm, sizeof inm, "If-None-Match: %s", gz_etag);
    const char *gz304[] = {"Accept-Encoding: gzip", inm, NULL};
    api_http(&s, "GET", "/ui/app.js", NULL, gz304, &r);
    ASSERT_EQ_INT(r.status, 304);
    api_resp_free(&r);
    const char *nogz[] = {"Accept-Encoding: gzip;q=0, identity", NULL};
    api_http(&s, "GET", "/ui/app.js", NULL, nogz, &r);
    ASSERT_NULL(header(&r, "Content-Encoding", v, sizeof v));
    ASSERT_EQ_INT(r.body.len, plain_len);
    api_resp_free(&r);
    api_server_stop(&s);
}

TEST(ui_public_with_api_key) {
    api_server s;
    const char *extra[] = {"--api-key", "k1", NULL};
    api_server_start(&s, extra);
    api_resp r;
    api_http(&s, "GET", "/", NULL, NULL, &r);
    ASSERT_EQ_INT(r.status, 200);
    api_resp_free(&r);
    api_http(&s, "GET", "/ui/app.js", NULL, NULL, &r);
    ASSERT_EQ_INT(r.status, 200);
    api_resp_free(&r);
    /* The API itself still wants the key. */
    api_http(&s, "GET", "/v1/models", NULL, NULL, &r);
    ASSERT_EQ_INT(r.status, 401);
    api_resp_free(&r);
    api_server_stop(&s);
}
