/* Model configs (YAML) and the registry: listing, lazy loading, load errors, LRU unloading. */
#include "models.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"

static mdl_config *parse_ok(const char *yaml, const char *dir) {
    mdl_config *c = NULL;
    err_buf eb = {0};
    ASSERT_OK(mdl_config_parse(yaml, strlen(yaml), dir, &c, &eb), &eb);
    return c;
}

static void parse_fails(const char *yaml, const char *want) {
    mdl_config *c = NULL;
    err_buf eb = {0};
    int rc = mdl_config_parse(yaml, strlen(yaml), "/m", &c, &eb);
    if (rc != BASE_EFORMAT) test_fail(__FILE__, __LINE__, "expected EFORMAT for:\n%s\n got %d", yaml, rc);
    ASSERT_NULL(c);
    ASSERT_CONTAINS(eb.msg, want);
}

TEST(models_config_full) {
    const char *yaml = "name: tiny\n"
                       "backend: llama-cpp\n"
                       "context_size: 1024\n"
                       "threads: 3\n"
                       "f16: true\n"
                       "mmap: false\n"
                       "stopwords:\n  - \"<|im_end|>\"\n  - \"\\n\\n\"\n"
                       "description: ignored\n"
                       "parameters:\n"
                       "  model: tiny.gguf\n"
                       "  temperature: 0.2\n"
                       "  top_p: 0.9\n"
                       "  top_k: 20\n"
                       "  min_p: 0.1\n"
                       "  max_tokens: 77\n"
                       "  repeat_penalty: 1.1\n"
                       "  seed: 42\n"
                       "template:\n  chat: '{{.Input}}'\n  use_tokenizer_template: true\n";
    mdl_config *c = parse_ok(yaml, "/models");
    ASSERT_EQ_STR(c->name, "tiny");
    ASSERT_EQ_STR(c->backend, "llama-cpp");
    ASSERT_EQ_STR(c->model_path, "/models/tiny.gguf");
    ASSERT_EQ_INT(c->context_size, 1024);
    ASSERT_EQ_INT(c->threads, 3);
    ASSERT_TRUE(c->f16);
    ASSERT_FALSE(c->mmap);
    ASSERT_EQ_INT(c->n_stopwords, 2);
    ASSERT_EQ_STR(c->stopwords[0], "<|im_end|>");
    ASSERT_EQ_STR(c->stopwords[1], "\n\n");
    ASSERT_NULL(c->template_text); /* LocalAI's Go-template mapping: the GGUF's is used */
    const mdl_sampling *s = &c->sampling;
    ASSERT_TRUE(s->has_temperature && s->has_top_p && s->has_top_k && s->has_min_p &&
                s->has_max_tokens && s->has_repeat_penalty && s->has_seed);
    ASSERT_NEAR(s->temperature, 0.2, 1e-6);
    ASSERT_NEAR(s->top_p, 0.9, 1e-6);
    ASSERT_EQ_INT(s->top_k, 20);
    ASSERT_NEAR(s->min_p, 0.1, 1e-6);
    ASSERT_EQ_INT(s->max_tokens, 77);
    ASSERT_NEAR(s->repeat_penalty, 1.1, 1e-6);
    ASSERT_EQ_INT(s->seed, 42);
    mdl_config_free(c);
}

TEST(models_config_defaults_and_forms) {
    mdl_config *c = parse_ok("parameters:\n  model: /abs/x.gguf\n  seed: -1\nstopwords: END\n", "/m");
    ASSERT_NULL(c->name); /* the registry names it after the file */
    ASSERT_EQ_STR(c->backend, "");
    ASSERT_EQ_STR(c->model_path, "/abs/x.gguf");
    ASSERT_TRUE(c->mmap);
    ASSERT_FALSE(c->sampling.has_seed); /* -1: random, as in LocalAI */
    ASSERT_FALSE(c->sampling.has_temperature);
    ASSERT_EQ_INT(c->n_stopwords, 1);
    ASSERT_EQ_STR(c->stopwords[0], "END");
    mdl_config_free(c);
    /* An inline Jinja template. */
    c = parse_ok("name: a\ntemplate: \"{{ messages[0]['content'] }}\"\n", "/m");
    ASSERT_EQ_STR(c->template_text, "{{ messages[0]['content'] }}");
    mdl_config_free(c);
}

