/*
 * The auth store: opening the database, the versioned schema and the mode. Migrations are
 * numbered lists of portable statements (TEXT ids we generate, BIGINT unix seconds), applied
 * in one transaction each; on PostgreSQL an advisory lock keeps replicas that start together
 * from applying the same one twice (SQLite's BEGIN IMMEDIATE already serializes them).
 */
#include <string.h>
#include <time.h>

#include "auth_int.h"

static const char *const migration_1[] = {
    "CREATE TABLE users (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, role TEXT NOT NULL,"
    " state TEXT NOT NULL, created_at BIGINT NOT NULL, capabilities TEXT, models TEXT,"
    " rpm BIGINT, tpm BIGINT, tokens_per_day BIGINT, tokens_per_month BIGINT,"
    " requests_per_day BIGINT)",
    "CREATE TABLE api_keys (id TEXT PRIMARY KEY, hash TEXT NOT NULL UNIQUE,"
    " prefix TEXT NOT NULL, name TEXT NOT NULL, user_id TEXT, capabilities TEXT, models TEXT,"
    " rpm BIGINT, tpm BIGINT, tokens_per_day BIGINT, tokens_per_month BIGINT,"
    " requests_per_day BIGINT, expires_at BIGINT, last_used_at BIGINT,"
    " created_at BIGINT NOT NULL, revoked_at BIGINT)",
    "CREATE INDEX api_keys_user ON api_keys (user_id)",
    /* One row per subject, limit kind and window: the atomic counters. */
    "CREATE TABLE counters (subject TEXT NOT NULL, kind TEXT NOT NULL,"
    " window_start BIGINT NOT NULL, used BIGINT NOT NULL,"
    " PRIMARY KEY (subject, kind, window_start))",
    "CREATE TABLE usage_log (time BIGINT NOT NULL, day TEXT NOT NULL, key_id TEXT,"
    " user_id TEXT, model TEXT, endpoint TEXT NOT NULL, prompt_tokens BIGINT NOT NULL,"
    " completion_tokens BIGINT NOT NULL, duration_ms BIGINT NOT NULL, status INTEGER NOT NULL)",
    "CREATE INDEX usage_log_day ON usage_log (day)",
    /* seq: wall-clock microseconds, to keep entries of one second in order. */
    "CREATE TABLE audit_log (time BIGINT NOT NULL, seq BIGINT NOT NULL, actor TEXT NOT NULL,"
    " action TEXT NOT NULL, target TEXT, detail TEXT)",
    NULL,
};

static const char *const *const migrations[] = {migration_1};
#define N_MIGRATIONS (int)(sizeof migrations / sizeof *migrations)

int auth_migrate(db *d, err_buf *eb) {
    /* Replicas starting together may race to create it: PostgreSQL then fails one of them
     * with a unique violation in its catalog, and a second try finds the table. */
    int rc = 0;
    for (int i = 0; i < 3; i++) {
        rc = db_exec(d,
                     "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY,"
                     " applied_at BIGINT NOT NULL)",
                     0, NULL, NULL, eb);
        if (!rc) break;
        struct timespec ts = {0, 50 * 1000000};
        nanosleep(&ts, NULL);
    }
    for (int v = 1; !rc && v <= N_MIGRATIONS; v++) {
        db_tx *t;
        if ((rc = db_tx_begin(d, &t, eb))) break;
        char vs[24], now[24];
        auth_i64_str(v, vs);
        auth_i64_str(time_unix(), now);
        const char *p[] = {vs, now};
        db_res *r = NULL;
        if (db_get_kind(d) == DB_POSTGRES)
            rc = db_tx_exec(t, "SELECT pg_advisory_xact_lock(7411001)", 0, NULL, NULL, eb);
        if (!rc)
            rc = db_tx_query(t, "SELECT version FROM schema_migrations WHERE version = $1", 1, p,
                             &r, eb);
        bool done = !rc && db_res_rows(r) > 0;
        db_res_free(r);
        for (int i = 0; !rc && !done && migrations[v - 1][i]; i++)
            rc = db_tx_exec(t, migrations[v - 1][i], 0, NULL, NULL, eb);
        if (!rc && !done)
            rc =
                db_tx_exec(t, "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
                           2, p, NULL, eb);
        if (rc) {
            db_tx_rollback(t);
            break;
        }
        if ((rc = db_tx_commit(t, eb))) break;
        if (!done) log_info("auth: applied schema migration %d", v);
    }
    return rc ? err_set(eb, rc, "schema migration failed: %s", eb ? eb->msg : "") : BASE_OK;
}

auth_params auth_default_params(void) { return (auth_params){.max_bad_keys = 10}; }

int auth_open(const auth_params *p, auth **out, err_buf *eb) {
    if (!p->db_url || !*p->db_url) return err_set(eb, BASE_EINVAL, "no database given");
    auth *a = mem_calloc(1, sizeof *a);
    if (!a) return err_set(eb, BASE_ENOMEM, "out of memory");
    a->shared_keys = p->shared_keys;
    a->n_shared_keys = p->n_shared_keys;
    a->max_bad_keys = p->max_bad_keys > 0 ? p->max_bad_keys : 10;
    pthread_mutex_init(&a->mu, NULL);
    int rc = db_open(&a->d, p->db_url, eb);
    if (!rc) rc = auth_migrate(a->d, eb);
    if (rc) {
        auth_close(a);
        return rc;
    }
    /* Counters of windows long gone only take space. */
    char old[24];
    auth_i64_str(time_unix() - 40 * 86400, old);
    const char *q[] = {old};
    err_buf ignore = {0};
    db_exec(a->d, "DELETE FROM counters WHERE window_start < $1", 1, q, NULL, &ignore);
    *out = a;
    return BASE_OK;
}

void auth_close(auth *a) {
    if (!a) return;
    db_close(a->d);
    pthread_mutex_destroy(&a->mu);
    mem_free(a);
}

const char *auth_mode_name(auth_mode m) {
    return m == AUTH_MODE_MANAGED ? "managed" : m == AUTH_MODE_SHARED ? "shared" : "open";
}

auth_mode auth_get_mode(auth *a) {
    uint64_t now = time_now_ns();
    pthread_mutex_lock(&a->mu);
    bool fresh = a->mode_checked_ns && now - a->mode_checked_ns < 1000000000ull;
    auth_mode m = a->mode;
    pthread_mutex_unlock(&a->mu);
    if (fresh) return m;
    char ts[24];
    auth_i64_str(time_unix(), ts);
    const char *p[] = {ts};
    db_res *r = NULL;
    err_buf eb = {0};
    bool managed = true; /* a database we cannot read must not open the doors */
    if (!db_query(a->d,
                  "SELECT id FROM api_keys WHERE revoked_at IS NULL AND"
                  " (expires_at IS NULL OR expires_at > $1) LIMIT 1",
                  1, p, &r, &eb))
        managed = db_res_rows(r) > 0;
    else
        log_error("auth: cannot read the keys: %s", err_msg(&eb));
    db_res_free(r);
    m = managed ? AUTH_MODE_MANAGED : a->n_shared_keys ? AUTH_MODE_SHARED : AUTH_MODE_OPEN;
    pthread_mutex_lock(&a->mu);
    a->mode = m;
    a->mode_checked_ns = now;
    pthread_mutex_unlock(&a->mu);
    return m;
}

void auth_time_iso(int64_t t, char *out, size_t cap) {
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
