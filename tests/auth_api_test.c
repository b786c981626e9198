/*
 * End to end: `local-ai run --database` in managed mode, on SQLite and PostgreSQL. Every
 * endpoint is tried without a key, with a wrong, a revoked and an expired key, and with a key
 * lacking the capability or the model; then the admin API, usage of every kind of request
 * (plain, streamed, failed, cancelled, embeddings) and the `keys` command.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auth_util.h"

#define CHAT                                                                                       \
    "{\"model\":\"tiny\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":4}"
#define COMP "{\"model\":\"tiny\",\"prompt\":\"Once\",\"max_tokens\":4}"
#define EMB "{\"model\":\"bert\",\"input\":\"hello world\"}"
#define SPEECH "{\"model\":\"tts-1\",\"input\":\"Hi.\",\"voice\":\"alloy\",\"response_format\":\"wav\"}"
#define RR "{\"model\":\"bert\",\"query\":\"cat\",\"documents\":[\"a cat\",\"a car\"]}"

static const struct endpoint {
    const char *method, *path, *body;
    unsigned cap;
} endpoints[] = {
    {"GET", "/v1/models", NULL, AUTH_CAP_MODELS},
    {"GET", "/models", NULL, AUTH_CAP_MODELS},
    {"GET", "/v1/models/tiny", NULL, AUTH_CAP_MODELS},
    {"GET", "/models/jobs", NULL, AUTH_CAP_MODELS},
    {"POST", "/v1/chat/completions", CHAT, AUTH_CAP_CHAT},
    {"POST", "/chat/completions", CHAT, AUTH_CAP_CHAT},
    {"POST", "/v1/completions", COMP, AUTH_CAP_COMPLETIONS},
    {"POST", "/completions", COMP, AUTH_CAP_COMPLETIONS},
    {"POST", "/v1/embeddings", EMB, AUTH_CAP_EMBEDDINGS},
    {"POST", "/embeddings", EMB, AUTH_CAP_EMBEDDINGS},
    {"POST", "/v1/rerank", RR, AUTH_CAP_RERANK},
    {"POST", "/rerank", RR, AUTH_CAP_RERANK},
    {"POST", "/v1/tokenize", "{\"model\":\"tiny\",\"content\":\"hi\"}", AUTH_CAP_MODELS},
    {"POST", "/v1/detokenize", "{\"model\":\"tiny\",\"tokens\":[1]}", AUTH_CAP_MODELS},
    {"GET", "/metrics", NULL, AUTH_CAP_MODELS},
    {"GET", "/api/users", NULL, AUTH_CAP_ADMIN},
    {"POST", "/api/users", "{\"name\":\"zed\"}", AUTH_CAP_ADMIN},
    {"GET", "/api/keys", NULL, AUTH_CAP_ADMIN},
    {"POST", "/api/keys", "{\"name\":\"zk\"}", AUTH_CAP_ADMIN},
    {"GET", "/api/audit", NULL, AUTH_CAP_ADMIN},
    {"GET", "/api/usage", NULL, AUTH_CAP_ANY},
    {"GET", "/api/me", NULL, AUTH_CAP_ANY},
    /* Appended: model_eps below counts positions. */
    {"GET", "/api/models", NULL, AUTH_CAP_MODELS},
    {"POST", "/models/apply", "{\"id\":\"no-such-entry\"}", AUTH_CAP_ADMIN},
    {"POST", "/v1/models/apply", "{\"id\":\"no-such-entry\"}", AUTH_CAP_ADMIN},
    {"POST", "/models/delete/no-such-model", NULL, AUTH_CAP_ADMIN},
    {"POST", "/v1/audio/speech", SPEECH, AUTH_CAP_AUDIO},
    {"POST", "/tts", SPEECH, AUTH_CAP_AUDIO},
    {"POST", "/v1/audio/transcriptions", "{}", AUTH_CAP_AUDIO},
    {"GET", "/v1/voices", NULL, AUTH_CAP_AUDIO},
};
#define N_ENDPOINTS (int)(sizeof endpoints / sizeof *endpoints)

