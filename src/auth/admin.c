/*
 * Administration of users and keys: JSON in, JSON out, in the admin API's shapes, shared by
 * the HTTP handlers (api/admin.c) and the CLI. Users and keys carry the same settings
 * (capabilities, models, limits); NULL means "inherit" for a key and "unlimited / the role's
 * default" for a user. Every change is written to the audit log.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth_int.h"

/* The settings columns, in this order everywhere. */
static const char *const set_cols[] = {
    "capabilities",     "models",          "rpm", "tpm", "tokens_per_day",
    "tokens_per_month", "requests_per_day"};
#define N_SET 7

typedef struct settings {
    bool given[N_SET];
    const char *val[N_SET]; /* NULL: SQL NULL */
    char text[N_SET][1024];
} settings;

/* A JSON array of strings, or a comma-separated string, as CSV into out. */
static int csv_of(const json_t *v, const char *field, char *out, size_t cap, err_buf *eb) {
    out[0] = 0;
    size_t len = 0;
    if (json_is_string(v)) {
        if (json_string_length(v) >= cap)
            return err_set(eb, BASE_EINVAL, "'%s' is too long", field);
        memcpy(out, json_string_value(v), json_string_length(v) + 1);
        return BASE_OK;
    }
    if (!json_is_array(v))
        return err_set(eb, BASE_EINVAL, "'%s' must be an array of strings or null", field);
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        if (!json_is_string(e) || !json_string_length(e) || strchr(json_string_value(e), ','))
            return err_set(eb, BASE_EINVAL, "'%s' must hold non-empty strings without commas",
                           field);
        size_t n = json_string_length(e);
        if (len + n + 2 > cap) return err_set(eb, BASE_EINVAL, "'%s' is too long", field);
        if (len) out[len++] = ',';
        memcpy(out + len, json_string_value(e), n);
        len += n;
        out[len] = 0;
    }
    return BASE_OK;
}

static int settings_parse(const json_t *spec, settings *s, err_buf *eb) {
    memset(s, 0, sizeof *s);
    for (int i = 0; i < N_SET; i++) {
        json_t *v = json_object_get(spec, set_cols[i]);
        if (!v) continue;
        s->given[i] = true;
        if (json_is_null(v)) continue;
        if (i < 2) {
            int rc = csv_of(v, set_cols[i], s->text[i], sizeof s->text[i], eb);
            if (rc) return rc;
            unsigned caps;
            if (i == 0 && (rc = auth_caps_parse(s->text[i], &caps, eb))) return rc;
        } else {
            if (!json_is_integer(v) || json_integer_value(v) < 0)
                return err_set(eb, BASE_EINVAL, "'%s' must be a non-negative integer or null",
                               set_cols[i]);
            auth_i64_str(json_integer_value(v), s->text[i]);
        }
        s->val[i] = s->text[i];
    }
    return BASE_OK;
}

/* ---- rows to JSON ---- */

static json_t *csv_json(const char *csv) {
    if (!csv) return json_null();
    json_t *a = json_array();
    while (*csv) {
        size_t n = strcspn(csv, ",");
        if (n) json_array_append_new(a, json_stringn(csv, n));
        csv += n;
        if (*csv == ',') csv++;
    }
    return a;
}

static json_t *time_json(const db_res *r, int row, int col) {
    if (!db_res_get(r, row, col)) return json_null();
    char iso[32];
    auth_time_iso(db_res_i64(r, row, col), iso, sizeof iso);
    return json_string(iso);
}

/* One row as an object: columns named *_at are times, settings typed, the rest strings. */
static json_t *row_json(const db_res *r, int row) {
    json_t *o = json_object();
    for (int c = 0; c < db_res_cols(r); c++) {
        const char *name = db_res_name(r, c), *v = db_res_get(r, row, c);
        size_t n = strlen(name);
        json_t *j;
        if (n > 3 && !strcmp(name + n - 3, "_at"))
            j = time_json(r, row, c);
        else if (!strcmp(name, "capabilities") || !strcmp(name, "models"))
            j = csv_json(v);
        else if (!v)
            j = json_null();
        else if (!strcmp(name, "rpm") || !strcmp(name, "tpm") || !strncmp(name, "tokens_", 7) ||
                 !strcmp(name, "requests_per_day"))
            j = json_integer(db_res_i64(r, row, c));
        else
            j = json_string(v);
        json_object_set_new(o, name, j);
    }
    return o;
}

static const char user_cols[] =
    "SELECT id, name, role, state, created_at, capabilities, models, rpm, tpm, tokens_per_day,"
    " tokens_per_month, requests_per_day FROM users";
