/*
 * End to end: POST /v1/embeddings (and /embeddings) with a decoder (stories260K): the vectors
 * equal the engine's pooled hidden states of the same tokens, pooling follows the model YAML,
 * batches equal singles, base64 decodes to the same floats, and `embeddings: false` refuses.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_util.h"
#include "engine/engine.h"
#include "tokenizer/tokenizer.h"

static void write_yaml(const char *name, const char *extra) {
    char stories[PATH_MAX], path[PATH_MAX + 64];
    if (!realpath(test_shared_file("testdata/llm/stories260K.gguf"), stories))
        test_fail(__FILE__, __LINE__, "cannot resolve stories260K.gguf");
    snprintf(path, sizeof path, "%s/%s.yaml", test_tmpdir(), name);
    FILE *f = fopen(path, "w");
    ASSERT_NOT_NULL(f);
    fprintf(f, "name: %s\nparameters:\n  model: %s\n%s", name, stories, extra);
    fclose(f);
}

static void post(api_server *s, const char *path, const char *body, long status, api_resp *r) {
    api_http(s, "POST", path, body, NULL, r);
    if (r->status != status)
        test_fail(__FILE__, __LINE__, "POST %s %s: status %ld, wanted %ld: %s", path, body,
                  r->status, status, r->body.data ? r->body.data : "");
    ASSERT_NOT_NULL(r->json);
}

/* The engine's vector for text (tokenized with BOS, as the server does). */
static float *engine_vec(const char *text, int pooling, int *E) {
    err_buf eb = {0};
    llm_model *m;
    ASSERT_OK(llm_model_load(test_shared_file("testdata/llm/stories260K.gguf"), &m, &eb), &eb);
    tok *t;
    ASSERT_OK(tok_load(llm_model_gguf(m), &t, &eb), &eb);
    int32_t *ids;
    size_t n;
    ASSERT_OK(tok_encode(t, text, strlen(text), true, false, &ids, &n, &eb), &eb);
    *E = llm_model_hparams(m)->n_embd;
    float *v = malloc((size_t)*E * sizeof *v);
    int len = (int)n;
    ASSERT_OK(llm_embed(m, NULL, (const int32_t *const *)&ids, &len, 1, pooling, true, v, &eb), &eb);
    mem_free(ids);
    tok_free(t);
    llm_model_free(m);
    return v;
}

static int b64val(char c) {
    const char *a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *p = strchr(a, c);
    return p && c ? (int)(p - a) : -1;
}

/* Decode base64 little-endian float32s; returns the count. */
static int b64_floats(const char *s, float *out, int cap) {
    unsigned char bytes[4096];
    size_t nb = 0, len = strlen(s);
    for (size_t i = 0; i + 3 < len + 0 && nb + 3 <= sizeof bytes; i += 4) {
        int v[4];
        for (int k = 0; k < 4; k++) v[k] = s[i + k] == '=' ? 0 : b64val(s[i + k]);
        for (int k = 0; k < 4; k++) ASSERT_TRUE(v[k] >= 0);
        uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        bytes[nb++] = (unsigned char)(w >> 16);
        if (s[i + 2] != '=') bytes[nb++] = (unsigned char)(w >> 8);
        if (s[i + 3] != '=') bytes[nb++] = (unsigned char)w;
    }
    int n = (int)(nb / 4);
    ASSERT_TRUE(n <= cap);
    for (int i = 0; i < n; i++) {
        uint32_t u = (uint32_t)bytes[4 * i] | (uint32_t)bytes[4 * i + 1] << 8 |
                     (uint32_t)bytes[4 * i + 2] << 16 | (uint32_t)bytes[4 * i + 3] << 24;
        memcpy(&out[i], &u, 4);
    }
    return n;
}

static void check_vec(json_t *arr, const float *want, int E) {
    ASSERT_EQ_INT(json_array_size(arr), E);
    double norm = 0;
    for (int d = 0; d < E; d++) {
        double x = json_number_value(json_array_get(arr, d));
        ASSERT_NEAR(x, want[d], 1e-5);
        norm += x * x;
    }
    ASSERT_NEAR(norm, 1.0, 1e-4);
}