TEST(models_config_template_file) {
    const char *dir = test_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/chat.tmpl", dir);
    FILE *f = fopen(path, "w");
    ASSERT_NOT_NULL(f);
    fputs("{{ 'T:' + messages[0]['content'] }}", f);
    fclose(f);
    mdl_config *c = parse_ok("name: a\ntemplate: chat\n", dir);
    ASSERT_EQ_STR(c->template_text, "{{ 'T:' + messages[0]['content'] }}");
    mdl_config_free(c);
}

TEST(models_config_errors) {
    parse_fails("name: [unclosed\n", "YAML error");
    parse_fails("- a\n- b\n", "must be a YAML mapping");
    parse_fails("name: [a, b]\n", "'name' must be a scalar");
    parse_fails("name: \"\"\n", "'name' is empty");
    parse_fails("context_size: big\n", "'context_size'");
    parse_fails("context_size: -5\n", "'context_size'");
    parse_fails("threads: 1.5\n", "'threads'");
    parse_fails("f16: maybe\n", "'f16': 'maybe' is not a boolean");
    parse_fails("parameters: 3\n", "'parameters' must be a mapping");
    parse_fails("parameters:\n  temperature: hot\n", "'parameters.temperature'");
    parse_fails("parameters:\n  temperature: 7\n", "outside 0..2");
    parse_fails("parameters:\n  top_p: 1.5\n", "'parameters.top_p'");
    parse_fails("parameters:\n  top_k: -1\n", "'parameters.top_k'");
    parse_fails("parameters:\n  model: [a]\n", "'parameters.model' must be a scalar");
    parse_fails("stopwords: {a: b}\n", "'stopwords' must be a list");
    parse_fails("stopwords: [a, [b]]\n", "'stopwords' must be a scalar");
}

