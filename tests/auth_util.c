/* Helpers for the end-to-end auth tests (see auth_util.h). */
#include "auth_util.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static auth *open_db(const char *url) {
    auth_params p = auth_default_params();
    p.db_url = url;
    auth *a = NULL;
    err_buf eb = {0};
    ASSERT_OK(auth_open(&p, &a, &eb), &eb);
    return a;
}

char *auth_test_key(const char *url, const char *spec_json, char *id) {
    auth *a = open_db(url);
    json_t *spec = json_loads(spec_json, 0, NULL), *out = NULL;
    ASSERT_NOT_NULL(spec);
    err_buf eb = {0};
    ASSERT_OK(auth_key_create(a, "test", spec, &out, &eb), &eb);
    char *key = strdup(json_string_value(json_object_get(out, "key")));
    if (id) snprintf(id, 32, "%s", json_string_value(json_object_get(out, "id")));
    json_decref(out);
    json_decref(spec);
    auth_close(a);
    return key;
}

void auth_test_user(const char *url, const char *spec_json) {
    auth *a = open_db(url);
    json_t *spec = json_loads(spec_json, 0, NULL), *out = NULL;
    err_buf eb = {0};
    ASSERT_OK(auth_user_create(a, "test", spec, &out, &eb), &eb);
    json_decref(out);
    json_decref(spec);
    auth_close(a);
}

void auth_test_server(api_server *s, const char *url, const char *const *extra) {
    char abs[PATH_MAX], path[PATH_MAX + 64];
    if (!realpath(test_shared_file("golden/embeddings/models/bert-mean-F32.gguf"), abs))
        test_fail(__FILE__, __LINE__, "cannot resolve the bert model");
    snprintf(path, sizeof path, "%s/bert.gguf", test_tmpdir());
    if (access(path, F_OK)) ASSERT_EQ_INT(symlink(abs, path), 0);
    const char *args[24] = {"--database", url, "--max-bad-keys", "100000"};
    int n = 4;
    for (int i = 0; extra && extra[i] && n < 23; i++) args[n++] = extra[i];
    args[n] = NULL;
    api_server_start(s, args);
}

void auth_http(api_server *s, const char *method, const char *path, const char *body,
               const char *key, api_resp *r) {
    char h[160];
    snprintf(h, sizeof h, "Authorization: Bearer %s", key ? key : "");
    const char *hdrs[] = {h, NULL};
    api_http(s, method, path, body, key ? hdrs : NULL, r);
}

long long auth_test_sql(const char *url, const char *sql) {
    db *d;
    err_buf eb = {0};
    ASSERT_OK(db_open(&d, url, &eb), &eb);
    db_res *r = NULL;
    ASSERT_OK(db_query(d, sql, 0, NULL, &r, &eb), &eb);
    long long v = db_res_rows(r) ? db_res_i64(r, 0, 0) : -1;
    db_res_free(r);
    db_close(d);
    return v;
}
