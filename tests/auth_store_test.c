/*
 * The auth store against both backends (db_util.h): users and keys, the reasons a key is
 * refused, capabilities and models, limits that hold under concurrency, settling, usage
 * aggregates, the audit log and the per-IP back-off.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "auth/auth.h"
#include "db_util.h"

static auth *open_auth(const char *url, int max_bad) {
    auth_params p = auth_default_params();
    p.db_url = url;
    if (max_bad) p.max_bad_keys = max_bad;
    auth *a = NULL;
    err_buf eb = {0};
    ASSERT_OK(auth_open(&p, &a, &eb), &eb);
    return a;
}

/* Create a key from a JSON spec; returns the secret (heap) and its id in id[32]. */
static char *make_key(auth *a, const char *spec_json, char *id) {
    json_error_t je;
    json_t *spec = json_loads(spec_json, 0, &je);
    ASSERT_NOT_NULL(spec);
    json_t *out = NULL;
    err_buf eb = {0};
    ASSERT_OK(auth_key_create(a, "test", spec, &out, &eb), &eb);
    char *key = strdup(json_string_value(json_object_get(out, "key")));
    if (id) snprintf(id, 32, "%s", json_string_value(json_object_get(out, "id")));
    ASSERT_EQ_INT(strncmp(key, "sk-", 3), 0);
    ASSERT_EQ_INT(strlen(key), 3 + 64);
    ASSERT_EQ_INT(strncmp(key, json_string_value(json_object_get(out, "prefix")), 12), 0);
    json_decref(out);
    json_decref(spec);
    return key;
}

static void make_user(auth *a, const char *spec_json) {
    json_t *spec = json_loads(spec_json, 0, NULL), *out = NULL;
    err_buf eb = {0};
    ASSERT_OK(auth_user_create(a, "test", spec, &out, &eb), &eb);
    json_decref(out);
    json_decref(spec);
}

/* auth_check's status for key on path (0 when allowed). */
static int check(auth *a, const char *key, const char *path, auth_verdict *v) {
    arena *ar = arena_new(0);
    auth_principal *p;
    auth_verdict local;
    int rc = auth_check(a, key, "10.0.0.1", path, ar, &p, v ? v : &local);
    arena_free(ar);
    return rc ? (v ? v : &local)->status : 0;
}

DB_TEST(auth, modes_and_refusals) {
    auth *a = open_auth(url, 0);
    ASSERT_EQ_INT(auth_get_mode(a), AUTH_MODE_OPEN);
    ASSERT_EQ_INT(check(a, NULL, "/v1/chat/completions", NULL), 0);
    make_user(a, "{\"name\":\"bob\"}");
    make_user(a, "{\"name\":\"carol\",\"role\":\"admin\"}");
    char bob_id[32], exp_id[32];
    char *bob = make_key(a, "{\"name\":\"b\",\"user\":\"bob\"}", bob_id);
    char *carol = make_key(a, "{\"name\":\"c\",\"user\":\"carol\"}", NULL);
    char *emb = make_key(a, "{\"name\":\"e\",\"capabilities\":[\"embeddings\"]}", NULL);
    char *exp = make_key(a, "{\"name\":\"x\",\"expires_in\":1}", exp_id);
    ASSERT_EQ_INT(auth_get_mode(a), AUTH_MODE_MANAGED);
    auth_verdict v;
    ASSERT_EQ_INT(check(a, NULL, "/v1/models", &v), 401);
    ASSERT_EQ_STR(v.code, "invalid_api_key");
    ASSERT_EQ_INT(check(a, "sk-nope", "/v1/models", NULL), 401);
    ASSERT_EQ_INT(check(a, bob, "/v1/chat/completions", NULL), 0);
    ASSERT_EQ_INT(check(a, bob, "/api/usage", NULL), 0);
    ASSERT_EQ_INT(check(a, bob, "/api/users", &v), 403);   /* a user's key: no admin */
    ASSERT_EQ_INT(check(a, carol, "/api/users", NULL), 0); /* an admin's key */
    ASSERT_EQ_INT(check(a, emb, "/v1/embeddings", NULL), 0);
    ASSERT_EQ_INT(check(a, emb, "/v1/chat/completions", &v), 403);
    ASSERT_CONTAINS(v.msg, "chat");
    ASSERT_EQ_INT(check(a, emb, "/v1/audio/speech", NULL), 403);
    ASSERT_EQ_INT(check(a, emb, "/api/me", NULL), 0);
    /* Expiry and revocation take effect at once. */
    sleep(2);
    ASSERT_EQ_INT(check(a, exp, "/v1/models", &v), 401);
    ASSERT_CONTAINS(v.msg, "expired");
    err_buf eb = {0};
    ASSERT_OK(auth_key_revoke(a, "test", bob_id, &eb), &eb);
    ASSERT_EQ_INT(check(a, bob, "/v1/models", &v), 401);
    ASSERT_CONTAINS(v.msg, "revoked");
    ASSERT_EQ_INT(auth_key_revoke(a, "test", "no-such-key", &eb), BASE_ENOTFOUND);
    /* A disabled user's keys stop working; enabling brings them back. */
    json_t *patch = json_pack("{s:s}", "state", "disabled"), *out = NULL;
    ASSERT_OK(auth_user_update(a, "test", "carol", patch, &out, &eb), &eb);
    ASSERT_EQ_STR(json_string_value(json_object_get(out, "state")), "disabled");
    json_decref(out);
    ASSERT_EQ_INT(check(a, carol, "/v1/models", NULL), 401);
    json_object_set_new(patch, "state", json_string("active"));
    ASSERT_OK(auth_user_update(a, "test", "carol", patch, &out, &eb), &eb);
    json_decref(out);
    json_decref(patch);
    ASSERT_EQ_INT(check(a, carol, "/v1/models", NULL), 0);
    /* Deleting a user revokes its keys. */
    ASSERT_OK(auth_user_delete(a, "test", "carol", &eb), &eb);
    ASSERT_EQ_INT(check(a, carol, "/v1/models", NULL), 401);
    free(bob), free(carol), free(emb), free(exp);
    auth_close(a);
}

