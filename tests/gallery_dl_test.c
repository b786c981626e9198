/* The gallery library against a local test server: downloads (resume, retries, checksums,
 * 404, cancellation, progress), URI resolution (Hugging Face, Ollama), the index, installing
 * (concurrently too) and removing. */
#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gallery/gallery.h"
#include "gallery_srv.h"

static gal_opts opts(gsrv *s, const char *dir) {
    gal_opts o = gal_default_opts();
    o.models_path = dir;
    o.hf_endpoint = s->base;
    o.ollama_registry = s->base;
    o.hf_token = NULL;
    o.max_retries = 3;
    o.backoff_ms = 10;
    o.low_speed_s = 10;
    return o;
}

static bool exists(const char *dir, const char *name) {
    char p[2048];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    struct stat st;
    return stat(p, &st) == 0;
}

static void file_sha(const char *dir, const char *name, char *hex) {
    char p[2048];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    err_buf eb = {0};
    ASSERT_OK(gal_sha256_file(p, hex, &eb), &eb);
}

TEST(gallery_download_resumes_after_cut) {
    gsrv s;
    gsrv_start(&s);
    s.cut_after = 300000;
    const char *dir = test_tmpdir();
    gal_opts o = opts(&s, dir);
    char url[128], dest[1024], got[65];
    snprintf(url, sizeof url, "%s/files/stories260K.gguf", s.base);
    snprintf(dest, sizeof dest, "%s/m.gguf", dir);
    err_buf eb = {0};
    ASSERT_OK(gal_download(&o, url, dest, s.sha, NULL, got, &eb), &eb);
    ASSERT_EQ_STR(got, s.sha);
    ASSERT_EQ_INT(s.n_file, 2);
    ASSERT_EQ_INT(s.n_range, 1); /* the second request asked for the rest only */
    file_sha(dir, "m.gguf", got);
    ASSERT_EQ_STR(got, s.sha);
    ASSERT_FALSE(exists(dir, "m.gguf.partial"));
    gsrv_stop(&s);
}

TEST(gallery_download_restarts_when_range_is_ignored) {
    gsrv s;
    gsrv_start(&s);
    s.cut_after = 100000;
    s.no_range = 1;
    const char *dir = test_tmpdir();
    gal_opts o = opts(&s, dir);
    char url[128], dest[1024], got[65];
    snprintf(url, sizeof url, "%s/files/stories260K.gguf", s.base);
    snprintf(dest, sizeof dest, "%s/m.gguf", dir);
    err_buf eb = {0};
    ASSERT_OK(gal_download(&o, url, dest, s.sha, NULL, got, &eb), &eb);
    ASSERT_EQ_INT(s.n_range, 1); /* asked for the rest, got everything: started over */
    file_sha(dir, "m.gguf", got);
    ASSERT_EQ_STR(got, s.sha);
    gsrv_stop(&s);
}

TEST(gallery_download_verifies_hub_linked_etag) {
    gsrv s;
    gsrv_start(&s);
    const char *dir = test_tmpdir();
    gal_opts o = opts(&s, dir);
    char url[160], dest[1024];
    snprintf(url, sizeof url, "%s/test/tiny-GGUF/resolve/main/tiny-Q8_0.gguf", s.base);
    snprintf(dest, sizeof dest, "%s/a.gguf", dir);
    err_buf eb = {0};
    ASSERT_OK(gal_download(&o, url, dest, NULL, NULL, NULL, &eb), &eb);
    snprintf(url, sizeof url, "%s/test/tiny-GGUF/resolve/main/bad-Q8_0.gguf", s.base);
    snprintf(dest, sizeof dest, "%s/b.gguf", dir);
    ASSERT_EQ_INT(gal_download(&o, url, dest, NULL, NULL, NULL, &eb), BASE_EFORMAT);
    ASSERT_CONTAINS(eb.msg, "sha256 mismatch for b.gguf");
    ASSERT_FALSE(exists(dir, "b.gguf"));
    ASSERT_FALSE(exists(dir, "b.gguf.partial"));
    gsrv_stop(&s);
}

