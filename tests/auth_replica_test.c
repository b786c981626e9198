/*
 * End to end under load: two `local-ai run` replicas sharing one database (PostgreSQL, and a
 * SQLite file, which two processes can share as well): a key made on one works on the other,
 * its revocation is seen at once, and 20 concurrent clients over both against a daily token
 * quota never push the recorded usage above it. Then kill -9 during a burst: every response
 * that completed has its usage record, and the database opens cleanly after.
 */
#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auth_util.h"

static const char *const two_slots[] = {"--parallel", "2", NULL};

static size_t collect(char *p, size_t sz, size_t n, void *ud) {
    buf_append(ud, p, sz * n);
    return sz * n;
}

/* A request that may fail in transit (unlike api_http): the status (0 on a transport error),
 * the body's total_tokens (-1 when none) and whether a Retry-After header came. */
typedef struct outcome {
    long status;
    long long total_tokens;
    bool retry_after;
} outcome;

static outcome post(const char *base, const char *path, const char *body, const char *key) {
    outcome o = {0, -1, false};
    char url[256], h[128];
    snprintf(url, sizeof url, "%s%s", base, path);
    snprintf(h, sizeof h, "Authorization: Bearer %s", key);
    struct curl_slist *hl = curl_slist_append(NULL, h);
    hl = curl_slist_append(hl, "Content-Type: application/json");
    buf b = {0}, hd = {0};
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &hd);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (curl_easy_perform(c) == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &o.status);
        json_t *v = b.data ? json_loads(b.data, 0, NULL) : NULL;
        if (v && api_jget(v, "usage.total_tokens"))
            o.total_tokens = api_jint(v, "usage.total_tokens");
        json_decref(v);
        o.retry_after = hd.data && strcasestr(hd.data, "\nRetry-After: ");
    }
    curl_easy_cleanup(c);
    curl_slist_free_all(hl);
    buf_free(&b);
    buf_free(&hd);
    return o;
}

#define CHAT8                                                                                      \
    "{\"model\":\"tiny\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":8}"

DB_TEST(auth_load, replicas_share_keys_and_revocation) {
    auth_test_user(url, "{\"name\":\"root\",\"role\":\"admin\"}");
    char *admin = auth_test_key(url, "{\"name\":\"admin\",\"user\":\"root\"}", NULL);
    api_server a, b;
    auth_test_server(&a, url, NULL);
    auth_test_server(&b, url, NULL);
    api_resp r;
    auth_http(&a, "POST", "/api/keys", "{\"name\":\"roaming\"}", admin, &r);
    ASSERT_EQ_INT(r.status, 201);
    char *key = strdup(api_jstr(r.json, "key")), *id = strdup(api_jstr(r.json, "id"));
    api_resp_free(&r);
    auth_http(&b, "POST", "/v1/chat/completions", CHAT8, key, &r);
    ASSERT_EQ_INT(r.status, 200);
    api_resp_free(&r);
    char path[64];
    snprintf(path, sizeof path, "/api/keys/%s", id);
    auth_http(&a, "DELETE", path, NULL, admin, &r);
    ASSERT_EQ_INT(r.status, 200);
    api_resp_free(&r);
    uint64_t t0 = time_now_ns();
    long status = 0;
    while (time_now_ns() - t0 < 1000000000ull) {
        auth_http(&b, "GET", "/v1/models", NULL, key, &r);
        status = r.status;
        api_resp_free(&r);
        if (status == 401) break;
        usleep(20000);
    }
    ASSERT_EQ_INT(status, 401); /* refused on the other replica within one second */
    api_server_stop(&a);
    api_server_stop(&b);
    free(admin), free(key), free(id);
}

typedef struct client {
    const char *base[2];
    const char *key;
    int index;
    int served, refused, other;
    long long tokens; /* total_tokens of the served responses */
} client;

static void *run_client(void *ud) {
    client *c = ud;
    for (int i = 0; i < 3; i++) {
        outcome o = post(c->base[(c->index + i) % 2], "/v1/chat/completions", CHAT8, c->key);
        if (o.status == 200 && o.total_tokens > 0)
            c->served++, c->tokens += o.total_tokens;
        else if (o.status == 429 && o.retry_after)
            c->refused++;
        else
            c->other++;
    }
    return NULL;
}