DB_TEST(auth, shared_keys) {
    const char *shared[] = {"s3cret"};
    auth_params p = auth_default_params();
    p.db_url = url;
    p.shared_keys = shared;
    p.n_shared_keys = 1;
    auth *a;
    err_buf eb = {0};
    ASSERT_OK(auth_open(&p, &a, &eb), &eb);
    ASSERT_EQ_INT(auth_get_mode(a), AUTH_MODE_SHARED);
    ASSERT_EQ_INT(check(a, NULL, "/v1/models", NULL), 401);
    ASSERT_EQ_INT(check(a, "s3cre", "/v1/models", NULL), 401);
    ASSERT_EQ_INT(check(a, "s3cret", "/api/users", NULL), 0);
    auth_close(a);
}

DB_TEST(auth, models_and_defaults) {
    auth *a = open_auth(url, 0);
    make_user(a, "{\"name\":\"dan\",\"models\":[\"llama-*\"],\"tokens_per_day\":50}");
    char *k = make_key(a, "{\"name\":\"d\",\"user\":\"dan\"}", NULL);
    char *k2 = make_key(a, "{\"name\":\"d2\",\"user\":\"dan\",\"models\":\"tiny,qwen?\"}", NULL);
    arena *ar = arena_new(0);
    auth_principal *p, *p2;
    auth_verdict v;
    ASSERT_OK(auth_check(a, k, "", "/v1/models", ar, &p, &v), NULL);
    ASSERT_OK(auth_check(a, k2, "", "/v1/models", ar, &p2, &v), NULL);
    ASSERT_TRUE(auth_model_allowed(p, "llama-3"));
    ASSERT_FALSE(auth_model_allowed(p, "tiny"));
    ASSERT_EQ_INT(p->lim.tokens_per_day, 50); /* inherited from the user */
    ASSERT_EQ_INT(p->lim.rpm, -1);
    ASSERT_TRUE(auth_model_allowed(p2, "tiny"));
    ASSERT_TRUE(auth_model_allowed(p2, "qwen3"));
    ASSERT_FALSE(auth_model_allowed(p2, "llama-3")); /* the key's own list wins */
    auth_ticket *t;
    ASSERT_EQ_INT(auth_reserve(a, p2, "llama-3", "/v1/chat/completions", 1, &t, &v), BASE_EPERM);
    ASSERT_EQ_INT(v.status, 403);
    arena_free(ar);
    free(k), free(k2);
    auth_close(a);
}

