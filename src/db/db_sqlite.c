/*
 * The SQLite driver (system libsqlite3). Each pooled connection is its own sqlite3 handle on
 * the same file, in WAL mode so readers never block the writer, with a busy timeout so that
 * writers from other threads and processes queue up instead of failing with SQLITE_BUSY.
 *
 * "$1".."$N" are valid SQLite parameter names, so the SQL is passed through unchanged and each
 * "$k" is bound by name to params[k-1]: no rewriting, and a '$' inside a string literal is safe.
 */
#include "db_int.h"

#include <ctype.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#define SQ_BUSY_TIMEOUT_MS 5000

/* Map SQLite's primary result codes onto ours; see db.h for what each means to a caller. */
static int sq_code(int rc) {
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return BASE_EBUSY;
    case SQLITE_NOMEM: return BASE_ENOMEM;
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH:
    case SQLITE_TOOBIG:
    case SQLITE_RANGE: return BASE_EINVAL;
    case SQLITE_ERROR: return BASE_EINTERNAL; /* bad SQL, missing table: our own bug */
    default: return BASE_EIO;
    }
}

static int sq_fail(sqlite3 *h, int rc, err_buf *eb) {
    return err_set(eb, sq_code(rc), "sqlite: %s", h ? sqlite3_errmsg(h) : sqlite3_errstr(rc));
}

static int sq_connect(const char *target, void **conn, err_buf *eb) {
    *conn = NULL;
    /* Every pooled connection would get its own private in-memory database. */
    if (!strcmp(target, ":memory:") || !strncmp(target, "file:", 5))
        return err_set(eb, BASE_EUNSUPPORTED, "sqlite: give a database file path, not \"%s\"",
                       target);
    sqlite3 *h = NULL;
    /* NOMUTEX: the pool hands a connection to one thread at a time. */
    int rc = sqlite3_open_v2(target, &h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                             SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        if (!h) return err_set(eb, BASE_ENOMEM, "sqlite: out of memory");
        int code = err_set(eb, sq_code(rc), "sqlite: cannot open %s: %s", target,
                           sqlite3_errmsg(h));
        sqlite3_close(h);
        return code;
    }
    sqlite3_busy_timeout(h, SQ_BUSY_TIMEOUT_MS);
    /* WAL is a property of the file (kept once set); synchronous=NORMAL is durable enough in
     * WAL mode and avoids an fsync per commit; foreign keys are enforced as PostgreSQL does. */
    /* Switching a new file to WAL takes an exclusive lock, and SQLite answers SQLITE_BUSY at
     * once, without the busy handler, where waiting could deadlock: processes opening a fresh
     * file together (replicas starting at once) can get it. Retry for the busy timeout. */
    char *msg = NULL;
    for (int waited = 0;; waited += 10) {
        rc = sqlite3_exec(h, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                             "PRAGMA foreign_keys=ON;", NULL, NULL, &msg);
        int prim = rc & 0xff;
        if ((prim != SQLITE_BUSY && prim != SQLITE_LOCKED) || waited >= SQ_BUSY_TIMEOUT_MS) break;
        sqlite3_free(msg);
        msg = NULL;
        sqlite3_sleep(10);
    }
    if (rc != SQLITE_OK) {
        int code = err_set(eb, sq_code(rc), "sqlite: cannot set up %s: %s", target,
                           msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        sqlite3_close(h);
        return code;
    }
    *conn = h;
    return BASE_OK;
}

static void sq_disconnect(void *conn) { sqlite3_close(conn); }

/* "$k" with 1 <= k <= n: returns k, else 0. */
static int param_number(const char *name, int n) {
    if (!name || name[0] != '$' || !isdigit((unsigned char)name[1])) return 0;
    char *end;
    long k = strtol(name + 1, &end, 10);
    return *end || k < 1 || k > n ? 0 : (int)k;
}

static int sq_bind(sqlite3_stmt *st, int n_params, const char *const *params, err_buf *eb) {
    int used = sqlite3_bind_parameter_count(st);
    for (int j = 1; j <= used; j++) {
        const char *name = sqlite3_bind_parameter_name(st, j);
        int k = param_number(name, n_params);
        if (!k)
            return err_set(eb, BASE_EINVAL, "sqlite: parameter %s is not one of $1..$%d",
                           name ? name : "?", n_params);
        int rc = params[k - 1] ? sqlite3_bind_text(st, j, params[k - 1], -1, SQLITE_STATIC)
                               : sqlite3_bind_null(st, j);
        if (rc != SQLITE_OK) return sq_fail(sqlite3_db_handle(st), rc, eb);
    }
    /* Same-named parameters share an index, so used counts distinct $k; PostgreSQL also
     * refuses parameters the statement does not use. */
    if (used != n_params)
        return err_set(eb, BASE_EINVAL, "sqlite: statement uses %d parameters, %d given", used,
                       n_params);
    return BASE_OK;
}

static bool only_space(const char *s) {
    for (; *s; s++)
        if (!isspace((unsigned char)*s) && *s != ';') return false;
    return true;
}

static int sq_rows(sqlite3 *h, sqlite3_stmt *st, db_res **out, err_buf *eb) {
    int cols = sqlite3_column_count(st);
    db_res *r = NULL;
    if (out) {
        r = db_res_new(cols);
        if (!r) return err_set(eb, BASE_ENOMEM, "sqlite: out of memory");
        for (int c = 0; c < cols; c++) {
            const char *name = sqlite3_column_name(st, c);
            if (!name || db_res_push(r, name, strlen(name))) goto oom;
        }
    }
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        for (int c = 0; r && c < cols; c++) {
            const char *v = (const char *)sqlite3_column_text(st, c);
            if (!v && sqlite3_column_type(st, c) != SQLITE_NULL) goto oom;
            if (db_res_push(r, v, v ? (size_t)sqlite3_column_bytes(st, c) : 0)) goto oom;
        }
    }
    if (rc != SQLITE_DONE) {
        db_res_free(r);
        return sq_fail(h, rc, eb);
    }
    if (out) *out = r;
    return BASE_OK;
oom:
    db_res_free(r);
    return err_set(eb, BASE_ENOMEM, "sqlite: out of memory");
}

