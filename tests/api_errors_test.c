/* End to end: errors in OpenAI's shape (unknown model, bad JSON, wrong types, missing
 * fields, context overflow, a model that cannot load), API keys, and CORS. */
#include "api_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

/* Assert an OpenAI error: status, type, param (NULL: null) and a word of the message. */
static void expect_error(api_resp *r, long status, const char *param, const char *msg) {
    if (r->status != status)
        test_fail(__FILE__, __LINE__, "status %ld, wanted %ld: %s", r->status, status, r->body.data);
    ASSERT_NOT_NULL(r->json);
    json_t *e = api_jget(r->json, "error");
    ASSERT_TRUE(json_is_object(e));
    ASSERT_EQ_STR(api_jstr(e, "type"), status >= 500 ? "server_error" : "invalid_request_error");
    if (param) ASSERT_EQ_STR(api_jstr(e, "param"), param);
    else ASSERT_TRUE(json_is_null(api_jget(e, "param")));
    ASSERT_TRUE(json_object_get(e, "code") != NULL);
    ASSERT_CONTAINS(api_jstr(e, "message"), msg);
}

TEST(api_errors_in_openai_shape) {
    api_server s;
    const char *extra[] = {"--context-size", "32", NULL};
    api_server_start(&s, extra);
    api_resp r;
    api_http(&s, "POST", "/v1/chat/completions",
             "{\"model\":\"gpt-4\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", NULL, &r);
    expect_error(&r, 404, "model", "'gpt-4' does not exist");
    ASSERT_EQ_STR(api_jstr(r.json, "error.code"), "model_not_found");
    api_resp_free(&r);
    api_http(&s, "POST", "/v1/completions", "{\"model\":\"gpt-4\",\"prompt\":\"x\"}", NULL, &r);
    expect_error(&r, 404, "model", "does not exist");
    api_resp_free(&r);
    api_http(&s, "POST", "/v1/chat/completions", "{\"model\": \"tiny\", \"messages\": [", NULL, &r);
    expect_error(&r, 400, NULL, "could not parse the JSON");
    api_resp_free(&r);
    api_http(&s, "POST", "/v1/chat/completions", "{\"model\":\"tiny\"}", NULL, &r);
    expect_error(&r, 400, "messages", "'messages' is required");
    api_resp_free(&r);
    api_http(&s, "POST", "/chat/completions",
             "{\"model\":\"tiny\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"temperature\":\"warm\"}",
             NULL, &r);
    expect_error(&r, 400, "temperature", "must be a number");
    api_resp_free(&r);
    api_http(&s, "POST", "/v1/completions", "{\"model\":\"tiny\",\"prompt\":\"x\",\"max_tokens\":\"5\"}", NULL, &r);
    expect_error(&r, 400, "max_tokens", "must be an integer");
    api_resp_free(&r);
    api_http(&s, "POST", "/v1/completions", "{\"model\":\"tiny\",\"prompt\":[1,100000]}", NULL, &r);
    expect_error(&r, 400, "prompt", "outside the vocabulary");
    api_resp_free(&r);
    api_http(&s, "POST", "/v1/completions", "{\"model\":\"tiny\",\"prompt\":\"x\",\"logit_bias\":{\"4000\":1}}", NULL, &r);
    expect_error(&r, 400, "logit_bias", "outside the vocabulary");
    api_resp_free(&r);
    /* 32 tokens of context: a long prompt does not fit. */
    api_http(&s, "POST", "/v1/completions",
             "{\"model\":\"tiny\",\"prompt\":\"Once upon a time there was a little girl named Lily who "
             "loved to play outside in the park with her big red ball every single day\"}", NULL, &r);
    expect_error(&r, 400, "prompt", "context");
    ASSERT_EQ_STR(api_jstr(r.json, "error.code"), "context_length_exceeded");
    api_resp_free(&r);
    /* A wrong method on a known path, and an unknown path. */
    api_http(&s, "GET", "/v1/chat/completions", NULL, NULL, &r);
    ASSERT_EQ_INT(r.status, 405);
    api_resp_free(&r);
    api_http(&s, "GET", "/v1/nothing", NULL, NULL, &r);
    ASSERT_EQ_INT(r.status, 404);
    api_resp_free(&r);

    /* A config added while running whose model file is missing: a clear 500, no crash. */
    char path[4096];
    snprintf(path, sizeof path, "%s/broken.yaml", test_tmpdir());
    FILE *f = fopen(path, "w");
    fputs("name: broken\nparameters:\n  model: nowhere.gguf\n", f);
    fclose(f);
    for (int i = 0; i < 2; i++) {
        api_http(&s, "POST", "/v1/completions", "{\"model\":\"broken\",\"prompt\":\"x\"}", NULL, &r);
        expect_error(&r, 500, "model", "could not be loaded");
        ASSERT_CONTAINS(api_jstr(r.json, "error.message"), "nowhere.gguf");
        api_resp_free(&r);
    }
    /* Still serving. */
    api_http(&s, "POST", "/v1/completions", "{\"model\":\"tiny\",\"prompt\":\"Once\",\"max_tokens\":2}", NULL, &r);
    ASSERT_EQ_INT(r.status, 200);
    api_resp_free(&r);
    api_server_stop(&s);
}