DB_TEST(auth, quota_reserve_settle_usage) {
    auth *a = open_auth(url, 0);
    make_user(a, "{\"name\":\"eve\"}");
    char id[32];
    char *k =
        make_key(a, "{\"name\":\"q\",\"user\":\"eve\",\"tokens_per_day\":100,\"tpm\":1000}", id);
    arena *ar = arena_new(0);
    auth_principal *p;
    auth_verdict v;
    err_buf eb = {0};
    ASSERT_OK(auth_check(a, k, "", "/v1/completions", ar, &p, &v), NULL);
    auth_ticket *t1, *t2;
    ASSERT_OK(auth_reserve(a, p, "tiny", "/v1/completions", 60, &t1, &v), NULL);
    ASSERT_EQ_INT(auth_reserve(a, p, "tiny", "/v1/completions", 50, &t2, &v), BASE_EPERM);
    ASSERT_EQ_INT(v.status, 429);
    ASSERT_EQ_STR(v.code, "insufficient_quota");
    int64_t now = time_unix(), to_midnight = 86400 - now % 86400;
    ASSERT_CMP_INT(v.retry_after, >=, to_midnight - 2);
    ASSERT_CMP_INT(v.retry_after, <=, to_midnight);
    /* Settling to the real count gives the rest back. */
    ASSERT_OK(auth_settle(t1, 10, 20, 200, &eb), &eb);
    ASSERT_OK(auth_reserve(a, p, "tiny", "/v1/completions", 70, &t2, &v), NULL);
    ASSERT_OK(auth_settle(t2, 5, 0, 499, &eb), &eb);
    json_t *u = NULL;
    auth_usage_filter f = {.user = "eve"};
    ASSERT_OK(auth_usage_query(a, &f, &u, &eb), &eb);
    json_t *row = json_array_get(json_object_get(u, "data"), 0);
    ASSERT_EQ_INT(json_array_size(json_object_get(u, "data")), 1);
    ASSERT_EQ_STR(json_string_value(json_object_get(row, "key")), id);
    ASSERT_EQ_STR(json_string_value(json_object_get(row, "user")), "eve");
    ASSERT_EQ_STR(json_string_value(json_object_get(row, "model")), "tiny");
    /* Two served and the one refused with 429, which took no tokens. */
    ASSERT_EQ_INT(json_integer_value(json_object_get(row, "requests")), 3);
    ASSERT_EQ_INT(json_integer_value(json_object_get(row, "prompt_tokens")), 15);
    ASSERT_EQ_INT(json_integer_value(json_object_get(row, "completion_tokens")), 20);
    ASSERT_EQ_INT(json_integer_value(json_object_get(json_object_get(u, "totals"), "total_tokens")),
                  35);
    json_decref(u);
    auth_usage_filter none = {.user = "nobody"}, bad = {.since = "yesterday"};
    ASSERT_OK(auth_usage_query(a, &none, &u, &eb), &eb);
    ASSERT_EQ_INT(json_array_size(json_object_get(u, "data")), 0);
    json_decref(u);
    ASSERT_EQ_INT(auth_usage_query(a, &bad, &u, &eb), BASE_EINVAL);
    arena_free(ar);
    free(k);
    auth_close(a);
}

DB_TEST(auth, request_limits) {
    auth *a = open_auth(url, 0);
    char *k = make_key(a, "{\"name\":\"r\",\"rpm\":3}", NULL);
    char *d = make_key(a, "{\"name\":\"d\",\"requests_per_day\":2}", NULL);
    auth_verdict v;
    /* Stay inside one minute window, so the count is exact. */
    while (time_unix() % 60 > 50) sleep(1);
    for (int i = 0; i < 3; i++) ASSERT_EQ_INT(check(a, k, "/v1/models", NULL), 0);
    ASSERT_EQ_INT(check(a, k, "/v1/models", &v), 429);
    ASSERT_CMP_INT(v.retry_after, >=, 1);
    ASSERT_CMP_INT(v.retry_after, <=, 60);
    ASSERT_EQ_INT(check(a, d, "/v1/models", NULL), 0);
    ASSERT_EQ_INT(check(a, d, "/v1/models", NULL), 0);
    ASSERT_EQ_INT(check(a, d, "/v1/models", &v), 429);
    ASSERT_CMP_INT(v.retry_after, >, 60 * 0); /* to the next UTC midnight */
    free(k), free(d);
    auth_close(a);
}

