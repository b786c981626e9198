/* End to end: GET /api/models (state, memory, context, config), loading and unloading on
 * request, and a model whose config is deleted while a request is generating with it: the
 * request finishes, the model leaves the listings at once, and it is unloaded afterwards
 * (from the scheduler's own thread's release, which must not deadlock). */
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

#include "api_util.h"
#include "models/models.h"

static json_t *find_id(json_t *data, const char *id) {
    size_t i;
    json_t *v;
    json_array_foreach(data, i, v) if (!strcmp(api_jstr(v, "id"), id)) return v;
    return NULL;
}

/* Models in a listing other than the built-in speech models every listing carries. */
static int n_file_models(json_t *data) {
    int n = 0;
    size_t i;
    json_t *v;
    json_array_foreach(data, i, v) n += !mdl_name_is_builtin(api_jstr(v, "id"));
    return n;
}

TEST(models_state_load_unload_config) {
    api_server s;
    api_server_start(&s, NULL);
    api_resp r;
    api_http(&s, "GET", "/api/models", NULL, NULL, &r);
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_INT(n_file_models(api_jget(r.json, "data")), 2);
    json_t *m = find_id(api_jget(r.json, "data"), "tiny");
    ASSERT_NOT_NULL(m);
    ASSERT_EQ_STR(api_jstr(m, "state"), "unloaded");
    ASSERT_TRUE(json_is_null(api_jget(m, "memory_bytes")));
    ASSERT_TRUE(api_jint(m, "file_bytes") > 0);
    ASSERT_EQ_STR(api_jstr(m, "config_file"), "tiny.yaml");
    m = find_id(api_jget(r.json, "data"), "stories260K.gguf");
    ASSERT_TRUE(json_is_null(api_jget(m, "config_file")));
    api_resp_free(&r);

    api_http(&s, "POST", "/api/models/tiny/load", NULL, NULL, &r);
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_STR(api_jstr(r.json, "state"), "loaded");
    ASSERT_TRUE(api_jint(r.json, "memory_bytes") > 0);
    ASSERT_TRUE(api_jint(r.json, "context_size") > 0);
    /* stories260K: 5 layers, 4 KV heads of 8: 2 * 2 bytes * 5 * 4 * 8 per position. */
    ASSERT_EQ_INT(api_jint(r.json, "kv_cache_bytes"), api_jint(r.json, "context_size") * 640);
    ASSERT_EQ_STR(api_jstr(r.json, "architecture"), "llama");
    api_resp_free(&r);
    api_http(&s, "GET", "/api/models/tiny", NULL, NULL, &r);
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_CONTAINS(api_jstr(r.json, "config_yaml"), "name: tiny");
    api_resp_free(&r);
    /* A bare GGUF by its name without .gguf, too. */
    api_http(&s, "POST", "/api/models/stories260K/load", NULL, NULL, &r);
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_STR(api_jstr(r.json, "id"), "stories260K.gguf");
    api_resp_free(&r);

    api_http(&s, "POST", "/api/models/tiny/unload", NULL, NULL, &r);
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_STR(api_jstr(r.json, "state"), "unloaded");
    api_resp_free(&r);
    api_http(&s, "POST", "/api/models/nope/load", NULL, NULL, &r);
    ASSERT_EQ_INT(r.status, 404);
    ASSERT_CONTAINS(api_jstr(r.json, "error.message"), "The model 'nope' does not exist");
    api_resp_free(&r);
    api_http(&s, "POST", "/api/models/nope/unload", NULL, NULL, &r);
    ASSERT_EQ_INT(r.status, 404);
    api_resp_free(&r);
    api_http(&s, "POST", "/api/models/tiny/frob", NULL, NULL, &r);
    ASSERT_EQ_INT(r.status, 404);
    api_resp_free(&r);
    api_http(&s, "GET", "/api/models/nope", NULL, NULL, &r);
    ASSERT_EQ_INT(r.status, 404);
    api_resp_free(&r);
    api_server_stop(&s);
}

typedef struct gen_arg {
    api_server *s;
    long status;
    long long tokens;
} gen_arg;

static void *long_generation(void *arg) {
    gen_arg *g = arg;
    api_resp r;
    /* EOS (id 2) banned: it runs to max_tokens. */
    api_http(
        g->s, "POST", "/v1/completions",
        "{\"model\":\"tiny\",\"prompt\":\"Once\",\"max_tokens\":1500,\"logit_bias\":{\"2\":-100}}",
        NULL, &r);
    g->status = r.status;
    g->tokens = r.status == 200 ? api_jint(r.json, "usage.completion_tokens") : -1;
    api_resp_free(&r);
    return NULL;
}

TEST(models_state_deleted_while_generating) {
    api_server s;
    const char *extra[] = {"--context-size", "2048", NULL};
    api_server_start(&s, extra);
    gen_arg g = {&s, 0, 0};
    pthread_t th;
    pthread_create(&th, NULL, long_generation, &g);
    api_resp r;
    bool busy = false;
    for (int i = 0; i < 400 && !busy; i++) {
        api_http(&s, "GET", "/api/models", NULL, NULL, &r);
        json_t *m = find_id(api_jget(r.json, "data"), "tiny");
        busy = m && api_jint(m, "in_use") > 0 && !strcmp(api_jstr(m, "state"), "loaded");
        api_resp_free(&r);
        if (!busy) usleep(5000);
    }
    ASSERT_TRUE(busy);
    api_http(&s, "POST", "/api/models/tiny/unload", NULL, NULL, &r);
    ASSERT_EQ_INT(r.status, 409);
    ASSERT_CONTAINS(api_jstr(r.json, "error.message"), "in use");
    api_resp_free(&r);

    char path[1024];
    snprintf(path, sizeof path, "%s/tiny.yaml", test_tmpdir());
    ASSERT_EQ_INT(unlink(path), 0);
    api_http(&s, "GET", "/v1/models", NULL, NULL, &r);
    ASSERT_EQ_INT(n_file_models(api_jget(r.json, "data")), 1);
    ASSERT_NOT_NULL(find_id(api_jget(r.json, "data"), "stories260K.gguf"));
    api_resp_free(&r);

    pthread_join(th, NULL);
    ASSERT_EQ_INT(g.status, 200);
    ASSERT_EQ_INT(g.tokens, 1500);
    char line[1024];
    ASSERT_EQ_INT(test_wait_line(s.fd, "models: unloading tiny", 10000, line, sizeof line), 0);
    /* The server goes on serving. */
    api_http(&s, "POST", "/v1/completions",
             "{\"model\":\"stories260K\",\"prompt\":\"Once\",\"max_tokens\":4}", NULL, &r);
    ASSERT_EQ_INT(r.status, 200);
    api_resp_free(&r);
    api_server_stop(&s);
}
