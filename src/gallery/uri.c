/*
 * Model URIs to one file to fetch: http(s):// and file:// as they are, huggingface://owner/
 * repo/path to the Hub's resolve URL, hf.co/owner/repo:QUANT by listing the repo through the
 * Hub API, ollama://name:tag through the registry's manifest (the model layer's digest is the
 * blob's sha256). Hosts come from gal_opts so tests can serve them locally.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "gallery_int.h"

#define LIST_MAX (8u << 20)

bool gal_safe_name(const char *name) {
    return name && *name && name[0] != '.' && !strchr(name, '/') && !strchr(name, '\\') &&
           strlen(name) < 200;
}

char *gal_strip_gguf(const char *s) {
    size_t n = strlen(s);
    if (n > 5 && !strcasecmp(s + n - 5, ".gguf")) n -= 5;
    return mem_strndup(s, n);
}

static bool has_prefix(const char *s, const char *p) { return !strncasecmp(s, p, strlen(p)); }

/* The part after the known hf.co prefixes, or NULL. */
static const char *hf_short(const char *s) {
    static const char *const pre[] = {"https://hf.co/", "http://hf.co/", "hf.co/",
                                      "https://huggingface.co/", "huggingface.co/"};
    for (size_t i = 0; i < sizeof pre / sizeof *pre; i++)
        if (has_prefix(s, pre[i])) {
            /* A full https://huggingface.co/... file URL is a plain download. */
            const char *rest = s + strlen(pre[i]);
            if (strstr(rest, "/resolve/") || strstr(rest, "/blob/")) return NULL;
            return rest;
        }
    return NULL;
}

bool gal_is_uri(const char *s) {
    return has_prefix(s, "http://") || has_prefix(s, "https://") || has_prefix(s, "file://") ||
           has_prefix(s, "huggingface://") || has_prefix(s, "hf://") ||
           has_prefix(s, "ollama://") || hf_short(s) != NULL;
}

void gal_target_free(gal_target *t) {
    mem_free(t->url);
    mem_free(t->filename);
    mem_free(t->sha256);
    mem_free(t->auth);
    memset(t, 0, sizeof *t);
}

static char *dup_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *dup_printf(const char *fmt, ...) {
    buf b = {0};
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    if (b.oom) {
        buf_free(&b);
        return NULL;
    }
    return b.data;
}

static int set_target(gal_target *t, char *url, const char *file, err_buf *eb) {
    t->url = url;
    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;
    size_t n = strcspn(base, "?#");
    t->filename = mem_strndup(base, n);
    if (!t->url || !t->filename) return err_set(eb, BASE_ENOMEM, "out of memory");
    if (!gal_safe_name(t->filename))
        return err_set(eb, BASE_EINVAL, "cannot name a file after '%s'", file);
    return BASE_OK;
}

static void hf_auth(const gal_opts *o, gal_target *t) {
    if (o->hf_token) t->auth = dup_printf("Authorization: Bearer %s", o->hf_token);
}

/* huggingface://owner/repo/path/to/file.gguf (optionally owner/repo@revision/...). */
static int resolve_hf_file(const gal_opts *o, const char *rest, gal_target *t, err_buf *eb) {
    const char *s1 = strchr(rest, '/');
    const char *s2 = s1 ? strchr(s1 + 1, '/') : NULL;
    if (!s1 || !s2 || !s2[1] || s1 == rest || s2 == s1 + 1)
        return err_set(eb, BASE_EINVAL, "expected huggingface://owner/repo/file, got '%s'", rest);
    const char *at = memchr(s1, '@', (size_t)(s2 - s1));
    const char *rev = at ? at + 1 : "main";
    int revn = at ? (int)(s2 - at - 1) : 4;
    int repon = (int)((at ? at : s2) - rest);
    hf_auth(o, t);
    return set_target(t, dup_printf("%s/%.*s/resolve/%.*s/%s", o->hf_endpoint, repon, rest, revn,
                                    rev, s2 + 1), s2 + 1, eb);
}