TEST(gallery_download_wrong_checksum_leaves_nothing) {
    gsrv s;
    gsrv_start(&s);
    const char *dir = test_tmpdir();
    gal_opts o = opts(&s, dir);
    char url[128], dest[1024];
    snprintf(url, sizeof url, "%s/files/x.gguf", s.base);
    snprintf(dest, sizeof dest, "%s/x.gguf", dir);
    err_buf eb = {0};
    int rc = gal_download(&o, url, dest, "00000000000000000000000000000000000000000000000000000000000000ff", NULL, NULL, &eb);
    ASSERT_EQ_INT(rc, BASE_EFORMAT);
    ASSERT_CONTAINS(eb.msg, "sha256 mismatch for x.gguf");
    ASSERT_CONTAINS(eb.msg, s.sha);
    ASSERT_FALSE(exists(dir, "x.gguf"));
    ASSERT_FALSE(exists(dir, "x.gguf.partial"));
    gsrv_stop(&s);
}

TEST(gallery_download_404_is_final) {
    gsrv s;
    gsrv_start(&s);
    const char *dir = test_tmpdir();
    gal_opts o = opts(&s, dir);
    char url[128], dest[1024];
    snprintf(url, sizeof url, "%s/nope/x.gguf", s.base);
    snprintf(dest, sizeof dest, "%s/x.gguf", dir);
    err_buf eb = {0};
    ASSERT_EQ_INT(gal_download(&o, url, dest, NULL, NULL, NULL, &eb), BASE_ENOTFOUND);
    ASSERT_CONTAINS(eb.msg, "HTTP 404");
    ASSERT_EQ_INT(s.n_file, 0);
    ASSERT_FALSE(exists(dir, "x.gguf"));
    ASSERT_FALSE(exists(dir, "x.gguf.partial"));
    gsrv_stop(&s);
}

TEST(gallery_download_checks_free_space) {
    gsrv s;
    gsrv_start(&s);
    const char *dir = test_tmpdir();
    gal_opts o = opts(&s, dir);
    o.reserve_bytes = UINT64_MAX / 4; /* no disk has this much left over */
    char url[128], dest[1024];
    snprintf(url, sizeof url, "%s/files/x.gguf", s.base);
    snprintf(dest, sizeof dest, "%s/x.gguf", dir);
    err_buf eb = {0};
    ASSERT_EQ_INT(gal_download(&o, url, dest, NULL, NULL, NULL, &eb), BASE_EFULL);
    ASSERT_CONTAINS(eb.msg, "not enough disk space for x.gguf");
    ASSERT_EQ_INT(s.n_file, 1); /* final: not retried */
    ASSERT_FALSE(exists(dir, "x.gguf"));
    ASSERT_FALSE(exists(dir, "x.gguf.partial"));
    gsrv_stop(&s);
}

TEST(gallery_index_parse_survives_allocation_failures) {
    const char *idx = gal_default_index();
    for (long n = 0;; n++) {
        gal_catalog *cat = NULL;
        err_buf eb = {0};
        mem_fail_after(n);
        int rc = gal_catalog_load(&(gal_opts){0}, NULL, &cat, &eb);
        long used = mem_alloc_count();
        mem_fail_after(-1);
        if (rc == 0) {
            ASSERT_TRUE(gal_catalog_size(cat) >= 11);
            gal_catalog_free(cat);
            ASSERT_TRUE(n >= used - 1);
            break;
        }
        ASSERT_EQ_INT(rc, BASE_ENOMEM);
        ASSERT_TRUE(n < 100000);
    }
    (void)idx;
}