static void expect(api_server *s, const struct endpoint *e, const char *key, long status,
                   const char *code, const char *why) {
    api_resp r;
    auth_http(s, e->method, e->path, e->body, key, &r);
    if (r.status != status)
        test_fail(__FILE__, __LINE__, "%s %s (%s): status %ld, wanted %ld: %s", e->method, e->path,
                  why, r.status, status, r.body.data ? r.body.data : "");
    if (code) {
        /* OpenAI's error shape. */
        ASSERT_NOT_NULL(api_jget(r.json, "error.message"));
        ASSERT_NOT_NULL(api_jget(r.json, "error.type"));
        ASSERT_TRUE(json_is_null(api_jget(r.json, "error.param")) ||
                    api_jstr(r.json, "error.param"));
        ASSERT_EQ_STR(api_jstr(r.json, "error.code"), code);
    }
    if (status == 401) ASSERT_CONTAINS(r.headers.data, "WWW-Authenticate: Bearer");
    api_resp_free(&r);
}

DB_TEST(auth_api, every_endpoint_refuses) {
    auth_test_user(url, "{\"name\":\"root\",\"role\":\"admin\"}");
    auth_test_user(url, "{\"name\":\"joe\"}");
    char revoked_id[32];
    char *admin = auth_test_key(url, "{\"name\":\"admin\",\"user\":\"root\"}", NULL);
    char *joe = auth_test_key(url, "{\"name\":\"joe\",\"user\":\"joe\"}", NULL);
    char *revoked = auth_test_key(url, "{\"name\":\"rev\",\"user\":\"root\"}", revoked_id);
    char *expired =
        auth_test_key(url, "{\"name\":\"exp\",\"user\":\"root\",\"expires_in\":1}", NULL);
    char *images = auth_test_key(url, "{\"name\":\"img\",\"capabilities\":[\"images\"]}", NULL);
    char *other =
        auth_test_key(url, "{\"name\":\"oth\",\"user\":\"root\",\"models\":[\"other-*\"]}", NULL);
    api_server s;
    auth_test_server(&s, url, NULL);
    /* Revoked on the server, by its admin API. */
    api_resp r;
    char path[96];
    snprintf(path, sizeof path, "/api/keys/%s", revoked_id);
    auth_http(&s, "DELETE", path, NULL, admin, &r);
    ASSERT_EQ_INT(r.status, 200);
    api_resp_free(&r);
    sleep(1); /* let the expired key expire */
    for (int i = 0; i < N_ENDPOINTS; i++) {
        const struct endpoint *e = &endpoints[i];
        expect(&s, e, NULL, 401, "invalid_api_key", "no key");
        expect(&s, e, "sk-0000000000000000000000000000000000000000000000000000000000000000", 401,
               "invalid_api_key", "wrong key");
        expect(&s, e, revoked, 401, "invalid_api_key", "revoked key");
        expect(&s, e, expired, 401, "invalid_api_key", "expired key");
        expect(&s, e, images, e->cap == AUTH_CAP_ANY ? 200 : 403,
               e->cap == AUTH_CAP_ANY ? NULL : "insufficient_permissions", "lacking capability");
        if (e->cap == AUTH_CAP_ADMIN)
            expect(&s, e, joe, 403, "insufficient_permissions", "not admin");
        /* The admin's key gets through to the handler. */
        api_resp ok;
        auth_http(&s, e->method, e->path, e->body, admin, &ok);
        if (ok.status == 401 || ok.status == 403 || ok.status == 429 || ok.status >= 500)
            test_fail(__FILE__, __LINE__, "%s %s with the admin key: %ld %s", e->method, e->path,
                      ok.status, ok.body.data ? ok.body.data : "");
        api_resp_free(&ok);
    }
    /* Loading and unloading a model: the models capability is not enough, an admin may. */
    const struct endpoint load = {"POST", "/api/models/tiny/load", NULL, AUTH_CAP_ADMIN};
    const struct endpoint unload = {"POST", "/api/models/tiny/unload", NULL, AUTH_CAP_ADMIN};
    expect(&s, &load, joe, 403, "insufficient_permissions", "not admin");
    expect(&s, &unload, joe, 403, "insufficient_permissions", "not admin");
    expect(&s, &load, admin, 200, NULL, "admin");
    expect(&s, &unload, admin, 200, NULL, "admin");
    /* Models not allowed: refused where a model is named, hidden from the list. */
    const int model_eps[] = {2, 4, 5, 6, 7, 8, 10, 12, 26, 27};
    for (size_t i = 0; i < sizeof model_eps / sizeof *model_eps; i++)
        expect(&s, &endpoints[model_eps[i]], other, 403, "model_not_allowed", "model not allowed");
    auth_http(&s, "GET", "/v1/models", NULL, other, &r);
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_INT(json_array_size(api_jget(r.json, "data")), 0);
    api_resp_free(&r);
    auth_http(&s, "GET", "/api/models", NULL, other, &r);
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_INT(json_array_size(api_jget(r.json, "data")), 0);
    api_resp_free(&r);
    auth_http(&s, "GET", "/api/models/tiny", NULL, other, &r);
    ASSERT_EQ_INT(r.status, 403);
    api_resp_free(&r);
    auth_http(&s, "GET", "/v1/models", NULL, joe, &r);
    /* The three files of the test directory and the five built-in speech models. */
    ASSERT_EQ_INT(json_array_size(api_jget(r.json, "data")), 8);
    api_resp_free(&r);
    /* Probes and the UI stay open; x-api-key and xi-api-key carry keys too. */
    const char *open_paths[] = {"/healthz", "/readyz", "/"};
    for (int i = 0; i < 3; i++) {
        api_http(&s, "GET", open_paths[i], NULL, NULL, &r);
        ASSERT_EQ_INT(r.status, 200);
        api_resp_free(&r);
    }
    char h1[128], h2[128];
    snprintf(h1, sizeof h1, "x-api-key: %s", joe);
    snprintf(h2, sizeof h2, "xi-api-key: %s", joe);
    const char *hx[] = {h1, NULL}, *hxi[] = {h2, NULL};
    api_http(&s, "GET", "/api/me", NULL, hx, &r);
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_STR(api_jstr(r.json, "user.name"), "joe");
    ASSERT_EQ_STR(api_jstr(r.json, "mode"), "managed");
    api_resp_free(&r);
    api_http(&s, "GET", "/api/me", NULL, hxi, &r);
    ASSERT_EQ_INT(r.status, 200);
    api_resp_free(&r);
    api_server_stop(&s);
    free(admin), free(joe), free(revoked), free(expired), free(images), free(other);
}

