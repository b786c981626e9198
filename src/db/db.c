/*
 * The db front: picks a driver from the URL, keeps a small pool of its connections, and pins
 * one connection per transaction. Connections are opened lazily up to DB_POOL_MAX, so a quiet
 * server holds one; a caller that finds them all busy waits for one to come back.
 */
#include "db_int.h"

#include <pthread.h>
#include <string.h>

#define DB_POOL_MAX 8

struct db {
    const db_driver *drv;
    char *target; /* what the driver connects to: a path or a libpq URI */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    void *idle[DB_POOL_MAX];
    int n_idle, n_open;
};

struct db_tx {
    db *d;
    void *conn;
};

static bool has_prefix(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

/* Borrow a connection, opening a new one when none is idle and the pool has room. */
static int pool_take(db *d, void **conn, err_buf *eb) {
    pthread_mutex_lock(&d->mu);
    while (d->n_idle == 0 && d->n_open >= DB_POOL_MAX) pthread_cond_wait(&d->cv, &d->mu);
    if (d->n_idle > 0) {
        *conn = d->idle[--d->n_idle];
        pthread_mutex_unlock(&d->mu);
        return BASE_OK;
    }
    d->n_open++;
    pthread_mutex_unlock(&d->mu);
    /* Connecting can take a network round trip: never under the lock. */
    int rc = d->drv->connect(d->target, conn, eb);
    if (rc) {
        pthread_mutex_lock(&d->mu);
        d->n_open--;
        pthread_cond_signal(&d->cv);
        pthread_mutex_unlock(&d->mu);
    }
    return rc;
}

/* Return a connection; one left broken or inside a transaction is closed instead. */
static void pool_give(db *d, void *conn) {
    bool keep = d->drv->reusable(conn);
    if (!keep) d->drv->disconnect(conn);
    pthread_mutex_lock(&d->mu);
    if (keep)
        d->idle[d->n_idle++] = conn;
    else
        d->n_open--;
    pthread_cond_signal(&d->cv);
    pthread_mutex_unlock(&d->mu);
}

int db_open(db **out, const char *url, err_buf *eb) {
    *out = NULL;
    if (!url || !*url) return err_set(eb, BASE_EINVAL, "db: empty database URL");
    const db_driver *drv = &db_sqlite_driver;
    const char *target = url;
    if (has_prefix(url, "postgres://") || has_prefix(url, "postgresql://")) {
        drv = &db_pg_driver;
    } else if (has_prefix(url, "sqlite:")) {
        target = url + strlen("sqlite:");
        /* Accept sqlite:///abs/path and sqlite://rel as well as sqlite:PATH. */
        if (has_prefix(target, "//")) target += 2;
        if (!*target) return err_set(eb, BASE_EINVAL, "db: sqlite URL without a path");
    } else if (strstr(url, "://")) {
        return err_set(eb, BASE_EUNSUPPORTED,
                       "db: unknown database URL scheme in \"%.60s\" (postgres://, sqlite:)", url);
    }
    db *d = mem_calloc(1, sizeof *d);
    if (!d) return err_set(eb, BASE_ENOMEM, "db: out of memory");
    d->drv = drv;
    d->target = mem_strdup(target);
    if (!d->target) {
        mem_free(d);
        return err_set(eb, BASE_ENOMEM, "db: out of memory");
    }
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cv, NULL);
    /* Connect once now so a wrong URL fails at startup, not on the first request. */
    void *conn;
    int rc = pool_take(d, &conn, eb);
    if (rc) {
        db_close(d);
        return rc;
    }
    pool_give(d, conn);
    *out = d;
    return BASE_OK;
}

void db_close(db *d) {
    if (!d) return;
    /* Transactions still open are the caller's bug; their connections are not ours to free. */
    for (int i = 0; i < d->n_idle; i++) d->drv->disconnect(d->idle[i]);
    pthread_mutex_destroy(&d->mu);
    pthread_cond_destroy(&d->cv);
    mem_free(d->target);
    mem_free(d);
}

db_kind db_get_kind(const db *d) { return d->drv->kind; }

/* One statement or script on a pooled connection, retried once when the driver could repair
 * a broken connection (a restarted PostgreSQL server). */