/* A models directory with a YAML config, a bare GGUF, and a config whose file is missing. */
static const char *make_dir(void) {
    const char *dir = test_tmpdir();
    char path[512], yaml[8192], stories[4096], llama[4096];
    /* test_shared_file gives a relative path in a static buffer: make each absolute. */
    ASSERT_NOT_NULL(realpath(test_shared_file("testdata/llm/stories260K.gguf"), stories));
    ASSERT_NOT_NULL(realpath(test_shared_file("golden/models/llama-F32.gguf"), llama));
    snprintf(path, sizeof path, "%s/bare.gguf", dir);
    ASSERT_EQ_INT(symlink(llama, path), 0);
    snprintf(path, sizeof path, "%s/stories.yaml", dir);
    FILE *f = fopen(path, "w");
    snprintf(yaml, sizeof yaml, "name: stories\nparameters:\n  model: %s\n  temperature: 0\n", stories);
    fputs(yaml, f);
    fclose(f);
    snprintf(path, sizeof path, "%s/broken.yml", dir);
    f = fopen(path, "w");
    fputs("parameters:\n  model: missing.gguf\n", f);
    fclose(f);
    /* A GGUF of the directory that a config names is served under the config's name only. */
    snprintf(path, sizeof path, "%s/claimed.gguf", dir);
    ASSERT_EQ_INT(symlink(llama, path), 0);
    snprintf(path, sizeof path, "%s/claimer.yaml", dir);
    f = fopen(path, "w");
    fputs("parameters:\n  model: claimed.gguf\n", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/bad.yaml", dir);
    f = fopen(path, "w");
    fputs("name: [\n", f);
    fclose(f);
    return dir;
}

static atomic_int loads, unloads; /* on_load may run on several threads at once */
static int count_load(void *ud, mdl_handle *h, void **attach, err_buf *eb) {
    loads++;
    *attach = &loads;
    return 0;
}
static void count_unload(void *ud, void *attach) { unloads++; }

TEST(models_registry_lists_and_loads_lazily) {
    mdl_registry_params p = mdl_registry_default_params();
    p.models_path = make_dir();
    p.on_load = count_load;
    p.on_unload = count_unload;
    mdl_registry *r;
    err_buf eb = {0};
    ASSERT_OK(mdl_registry_open(&p, &r, &eb), &eb);
    char **names;
    int n;
    ASSERT_OK(mdl_registry_list(r, &names, &n, &eb), &eb);
    /* bad.yaml is skipped with a warning; the built-in speech models are always there. */
    ASSERT_EQ_INT(n, 9);
    ASSERT_EQ_STR(names[0], "bare.gguf");
    ASSERT_EQ_STR(names[1], "broken");
    ASSERT_EQ_STR(names[2], "claimer");
    ASSERT_EQ_STR(names[3], "stories"); /* the built-ins come after the directory's models */
    ASSERT_EQ_STR(names[4], "espeak");
    ASSERT_EQ_STR(names[5], "pocketsphinx");
    ASSERT_EQ_STR(names[8], "whisper-1");
    mdl_names_free(names, n);
    ASSERT_EQ_INT(mdl_registry_n_loaded(r), 0);
    ASSERT_TRUE(mdl_registry_has(r, "bare")); /* without the extension too */
    ASSERT_FALSE(mdl_registry_has(r, "nope"));

    mdl_handle *h, *h2;
    ASSERT_OK(mdl_acquire(r, "stories", &h, &eb), &eb);
    ASSERT_EQ_INT(loads, 1);
    ASSERT_NOT_NULL(mdl_handle_model(h));
    ASSERT_NOT_NULL(mdl_handle_tok(h));
    ASSERT_NOT_NULL(mdl_handle_tmpl(h)); /* stories260K has none: ChatML */
    ASSERT_TRUE(mdl_handle_attach(h) == &loads);
    ASSERT_TRUE(mdl_handle_config(h)->sampling.has_temperature);
    ASSERT_OK(mdl_acquire(r, "stories", &h2, &eb), &eb);
    ASSERT_TRUE(h == h2);
    ASSERT_EQ_INT(loads, 1); /* loaded once */
    mdl_release(h2);
    mdl_release(h);

    ASSERT_EQ_INT(mdl_acquire(r, "nope", &h, &eb), BASE_ENOTFOUND);
    ASSERT_CONTAINS(eb.msg, "not found");
    /* A model that cannot load is an error, every time, and not loaded. */
    for (int i = 0; i < 2; i++) {
        eb = (err_buf){0};
        int rc = mdl_acquire(r, "broken", &h, &eb);
        ASSERT_TRUE(rc < 0);
        ASSERT_NULL(h);
        ASSERT_CONTAINS(eb.msg, "missing.gguf");
    }
    ASSERT_EQ_INT(mdl_registry_n_loaded(r), 1);
    mdl_registry_free(r);
    ASSERT_EQ_INT(unloads, 1);
}

TEST(models_registry_lru_unloads_idle_only) {
    mdl_registry_params p = mdl_registry_default_params();
    p.models_path = make_dir();
    p.max_active = 1;
    p.on_load = count_load;
    p.on_unload = count_unload;
    mdl_registry *r;
    err_buf eb = {0};
    ASSERT_OK(mdl_registry_open(&p, &r, &eb), &eb);
    mdl_handle *a, *b;
    ASSERT_OK(mdl_acquire(r, "stories", &a, &eb), &eb);
    mdl_release(a);
    /* stories is idle: loading bare unloads it first. */
    ASSERT_OK(mdl_acquire(r, "bare", &b, &eb), &eb);
    ASSERT_EQ_INT(loads, 2);
    ASSERT_EQ_INT(unloads, 1);
    ASSERT_EQ_INT(mdl_registry_n_loaded(r), 1);
    /* bare is in use: loading stories again goes over the limit rather than unload it. */
    ASSERT_OK(mdl_acquire(r, "stories", &a, &eb), &eb);
    ASSERT_EQ_INT(loads, 3);
    ASSERT_EQ_INT(unloads, 1);
    ASSERT_EQ_INT(mdl_registry_n_loaded(r), 2);
    ASSERT_NOT_NULL(mdl_handle_model(b)); /* still there while held */
    mdl_release(a);
    mdl_release(b);
    mdl_registry_free(r);
}

/* Fail allocation N, N+1, ... until parsing succeeds: each failure is a clean error. */
TEST(models_config_oom_loop) {
    const char *yaml = "name: t\nstopwords: [a, b]\nparameters:\n  model: t.gguf\n  top_k: 3\n";
    for (long n = 0;; n++) {
        mem_fail_after(n);
        mdl_config *c = NULL;
        err_buf eb = {0};
        int rc = mdl_config_parse(yaml, strlen(yaml), "/m", &c, &eb);
        long used = mem_alloc_count();
        mem_fail_after(-1);
        if (rc == 0) {
            ASSERT_EQ_STR(c->stopwords[1], "b");
            mdl_config_free(c);
            break;
        }
        ASSERT_EQ_INT(rc, BASE_ENOMEM);
        ASSERT_NULL(c);
        ASSERT_TRUE(n < used + 1);
        ASSERT_TRUE(n < 100);
    }
}

static void *acquire_release(void *arg) {
    mdl_registry *r = arg;
    for (int i = 0; i < 20; i++) {
        mdl_handle *h;
        err_buf eb = {0};
        if (mdl_acquire(r, i % 2 ? "stories" : "bare", &h, &eb)) return (void *)1;
        mdl_release(h);
    }
    return NULL;
}

TEST(models_registry_concurrent_acquire) {
    mdl_registry_params p = mdl_registry_default_params();
    p.models_path = make_dir();
    p.max_active = 1; /* the two models keep pushing each other out */
    p.on_load = count_load;
    p.on_unload = count_unload;
    mdl_registry *r;
    err_buf eb = {0};
    ASSERT_OK(mdl_registry_open(&p, &r, &eb), &eb);
    pthread_t th[4];
    for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, acquire_release, r);
    for (int i = 0; i < 4; i++) {
        void *rv;
        pthread_join(th[i], &rv);
        ASSERT_NULL(rv);
    }
    /* Every load was matched by an unload or is still loaded: nothing loaded twice. */
    ASSERT_EQ_INT(loads - unloads, mdl_registry_n_loaded(r));
    mdl_registry_free(r);
    ASSERT_EQ_INT(loads, unloads);
}