typedef struct racer {
    auth *a;
    const char *key;
    int64_t got;
} racer;

static void *race(void *ud) {
    racer *r = ud;
    arena *ar = arena_new(0);
    for (int i = 0; i < 40; i++) {
        auth_principal *p;
        auth_verdict v;
        auth_ticket *t;
        if (auth_check(r->a, r->key, "", "/v1/completions", ar, &p, &v)) break;
        if (auth_reserve(r->a, p, "m", "/v1/completions", 7, &t, &v) == 0) {
            r->got += 6;
            auth_settle(t, 2, 4, 200, NULL); /* used 6 of the 7 reserved */
        }
        arena_reset(ar);
    }
    arena_free(ar);
    return NULL;
}

DB_TEST(auth, quota_exact_under_concurrency) {
    auth *a = open_auth(url, 0);
    char *k = make_key(a, "{\"name\":\"c\",\"tokens_per_day\":500}", NULL);
    racer r[8];
    pthread_t th[8];
    for (int i = 0; i < 8; i++) {
        r[i] = (racer){a, k, 0};
        pthread_create(&th[i], NULL, race, &r[i]);
    }
    int64_t total = 0;
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        total += r[i].got;
    }
    /* Never more than the quota, and (with 320 tries) it was used up to the last whole step. */
    ASSERT_CMP_INT(total, <=, 500);
    ASSERT_CMP_INT(total, >=, 500 - 7);
    json_t *u;
    err_buf eb = {0};
    ASSERT_OK(auth_usage_query(a, NULL, &u, &eb), &eb);
    ASSERT_EQ_INT(json_integer_value(json_object_get(json_object_get(u, "totals"), "total_tokens")),
                  total);
    json_decref(u);
    free(k);
    auth_close(a);
}

DB_TEST(auth, admin_shapes_and_audit) {
    auth *a = open_auth(url, 0);
    err_buf eb = {0};
    json_t *out = NULL;
    json_t *bad = json_pack("{s:s,s:s}", "name", "x", "role", "root");
    ASSERT_EQ_INT(auth_user_create(a, "t", bad, &out, &eb), BASE_EINVAL);
    json_decref(bad);
    make_user(a, "{\"name\":\"fay\",\"rpm\":5,\"capabilities\":[\"chat\"]}");
    json_t *dup = json_pack("{s:s}", "name", "fay");
    ASSERT_EQ_INT(auth_user_create(a, "t", dup, &out, &eb), BASE_EBUSY);
    json_decref(dup);
    ASSERT_OK(auth_user_list(a, &out, &eb), &eb);
    json_t *u = json_array_get(json_object_get(out, "data"), 0);
    ASSERT_EQ_STR(json_string_value(json_object_get(u, "name")), "fay");
    ASSERT_EQ_STR(json_string_value(json_object_get(u, "role")), "user");
    ASSERT_EQ_STR(json_string_value(json_object_get(u, "state")), "active");
    ASSERT_EQ_INT(json_integer_value(json_object_get(u, "rpm")), 5);
    ASSERT_TRUE(json_is_null(json_object_get(u, "tpm")));
    ASSERT_EQ_STR(json_string_value(json_array_get(json_object_get(u, "capabilities"), 0)), "chat");
    ASSERT_EQ_INT(strlen(json_string_value(json_object_get(u, "created_at"))), 20);
    json_decref(out);
    char id[32];
    char *k = make_key(a, "{\"name\":\"f\",\"user\":\"fay\",\"expires_in\":3600}", id);
    free(make_key(a, "{\"name\":\"other\"}", NULL));
    ASSERT_OK(auth_key_list(a, "fay", &out, &eb), &eb);
    ASSERT_EQ_INT(json_array_size(json_object_get(out, "data")), 1);
    json_t *kj = json_array_get(json_object_get(out, "data"), 0);
    ASSERT_EQ_STR(json_string_value(json_object_get(kj, "user")), "fay");
    ASSERT_TRUE(json_is_string(json_object_get(kj, "expires_at")));
    ASSERT_TRUE(json_is_null(json_object_get(kj, "revoked_at")));
    ASSERT_NULL(json_object_get(kj, "key")); /* the secret is never listed */
    ASSERT_NULL(json_object_get(kj, "hash"));
    json_decref(out);
    json_t *patch = json_pack("{s:s,s:i,s:[s]}", "name", "renamed", "tpm", 77, "models", "tiny");
    ASSERT_OK(auth_key_update(a, "t", id, patch, &out, &eb), &eb);
    ASSERT_EQ_STR(json_string_value(json_object_get(out, "name")), "renamed");
    ASSERT_EQ_INT(json_integer_value(json_object_get(out, "tpm")), 77);
    json_decref(out);
    json_decref(patch);
    ASSERT_OK(auth_key_revoke(a, "t", id, &eb), &eb);
    ASSERT_OK(auth_audit_list(a, 10, &out, &eb), &eb);
    json_t *last = json_array_get(json_object_get(out, "data"), 0);
    ASSERT_EQ_STR(json_string_value(json_object_get(last, "action")), "key.revoke");
    ASSERT_EQ_STR(json_string_value(json_object_get(last, "actor")), "t");
    ASSERT_CMP_INT(json_array_size(json_object_get(out, "data")), >=, 5);
    /* The audit log never holds a secret. */
    char *dump = json_dumps(out, 0);
    ASSERT_NULL(strstr(dump, k));
    free(dump);
    json_decref(out);
    free(k);
    auth_close(a);
}