DB_TEST(auth_api, admin_api_round_trip) {
    auth_test_user(url, "{\"name\":\"root\",\"role\":\"admin\"}");
    char *admin = auth_test_key(url, "{\"name\":\"admin\",\"user\":\"root\"}", NULL);
    api_server s;
    auth_test_server(&s, url, NULL);
    api_resp r;
    auth_http(&s, "POST", "/api/users", "{\"name\":\"ann\",\"tokens_per_day\":100000}", admin, &r);
    ASSERT_EQ_INT(r.status, 201);
    ASSERT_EQ_STR(api_jstr(r.json, "role"), "user");
    ASSERT_EQ_INT(api_jint(r.json, "tokens_per_day"), 100000);
    api_resp_free(&r);
    auth_http(&s, "POST", "/api/users", "{\"name\":\"ann\"}", admin, &r);
    ASSERT_EQ_INT(r.status, 409);
    api_resp_free(&r);
    auth_http(&s, "POST", "/api/keys", "{\"name\":\"ann-1\",\"user\":\"ann\",\"rpm\":100}", admin,
              &r);
    ASSERT_EQ_INT(r.status, 201);
    char *key = strdup(api_jstr(r.json, "key")), *id = strdup(api_jstr(r.json, "id"));
    ASSERT_EQ_STR(api_jstr(r.json, "user"), "ann");
    ASSERT_EQ_INT(api_jint(r.json, "rpm"), 100);
    ASSERT_TRUE(json_is_null(api_jget(r.json, "revoked_at")));
    api_resp_free(&r);
    auth_http(&s, "POST", "/v1/chat/completions", CHAT, key, &r);
    ASSERT_EQ_INT(r.status, 200);
    api_resp_free(&r);
    auth_http(&s, "GET", "/api/keys?user=ann", NULL, admin, &r);
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_INT(json_array_size(api_jget(r.json, "data")), 1);
    ASSERT_NOT_NULL(api_jstr(r.json, "data.0.last_used_at"));
    ASSERT_NULL(api_jget(r.json, "data.0.key"));
    api_resp_free(&r);
    /* Ann sees her own usage only; the admin sees everyone's. */
    auth_http(&s, "GET", "/api/usage", NULL, key, &r);
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_INT(json_array_size(api_jget(r.json, "data")), 1);
    ASSERT_EQ_STR(api_jstr(r.json, "data.0.user"), "ann");
    ASSERT_EQ_STR(api_jstr(r.json, "data.0.model"), "tiny");
    ASSERT_EQ_INT(api_jint(r.json, "totals.requests"), 1);
    ASSERT_CMP_INT(api_jint(r.json, "totals.completion_tokens"), >, 0);
    api_resp_free(&r);
    /* Permissions change at once. */
    char path[64];
    snprintf(path, sizeof path, "/api/keys/%s", id);
    auth_http(&s, "PATCH", path, "{\"capabilities\":[\"embeddings\"]}", admin, &r);
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_STR(api_jstr(r.json, "capabilities.0"), "embeddings");
    api_resp_free(&r);
    auth_http(&s, "POST", "/v1/chat/completions", CHAT, key, &r);
    ASSERT_EQ_INT(r.status, 403);
    api_resp_free(&r);
    auth_http(&s, "PATCH", "/api/users/ann", "{\"state\":\"disabled\"}", admin, &r);
    ASSERT_EQ_INT(r.status, 200);
    api_resp_free(&r);
    auth_http(&s, "POST", "/v1/embeddings", EMB, key, &r);
    ASSERT_EQ_INT(r.status, 401);
    api_resp_free(&r);
    auth_http(&s, "PATCH", "/api/users/ann", "{\"state\":\"active\",\"role\":\"boss\"}", admin, &r);
    ASSERT_EQ_INT(r.status, 400);
    api_resp_free(&r);
    auth_http(&s, "DELETE", path, NULL, admin, &r);
    ASSERT_EQ_INT(r.status, 200);
    api_resp_free(&r);
    auth_http(&s, "DELETE", "/api/keys/nope", NULL, admin, &r);
    ASSERT_EQ_INT(r.status, 404);
    api_resp_free(&r);
    auth_http(&s, "GET", "/api/audit", NULL, admin, &r);
    ASSERT_EQ_INT(r.status, 200);
    ASSERT_EQ_STR(api_jstr(r.json, "data.0.action"), "key.revoke");
    ASSERT_CONTAINS(api_jstr(r.json, "data.0.actor"), "root");
    api_resp_free(&r);
    auth_http(&s, "GET", "/api/users", NULL, admin, &r);
    ASSERT_EQ_INT(json_array_size(api_jget(r.json, "data")), 2);
    api_resp_free(&r);
    api_server_stop(&s);
    free(admin), free(key), free(id);
}