static int sq_run(void *conn, const char *sql, int n_params, const char *const *params,
                  int64_t *changes, db_res **out, err_buf *eb) {
    sqlite3 *h = conn;
    sqlite3_stmt *st = NULL;
    const char *tail = NULL;
    int rc = sqlite3_prepare_v2(h, sql, -1, &st, &tail);
    if (rc != SQLITE_OK) return sq_fail(h, rc, eb);
    if (!st) return err_set(eb, BASE_EINVAL, "sqlite: empty statement");
    if (tail && !only_space(tail)) {
        sqlite3_finalize(st);
        return err_set(eb, BASE_EINVAL, "sqlite: one statement at a time (scripts: "
                                        "db_exec_script)");
    }
    rc = sq_bind(st, n_params, params, eb);
    int64_t before = sqlite3_total_changes64(h);
    if (!rc) rc = sq_rows(h, st, out, eb);
    /* changes() keeps the count of the last INSERT/UPDATE/DELETE, so for any other statement
     * it would be stale: trust it only when this statement changed something. */
    if (!rc && changes)
        *changes = sqlite3_total_changes64(h) != before ? sqlite3_changes64(h) : 0;
    sqlite3_finalize(st);
    return rc;
}

/* Run as one transaction, like PostgreSQL's PQexec of several statements: a migration that
 * fails half-way leaves nothing behind. */
static int sq_script(void *conn, const char *sql, err_buf *eb) {
    sqlite3 *h = conn;
    bool own_tx = sqlite3_get_autocommit(h);
    char *msg = NULL;
    int rc = own_tx ? sqlite3_exec(h, "BEGIN IMMEDIATE", NULL, NULL, &msg) : SQLITE_OK;
    if (rc == SQLITE_OK) rc = sqlite3_exec(h, sql, NULL, NULL, &msg);
    if (rc == SQLITE_OK && own_tx) rc = sqlite3_exec(h, "COMMIT", NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        err_set(eb, sq_code(rc), "sqlite: %s", msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        if (own_tx && !sqlite3_get_autocommit(h)) sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
        return sq_code(rc);
    }
    return BASE_OK;
}

static bool sq_reusable(void *conn) { return sqlite3_get_autocommit(conn) != 0; }

const db_driver db_sqlite_driver = {
    .name = "sqlite",
    .kind = DB_SQLITE,
    .begin_sql = "BEGIN IMMEDIATE",
    .connect = sq_connect,
    .disconnect = sq_disconnect,
    .run = sq_run,
    .script = sq_script,
    .recover = NULL,
    .reusable = sq_reusable,
};