/* "template: NAME" picks a built-in chat template (chat/chat.h) for a model without one. */
TEST(models_config_builtin_template_by_name) {
    const char *dir = test_tmpdir();
    char path[512], yaml[8192], stories[4096];
    ASSERT_NOT_NULL(realpath(test_shared_file("testdata/llm/stories260K.gguf"), stories));
    snprintf(path, sizeof path, "%s/l3.yaml", dir);
    FILE *f = fopen(path, "w");
    ASSERT_NOT_NULL(f);
    snprintf(yaml, sizeof yaml, "name: l3\nparameters:\n  model: %s\ntemplate: llama3\n", stories);
    fputs(yaml, f);
    fclose(f);
    mdl_registry_params p = mdl_registry_default_params();
    p.models_path = dir;
    mdl_registry *r;
    err_buf eb = {0};
    ASSERT_OK(mdl_registry_open(&p, &r, &eb), &eb);
    mdl_handle *h;
    ASSERT_OK(mdl_acquire(r, "l3", &h, &eb), &eb);
    json_t *msgs = json_loads("[{\"role\":\"user\",\"content\":\"Hi\"}]", 0, NULL);
    buf out = {0};
    ASSERT_OK(tmpl_render_chat(mdl_handle_tmpl(h), msgs, NULL, true, "<s>", "</s>", NULL, &out, &eb), &eb);
    ASSERT_CONTAINS(out.data, "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>");
    ASSERT_CONTAINS(out.data, "<|start_header_id|>assistant<|end_header_id|>\n\n");
    buf_free(&out);
    json_decref(msgs);
    mdl_release(h);
    mdl_registry_free(r);
}