TEST(gallery_download_retries_500_then_gives_up) {
    gsrv s;
    gsrv_start(&s);
    const char *dir = test_tmpdir();
    gal_opts o = opts(&s, dir);
    char url[128], dest[1024];
    snprintf(url, sizeof url, "%s/files/x.gguf", s.base);
    snprintf(dest, sizeof dest, "%s/x.gguf", dir);
    err_buf eb = {0};
    s.fail_500 = 2;
    ASSERT_OK(gal_download(&o, url, dest, s.sha, NULL, NULL, &eb), &eb);
    ASSERT_EQ_INT(s.n_file, 3);
    snprintf(url, sizeof url, "%s/always500/y.gguf", s.base);
    snprintf(dest, sizeof dest, "%s/y.gguf", dir);
    eb = (err_buf){0};
    ASSERT_EQ_INT(gal_download(&o, url, dest, NULL, NULL, NULL, &eb), BASE_EIO);
    ASSERT_CONTAINS(eb.msg, "HTTP 500");
    ASSERT_CONTAINS(eb.msg, "gave up after 4 attempts");
    ASSERT_FALSE(exists(dir, "y.gguf"));
    gsrv_stop(&s);
}

typedef struct prog {
    _Atomic int cancel;
    uint64_t last_done, total;
    int calls;
    bool cancel_at_first;
    double rate;
} prog;

static void on_prog(void *ud, const gal_progress *p) {
    prog *g = ud;
    g->calls++;
    ASSERT_TRUE(p->done >= g->last_done); /* never goes backwards */
    g->last_done = p->done;
    g->total = p->total;
    if (p->rate > 0) g->rate = p->rate;
    if (g->cancel_at_first && p->done > 0) g->cancel = 1;
}

TEST(gallery_download_cancel_then_resume_with_progress) {
    gsrv s;
    gsrv_start(&s);
    s.throttle_us = 2000;
    const char *dir = test_tmpdir();
    prog g = {.cancel_at_first = true};
    gal_opts o = opts(&s, dir);
    o.cancel = &g.cancel;
    o.on_progress = on_prog;
    o.ud = &g;
    char url[128], dest[1024];
    snprintf(url, sizeof url, "%s/files/c.gguf", s.base);
    snprintf(dest, sizeof dest, "%s/c.gguf", dir);
    err_buf eb = {0};
    ASSERT_EQ_INT(gal_download(&o, url, dest, s.sha, NULL, NULL, &eb), BASE_ECANCELED);
    ASSERT_CONTAINS(eb.msg, "cancelled");
    ASSERT_FALSE(exists(dir, "c.gguf"));
    ASSERT_TRUE(exists(dir, "c.gguf.partial")); /* kept for the next attempt */
    /* Again, uncancelled: it resumes and the digest covers the bytes kept on disk. */
    s.throttle_us = 0;
    prog g2 = {0};
    o.cancel = &g2.cancel;
    o.ud = &g2;
    eb = (err_buf){0};
    ASSERT_OK(gal_download(&o, url, dest, s.sha, NULL, NULL, &eb), &eb);
    ASSERT_EQ_INT(s.n_range, 1);
    ASSERT_TRUE(g2.calls > 0);
    ASSERT_EQ_UINT(g2.last_done, s.len);
    ASSERT_EQ_UINT(g2.total, s.len);
    ASSERT_TRUE(g2.rate > 0);
    ASSERT_FALSE(exists(dir, "c.gguf.partial"));
    gsrv_stop(&s);
}