static int run_pooled(db *d, const char *sql, int n_params, const char *const *params,
                      int64_t *changes, db_res **out, bool script, err_buf *eb) {
    if (out) *out = NULL;
    if (!sql) return err_set(eb, BASE_EINVAL, "db: no SQL given");
    if (n_params < 0 || (n_params > 0 && !params))
        return err_set(eb, BASE_EINVAL, "db: bad parameter list");
    void *conn;
    int rc = pool_take(d, &conn, eb);
    if (rc) return rc;
    for (int attempt = 0;; attempt++) {
        rc = script ? d->drv->script(conn, sql, eb)
                    : d->drv->run(conn, sql, n_params, params, changes, out, eb);
        if (rc == 0 || attempt > 0 || !d->drv->recover || !d->drv->recover(conn)) break;
    }
    pool_give(d, conn);
    return rc;
}

int db_exec(db *d, const char *sql, int n_params, const char *const *params, int64_t *changes,
            err_buf *eb) {
    if (changes) *changes = 0;
    return run_pooled(d, sql, n_params, params, changes, NULL, false, eb);
}

int db_query(db *d, const char *sql, int n_params, const char *const *params, db_res **out,
             err_buf *eb) {
    return run_pooled(d, sql, n_params, params, NULL, out, false, eb);
}

int db_exec_script(db *d, const char *sql, err_buf *eb) {
    return run_pooled(d, sql, 0, NULL, NULL, NULL, true, eb);
}

int db_tx_begin(db *d, db_tx **out, err_buf *eb) {
    *out = NULL;
    db_tx *t = mem_calloc(1, sizeof *t);
    if (!t) return err_set(eb, BASE_ENOMEM, "db: out of memory");
    int rc = pool_take(d, &t->conn, eb);
    if (rc) {
        mem_free(t);
        return rc;
    }
    /* A connection that broke while idle in the pool is repaired before the BEGIN, not
     * after: once the transaction has started nothing can be retried. */
    rc = d->drv->run(t->conn, d->drv->begin_sql, 0, NULL, NULL, NULL, eb);
    if (rc && d->drv->recover && d->drv->recover(t->conn))
        rc = d->drv->run(t->conn, d->drv->begin_sql, 0, NULL, NULL, NULL, eb);
    if (rc) {
        pool_give(d, t->conn);
        mem_free(t);
        return rc;
    }
    t->d = d;
    *out = t;
    return BASE_OK;
}

static int tx_check(const db_tx *t, const char *sql, int n_params, const char *const *params,
                    err_buf *eb) {
    if (!t) return err_set(eb, BASE_EINVAL, "db: no transaction");
    if (!sql) return err_set(eb, BASE_EINVAL, "db: no SQL given");
    if (n_params < 0 || (n_params > 0 && !params))
        return err_set(eb, BASE_EINVAL, "db: bad parameter list");
    return BASE_OK;
}

int db_tx_exec(db_tx *t, const char *sql, int n_params, const char *const *params,
               int64_t *changes, err_buf *eb) {
    if (changes) *changes = 0;
    int rc = tx_check(t, sql, n_params, params, eb);
    if (rc) return rc;
    return t->d->drv->run(t->conn, sql, n_params, params, changes, NULL, eb);
}

int db_tx_query(db_tx *t, const char *sql, int n_params, const char *const *params, db_res **out,
                err_buf *eb) {
    *out = NULL;
    int rc = tx_check(t, sql, n_params, params, eb);
    if (rc) return rc;
    return t->d->drv->run(t->conn, sql, n_params, params, NULL, out, eb);
}

static void tx_end(db_tx *t, bool commit, int *rc, err_buf *eb) {
    const db_driver *drv = t->d->drv;
    if (commit) *rc = drv->run(t->conn, "COMMIT", 0, NULL, NULL, NULL, eb);
    /* A failed COMMIT can leave the transaction open (SQLite); roll it back so the connection
     * is clean. If that fails too, pool_give sees it is not reusable and closes it. */
    if (!commit || *rc) {
        err_buf ignore = {0};
        if (!drv->reusable(t->conn)) drv->run(t->conn, "ROLLBACK", 0, NULL, NULL, NULL, &ignore);
    }
    pool_give(t->d, t->conn);
    mem_free(t);
}

int db_tx_commit(db_tx *t, err_buf *eb) {
    if (!t) return err_set(eb, BASE_EINVAL, "db: no transaction");
    int rc = 0;
    tx_end(t, true, &rc, eb);
    return rc;
}

void db_tx_rollback(db_tx *t) {
    if (!t) return;
    int rc = 0;
    tx_end(t, false, &rc, NULL);
}