TEST(models_config_embeddings_and_reasoning) {
    mdl_config *c = parse_ok("name: a\n", "/m");
    ASSERT_EQ_INT(c->pooling, LLM_POOL_DEFAULT);
    ASSERT_FALSE(c->no_embeddings);
    ASSERT_NULL(c->reasoning_format);
    ASSERT_NULL(c->reasoning_start);
    mdl_config_free(c);
    c = parse_ok("name: a\nembeddings: false\npooling: last\n"
                 "reasoning:\n  format: none\n  start: \"<reason>\"\n  end: \"</reason>\"\n", "/m");
    ASSERT_TRUE(c->no_embeddings);
    ASSERT_EQ_INT(c->pooling, LLM_POOL_LAST);
    ASSERT_EQ_STR(c->reasoning_format, "none");
    ASSERT_EQ_STR(c->reasoning_start, "<reason>");
    ASSERT_EQ_STR(c->reasoning_end, "</reason>");
    mdl_config_free(c);
    c = parse_ok("name: a\nembeddings: true\npooling: CLS\nreasoning_format: deepseek\ntruncate: yes\n", "/m");
    ASSERT_FALSE(c->no_embeddings);
    ASSERT_TRUE(c->truncate);
    ASSERT_EQ_INT(c->pooling, LLM_POOL_CLS);
    ASSERT_EQ_STR(c->reasoning_format, "deepseek");
    mdl_config_free(c);
    c = parse_ok("name: a\npooling: mean\nreasoning:\n  disable: true\n", "/m");
    ASSERT_EQ_INT(c->pooling, LLM_POOL_MEAN);
    ASSERT_EQ_STR(c->reasoning_format, "none");
    mdl_config_free(c);
    parse_fails("truncate: maybe\n", "'truncate'");
    parse_fails("pooling: max\n", "'pooling': 'max' is not mean, cls or last");
    parse_fails("embeddings: sometimes\n", "'embeddings'");
    parse_fails("reasoning: none\n", "'reasoning' must be a mapping");
    parse_fails("reasoning:\n  format: loud\n", "'reasoning.format': 'loud'");
    parse_fails("reasoning_format: x\n", "'reasoning_format': 'x'");
    parse_fails("reasoning:\n  start: \"<r>\"\n", "start and end");
    parse_fails("reasoning:\n  start: \"\"\n  end: \"</r>\"\n", "start and end");
}

/* --max-memory: idle models are unloaded (least recently used first) so the files loaded fit
 * the budget; busy ones are not, and then the new model is refused (EBUSY) rather than
 * going over; a model larger than the whole budget is refused outright. */