TEST(gallery_resolve_uris) {
    gsrv s;
    gsrv_start(&s);
    gal_opts o = opts(&s, test_tmpdir());
    gal_target t;
    err_buf eb = {0};
    char want[256];
    ASSERT_OK(gal_resolve(&o, "huggingface://test/tiny-GGUF/sub/tiny-Q8_0.gguf", &t, &eb), &eb);
    snprintf(want, sizeof want, "%s/test/tiny-GGUF/resolve/main/sub/tiny-Q8_0.gguf", s.base);
    ASSERT_EQ_STR(t.url, want);
    ASSERT_EQ_STR(t.filename, "tiny-Q8_0.gguf");
    ASSERT_NULL(t.sha256);
    gal_target_free(&t);
    ASSERT_OK(gal_resolve(&o, "hf.co/test/tiny-GGUF:q4_0", &t, &eb), &eb);
    snprintf(want, sizeof want, "%s/test/tiny-GGUF/resolve/main/tiny-Q4_0.gguf", s.base);
    ASSERT_EQ_STR(t.url, want); /* case-insensitive, and never the mmproj file */
    gal_target_free(&t);
    ASSERT_EQ_INT(gal_resolve(&o, "hf.co/test/tiny-GGUF:Q5_K_M", &t, &eb), BASE_ENOTFOUND);
    ASSERT_CONTAINS(eb.msg, "Q5_K_M");
    ASSERT_EQ_INT(gal_resolve(&o, "hf.co/test/other:Q4_0", &t, &eb), BASE_ENOTFOUND);
    ASSERT_OK(gal_resolve(&o, "ollama://tiny", &t, &eb), &eb);
    snprintf(want, sizeof want, "%s/v2/library/tiny/blobs/sha256:%s", s.base, s.sha);
    ASSERT_EQ_STR(t.url, want);
    ASSERT_EQ_STR(t.sha256, s.sha);
    ASSERT_EQ_STR(t.filename, "tiny-latest.gguf");
    ASSERT_EQ_INT(s.n_manifest_accept, 1);
    gal_target_free(&t);
    ASSERT_EQ_INT(gal_resolve(&o, "ollama://nope:1b", &t, &eb), BASE_ENOTFOUND);
    ASSERT_EQ_INT(gal_resolve(&o, "huggingface://onlyowner", &t, &eb), BASE_EINVAL);
    ASSERT_EQ_INT(gal_resolve(&o, "ftp://x/y", &t, &eb), BASE_EINVAL);
    ASSERT_OK(gal_resolve(&o, "https://example.invalid/a/b.gguf?download=1", &t, &eb), &eb);
    ASSERT_EQ_STR(t.filename, "b.gguf");
    gal_target_free(&t);
    ASSERT_TRUE(gal_is_uri("hf.co/a/b:Q4_0"));
    ASSERT_TRUE(gal_is_uri("ollama://x"));
    ASSERT_FALSE(gal_is_uri("qwen3-0.6b"));
    gsrv_stop(&s);
}

TEST(gallery_index_default_and_parse) {
    gal_opts o = gal_default_opts();
    gal_catalog *cat;
    err_buf eb = {0};
    ASSERT_OK(gal_catalog_load(&o, NULL, &cat, &eb), &eb);
    ASSERT_TRUE(gal_catalog_size(cat) >= 11);
    const gal_entry *e = gal_catalog_find(cat, "localai@qwen2.5-0.5b-instruct");
    ASSERT_NOT_NULL(e);
    ASSERT_EQ_INT(e->n_files, 1);
    ASSERT_EQ_STR(e->files[0].uri,
                  "huggingface://Qwen/Qwen2.5-0.5B-Instruct-GGUF/qwen2.5-0.5b-instruct-q4_k_m.gguf");
    ASSERT_NULL(e->files[0].sha256);
    ASSERT_NOT_NULL(gal_catalog_find(cat, "Llama-3.2-1B-Instruct"));
    ASSERT_NULL(gal_catalog_find(cat, "nope"));
    const char *bad[] = {"- name: x\n  files: [{filename: a.gguf}]\n", "name: notalist\n",
                         "- name: ../x\n", "- [unclosed\n", "- name: y\n  files:\n    - filename: ../a\n      uri: http://x/a\n"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        eb = (err_buf){0};
        ASSERT_EQ_INT(gal_catalog_add_yaml(cat, "t", bad[i], strlen(bad[i]), &eb), BASE_EFORMAT);
        ASSERT_TRUE(eb.msg[0] != 0);
    }
    gal_catalog_free(cat);
    eb = (err_buf){0};
    ASSERT_EQ_INT(gal_catalog_load(&o, "/nonexistent/index.yaml", &cat, &eb), BASE_EIO);
    ASSERT_CONTAINS(eb.msg, "/nonexistent/index.yaml");
}

typedef struct inst {
    gal_opts *o;
    gal_catalog *cat;
    int rc;
    err_buf eb;
} inst;