static const char key_cols[] =
    "SELECT k.id, k.prefix, k.name, u.name AS \"user\", k.user_id, k.capabilities, k.models,"
    " k.rpm, k.tpm, k.tokens_per_day, k.tokens_per_month, k.requests_per_day, k.expires_at,"
    " k.last_used_at, k.created_at, k.revoked_at FROM api_keys k LEFT JOIN users u"
    " ON u.id = k.user_id";

static int list_json(auth *a, const char *sql, int n, const char *const *p, json_t **out,
                     err_buf *eb) {
    db_res *r = NULL;
    int rc = db_query(a->d, sql, n, p, &r, eb);
    if (rc) return rc;
    json_t *data = json_array();
    for (int i = 0; i < db_res_rows(r); i++) json_array_append_new(data, row_json(r, i));
    db_res_free(r);
    *out = json_object();
    json_object_set_new(*out, "data", data);
    return BASE_OK;
}

/* The first row of a listing, or BASE_ENOTFOUND. */
static int one_json(auth *a, const char *sql, const char *id, const char *what, json_t **out,
                    err_buf *eb) {
    json_t *l;
    const char *p[] = {id};
    int rc = list_json(a, sql, 1, p, &l, eb);
    if (rc) return rc;
    json_t *d = json_object_get(l, "data");
    if (json_array_size(d) == 0) {
        json_decref(l);
        return err_set(eb, BASE_ENOTFOUND, "no %s '%s'", what, id);
    }
    if (json_array_size(d) > 1) {
        json_decref(l);
        return err_set(eb, BASE_EINVAL, "'%s' names more than one %s", id, what);
    }
    *out = json_incref(json_array_get(d, 0));
    json_decref(l);
    return BASE_OK;
}