DB_TEST(auth, reopen_keeps_schema) {
    auth *a = open_auth(url, 0);
    char *k = make_key(a, "{\"name\":\"keep\"}", NULL);
    auth_close(a);
    a = open_auth(url, 0); /* migrations already applied: nothing to do, nothing lost */
    ASSERT_EQ_INT(check(a, k, "/v1/models", NULL), 0);
    free(k);
    auth_close(a);
}

DB_TEST(auth, bad_key_backoff) {
    auth *a = open_auth(url, 3);
    char *k = make_key(a, "{\"name\":\"ok\"}", NULL);
    auth_verdict v;
    for (int i = 0; i < 3; i++) ASSERT_EQ_INT(check(a, "sk-wrong", "/v1/models", NULL), 401);
    /* The address now waits, even with a good key; others do not. */
    ASSERT_EQ_INT(check(a, k, "/v1/models", &v), 429);
    ASSERT_CMP_INT(v.retry_after, >=, 1);
    arena *ar = arena_new(0);
    auth_principal *p;
    ASSERT_OK(auth_check(a, k, "10.0.0.2", "/v1/models", ar, &p, &v), NULL);
    arena_free(ar);
    free(k);
    auth_close(a);
}

TEST(auth_caps_table) {
    ASSERT_EQ_INT(auth_cap_for_path("/v1/chat/completions"), AUTH_CAP_CHAT);
    ASSERT_EQ_INT(auth_cap_for_path("/chat/completions"), AUTH_CAP_CHAT);
    ASSERT_EQ_INT(auth_cap_for_path("/v1/completions"), AUTH_CAP_COMPLETIONS);
    ASSERT_EQ_INT(auth_cap_for_path("/api/embed"), AUTH_CAP_EMBEDDINGS);
    ASSERT_EQ_INT(auth_cap_for_path("/v1/audio/transcriptions"), AUTH_CAP_AUDIO);
    ASSERT_EQ_INT(auth_cap_for_path("/tts"), AUTH_CAP_AUDIO);
    ASSERT_EQ_INT(auth_cap_for_path("/v1/text-to-speech/abc"), AUTH_CAP_AUDIO);
    ASSERT_EQ_INT(auth_cap_for_path("/v1/images/generations"), AUTH_CAP_IMAGES);
    ASSERT_EQ_INT(auth_cap_for_path("/rerank"), AUTH_CAP_RERANK);
    /* Listing the gallery and following jobs is `models`; installing and deleting, admin. */
    ASSERT_EQ_INT(auth_cap_for_path("/models/available"), AUTH_CAP_MODELS);
    ASSERT_EQ_INT(auth_cap_for_path("/models/jobs/abc"), AUTH_CAP_MODELS);
    ASSERT_EQ_INT(auth_cap_for_path("/models/apply"), AUTH_CAP_ADMIN);
    ASSERT_EQ_INT(auth_cap_for_path("/v1/models/delete/x"), AUTH_CAP_ADMIN);
    ASSERT_EQ_INT(auth_cap_for_path("/api/models/x/load"), AUTH_CAP_MODELS);
    ASSERT_EQ_INT(auth_cap_for_path("/metrics"), AUTH_CAP_MODELS);
    ASSERT_EQ_INT(auth_cap_for_path("/api/keys/abc"), AUTH_CAP_ADMIN);
    ASSERT_EQ_INT(auth_cap_for_path("/api/me"), AUTH_CAP_ANY);
    ASSERT_EQ_INT(auth_cap_for_path("/api/usage"), AUTH_CAP_ANY);
    ASSERT_EQ_INT(auth_cap_for_path("/something/new"), AUTH_CAP_ADMIN);
    unsigned caps;
    err_buf eb = {0};
    ASSERT_OK(auth_caps_parse("chat, embeddings", &caps, &eb), &eb);
    ASSERT_EQ_INT(caps, AUTH_CAP_CHAT | AUTH_CAP_EMBEDDINGS);
    ASSERT_EQ_INT(auth_caps_parse("chat,fly", &caps, &eb), BASE_EINVAL);
    ASSERT_CONTAINS(eb.msg, "fly");
}