static void *install_thread(void *arg) {
    inst *a = arg;
    a->rc = gal_install(a->o, a->cat, "stories", NULL, NULL, &a->eb);
    return NULL;
}

TEST(gallery_install_concurrent_and_remove) {
    gsrv s;
    gsrv_start(&s);
    s.throttle_us = 1000;
    const char *dir = test_tmpdir();
    gal_opts o = opts(&s, dir);
    char models[512], gal[128];
    snprintf(models, sizeof models, "%s/models", dir);
    o.models_path = models;
    snprintf(gal, sizeof gal, "%s/index.yaml", s.base);
    gal_catalog *cat;
    err_buf eb = {0};
    ASSERT_OK(gal_catalog_load(&o, gal, &cat, &eb), &eb);
    inst a = {&o, cat, 0, {0}}, b = {&o, cat, 0, {0}};
    pthread_t ta, tb;
    pthread_create(&ta, NULL, install_thread, &a);
    pthread_create(&tb, NULL, install_thread, &b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    ASSERT_OK(a.rc, &a.eb);
    ASSERT_OK(b.rc, &b.eb);
    ASSERT_EQ_INT(s.n_file, 1); /* the second found the first's verified file */
    char hex[65];
    file_sha(models, "stories260K.gguf", hex);
    ASSERT_EQ_STR(hex, s.sha);
    ASSERT_FALSE(exists(models, "stories260K.gguf.partial"));
    ASSERT_TRUE(gal_is_installed(models, "stories"));
    char *text;
    size_t len;
    char p[1200];
    snprintf(p, sizeof p, "%s/stories.yaml", models);
    ASSERT_OK(file_read_all(p, &text, &len, &eb), &eb);
    ASSERT_CONTAINS(text, "name: \"stories\"");
    ASSERT_CONTAINS(text, "model: \"stories260K.gguf\"");
    ASSERT_CONTAINS(text, "context_size: 256");
    ASSERT_CONTAINS(text, "temperature: 0");
    mem_free(text);
    /* A wrong checksum and a missing file fail clearly and leave nothing. */
    eb = (err_buf){0};
    ASSERT_EQ_INT(gal_install(&o, cat, "badsum", NULL, NULL, &eb), BASE_EFORMAT);
    ASSERT_CONTAINS(eb.msg, "sha256 mismatch");
    ASSERT_FALSE(exists(models, "badsum.gguf"));
    ASSERT_FALSE(exists(models, "badsum.gguf.partial"));
    ASSERT_FALSE(gal_is_installed(models, "badsum"));
    ASSERT_EQ_INT(gal_install(&o, cat, "missing", NULL, NULL, &eb), BASE_ENOTFOUND);
    ASSERT_EQ_INT(gal_install(&o, cat, "nope", NULL, NULL, &eb), BASE_ENOTFOUND);
    ASSERT_CONTAINS(eb.msg, "no model 'nope'");
    ASSERT_EQ_INT(gal_install(&o, cat, "stories", "../evil", NULL, &eb), BASE_EINVAL);
    /* Remove deletes the config and the model file. */
    /* A file another config also serves stays when one of them is removed. */
    char other[1100];
    snprintf(other, sizeof other, "%s/alias.yaml", models);
    FILE *f = fopen(other, "w");
    ASSERT_NOT_NULL(f);
    fputs("name: alias\nparameters:\n  model: stories260K.gguf\n", f);
    fclose(f);
    ASSERT_OK(gal_remove(models, "alias", &eb), &eb);
    ASSERT_TRUE(exists(models, "stories260K.gguf"));
    ASSERT_OK(gal_remove(models, "stories", &eb), &eb);
    ASSERT_FALSE(exists(models, "stories.yaml"));
    ASSERT_FALSE(exists(models, "stories260K.gguf"));
    ASSERT_EQ_INT(gal_remove(models, "stories", &eb), BASE_ENOTFOUND);
    gal_catalog_free(cat);
    gsrv_stop(&s);
}