TEST(api_keys_required_when_set) {
    api_server s;
    const char *extra[] = {"--api-key", "k-one,k-two", NULL};
    api_server_start(&s, extra);
    api_resp r;
    api_http(&s, "GET", "/v1/models", NULL, NULL, &r);
    expect_error(&r, 401, NULL, "API key");
    ASSERT_EQ_STR(api_jstr(r.json, "error.code"), "invalid_api_key");
    ASSERT_CONTAINS(r.headers.data, "WWW-Authenticate: Bearer");
    api_resp_free(&r);
    const char *wrong[] = {"Authorization: Bearer k-three", NULL};
    api_http(&s, "GET", "/v1/models", NULL, wrong, &r);
    ASSERT_EQ_INT(r.status, 401);
    api_resp_free(&r);
    const char *prefix[] = {"Authorization: Bearer k-on", NULL};
    api_http(&s, "GET", "/v1/models", NULL, prefix, &r);
    ASSERT_EQ_INT(r.status, 401);
    api_resp_free(&r);
    const char *bearer[] = {"Authorization: Bearer k-two", NULL};
    api_http(&s, "GET", "/v1/models", NULL, bearer, &r);
    ASSERT_EQ_INT(r.status, 200);
    api_resp_free(&r);
    const char *xkey[] = {"x-api-key: k-one", NULL};
    api_http(&s, "POST", "/v1/completions", "{\"model\":\"tiny\",\"prompt\":\"Once\",\"max_tokens\":2}", xkey, &r);
    ASSERT_EQ_INT(r.status, 200);
    api_resp_free(&r);
    api_http(&s, "POST", "/v1/completions", "{\"model\":\"tiny\",\"prompt\":\"Once\"}", NULL, &r);
    ASSERT_EQ_INT(r.status, 401);
    api_resp_free(&r);
    /* Probes stay open. */
    api_http(&s, "GET", "/healthz", NULL, NULL, &r);
    ASSERT_EQ_INT(r.status, 200);
    api_resp_free(&r);
    api_http(&s, "GET", "/readyz", NULL, NULL, &r);
    ASSERT_EQ_INT(r.status, 200);
    api_resp_free(&r);
    api_server_stop(&s);
}

TEST(api_cors_headers_and_preflight) {
    api_server s;
    api_server_start(&s, NULL);
    api_resp r;
    const char *pre[] = {"Origin: http://example.com", "Access-Control-Request-Method: POST", NULL};
    api_http(&s, "OPTIONS", "/v1/chat/completions", NULL, pre, &r);
    ASSERT_EQ_INT(r.status, 204);
    ASSERT_CONTAINS(r.headers.data, "Access-Control-Allow-Origin: *");
    ASSERT_CONTAINS(r.headers.data, "Access-Control-Allow-Methods:");
    ASSERT_CONTAINS(r.headers.data, "Authorization");
    api_resp_free(&r);
    api_http(&s, "GET", "/v1/models", NULL, NULL, &r);
    ASSERT_CONTAINS(r.headers.data, "Access-Control-Allow-Origin: *");
    api_resp_free(&r);
    api_server_stop(&s);
}

/* --cors-origin: a given origin, or none at all. */
TEST(api_cors_configurable) {
    api_server s;
    const char *one[] = {"--cors-origin", "https://app.example", NULL};
    api_server_start(&s, one);
    api_resp r;
    api_http(&s, "GET", "/v1/models", NULL, NULL, &r);
    ASSERT_CONTAINS(r.headers.data, "Access-Control-Allow-Origin: https://app.example");
    api_resp_free(&r);
    api_server_stop(&s);
}

TEST(api_cors_off) {
    api_server s;
    api_resp r;
    const char *none[] = {"--cors-origin", "none", NULL};
    api_server_start(&s, none);
    api_http(&s, "GET", "/v1/models", NULL, NULL, &r);
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_TRUE(strstr(r.headers.data, "Access-Control-Allow-Origin") == NULL);
    api_resp_free(&r);
    api_server_stop(&s);
}

/* --max-memory below a model's size: a clear per-request error naming the budget, and the
 * server goes on serving. */