/* hf.co/owner/repo[:QUANT]: list the repo's files and pick a .gguf. */
static int resolve_hf_repo(const gal_opts *o, const char *rest, gal_target *t, err_buf *eb) {
    const char *colon = strchr(rest, ':');
    size_t repon = colon ? (size_t)(colon - rest) : strlen(rest);
    const char *quant = colon ? colon + 1 : "Q4_K_M";
    const char *s1 = memchr(rest, '/', repon);
    if (!s1 || s1 == rest || s1 + 1 == rest + repon || memchr(s1 + 1, '/', repon - (size_t)(s1 + 1 - rest)))
        return err_set(eb, BASE_EINVAL, "expected hf.co/owner/repo:QUANT, got '%s'", rest);
    hf_auth(o, t);
    char *url = dup_printf("%s/api/models/%.*s", o->hf_endpoint, (int)repon, rest);
    if (!url) return err_set(eb, BASE_ENOMEM, "out of memory");
    const char *hdr[] = {t->auth, NULL};
    buf b = {0};
    int rc = gal_fetch(o, url, hdr, LIST_MAX, &b, eb);
    mem_free(url);
    if (rc) {
        buf_free(&b);
        return rc;
    }
    json_t *v = json_loadb(b.data, b.len, 0, NULL);
    buf_free(&b);
    json_t *sib = json_object_get(v, "siblings");
    const char *best = NULL, *any = NULL;
    size_t i;
    json_t *e;
    json_array_foreach(sib, i, e) {
        const char *f = json_string_value(json_object_get(e, "rfilename"));
        size_t fn = f ? strlen(f) : 0;
        if (fn < 6 || strcasecmp(f + fn - 5, ".gguf") || strcasestr(f, "mmproj")) continue;
        if (!any) any = f;
        if (strcasestr(f, quant) && (!best || strlen(f) < strlen(best))) best = f;
    }
    if (!json_is_array(sib)) rc = err_set(eb, BASE_EFORMAT, "the Hub's listing of %.*s has no files", (int)repon, rest);
    else if (!best && colon) rc = err_set(eb, BASE_ENOTFOUND, "%.*s has no .gguf file matching '%s'", (int)repon, rest, quant);
    else if (!best && !any) rc = err_set(eb, BASE_ENOTFOUND, "%.*s has no .gguf file", (int)repon, rest);
    else {
        if (!best) best = any;
        rc = set_target(t, dup_printf("%s/%.*s/resolve/main/%s", o->hf_endpoint, (int)repon, rest, best), best, eb);
    }
    json_decref(v);
    return rc;
}

/* ollama://[namespace/]name[:tag]. */
static int resolve_ollama(const gal_opts *o, const char *rest, gal_target *t, err_buf *eb) {
    const char *colon = strrchr(rest, ':');
    if (colon && strchr(colon, '/')) colon = NULL;
    size_t namen = colon ? (size_t)(colon - rest) : strlen(rest);
    const char *tag = colon && colon[1] ? colon + 1 : "latest";
    if (!namen || strchr(tag, '/') || strstr(rest, ".."))
        return err_set(eb, BASE_EINVAL, "expected ollama://name:tag, got '%s'", rest);
    const char *ns = memchr(rest, '/', namen) ? "" : "library/";
    char *url = dup_printf("%s/v2/%s%.*s/manifests/%s", o->ollama_registry, ns, (int)namen, rest, tag);
    if (!url) return err_set(eb, BASE_ENOMEM, "out of memory");
    const char *hdr[] = {"Accept: application/vnd.docker.distribution.manifest.v2+json", NULL};
    buf b = {0};
    int rc = gal_fetch(o, url, hdr, LIST_MAX, &b, eb);
    mem_free(url);
    if (rc) {
        buf_free(&b);
        if (rc != BASE_ENOTFOUND) return rc;
        char why[sizeof eb->msg];
        snprintf(why, sizeof why, "%s", err_msg(eb));
        return err_set(eb, rc, "ollama model %s not found (%s)", rest, why);
    }
    json_t *v = json_loadb(b.data, b.len, 0, NULL);
    buf_free(&b);
    const char *digest = NULL;
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(v, "layers"), i, e) {
        const char *mt = json_string_value(json_object_get(e, "mediaType"));
        if (mt && !strcmp(mt, "application/vnd.ollama.image.model"))
            digest = json_string_value(json_object_get(e, "digest"));
    }
    if (!digest || strncmp(digest, "sha256:", 7) || strlen(digest) != 71 ||
        strspn(digest + 7, "0123456789abcdef") != 64) {
        rc = err_set(eb, BASE_EFORMAT, "the manifest of %s has no model layer with a sha256 digest", rest);
    } else {
        char *file = dup_printf("%.*s-%s.gguf", (int)namen, rest, tag);
        for (char *p = file; p && *p; p++)
            if (*p == '/') *p = '-';
        t->sha256 = mem_strdup(digest + 7);
        rc = set_target(t, dup_printf("%s/v2/%s%.*s/blobs/%s", o->ollama_registry, ns, (int)namen, rest, digest),
                        file ? file : "", eb);
        mem_free(file);
        if (!rc && !t->sha256) rc = err_set(eb, BASE_ENOMEM, "out of memory");
    }
    json_decref(v);
    return rc;
}

int gal_resolve(const gal_opts *o, const char *uri, gal_target *out, err_buf *eb) {
    memset(out, 0, sizeof *out);
    int rc;
    const char *hf = hf_short(uri);
    if (has_prefix(uri, "huggingface://")) rc = resolve_hf_file(o, uri + 14, out, eb);
    else if (has_prefix(uri, "hf://")) rc = resolve_hf_file(o, uri + 5, out, eb);
    else if (hf) rc = resolve_hf_repo(o, hf, out, eb);
    else if (has_prefix(uri, "ollama://")) rc = resolve_ollama(o, uri + 9, out, eb);
    else if (has_prefix(uri, "http://") || has_prefix(uri, "https://") || has_prefix(uri, "file://"))
        rc = set_target(out, mem_strdup(uri), uri + 7, eb);
    else rc = err_set(eb, BASE_EINVAL, "not a model URI: '%s'", uri);
    if (rc) gal_target_free(out);
    return rc;
}