void auth_audit(auth *a, const char *actor, const char *action, const char *target,
                const char *detail) {
    char ts[24], seq[24];
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    auth_i64_str((int64_t)now.tv_sec, ts);
    auth_i64_str((int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000, seq);
    const char *p[] = {ts, seq, actor ? actor : "?", action, target, detail};
    err_buf eb = {0};
    if (db_exec(a->d,
                "INSERT INTO audit_log (time, seq, actor, action, target, detail)"
                " VALUES ($1, $2, $3, $4, $5, $6)",
                6, p, NULL, &eb))
        log_error("auth: cannot write the audit log: %s", err_msg(&eb));
}

static void audit_json(auth *a, const char *actor, const char *action, const char *target,
                       const json_t *detail) {
    char *d = detail ? json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    auth_audit(a, actor, action, target, d);
    free(d);
}

/* UPDATE table SET <given settings and extra columns> WHERE id = $last. */
static int update_row(auth *a, const char *table, const char *id, const settings *s,
                      const char *const *extra_cols, const char *const *extra_vals, int n_extra,
                      err_buf *eb) {
    buf sql = {0};
    const char *p[N_SET + 8];
    int n = 0;
    buf_printf(&sql, "UPDATE %s SET ", table);
    for (int i = 0; i < N_SET; i++)
        if (s->given[i]) {
            p[n] = s->val[i];
            buf_printf(&sql, "%s%s = $%d", n ? ", " : "", set_cols[i], n + 1);
            n++;
        }
    for (int i = 0; i < n_extra && n < N_SET + 7; i++) {
        p[n] = extra_vals[i];
        buf_printf(&sql, "%s%s = $%d", n ? ", " : "", extra_cols[i], n + 1);
        n++;
    }
    if (!n) {
        buf_free(&sql);
        return BASE_OK;
    }
    p[n] = id;
    buf_printf(&sql, " WHERE id = $%d", n + 1);
    int rc = sql.oom ? err_set(eb, BASE_ENOMEM, "out of memory")
                     : db_exec(a->d, sql.data, n + 1, p, NULL, eb);
    buf_free(&sql);
    return rc;
}

/* ---- users ---- */

static int check_role_state(const json_t *spec, const char **role, const char **state,
                            err_buf *eb) {
    json_t *r = json_object_get(spec, "role"), *s = json_object_get(spec, "state");
    if (r && (!json_is_string(r) ||
              (strcmp(json_string_value(r), "admin") && strcmp(json_string_value(r), "user"))))
        return err_set(eb, BASE_EINVAL, "'role' must be \"admin\" or \"user\"");
    if (s && (!json_is_string(s) ||
              (strcmp(json_string_value(s), "active") && strcmp(json_string_value(s), "disabled"))))
        return err_set(eb, BASE_EINVAL, "'state' must be \"active\" or \"disabled\"");
    *role = r ? json_string_value(r) : NULL;
    *state = s ? json_string_value(s) : NULL;
    return BASE_OK;
}

int auth_user_list(auth *a, json_t **out, err_buf *eb) {
    return list_json(a,
                     "SELECT id, name, role, state, created_at, capabilities, models, rpm,"
                     " tpm, tokens_per_day, tokens_per_month, requests_per_day FROM users"
                     " ORDER BY created_at, name",
                     0, NULL, out, eb);
}

static int user_get(auth *a, const char *id, json_t **out, err_buf *eb) {
    char sql[512];
    snprintf(sql, sizeof sql, "%s WHERE id = $1 OR name = $1", user_cols);
    return one_json(a, sql, id, "user", out, eb);
}

int auth_user_create(auth *a, const char *actor, const json_t *spec, json_t **out, err_buf *eb) {
    json_t *name = json_object_get(spec, "name");
    if (!json_is_string(name) || !json_string_length(name) || json_string_length(name) > 64)
        return err_set(eb, BASE_EINVAL, "'name' must be a string of 1 to 64 characters");
    const char *role, *state;
    settings s;
    int rc = check_role_state(spec, &role, &state, eb);
    if (!rc) rc = settings_parse(spec, &s, eb);
    if (rc) return rc;
    json_t *existing = NULL;
    err_buf scratch = {0};
    if (!user_get(a, json_string_value(name), &existing, &scratch)) {
        json_decref(existing);
        return err_set(eb, BASE_EBUSY, "a user named '%s' exists", json_string_value(name));
    }
    char id[17], ts[24];
    auth_random_id(id);
    auth_i64_str(time_unix(), ts);
    const char *p[] = {id,
                       json_string_value(name),
                       role ? role : "user",
                       state ? state : "active",
                       ts,
                       s.val[0],
                       s.val[1],
                       s.val[2],
                       s.val[3],
                       s.val[4],
                       s.val[5],
                       s.val[6]};
    rc = db_exec(a->d,
                 "INSERT INTO users (id, name, role, state, created_at, capabilities, models,"
                 " rpm, tpm, tokens_per_day, tokens_per_month, requests_per_day)"
                 " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                 12, p, NULL, eb);
    if (rc) return rc;
    audit_json(a, actor, "user.create", json_string_value(name), spec);
    return user_get(a, id, out, eb);
}

int auth_user_update(auth *a, const char *actor, const char *id, const json_t *patch, json_t **out,
                     err_buf *eb) {
    json_t *cur;
    int rc = user_get(a, id, &cur, eb);
    if (rc) return rc;
    char uid[32];
    snprintf(uid, sizeof uid, "%s", json_string_value(json_object_get(cur, "id")));
    json_decref(cur);
    const char *role, *state;
    settings s;
    if ((rc = check_role_state(patch, &role, &state, eb)) || (rc = settings_parse(patch, &s, eb)))
        return rc;
    const char *cols[2], *vals[2];
    int n = 0;
    if (role) cols[n] = "role", vals[n++] = role;
    if (state) cols[n] = "state", vals[n++] = state;
    if ((rc = update_row(a, "users", uid, &s, cols, vals, n, eb))) return rc;
    audit_json(a, actor, "user.update", id, patch);
    return user_get(a, uid, out, eb);
}

int auth_user_delete(auth *a, const char *actor, const char *id, err_buf *eb) {
    json_t *cur;
    int rc = user_get(a, id, &cur, eb);
    if (rc) return rc;
    char uid[32], ts[24];
    snprintf(uid, sizeof uid, "%s", json_string_value(json_object_get(cur, "id")));
    json_decref(cur);
    auth_i64_str(time_unix(), ts);
    const char *p[] = {uid, ts};
    db_tx *t = NULL;
    /* The user's keys die with it, in the same transaction. */
    if (!(rc = db_tx_begin(a->d, &t, eb)) &&
        !(rc = db_tx_exec(t,
                          "UPDATE api_keys SET revoked_at = $2 WHERE user_id = $1 AND"
                          " revoked_at IS NULL",
                          2, p, NULL, eb)) &&
        !(rc = db_tx_exec(t, "DELETE FROM users WHERE id = $1", 1, p, NULL, eb)))
        rc = db_tx_commit(t, eb);
    else
        db_tx_rollback(t);
    if (rc) return rc;
    pthread_mutex_lock(&a->mu);
    a->mode_checked_ns = 0;
    pthread_mutex_unlock(&a->mu);
    auth_audit(a, actor, "user.delete", id, NULL);
    return BASE_OK;
}

/* ---- keys ---- */

static int key_get(auth *a, const char *id, json_t **out, err_buf *eb) {
    char sql[768];
    snprintf(sql, sizeof sql, "%s WHERE k.id = $1 OR k.prefix = $1", key_cols);
    return one_json(a, sql, id, "key", out, eb);
}

int auth_key_list(auth *a, const char *user, json_t **out, err_buf *eb) {
    char sql[768];
    const char *p[] = {user};
    snprintf(sql, sizeof sql, "%s%s ORDER BY k.created_at, k.id", key_cols,
             user ? " WHERE u.name = $1 OR u.id = $1" : "");
    return list_json(a, sql, user ? 1 : 0, p, out, eb);
}

static void mode_changed(auth *a) {
    pthread_mutex_lock(&a->mu);
    a->mode_checked_ns = 0;
    pthread_mutex_unlock(&a->mu);
}

int auth_key_create(auth *a, const char *actor, const json_t *spec, json_t **out, err_buf *eb) {
    json_t *name = json_object_get(spec, "name"), *user = json_object_get(spec, "user");
    json_t *exp = json_object_get(spec, "expires_in");
    if (!json_is_string(name) || !json_string_length(name) || json_string_length(name) > 128)
        return err_set(eb, BASE_EINVAL, "'name' must be a string of 1 to 128 characters");
    if (user && !json_is_null(user) && !json_is_string(user))
        return err_set(eb, BASE_EINVAL, "'user' must be a user name");
    if (exp && !json_is_null(exp) && (!json_is_integer(exp) || json_integer_value(exp) <= 0))
        return err_set(eb, BASE_EINVAL, "'expires_in' must be a positive number of seconds");
    settings s;
    int rc = settings_parse(spec, &s, eb);
    if (rc) return rc;
    char uid[32] = "";
    if (json_is_string(user)) {
        json_t *u;
        if ((rc = user_get(a, json_string_value(user), &u, eb))) return rc;
        snprintf(uid, sizeof uid, "%s", json_string_value(json_object_get(u, "id")));
        json_decref(u);
    }
    char key[68], hash[65], prefix[16], id[17], ts[24], expires[24];
    if ((rc = auth_key_new(key, eb))) return rc;
    auth_key_hash(key, hash);
    snprintf(prefix, sizeof prefix, "%.12s", key);
    auth_random_id(id);
    int64_t now = time_unix();
    auth_i64_str(now, ts);
    if (json_is_integer(exp)) auth_i64_str(now + json_integer_value(exp), expires);
    const char *p[] = {id,
                       hash,
                       prefix,
                       json_string_value(name),
                       uid[0] ? uid : NULL,
                       s.val[0],
                       s.val[1],
                       s.val[2],
                       s.val[3],
                       s.val[4],
                       s.val[5],
                       s.val[6],
                       json_is_integer(exp) ? expires : NULL,
                       ts};
    rc = db_exec(a->d,
                 "INSERT INTO api_keys (id, hash, prefix, name, user_id, capabilities,"
                 " models, rpm, tpm, tokens_per_day, tokens_per_month, requests_per_day,"
                 " expires_at, created_at)"
                 " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
                 14, p, NULL, eb);
    if (rc) return rc;
    mode_changed(a);
    audit_json(a, actor, "key.create", prefix, spec);
    if ((rc = key_get(a, id, out, eb))) return rc;
    json_object_set_new(*out, "key", json_string(key));
    return BASE_OK;
}

int auth_key_update(auth *a, const char *actor, const char *id, const json_t *patch, json_t **out,
                    err_buf *eb) {
    json_t *cur, *name = json_object_get(patch, "name");
    int rc = key_get(a, id, &cur, eb);
    if (rc) return rc;
    char kid[32];
    snprintf(kid, sizeof kid, "%s", json_string_value(json_object_get(cur, "id")));
    json_decref(cur);
    if (name && (!json_is_string(name) || !json_string_length(name)))
        return err_set(eb, BASE_EINVAL, "'name' must be a non-empty string");
    settings s;
    if ((rc = settings_parse(patch, &s, eb))) return rc;
    const char *cols[] = {"name"}, *vals[] = {name ? json_string_value(name) : NULL};
    if ((rc = update_row(a, "api_keys", kid, &s, cols, vals, name ? 1 : 0, eb))) return rc;
    audit_json(a, actor, "key.update", id, patch);
    return key_get(a, kid, out, eb);
}

int auth_key_revoke(auth *a, const char *actor, const char *id, err_buf *eb) {
    json_t *cur;
    int rc = key_get(a, id, &cur, eb);
    if (rc) return rc;
    char kid[32], ts[24];
    snprintf(kid, sizeof kid, "%s", json_string_value(json_object_get(cur, "id")));
    json_decref(cur);
    auth_i64_str(time_unix(), ts);
    const char *p[] = {ts, kid};
    rc = db_exec(a->d, "UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
                 2, p, NULL, eb);
    if (rc) return rc;
    mode_changed(a);
    auth_audit(a, actor, "key.revoke", id, NULL);
    return BASE_OK;
}