TEST(api_max_memory_refuses_clearly) {
    api_server s;
    const char *flags[] = {"--max-memory", "64K", NULL};
    api_server_start(&s, flags);
    api_resp r;
    api_http(&s, "POST", "/v1/completions", "{\"model\":\"tiny\",\"prompt\":\"a\",\"max_tokens\":1}", NULL, &r);
    ASSERT_EQ_INT(r.status, 500);
    ASSERT_EQ_STR(api_jstr(r.json, "error.code"), "model_load_failed");
    ASSERT_CONTAINS(api_jstr(r.json, "error.message"), "more than --max-memory (0.1 MiB)");
    api_resp_free(&r);
    api_http(&s, "GET", "/healthz", NULL, NULL, &r);
    ASSERT_EQ_INT(r.status, 200);
    api_resp_free(&r);
    api_server_stop(&s);
}

/* The request log: method, path, status, latency and, for generation, the tokens. */
TEST(api_request_log_has_tokens) {
    api_server s;
    api_server_start(&s, NULL);
    api_resp r;
    api_http(&s, "POST", "/v1/completions",
             "{\"model\":\"tiny\",\"prompt\":[1,400,300],\"max_tokens\":4,\"temperature\":0}", NULL, &r);
    ASSERT_EQ_INT(r.status, 200);
    long out = api_jint(r.json, "usage.completion_tokens");
    api_resp_free(&r);
    char line[1024], want[64];
    ASSERT_EQ_INT(test_wait_line(s.fd, "POST /v1/completions 200", 5000, line, sizeof line), 0);
    snprintf(want, sizeof want, " ms tokens 3 in, %ld out", out);
    ASSERT_CONTAINS(line, want);
    api_http(&s, "GET", "/v1/models", NULL, NULL, &r);
    api_resp_free(&r);
    ASSERT_EQ_INT(test_wait_line(s.fd, "GET /v1/models 200", 5000, line, sizeof line), 0);
    ASSERT_TRUE(strstr(line, "tokens") == NULL);
    ASSERT_CONTAINS(line, " ms");
    api_server_stop(&s);
}

/* JSON nested deeper than 128 levels is refused before parsing; 100 levels parse. */
TEST(api_json_nesting_limit) {
    api_server s;
    api_server_start(&s, NULL);
    for (int depth = 100; depth <= 200; depth += 100) {
        buf b = {0};
        buf_append_str(&b, "{\"model\":\"tiny\",\"prompt\":\"[[{\",\"user\":\"x\",\"x\":");
        for (int i = 0; i < depth; i++) buf_append_str(&b, "[");
        for (int i = 0; i < depth; i++) buf_append_str(&b, "]");
        buf_append_str(&b, ",\"max_tokens\":1}");
        api_resp r;
        api_http(&s, "POST", "/v1/completions", b.data, NULL, &r);
        if (depth == 100) {
            ASSERT_EQ_INT(r.status, 200); /* brackets inside strings do not count */
        } else {
            ASSERT_EQ_INT(r.status, 400);
            ASSERT_CONTAINS(api_jstr(r.json, "error.message"), "nested deeper than 128 levels");
        }
        api_resp_free(&r);
        buf_free(&b);
    }
    api_server_stop(&s);
}

TEST(api_run_flags_checked) {
    static const struct {
        const char *flag, *value, *msg;
    } cases[] = {
        {"--parallel", "0", "bad parallel count '0'"},
        {"--parallel", "65", "bad parallel count '65'"},
        {"--context-size", "big", "bad context size 'big'"},
        {"--max-active-models", "-1", "bad max active models '-1'"},
        {"--queue-size", "0", "bad queue size '0'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *argv[] = {(char *)test_bin_path(), "run", (char *)cases[i].flag,
                        (char *)cases[i].value, NULL};
        char *err;
        int st = test_run(argv, NULL, NULL, &err);
        ASSERT_EQ_INT(WEXITSTATUS(st), 2);
        ASSERT_CONTAINS(err, cases[i].msg);
        free(err);
    }
    /* The environment is read too. */
    char *argv[] = {(char *)test_bin_path(), "run", NULL};
    char *env[] = {"LOCALAI_PARALLEL=many", NULL};
    char *err;
    int st = test_run(argv, env, NULL, &err);
    ASSERT_EQ_INT(WEXITSTATUS(st), 2);
    ASSERT_CONTAINS(err, "bad parallel count 'many'");
    free(err);
    /* And --help documents them. */
    char *help[] = {(char *)test_bin_path(), "run", "--help", NULL};
    char *out;
    test_run(help, NULL, &out, NULL);
    ASSERT_CONTAINS(out, "--parallel N");
    ASSERT_CONTAINS(out, "LOCALAI_CONTEXT_SIZE");
    ASSERT_CONTAINS(out, "LOCALAI_MAX_ACTIVE_MODELS");
    free(out);
}