/* A streamed request the client leaves after its first bytes. */
static size_t leave_early(char *p, size_t sz, size_t n, void *ud) {
    return ++*(int *)ud > 1 ? 0 : sz * n;
}

DB_TEST(auth_api, usage_of_every_kind) {
    char *key = auth_test_key(url, "{\"name\":\"u\",\"tokens_per_month\":1000000}", NULL);
    api_server s;
    auth_test_server(&s, url, NULL);
    api_resp r;
    auth_http(&s, "POST", "/v1/completions",
              "{\"model\":\"tiny\",\"prompt\":\"Once\",\"max_tokens\":7}", key, &r);
    ASSERT_EQ_INT(r.status, 200);
    long long plain_p = api_jint(r.json, "usage.prompt_tokens"),
              plain_c = api_jint(r.json, "usage.completion_tokens");
    api_resp_free(&r);
    auth_http(&s, "POST", "/v1/chat/completions",
              "{\"model\":\"tiny\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_"
              "tokens\":5,"
              "\"stream\":true,\"stream_options\":{\"include_usage\":true}}",
              key, &r);
    ASSERT_EQ_INT(r.status, 200);
    json_t *ev = api_sse_events(r.body.data);
    json_t *last = json_array_get(ev, json_array_size(ev) - 1);
    long long stream_c = api_jint(last, "usage.completion_tokens");
    json_decref(ev);
    api_resp_free(&r);
    /* Failed: a prompt longer than the context. */
    buf big = {0};
    buf_append_str(&big, "{\"model\":\"tiny\",\"prompt\":\"");
    for (int i = 0; i < 3000; i++) buf_append_str(&big, "a b ");
    buf_append_str(&big, "\",\"max_tokens\":4}");
    auth_http(&s, "POST", "/v1/completions", big.data, key, &r);
    ASSERT_EQ_INT(r.status, 400);
    api_resp_free(&r);
    buf_free(&big);
    auth_http(&s, "POST", "/v1/embeddings", EMB, key, &r);
    ASSERT_EQ_INT(r.status, 200);
    long long emb_p = api_jint(r.json, "usage.prompt_tokens");
    api_resp_free(&r);
    /* Cancelled: the client goes away after the first chunk of a long stream. */
    CURL *c = curl_easy_init();
    char u[128], h[128];
    snprintf(u, sizeof u, "%s/v1/completions", s.base);
    snprintf(h, sizeof h, "Authorization: Bearer %s", key);
    struct curl_slist *hl = curl_slist_append(NULL, h);
    hl = curl_slist_append(hl, "Content-Type: application/json");
    int chunks = 0;
    curl_easy_setopt(c, CURLOPT_URL, u);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS,
                     "{\"model\":\"tiny\",\"prompt\":\"Once\",\"stream\":true,\"max_tokens\":400,"
                     "\"ignore_eos\":true}");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, leave_early);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &chunks);
    curl_easy_perform(c);
    curl_easy_cleanup(c);
    curl_slist_free_all(hl);
    /* Speech counts as a request (no tokens), recorded before its answer ends. */
    auth_http(&s, "POST", "/v1/audio/speech", SPEECH, key, &r);
    ASSERT_EQ_INT(r.status, 200);
    api_resp_free(&r);
    ASSERT_EQ_INT(auth_test_sql(url, "SELECT COUNT(*) FROM usage_log WHERE endpoint ="
                                     " '/v1/audio/speech' AND model = 'tts-1' AND status = 200"),
                  1);
    /* The cancelled stream's record arrives when the server has noticed. */
    for (int i = 0; i < 100 && auth_test_sql(url, "SELECT COUNT(*) FROM usage_log") < 6; i++)
        usleep(50000);
    ASSERT_EQ_INT(auth_test_sql(url, "SELECT COUNT(*) FROM usage_log"), 6);
    char q[256];
    snprintf(q, sizeof q,
             "SELECT COUNT(*) FROM usage_log WHERE endpoint = '/v1/completions' AND"
             " status = 200 AND prompt_tokens = %lld AND completion_tokens = %lld",
             plain_p, plain_c);
    ASSERT_CMP_INT(auth_test_sql(url, q), >=, 1);
    ASSERT_EQ_INT(auth_test_sql(url, "SELECT completion_tokens FROM usage_log WHERE endpoint ="
                                     " '/v1/chat/completions'"),
                  stream_c);
    ASSERT_EQ_INT(auth_test_sql(url, "SELECT prompt_tokens FROM usage_log WHERE endpoint ="
                                     " '/v1/embeddings' AND model = 'bert'"),
                  emb_p);
    ASSERT_EQ_INT(auth_test_sql(url, "SELECT COUNT(*) FROM usage_log WHERE status = 400"
                                     " AND completion_tokens = 0"),
                  1);
    /* The stream was cut (499, with the tokens made until then) or, on a fast machine, had
     * already finished (a second 200). */
    ASSERT_EQ_INT(auth_test_sql(url, "SELECT COUNT(*) FROM usage_log WHERE endpoint ="
                                     " '/v1/completions' AND status IN (200, 499)"),
                  2);
    if (auth_test_sql(url, "SELECT COUNT(*) FROM usage_log WHERE status = 499") == 1)
        ASSERT_CMP_INT(
            auth_test_sql(url, "SELECT completion_tokens FROM usage_log WHERE status = 499"), <,
            400);
    api_server_stop(&s);
    free(key);
}