static void *open_close(void *ud) {
    auth_params p = auth_default_params();
    p.db_url = ud;
    auth *a = NULL;
    err_buf eb = {0};
    intptr_t rc = auth_open(&p, &a, &eb);
    if (rc) fprintf(stderr, "auth_open: %s\n", err_msg(&eb));
    auth_close(a);
    return (void *)rc;
}

DB_TEST(auth, replicas_migrate_together) {
    /* Servers starting at once on a fresh database: each one opens, one migrates. */
    pthread_t th[4];
    for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, open_close, (void *)url);
    for (int i = 0; i < 4; i++) {
        void *rc;
        pthread_join(th[i], &rc);
        ASSERT_EQ_INT((intptr_t)rc, 0);
    }
    auth *a = open_auth(url, 0);
    char *k = make_key(a, "{\"name\":\"after\"}", NULL);
    ASSERT_EQ_INT(check(a, k, "/v1/models", NULL), 0);
    free(k);
    auth_close(a);
}

DB_TEST(auth, allocation_failures_are_clean) {
    /* Fail our allocations one by one (the database's own are its business): every call ends
     * with an error or succeeds, and leaks nothing (make asan checks). */
    auth *a = open_auth(url, 0);
    char *k = make_key(a, "{\"name\":\"f\",\"tokens_per_day\":1000000}", NULL);
    bool done = false;
    for (long n = 0; n < 200 && !done; n++) {
        arena *ar = arena_new(0);
        ASSERT_NOT_NULL(ar);
        auth_principal *p;
        auth_verdict v;
        auth_ticket *t = NULL;
        mem_fail_after(n);
        int rc = auth_check(a, k, "", "/v1/chat/completions", ar, &p, &v);
        if (!rc) rc = auth_reserve(a, p, "tiny", "/v1/chat/completions", 10, &t, &v);
        mem_fail_after(-1);
        if (!rc) {
            err_buf eb = {0};
            ASSERT_OK(auth_settle(t, 1, 2, 200, &eb), &eb);
            done = true;
        } else {
            ASSERT_TRUE(v.status == 500 || v.status == 401);
        }
        arena_free(ar);
    }
    ASSERT_TRUE(done);
    free(k);
    auth_close(a);
}

/* Revoking the last key must lock the server, not fall back to open mode. */
DB_TEST(auth, last_key_revoked_stays_locked) {
    auth *a = open_auth(url, 0);
    char id[32];
    char *k = make_key(a, "{\"name\":\"only\"}", id);
    ASSERT_EQ_INT(auth_get_mode(a), AUTH_MODE_MANAGED);
    err_buf eb = {0};
    ASSERT_OK(auth_key_revoke(a, "test", id, &eb), &eb);
    usleep(1100 * 1000); /* past the one-second mode cache */
    ASSERT_EQ_INT(auth_get_mode(a), AUTH_MODE_MANAGED);
    ASSERT_EQ_INT(check(a, NULL, "/v1/chat/completions", NULL), 401);
    ASSERT_EQ_INT(check(a, k, "/v1/chat/completions", NULL), 401);
    free(k);
    auth_close(a);
}