TEST(dec_embed_api) {
    write_yaml("tiny-last", "pooling: last\n");
    write_yaml("tiny-off", "embeddings: false\n");
    api_server s;
    api_server_start(&s, NULL);
    int E;
    const char *a = "Once upon a time", *b = "the little dog ran home";
    float *mean_a = engine_vec(a, LLM_POOL_MEAN, &E), *mean_b = engine_vec(b, LLM_POOL_MEAN, &E);
    float *last_a = engine_vec(a, LLM_POOL_LAST, &E);
    ASSERT_EQ_INT(E, 64);

    api_resp r;
    /* A batch: each vector the engine's (mean by default); the same text twice is identical. */
    post(&s, "/v1/embeddings",
         "{\"model\":\"tiny\",\"input\":[\"Once upon a time\",\"the little dog ran home\",\"Once upon a time\"]}",
         200, &r);
    json_t *data = api_jget(r.json, "data");
    ASSERT_EQ_INT(json_array_size(data), 3);
    check_vec(api_jget(r.json, "data.0.embedding"), mean_a, E);
    check_vec(api_jget(r.json, "data.1.embedding"), mean_b, E);
    ASSERT_TRUE(json_equal(api_jget(r.json, "data.0.embedding"), api_jget(r.json, "data.2.embedding")));
    ASSERT_EQ_INT(api_jint(r.json, "data.2.index"), 2);
    ASSERT_EQ_STR(api_jstr(r.json, "object"), "list");
    ASSERT_TRUE(api_jint(r.json, "usage.prompt_tokens") > 6);
    json_t *batch_b = json_deep_copy(api_jget(r.json, "data.1.embedding"));
    api_resp_free(&r);
    /* The same text alone (without /v1): the same vector as in the batch. */
    post(&s, "/embeddings", "{\"model\":\"stories260K\",\"input\":\"the little dog ran home\"}", 200, &r);
    json_t *single = api_jget(r.json, "data.0.embedding");
    for (int d = 0; d < E; d++)
        ASSERT_NEAR(json_number_value(json_array_get(single, d)),
                    json_number_value(json_array_get(batch_b, d)), 1e-6);
    json_decref(batch_b);
    api_resp_free(&r);
    /* Pooling from the YAML. */
    post(&s, "/v1/embeddings", "{\"model\":\"tiny-last\",\"input\":\"Once upon a time\"}", 200, &r);
    check_vec(api_jget(r.json, "data.0.embedding"), last_a, E);
    api_resp_free(&r);
    /* base64: the same floats. */
    post(&s, "/v1/embeddings",
         "{\"model\":\"tiny\",\"input\":\"Once upon a time\",\"encoding_format\":\"base64\"}", 200, &r);
    float got[64];
    ASSERT_EQ_INT(b64_floats(api_jstr(r.json, "data.0.embedding"), got, 64), E);
    for (int d = 0; d < E; d++) ASSERT_NEAR(got[d], mean_a[d], 1e-5);
    api_resp_free(&r);
    /* Token ids (one list, and a list of lists) and dimensions (truncated, unit again). */
    post(&s, "/v1/embeddings", "{\"model\":\"tiny\",\"input\":[[1,400,300],[1,2]],\"dimensions\":16}", 200, &r);
    ASSERT_EQ_INT(json_array_size(api_jget(r.json, "data")), 2);
    double norm = 0;
    json_t *v16 = api_jget(r.json, "data.0.embedding");
    ASSERT_EQ_INT(json_array_size(v16), 16);
    for (int d = 0; d < 16; d++) norm += pow(json_number_value(json_array_get(v16, d)), 2);
    ASSERT_NEAR(norm, 1.0, 1e-4);
    ASSERT_EQ_INT(api_jint(r.json, "usage.prompt_tokens"), 5);
    api_resp_free(&r);
    post(&s, "/v1/embeddings", "{\"model\":\"tiny\",\"input\":[1,400,300]}", 200, &r);
    ASSERT_EQ_INT(json_array_size(api_jget(r.json, "data")), 1);
    api_resp_free(&r);
    /* Refused by config; empty input. */
    post(&s, "/v1/embeddings", "{\"model\":\"tiny-off\",\"input\":\"x\"}", 400, &r);
    ASSERT_CONTAINS(api_jstr(r.json, "error.message"), "embeddings: false");
    api_resp_free(&r);
    post(&s, "/v1/embeddings", "{\"model\":\"tiny\",\"input\":\"\"}", 400, &r);
    ASSERT_EQ_STR(api_jstr(r.json, "error.param"), "input");
    api_resp_free(&r);
    /* The model still chats after serving embeddings. */
    post(&s, "/v1/completions", "{\"model\":\"tiny\",\"prompt\":\"Once\",\"max_tokens\":4}", 200, &r);
    api_resp_free(&r);
    free(mean_a), free(mean_b), free(last_a);
    api_server_stop(&s);
}
