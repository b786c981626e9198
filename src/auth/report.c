/*
 * Reports: usage aggregated per day, key, user and model (with totals), and the audit log.
 * Filters become WHERE clauses only when given, so every parameter has a known type on
 * PostgreSQL.
 */
#include <stdio.h>
#include <string.h>

#include "auth_int.h"

static bool is_day(const char *s) {
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-') return false;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9')) return false;
    return true;
}

int auth_usage_query(auth *a, const auth_usage_filter *f, json_t **out, err_buf *eb) {
    auth_usage_filter none = {0};
    if (!f) f = &none;
    if ((f->since && !is_day(f->since)) || (f->until && !is_day(f->until)))
        return err_set(eb, BASE_EINVAL, "dates must be YYYY-MM-DD");
    buf sql = {0};
    const char *p[5];
    int n = 0;
    buf_append_str(&sql, "SELECT l.day, l.key_id, k.prefix, k.name, COALESCE(u.name, l.user_id),"
                         " l.model, COUNT(*), SUM(l.prompt_tokens), SUM(l.completion_tokens)"
                         " FROM usage_log l LEFT JOIN api_keys k ON k.id = l.key_id"
                         " LEFT JOIN users u ON u.id = l.user_id WHERE 1 = 1");
    if (f->key) p[n++] = f->key, buf_printf(&sql, " AND (l.key_id = $%d OR k.prefix = $%d)", n, n);
    if (f->user) p[n++] = f->user, buf_printf(&sql, " AND (u.name = $%d OR l.user_id = $%d)", n, n);
    if (f->model) p[n++] = f->model, buf_printf(&sql, " AND l.model = $%d", n);
    if (f->since) p[n++] = f->since, buf_printf(&sql, " AND l.day >= $%d", n);
    if (f->until) p[n++] = f->until, buf_printf(&sql, " AND l.day <= $%d", n);
    buf_append_str(&sql, " GROUP BY l.day, l.key_id, k.prefix, k.name, COALESCE(u.name, l.user_id),"
                         " l.model ORDER BY l.day, l.key_id, l.model");
    if (sql.oom) {
        buf_free(&sql);
        return err_set(eb, BASE_ENOMEM, "out of memory");
    }
    db_res *r = NULL;
    int rc = db_query(a->d, sql.data, n, p, &r, eb);
    buf_free(&sql);
    if (rc) return rc;
    json_t *data = json_array();
    int64_t req = 0, pt = 0, ct = 0;
    for (int i = 0; i < db_res_rows(r); i++) {
        json_t *o = json_object();
        const char *key = db_res_get(r, i, 1), *prefix = db_res_get(r, i, 2);
        const char *kname = db_res_get(r, i, 3), *user = db_res_get(r, i, 4);
        const char *model = db_res_get(r, i, 5);
        int64_t rq = db_res_i64(r, i, 6), p1 = db_res_i64(r, i, 7), c1 = db_res_i64(r, i, 8);
        json_object_set_new(o, "day", json_string(db_res_get(r, i, 0)));
        json_object_set_new(o, "key", key ? json_string(key) : json_null());
        json_object_set_new(o, "key_prefix", prefix ? json_string(prefix) : json_null());
        json_object_set_new(o, "key_name", kname ? json_string(kname) : json_null());
        json_object_set_new(o, "user", user ? json_string(user) : json_null());
        json_object_set_new(o, "model", model ? json_string(model) : json_null());
        json_object_set_new(o, "requests", json_integer(rq));
        json_object_set_new(o, "prompt_tokens", json_integer(p1));
        json_object_set_new(o, "completion_tokens", json_integer(c1));
        json_object_set_new(o, "total_tokens", json_integer(p1 + c1));
        json_array_append_new(data, o);
        req += rq, pt += p1, ct += c1;
    }
    db_res_free(r);
    json_t *totals = json_object();
    json_object_set_new(totals, "requests", json_integer(req));
    json_object_set_new(totals, "prompt_tokens", json_integer(pt));
    json_object_set_new(totals, "completion_tokens", json_integer(ct));
    json_object_set_new(totals, "total_tokens", json_integer(pt + ct));
    *out = json_object();
    json_object_set_new(*out, "data", data);
    json_object_set_new(*out, "totals", totals);
    return BASE_OK;
}

int auth_audit_list(auth *a, int limit, json_t **out, err_buf *eb) {
    char lim[24];
    auth_i64_str(limit > 0 ? limit : 100, lim);
    const char *p[] = {lim};
    db_res *r = NULL;
    int rc = db_query(a->d,
                      "SELECT time, actor, action, target, detail FROM audit_log"
                      " ORDER BY seq DESC LIMIT $1",
                      1, p, &r, eb);
    if (rc) return rc;
    json_t *data = json_array();
    for (int i = 0; i < db_res_rows(r); i++) {
        char iso[32];
        auth_time_iso(db_res_i64(r, i, 0), iso, sizeof iso);
        json_t *o = json_object();
        json_object_set_new(o, "time", json_string(iso));
        for (int c = 1; c < 5; c++) {
            const char *v = db_res_get(r, i, c);
            json_object_set_new(o, db_res_name(r, c), v ? json_string(v) : json_null());
        }
        json_array_append_new(data, o);
    }
    db_res_free(r);
    *out = json_object();
    json_object_set_new(*out, "data", data);
    return BASE_OK;
}
