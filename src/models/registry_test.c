/* The registry follows the models directory while it runs: files added are models at once,
 * files removed or rewritten drop their models (unloading them, but never under a request
 * that holds one), a config that comes to claim a bare GGUF hides it; unload on request and
 * the info snapshot. */
#include "models.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "test.h"

static atomic_int loads, unloads; /* unloads may happen on a reaper thread */
static int count_load(void *ud, mdl_handle *h, void **attach, err_buf *eb) {
    loads++;
    *attach = &loads;
    return 0;
}
static void count_unload(void *ud, void *attach) { unloads++; }

static void write_file(const char *dir, const char *name, const char *text) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    ASSERT_NOT_NULL(f);
    fputs(text, f);
    fclose(f);
}

static void remove_file(const char *dir, const char *name) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    ASSERT_EQ_INT(unlink(path), 0);
}

static void link_file(const char *dir, const char *name, const char *target) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    ASSERT_EQ_INT(symlink(target, path), 0);
}

/* The listing as one string: "a,b,c". */
/* pocketsphinx, whisper-1, espeak, tts-1, tts-1-hd: in every listing. */
#define N_BUILTIN 5

static const char *listing(mdl_registry *r) {
    static char out[1024];
    char **names;
    int n;
    err_buf eb = {0};
    ASSERT_OK(mdl_registry_list(r, &names, &n, &eb), &eb);
    out[0] = 0;
    for (int i = 0; i < n; i++) /* the built-in speech models are always there: left out */
        if (!mdl_name_is_builtin(names[i]))
            snprintf(out + strlen(out), sizeof out - strlen(out), "%s%s", *out ? "," : "", names[i]);
    mdl_names_free(names, n);
    return out;
}

static void wait_unloads(int want) {
    for (int i = 0; i < 200 && unloads < want; i++) usleep(10000);
    ASSERT_EQ_INT(unloads, want);
}

TEST(models_registry_follows_the_directory) {
    const char *dir = test_tmpdir();
    char stories[4096], yaml[8192];
    ASSERT_NOT_NULL(realpath(test_shared_file("testdata/llm/stories260K.gguf"), stories));
    snprintf(yaml, sizeof yaml, "name: stories\nparameters:\n  model: %s\n", stories);
    write_file(dir, "stories.yaml", yaml);
    link_file(dir, "bare.gguf", stories);
    mdl_registry_params p = mdl_registry_default_params();
    p.models_path = dir;
    p.on_load = count_load;
    p.on_unload = count_unload;
    loads = unloads = 0;
    mdl_registry *r;
    err_buf eb = {0};
    ASSERT_OK(mdl_registry_open(&p, &r, &eb), &eb);
    ASSERT_EQ_STR(listing(r), "bare.gguf,stories");

    /* A loaded, idle model whose config is removed: gone from the list, and unloaded. */
    mdl_handle *h;
    ASSERT_OK(mdl_acquire(r, "stories", &h, &eb), &eb);
    mdl_release(h);
    remove_file(dir, "stories.yaml");
    ASSERT_EQ_STR(listing(r), "bare.gguf");
    ASSERT_EQ_INT(unloads, 1);
    ASSERT_EQ_INT(mdl_acquire(r, "stories", &h, &eb), BASE_ENOTFOUND);

    /* A model in use when its file goes: gone from the list at once, still usable by its
     * holder, unloaded by the last release. */
    ASSERT_OK(mdl_acquire(r, "bare", &h, &eb), &eb);
    remove_file(dir, "bare.gguf");
    ASSERT_FALSE(mdl_registry_has(r, "bare")); /* a lookup sees the file gone */
    ASSERT_EQ_STR(listing(r), "");
    ASSERT_NOT_NULL(mdl_handle_model(h));
    ASSERT_EQ_INT(unloads, 1);
    mdl_release(h);
    wait_unloads(2);

    /* New files are models at once; a rewritten config is read again. */
    write_file(dir, "new.yaml", yaml + strlen("name: stories\n"));
    ASSERT_EQ_STR(listing(r), "new");
    ASSERT_OK(mdl_acquire(r, "new", &h, &eb), &eb);
    mdl_release(h);
    snprintf(yaml, sizeof yaml, "name: renamed\nparameters:\n  model: %s\n", stories);
    write_file(dir, "new.yaml", yaml);
    ASSERT_EQ_STR(listing(r), "renamed");
    ASSERT_EQ_INT(unloads, 3);
    ASSERT_TRUE(mdl_registry_has(r, "renamed"));
    remove_file(dir, "new.yaml");

    /* A bare GGUF is hidden by a config that comes to serve it, and back when that goes. */
    link_file(dir, "x.gguf", stories);
    ASSERT_EQ_STR(listing(r), "x.gguf");
    write_file(dir, "xcfg.yaml", "name: xc\nparameters:\n  model: x.gguf\n");
    ASSERT_EQ_INT(mdl_registry_rescan(r), 1 + N_BUILTIN);
    ASSERT_EQ_STR(listing(r), "xc");
    remove_file(dir, "xcfg.yaml");
    ASSERT_EQ_STR(listing(r), "x.gguf");
    ASSERT_TRUE(mdl_registry_has(r, "x"));
    mdl_registry_free(r);
    ASSERT_EQ_INT(loads, unloads);
}