DB_TEST(auth_load, quota_holds_across_replicas) {
    const long long quota = 400;
    char spec[128];
    snprintf(spec, sizeof spec, "{\"name\":\"shared-quota\",\"tokens_per_day\":%lld}", quota);
    char *key = auth_test_key(url, spec, NULL);
    api_server a, b;
    auth_test_server(&a, url, two_slots);
    auth_test_server(&b, url, two_slots);
    client cl[20];
    pthread_t th[20];
    for (int i = 0; i < 20; i++) {
        cl[i] = (client){{a.base, b.base}, key, i, 0, 0, 0, 0};
        pthread_create(&th[i], NULL, run_client, &cl[i]);
    }
    int served = 0, refused = 0, other = 0;
    long long tokens = 0;
    for (int i = 0; i < 20; i++) {
        pthread_join(th[i], NULL);
        served += cl[i].served, refused += cl[i].refused, other += cl[i].other;
        tokens += cl[i].tokens;
    }
    ASSERT_EQ_INT(other, 0); /* every request served, or refused with 429 and Retry-After */
    ASSERT_CMP_INT(served, >, 0);
    ASSERT_CMP_INT(refused, >, 0);
    long long recorded = auth_test_sql(url, "SELECT SUM(prompt_tokens + completion_tokens)"
                                            " FROM usage_log WHERE status = 200");
    ASSERT_EQ_INT(recorded, tokens);
    ASSERT_CMP_INT(recorded, <=, quota);
    ASSERT_CMP_INT(auth_test_sql(url, "SELECT MAX(used) FROM counters WHERE kind = 'tpd'"), <=,
                   quota);
    api_server_stop(&a);
    api_server_stop(&b);
    free(key);
}

typedef struct burster {
    const char *base, *key;
    _Atomic int *stop;
    int completed;
} burster;

static void *burst(void *ud) {
    burster *bu = ud;
    while (!*bu->stop) {
        outcome o = post(bu->base, "/v1/chat/completions", CHAT8, bu->key);
        if (o.status == 200 && o.total_tokens > 0)
            bu->completed++;
        else if (o.status == 0)
            break; /* the server is gone */
    }
    return NULL;
}

DB_TEST(auth_load, kill9_loses_no_completed_usage) {
    char *key = auth_test_key(url, "{\"name\":\"burst\",\"tokens_per_month\":100000000}", NULL);
    api_server s;
    auth_test_server(&s, url, two_slots);
    _Atomic int stop = 0;
    burster bu[6];
    pthread_t th[6];
    for (int i = 0; i < 6; i++) {
        bu[i] = (burster){s.base, key, &stop, 0};
        pthread_create(&th[i], NULL, burst, &bu[i]);
    }
    usleep(1500000);
    kill(s.pid, SIGKILL);
    int st;
    waitpid(s.pid, &st, 0);
    close(s.fd);
    stop = 1;
    int completed = 0;
    for (int i = 0; i < 6; i++) {
        pthread_join(th[i], NULL);
        completed += bu[i].completed;
    }
    ASSERT_CMP_INT(completed, >, 0);
    /* The database opens (recovering its journal), migrations and all, and holds a record of
     * every response a client received in full. */
    auth_params p = auth_default_params();
    p.db_url = url;
    auth *au;
    err_buf eb = {0};
    ASSERT_OK(auth_open(&p, &au, &eb), &eb);
    auth_close(au);
    long long rows = auth_test_sql(url, "SELECT COUNT(*) FROM usage_log WHERE status = 200");
    ASSERT_CMP_INT(rows, >=, completed);
    ASSERT_CMP_INT(rows, <=, completed + 6); /* at most the ones cut off on the wire */
    if (strncmp(url, "postgres", 8) != 0)
        ASSERT_EQ_INT(auth_test_sql(url, "SELECT COUNT(*) FROM pragma_integrity_check WHERE"
                                         " integrity_check <> 'ok'"),
                      0);
    free(key);
}