DB_TEST(auth_api, keys_command) {
    const char *tmp = test_tmpdir();
    char *argv[] = {(char *)test_bin_path(),
                    "users",
                    "create",
                    "ops",
                    "--admin",
                    "--database",
                    (char *)url,
                    NULL};
    char *out = NULL, *err = NULL;
    ASSERT_EQ_INT(test_run(argv, NULL, &out, &err), 0);
    free(out), free(err);
    char *kargv[] = {(char *)test_bin_path(),
                     "keys",
                     "create",
                     "--name",
                     "ci",
                     "--user",
                     "ops",
                     "--capabilities",
                     "chat,admin",
                     "--models",
                     "ti*",
                     "--rpm",
                     "50",
                     "--tokens-per-day",
                     "100000",
                     "--expires",
                     "1d",
                     "--database",
                     (char *)url,
                     NULL};
    ASSERT_EQ_INT(test_run(kargv, NULL, &out, &err), 0);
    /* The key alone on the last line. */
    size_t n = strlen(out);
    ASSERT_CMP_INT(n, >, 1);
    ASSERT_EQ_INT(out[n - 1], '\n');
    out[n - 1] = 0;
    const char *key = strrchr(out, '\n') ? strrchr(out, '\n') + 1 : out;
    ASSERT_EQ_INT(strlen(key), 67);
    ASSERT_EQ_INT(strncmp(key, "sk-", 3), 0);
    api_server s;
    auth_test_server(&s, url, NULL);
    api_resp r;
    auth_http(&s, "POST", "/v1/chat/completions", CHAT, key, &r);
    ASSERT_EQ_INT(r.status, 200);
    api_resp_free(&r);
    auth_http(&s, "POST", "/v1/completions", COMP, key, &r);
    ASSERT_EQ_INT(r.status, 403);
    api_resp_free(&r);
    auth_http(&s, "GET", "/api/me", NULL, key, &r);
    ASSERT_EQ_INT(api_jint(r.json, "key.rpm"), 50);
    ASSERT_EQ_STR(api_jstr(r.json, "key.models.0"), "ti*");
    api_resp_free(&r);
    char *largv[] = {(char *)test_bin_path(), "keys", "list", "--database", (char *)url, NULL};
    char *lout = NULL, *lerr = NULL;
    ASSERT_EQ_INT(test_run(largv, NULL, &lout, &lerr), 0);
    ASSERT_CONTAINS(lout, "ci");
    ASSERT_NULL(strstr(lout, key)); /* never shown again */
    char prefix[16];
    snprintf(prefix, sizeof prefix, "%.12s", key);
    ASSERT_CONTAINS(lout, prefix);
    free(lout), free(lerr);
    char *rargv[] = {
        (char *)test_bin_path(), "keys", "revoke", prefix, "--database", (char *)url, NULL};
    ASSERT_EQ_INT(test_run(rargv, NULL, &lout, &lerr), 0);
    free(lout), free(lerr);
    auth_http(&s, "POST", "/v1/chat/completions", CHAT, key, &r);
    ASSERT_EQ_INT(r.status, 401);
    api_resp_free(&r);
    char *uargv[] = {(char *)test_bin_path(),
                     "usage",
                     "--json",
                     "--user",
                     "ops",
                     "--database",
                     (char *)url,
                     NULL};
    ASSERT_EQ_INT(test_run(uargv, NULL, &lout, &lerr), 0);
    json_t *u = json_loads(lout, 0, NULL);
    ASSERT_NOT_NULL(u);
    /* The chat, and the completion refused for lacking the capability (a 403 is recorded). */
    ASSERT_EQ_INT(api_jint(u, "totals.requests"), 2);
    json_decref(u);
    free(lout), free(lerr);
    char *bad[] = {(char *)test_bin_path(), "keys", "create",     "--name",    "x",
                   "--capabilities",        "fly",  "--database", (char *)url, NULL};
    ASSERT_EQ_INT(WEXITSTATUS(test_run(bad, NULL, &lout, &lerr)), 1);
    ASSERT_CONTAINS(lerr, "fly");
    free(lout), free(lerr);
    char *ulist[] = {(char *)test_bin_path(), "users", "list", "--database", (char *)url, NULL};
    ASSERT_EQ_INT(test_run(ulist, NULL, &lout, &lerr), 0);
    ASSERT_CONTAINS(lout, "ops");
    ASSERT_CONTAINS(lout, "admin");
    free(lout), free(lerr);
    char *frob[] = {(char *)test_bin_path(), "users", "frob", "--database", (char *)url, NULL};
    ASSERT_EQ_INT(WEXITSTATUS(test_run(frob, NULL, &lout, &lerr)), 2);
    ASSERT_CONTAINS(lerr, "unknown subcommand 'frob'");
    free(lout), free(lerr);
    (void)tmp;
    api_server_stop(&s);
    free(out), free(err);
}