TEST(models_registry_unload_and_info) {
    const char *dir = test_tmpdir();
    char stories[4096];
    ASSERT_NOT_NULL(realpath(test_shared_file("testdata/llm/stories260K.gguf"), stories));
    link_file(dir, "s.gguf", stories);
    write_file(dir, "c.yaml", "name: c\ncontext_size: 128\nparameters:\n  model: s.gguf\n");
    link_file(dir, "t.gguf", stories);
    mdl_registry_params p = mdl_registry_default_params();
    p.models_path = dir;
    p.on_load = count_load;
    p.on_unload = count_unload;
    loads = unloads = 0;
    mdl_registry *r;
    err_buf eb = {0};
    ASSERT_OK(mdl_registry_open(&p, &r, &eb), &eb);
    ASSERT_EQ_STR(listing(r), "c,t.gguf");
    mdl_handle *h;
    ASSERT_EQ_INT(mdl_acquire_loaded(r, "c", &h), BASE_ENOTFOUND); /* never loads */
    ASSERT_EQ_INT(loads, 0);
    ASSERT_OK(mdl_unload(r, "c", &eb), &eb); /* not loaded: nothing to do */
    ASSERT_EQ_INT(mdl_unload(r, "nope", &eb), BASE_ENOTFOUND);
    ASSERT_OK(mdl_acquire(r, "c", &h, &eb), &eb);
    eb = (err_buf){0};
    ASSERT_EQ_INT(mdl_unload(r, "c", &eb), BASE_EBUSY);
    ASSERT_CONTAINS(eb.msg, "in use");

    mdl_info *v;
    int n;
    ASSERT_OK(mdl_registry_info(r, &v, &n, &eb), &eb);
    ASSERT_EQ_INT(n, 2 + N_BUILTIN); /* the built-in speech models come last */
    ASSERT_EQ_STR(v[0].name, "c");
    ASSERT_EQ_INT(v[0].state, MDL_STATE_LOADED);
    ASSERT_EQ_INT(v[0].in_use, 1);
    ASSERT_EQ_INT(v[0].context_size, 128);
    ASSERT_EQ_STR(v[0].source_file, "c.yaml");
    ASSERT_FALSE(v[0].bare);
    ASSERT_TRUE(v[0].weight_bytes > 0);
    ASSERT_TRUE(v[0].file_bytes > v[0].weight_bytes);
    ASSERT_TRUE(v[0].n_ctx_train > 0);
    ASSERT_EQ_STR(v[0].arch, "llama");
    ASSERT_EQ_STR(v[1].name, "t.gguf");
    ASSERT_EQ_INT(v[1].state, MDL_STATE_UNLOADED);
    ASSERT_TRUE(v[1].bare);
    ASSERT_EQ_INT(v[1].weight_bytes, 0);
    mdl_info_free(v, n);

    mdl_handle *h2;
    ASSERT_OK(mdl_acquire_loaded(r, "c", &h2), &eb);
    ASSERT_TRUE(h2 == h);
    mdl_release(h2);
    mdl_release(h);
    ASSERT_OK(mdl_unload(r, "c", &eb), &eb);
    ASSERT_EQ_INT(unloads, 1);
    ASSERT_EQ_INT(mdl_registry_n_loaded(r), 0);
    /* Still known, and it loads again on its next use. */
    ASSERT_OK(mdl_acquire(r, "c", &h, &eb), &eb);
    ASSERT_EQ_INT(loads, 2);
    mdl_release(h);
    mdl_registry_free(r);
    ASSERT_EQ_INT(unloads, 2);
}