TEST(models_registry_max_memory) {
    struct stat st1, st2;
    ASSERT_EQ_INT(stat(test_shared_file("testdata/llm/stories260K.gguf"), &st1), 0);
    ASSERT_EQ_INT(stat(test_shared_file("golden/models/llama-F32.gguf"), &st2), 0);
    mdl_registry_params p = mdl_registry_default_params();
    p.models_path = make_dir();
    p.max_memory = (uint64_t)st1.st_size + (uint64_t)st2.st_size - 1; /* not both at once */
    p.on_load = count_load;
    p.on_unload = count_unload;
    mdl_registry *r;
    err_buf eb = {0};
    ASSERT_OK(mdl_registry_open(&p, &r, &eb), &eb);
    mdl_handle *a, *b;
    ASSERT_OK(mdl_acquire(r, "stories", &a, &eb), &eb);
    mdl_release(a);
    ASSERT_OK(mdl_acquire(r, "bare", &b, &eb), &eb); /* stories is idle: unloaded */
    ASSERT_EQ_INT(unloads, 1);
    ASSERT_EQ_INT(mdl_registry_n_loaded(r), 1);
    eb = (err_buf){0};
    ASSERT_EQ_INT(mdl_acquire(r, "stories", &a, &eb), BASE_EBUSY); /* bare is in use */
    ASSERT_NULL(a);
    ASSERT_CONTAINS(eb.msg, "--max-memory");
    ASSERT_EQ_INT(mdl_registry_n_loaded(r), 1);
    mdl_release(b);
    ASSERT_OK(mdl_acquire(r, "stories", &a, &eb), &eb); /* now bare can go */
    ASSERT_EQ_INT(unloads, 2);
    ASSERT_EQ_INT(mdl_registry_n_loaded(r), 1);
    mdl_release(a);
    mdl_registry_free(r);

    /* A budget below one model's size. */
    unloads = loads = 0;
    p.models_path = test_tmpdir();
    p.max_memory = (uint64_t)st1.st_size / 2;
    ASSERT_OK(mdl_registry_open(&p, &r, &eb), &eb);
    eb = (err_buf){0};
    ASSERT_EQ_INT(mdl_acquire(r, "stories", &a, &eb), BASE_ENOMEM);
    ASSERT_CONTAINS(eb.msg, "more than --max-memory");
    ASSERT_EQ_INT(loads, 0);
    mdl_registry_free(r);
}

TEST(models_registry_speech_models) {
    /* whisper.cpp ggml files are models of backend whisper; a Silero VAD file (same magic) is
     * not; a YAML config may name a speech backend without a model file. */
    const char *dir = test_tmpdir();
    char src[4096], dst[4200];
    if (!realpath(test_shared_file("testdata/whisper/for-tests-ggml-tiny.en.bin"), src)) TEST_SKIP("no ggml file");
    snprintf(dst, sizeof dst, "%s/ggml-tiny.en.bin", dir);
    ASSERT_EQ_INT(symlink(src, dst), 0);
    if (!realpath(test_shared_file("testdata/whisper/for-tests-silero-v6.2.0-ggml.bin"), src)) TEST_SKIP("no vad file");
    snprintf(dst, sizeof dst, "%s/silero.bin", dir);
    ASSERT_EQ_INT(symlink(src, dst), 0);
    snprintf(dst, sizeof dst, "%s/voice.yaml", dir);
    FILE *f = fopen(dst, "w");
    fputs("name: narrator\nbackend: espeak\n", f);
    fclose(f);
    /* A config naming a whisper file claims it: the file is then served under the config's
     * name only. */
    snprintf(dst, sizeof dst, "%s/ears.yaml", dir);
    f = fopen(dst, "w");
    fputs("name: ears\nbackend: whisper\nparameters:\n  model: ggml-tiny.en.bin\n", f);
    fclose(f);
    mdl_registry_params p = mdl_registry_default_params();
    p.models_path = dir;
    mdl_registry *r;
    err_buf eb = {0};
    ASSERT_OK(mdl_registry_open(&p, &r, &eb), &eb);
    ASSERT_TRUE(mdl_registry_has(r, "ears"));
    ASSERT_FALSE(mdl_registry_has(r, "ggml-tiny.en.bin"));
    ASSERT_FALSE(mdl_registry_has(r, "silero.bin"));
    char name[64];
    ASSERT_OK(mdl_registry_find_backend(r, "whisper", name, sizeof name), &eb);
    ASSERT_EQ_STR(name, "ears");
    ASSERT_EQ_INT(mdl_registry_find_backend(r, "espeak", name, sizeof name), BASE_ENOTFOUND);
    mdl_handle *h;
    ASSERT_OK(mdl_acquire(r, "narrator", &h, &eb), &eb);
    ASSERT_EQ_STR(mdl_handle_config(h)->backend, "espeak");
    ASSERT_NULL(mdl_handle_model(h)); /* nothing loaded for a speech model */
    mdl_release(h);
    ASSERT_TRUE(mdl_backend_is_speech("sphinx"));
    ASSERT_FALSE(mdl_backend_is_speech(""));
    mdl_registry_free(r);
}
