/*
 * Conformance tests of the db module: every DB_TEST body runs once on SQLite (db_sqlite_*) and
 * once on PostgreSQL (db_pg_*), each on a fresh database, so both drivers answer the same SQL
 * the same way. Driver-specific behaviour has plain TESTs at the end.
 */
#include "db.h"
#include "test.h"
/* The shared helper lives with the cross-module tests; the path is relative to this file. */
#include "../../tests/db_util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static db *open_ok(const char *url) {
    db *d = NULL;
    err_buf eb = {0};
    ASSERT_OK(db_open(&d, url, &eb), &eb);
    ASSERT_NOT_NULL(d);
    return d;
}

static void exec_ok(db *d, const char *sql) {
    err_buf eb = {0};
    ASSERT_OK(db_exec(d, sql, 0, NULL, NULL, &eb), &eb);
}

/* The single value of a one-row, one-column query, as an integer. */
static int64_t query_i64(db *d, const char *sql) {
    db_res *r = NULL;
    err_buf eb = {0};
    ASSERT_OK(db_query(d, sql, 0, NULL, &r, &eb), &eb);
    ASSERT_EQ_INT(db_res_rows(r), 1);
    int64_t v = db_res_i64(r, 0, 0);
    db_res_free(r);
    return v;
}

DB_TEST(db, open_create) {
    db *d = open_ok(url);
    ASSERT_EQ_INT(db_get_kind(d), strncmp(url, "sqlite:", 7) ? DB_POSTGRES : DB_SQLITE);
    exec_ok(d, "CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT)");
    exec_ok(d, "INSERT INTO kv VALUES ('a', 'b')");
    db_close(d);
    if (db_get_kind(d = open_ok(url)) == DB_SQLITE) {
        struct stat st;
        ASSERT_EQ_INT(stat(url + 7, &st), 0); /* the file exists */
    }
    /* Reopened: the table and its row are still there. */
    ASSERT_EQ_INT(query_i64(d, "SELECT COUNT(*) FROM kv"), 1);
    db_close(d);
}

DB_TEST(db, params_and_nulls) {
    db *d = open_ok(url);
    exec_ok(d, "CREATE TABLE p (id INTEGER PRIMARY KEY, name TEXT, note TEXT, n BIGINT)");
    err_buf eb = {0};
    int64_t changes = -1;
    /* A quote, a "$1" inside a literal, UTF-8 and an SQL NULL all travel unharmed. */
    const char *p1[] = {"1", "o'brien $1", NULL, "9007199254740993"};
    ASSERT_OK(db_exec(d, "INSERT INTO p (id, name, note, n) VALUES ($1, $2, $3, $4)", 4, p1,
                      &changes, &eb), &eb);
    ASSERT_EQ_INT(changes, 1);
    /* $3 used twice (PostgreSQL wants one type for both uses). */
    const char *p2[] = {"2", "żółw", "x"};
    ASSERT_OK(db_exec(d, "INSERT INTO p (id, name, note, n) VALUES ($1, $2 || $3, $3, $1 + 0)",
                      3, p2, NULL, &eb), &eb);

    db_res *r = NULL;
    const char *q[] = {"0"};
    ASSERT_OK(db_query(d, "SELECT id, name, note, n FROM p WHERE id > $1 ORDER BY id", 1, q, &r,
                       &eb), &eb);
    ASSERT_EQ_INT(db_res_rows(r), 2);
    ASSERT_EQ_INT(db_res_cols(r), 4);
    ASSERT_EQ_STR(db_res_name(r, 0), "id");
    ASSERT_EQ_STR(db_res_name(r, 3), "n");
    ASSERT_EQ_STR(db_res_get(r, 0, 1), "o'brien $1");
    ASSERT_NULL(db_res_get(r, 0, 2));
    ASSERT_EQ_INT(db_res_i64(r, 0, 2), 0);
    ASSERT_EQ_STR(db_res_get(r, 0, 3), "9007199254740993");
    ASSERT_EQ_INT(db_res_i64(r, 0, 3), 9007199254740993LL);
    ASSERT_EQ_STR(db_res_get(r, 1, 1), "żółwx");
    ASSERT_EQ_INT(db_res_i64(r, 1, 3), 2);
    /* Out of range asks give NULL, not a crash. */
    ASSERT_NULL(db_res_get(r, 2, 0));
    ASSERT_NULL(db_res_get(r, 0, 4));
    ASSERT_NULL(db_res_get(r, -1, 0));
    ASSERT_NULL(db_res_name(r, 4));
    db_res_free(r);

    /* A NULL parameter compares like SQL NULL: IS NULL finds the row. */
    const char *pn[] = {NULL};
    ASSERT_OK(db_query(d, "SELECT id FROM p WHERE note IS NOT DISTINCT FROM $1", 1, pn, &r, &eb),
              &eb);
    ASSERT_EQ_INT(db_res_rows(r), 1);
    ASSERT_EQ_INT(db_res_i64(r, 0, 0), 1);
    db_res_free(r);

    /* No rows: still a result, with its column names. */
    ASSERT_OK(db_query(d, "SELECT id, name FROM p WHERE id < 0", 0, NULL, &r, &eb), &eb);
    ASSERT_NOT_NULL(r);
    ASSERT_EQ_INT(db_res_rows(r), 0);
    ASSERT_EQ_INT(db_res_cols(r), 2);
    ASSERT_EQ_STR(db_res_name(r, 1), "name");
    db_res_free(r);
    db_res_free(NULL);
    db_close(d);
}

DB_TEST(db, changes) {
    db *d = open_ok(url);
    exec_ok(d, "CREATE TABLE c (id INTEGER PRIMARY KEY, v INTEGER)");
    exec_ok(d, "INSERT INTO c VALUES (1, 0), (2, 0), (3, 5)");
    err_buf eb = {0};
    int64_t n = -1;
    ASSERT_OK(db_exec(d, "UPDATE c SET v = v + 1 WHERE v < 5", 0, NULL, &n, &eb), &eb);
    ASSERT_EQ_INT(n, 2);
    const char *p[] = {"100"};
    ASSERT_OK(db_exec(d, "UPDATE c SET v = 0 WHERE v > $1", 1, p, &n, &eb), &eb);
    ASSERT_EQ_INT(n, 0);
    /* A SELECT changes nothing, whatever ran before it. */
    ASSERT_OK(db_exec(d, "UPDATE c SET v = 7", 0, NULL, &n, &eb), &eb);
    ASSERT_EQ_INT(n, 3);
    ASSERT_OK(db_exec(d, "SELECT * FROM c", 0, NULL, &n, &eb), &eb);
    ASSERT_EQ_INT(n, 0);
    ASSERT_OK(db_exec(d, "DELETE FROM c WHERE id >= 2", 0, NULL, &n, &eb), &eb);
    ASSERT_EQ_INT(n, 2);
    ASSERT_EQ_INT(query_i64(d, "SELECT COUNT(*) FROM c"), 1);
    db_close(d);
}

DB_TEST(db, returning) {
    db *d = open_ok(url);
    exec_ok(d, "CREATE TABLE r (id INTEGER PRIMARY KEY, name TEXT NOT NULL, used BIGINT "
               "NOT NULL DEFAULT 0)");
    err_buf eb = {0};
    db_res *r = NULL;
    const char *p[] = {"7", "alice"};
    ASSERT_OK(db_query(d, "INSERT INTO r (id, name) VALUES ($1, $2) RETURNING id, used", 2, p, &r,
                       &eb), &eb);
    ASSERT_EQ_INT(db_res_rows(r), 1);
    ASSERT_EQ_INT(db_res_i64(r, 0, 0), 7);
    ASSERT_EQ_STR(db_res_get(r, 0, 1), "0");
    db_res_free(r);
    /* RETURNING through db_exec: the rows are dropped, the change is still counted. */
    int64_t n = 0;
    const char *u[] = {"5", "7"};
    ASSERT_OK(db_exec(d, "UPDATE r SET used = used + $1 WHERE id = $2 RETURNING used", 2, u, &n,
                      &eb), &eb);
    ASSERT_EQ_INT(n, 1);
    ASSERT_OK(db_query(d, "UPDATE r SET used = used + $1 WHERE id = $2 RETURNING used, name", 2,
                       u, &r, &eb), &eb);
    ASSERT_EQ_INT(db_res_rows(r), 1);
    ASSERT_EQ_INT(db_res_i64(r, 0, 0), 10);
    ASSERT_EQ_STR(db_res_get(r, 0, 1), "alice");
    db_res_free(r);
    db_close(d);
}

DB_TEST(db, on_conflict) {
    db *d = open_ok(url);
    exec_ok(d, "CREATE TABLE u (day TEXT, model TEXT, tokens BIGINT NOT NULL, "
               "PRIMARY KEY (day, model))");
    const char *up = "INSERT INTO u (day, model, tokens) VALUES ($1, $2, $3) "
                     "ON CONFLICT (day, model) DO UPDATE SET tokens = u.tokens + excluded.tokens "
                     "RETURNING tokens";
    err_buf eb = {0};
    const char *a[] = {"2026-11-25", "qwen", "10"}, *b[] = {"2026-11-25", "qwen", "32"};
    db_res *r = NULL;
    ASSERT_OK(db_query(d, up, 3, a, &r, &eb), &eb);
    ASSERT_EQ_INT(db_res_i64(r, 0, 0), 10);
    db_res_free(r);
    ASSERT_OK(db_query(d, up, 3, b, &r, &eb), &eb);
    ASSERT_EQ_INT(db_res_i64(r, 0, 0), 42);
    db_res_free(r);
    int64_t n = -1;
    ASSERT_OK(db_exec(d, "INSERT INTO u VALUES ($1, $2, $3) ON CONFLICT DO NOTHING", 3, a, &n,
                      &eb), &eb);
    ASSERT_EQ_INT(n, 0);
    ASSERT_EQ_INT(query_i64(d, "SELECT tokens FROM u"), 42);
    ASSERT_EQ_INT(query_i64(d, "SELECT COUNT(*) FROM u"), 1);
    db_close(d);
}

typedef struct {
    db *d;
    int64_t seen; /* rows another connection sees while the transaction is open */
} peek_arg;

static void *peek(void *p) {
    peek_arg *a = p;
    a->seen = query_i64(a->d, "SELECT COUNT(*) FROM t");
    return NULL;
}

DB_TEST(db, transactions) {
    db *d = open_ok(url);
    exec_ok(d, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
    err_buf eb = {0};
    db_tx *t = NULL;
    ASSERT_OK(db_tx_begin(d, &t, &eb), &eb);
    ASSERT_NOT_NULL(t);
    const char *p[] = {"1", "one"};
    int64_t n = 0;
    ASSERT_OK(db_tx_exec(t, "INSERT INTO t VALUES ($1, $2)", 2, p, &n, &eb), &eb);
    ASSERT_EQ_INT(n, 1);
    db_res *r = NULL;
    ASSERT_OK(db_tx_query(t, "SELECT v FROM t WHERE id = 1", 0, NULL, &r, &eb), &eb);
    ASSERT_EQ_STR(db_res_get(r, 0, 0), "one"); /* the transaction sees its own write */
    db_res_free(r);
    /* Another connection from the pool does not see it before the commit. */
    peek_arg a = {d, -1};
    pthread_t th;
    pthread_create(&th, NULL, peek, &a);
    pthread_join(th, NULL);
    ASSERT_EQ_INT(a.seen, 0);
    db_tx_rollback(t);
    ASSERT_EQ_INT(query_i64(d, "SELECT COUNT(*) FROM t"), 0);

    ASSERT_OK(db_tx_begin(d, &t, &eb), &eb);
    ASSERT_OK(db_tx_exec(t, "INSERT INTO t VALUES ($1, $2)", 2, p, NULL, &eb), &eb);
    const char *p2[] = {"2", "two"};
    ASSERT_OK(db_tx_exec(t, "INSERT INTO t VALUES ($1, $2)", 2, p2, NULL, &eb), &eb);
    ASSERT_OK(db_tx_commit(t, &eb), &eb);
    ASSERT_EQ_INT(query_i64(d, "SELECT COUNT(*) FROM t"), 2);

    /* A failed statement inside: the caller rolls back and the connection is clean again. */
    ASSERT_OK(db_tx_begin(d, &t, &eb), &eb);
    const char *p3[] = {"3", "three"};
    ASSERT_OK(db_tx_exec(t, "INSERT INTO t VALUES ($1, $2)", 2, p3, NULL, &eb), &eb);
    ASSERT_NE_INT(db_tx_exec(t, "INSERT INTO t VALUES ($1, $2)", 2, p, NULL, &eb), 0);
    ASSERT_EQ_INT(eb.code, BASE_EINVAL); /* a constraint violation */
    db_tx_rollback(t);
    db_tx_rollback(NULL);
    ASSERT_EQ_INT(query_i64(d, "SELECT COUNT(*) FROM t"), 2);
    /* Commit of NULL is an error, not a crash. */
    ASSERT_NE_INT(db_tx_commit(NULL, &eb), 0);
    db_close(d);
}

/* The quota race: many workers reserve 1 unit at a time with a conditional UPDATE; however
 * they interleave, exactly LIMIT reservations succeed and none fails with an error. */
#define RACE_LIMIT 60
#define RACE_TRIES 25

typedef struct {
    const char *url;
    db *d;
    int granted, errors;
    char msg[256];
} race_arg;

static void *race_worker(void *p) {
    race_arg *a = p;
    const char *one[] = {"1"};
    for (int i = 0; i < RACE_TRIES; i++) {
        err_buf eb = {0};
        db_res *r = NULL;
        if (db_query(a->d, "UPDATE quota SET used = used + $1 WHERE id = 1 AND "
                           "used + $1 <= lim RETURNING used", 1, one, &r, &eb)) {
            a->errors++;
            snprintf(a->msg, sizeof a->msg, "%s", err_msg(&eb));
            continue;
        }
        if (db_res_rows(r) == 1 && db_res_i64(r, 0, 0) <= RACE_LIMIT) a->granted++;
        db_res_free(r);
    }
    return NULL;
}

static void race_setup(db *d) {
    exec_ok(d, "CREATE TABLE quota (id INTEGER PRIMARY KEY, used BIGINT NOT NULL, "
               "lim BIGINT NOT NULL)");
    char sql[96];
    snprintf(sql, sizeof sql, "INSERT INTO quota VALUES (1, 0, %d)", RACE_LIMIT);
    exec_ok(d, sql);
}

/* n threads racing on their own handle (shared pool); returns grants, fails on errors. */
static int race_threads(const char *url, int n) {
    db *d = open_ok(url);
    race_arg args[16];
    pthread_t th[16];
    for (int i = 0; i < n; i++) {
        args[i] = (race_arg){.url = url, .d = d};
        pthread_create(&th[i], NULL, race_worker, &args[i]);
    }
    int granted = 0;
    for (int i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        if (args[i].errors)
            test_fail(__FILE__, __LINE__, "%d reservations failed: %s", args[i].errors,
                      args[i].msg);
        granted += args[i].granted;
    }
    db_close(d);
    return granted;
}

DB_TEST(db, reserve_race_threads) {
    db *d = open_ok(url);
    race_setup(d);
    /* 12 threads, more than the pool holds: some wait for a connection. */
    int granted = race_threads(url, 12);
    ASSERT_EQ_INT(granted, RACE_LIMIT);
    ASSERT_EQ_INT(query_i64(d, "SELECT used FROM quota"), RACE_LIMIT);
    db_close(d);
}

DB_TEST(db, reserve_race_processes) {
    db *d = open_ok(url);
    race_setup(d);
    db_close(d);
    /* Two processes (as two server replicas would be), four threads each. Each child reports
     * its grants in its exit status. */
    pid_t kids[2];
    for (int k = 0; k < 2; k++) {
        kids[k] = fork();
        ASSERT_CMP_INT(kids[k], >=, 0);
        if (kids[k] == 0) _exit(race_threads(url, 4));
    }
    int granted = 0;
    for (int k = 0; k < 2; k++) {
        int st = 0;
        ASSERT_EQ_INT(waitpid(kids[k], &st, 0), kids[k]);
        ASSERT_TRUE(WIFEXITED(st));
        ASSERT_CMP_INT(WEXITSTATUS(st), <=, RACE_LIMIT);
        granted += WEXITSTATUS(st);
    }
    ASSERT_EQ_INT(granted, RACE_LIMIT);
    d = open_ok(url);
    ASSERT_EQ_INT(query_i64(d, "SELECT used FROM quota"), RACE_LIMIT);
    db_close(d);
}

DB_TEST(db, bad_sql) {
    db *d = open_ok(url);
    exec_ok(d, "CREATE TABLE b (name TEXT UNIQUE)");
    err_buf eb = {0};
    ASSERT_EQ_INT(db_exec(d, "SELEC 1", 0, NULL, NULL, &eb), BASE_EINTERNAL);
    ASSERT_CONTAINS(eb.msg, "syntax error");
    db_res *r = (db_res *)&eb; /* must be reset to NULL on failure */
    memset(&eb, 0, sizeof eb);
    ASSERT_NE_INT(db_query(d, "SELECT * FROM nope", 0, NULL, &r, &eb), 0);
    ASSERT_NULL(r);
    ASSERT_CONTAINS(eb.msg, "nope");
    const char *p[] = {"x"};
    ASSERT_OK(db_exec(d, "INSERT INTO b VALUES ($1)", 1, p, NULL, &eb), &eb);
    ASSERT_EQ_INT(db_exec(d, "INSERT INTO b VALUES ($1)", 1, p, NULL, &eb), BASE_EINVAL);
    ASSERT_NOT_NULL(strcasestr(eb.msg, "unique"));
    /* Parameters the statement does not use, or uses without being given. */
    memset(&eb, 0, sizeof eb);
    ASSERT_NE_INT(db_exec(d, "INSERT INTO b VALUES ('y')", 1, p, NULL, &eb), 0);
    ASSERT_TRUE(eb.msg[0] != 0);
    memset(&eb, 0, sizeof eb);
    ASSERT_NE_INT(db_exec(d, "INSERT INTO b VALUES ($2)", 1, p, NULL, &eb), 0);
    ASSERT_TRUE(eb.msg[0] != 0);
    /* One statement per call; two are refused, and neither runs. */
    memset(&eb, 0, sizeof eb);
    ASSERT_NE_INT(db_exec(d, "INSERT INTO b VALUES ('z'); INSERT INTO b VALUES ('w')", 0, NULL,
                          NULL, &eb), 0);
    ASSERT_TRUE(eb.msg[0] != 0);
    ASSERT_NE_INT(db_exec(d, NULL, 0, NULL, NULL, &eb), 0);
    ASSERT_NE_INT(db_exec(d, "SELECT 1", 2, NULL, NULL, &eb), 0);
    /* The handle still works after all that. */
    ASSERT_EQ_INT(query_i64(d, "SELECT COUNT(*) FROM b"), 1);
    db_close(d);
}

DB_TEST(db, migration_script) {
    db *d = open_ok(url);
    err_buf eb = {0};
    ASSERT_OK(db_exec_script(d,
                             "CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, "
                             "  name TEXT NOT NULL UNIQUE);\n"
                             "CREATE TABLE IF NOT EXISTS keys (id INTEGER PRIMARY KEY, "
                             "  user_id INTEGER NOT NULL REFERENCES users(id));\n"
                             "INSERT INTO users (id, name) VALUES (1, 'admin');\n",
                             &eb), &eb);
    ASSERT_EQ_INT(query_i64(d, "SELECT COUNT(*) FROM users"), 1);
    /* Idempotent statements can run again. */
    ASSERT_OK(db_exec_script(d, "CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY);",
                             &eb), &eb);
    /* A script that fails half-way leaves nothing behind: it runs as one transaction. */
    ASSERT_NE_INT(db_exec_script(d,
                                 "CREATE TABLE extra (x INTEGER);\n"
                                 "INSERT INTO users (id, name) VALUES (2, 'bob');\n"
                                 "INSERT INTO nope VALUES (1);\n",
                                 &eb), 0);
    ASSERT_CONTAINS(eb.msg, "nope");
    ASSERT_EQ_INT(query_i64(d, "SELECT COUNT(*) FROM users"), 1);
    ASSERT_NE_INT(db_exec(d, "SELECT * FROM extra", 0, NULL, NULL, &eb), 0);
    /* Foreign keys hold on both backends. */
    memset(&eb, 0, sizeof eb);
    ASSERT_EQ_INT(db_exec(d, "INSERT INTO keys (id, user_id) VALUES (1, 99)", 0, NULL, NULL, &eb),
                  BASE_EINVAL);
    db_close(d);
}

TEST(db_bad_url) {
    db *d = (db *)&d;
    err_buf eb = {0};
    ASSERT_EQ_INT(db_open(&d, "", &eb), BASE_EINVAL);
    ASSERT_NULL(d);
    ASSERT_EQ_INT(db_open(&d, NULL, &eb), BASE_EINVAL);
    ASSERT_EQ_INT(db_open(&d, "mysql://root@localhost/x", &eb), BASE_EUNSUPPORTED);
    ASSERT_CONTAINS(eb.msg, "mysql");
    ASSERT_EQ_INT(db_open(&d, "sqlite:", &eb), BASE_EINVAL);
    ASSERT_EQ_INT(db_open(&d, ":memory:", &eb), BASE_EUNSUPPORTED);
    memset(&eb, 0, sizeof eb);
    ASSERT_NE_INT(db_open(&d, "sqlite:/nonexistent-dir/x/y.db", &eb), 0);
    ASSERT_NULL(d);
    ASSERT_CONTAINS(eb.msg, "/nonexistent-dir/x/y.db");
    /* Nothing listens on port 1: a clean error with libpq's reason. */
    memset(&eb, 0, sizeof eb);
    ASSERT_EQ_INT(db_open(&d, "postgres://nobody@127.0.0.1:1/x?connect_timeout=2", &eb),
                  BASE_EIO);
    ASSERT_NULL(d);
    ASSERT_CONTAINS(eb.msg, "127.0.0.1");
    db_close(NULL);
}

TEST(db_sqlite_url_forms) {
    /* sqlite:PATH, sqlite://PATH and a bare path name the same file. */
    char path[600], u1[700], u2[700];
    snprintf(path, sizeof path, "%s/forms.db", test_tmpdir());
    snprintf(u1, sizeof u1, "sqlite:%s", path);
    snprintf(u2, sizeof u2, "sqlite://%s", path);
    db *d = open_ok(path);
    ASSERT_EQ_INT(db_get_kind(d), DB_SQLITE);
    exec_ok(d, "CREATE TABLE f (x INTEGER)");
    exec_ok(d, "INSERT INTO f VALUES (1)");
    db_close(d);
    d = open_ok(u1);
    ASSERT_EQ_INT(query_i64(d, "SELECT x FROM f"), 1);
    db_close(d);
    d = open_ok(u2);
    ASSERT_EQ_INT(query_i64(d, "SELECT x FROM f"), 1);
    /* WAL mode is on. */
    db_res *r = NULL;
    err_buf eb = {0};
    ASSERT_OK(db_query(d, "PRAGMA journal_mode", 0, NULL, &r, &eb), &eb);
    ASSERT_EQ_STR(db_res_get(r, 0, 0), "wal");
    db_res_free(r);
    db_close(d);
}

/* Wait until the server has no backend with this pid (pg_terminate_backend only signals). */
static void wait_gone(db *d, int64_t pid) {
    char arg[32];
    snprintf(arg, sizeof arg, "%lld", (long long)pid);
    const char *p[] = {arg};
    for (int i = 0; i < 500; i++) {
        db_res *r = NULL;
        err_buf eb = {0};
        ASSERT_OK(db_query(d, "SELECT COUNT(*) FROM pg_stat_activity WHERE pid = $1", 1, p, &r,
                           &eb), &eb);
        int64_t n = db_res_i64(r, 0, 0);
        db_res_free(r);
        if (n == 0) return;
        usleep(10000);
    }
    test_fail(__FILE__, __LINE__, "backend %lld did not go away", (long long)pid);
}

static int64_t kill_backend(db *killer, db *victim) {
    int64_t pid = query_i64(victim, "SELECT pg_backend_pid()");
    char sql[96];
    snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%lld)::int", (long long)pid);
    ASSERT_EQ_INT(query_i64(killer, sql), 1);
    wait_gone(killer, pid);
    return pid;
}

TEST(db_pg_reconnect) {
    const char *url = test_db_url(DB_POSTGRES);
    db *d = open_ok(url), *killer = open_ok(url);
    exec_ok(d, "CREATE TABLE k (x INTEGER)");
    /* The pooled connection dies while idle (a server restart looks the same): the next
     * statement resets it and runs, instead of failing. */
    int64_t old = kill_backend(killer, d);
    err_buf eb = {0};
    int64_t n = 0;
    ASSERT_OK(db_exec(d, "INSERT INTO k VALUES (1)", 0, NULL, &n, &eb), &eb);
    ASSERT_EQ_INT(n, 1);
    ASSERT_NE_INT(query_i64(d, "SELECT pg_backend_pid()"), old);
    /* The same for a transaction's BEGIN. */
    kill_backend(killer, d);
    db_tx *t = NULL;
    ASSERT_OK(db_tx_begin(d, &t, &eb), &eb);
    ASSERT_OK(db_tx_exec(t, "INSERT INTO k VALUES (2)", 0, NULL, NULL, &eb), &eb);
    ASSERT_OK(db_tx_commit(t, &eb), &eb);
    /* Inside a transaction nothing is retried: the loss is reported, and the connection is
     * not put back broken. */
    ASSERT_OK(db_tx_begin(d, &t, &eb), &eb);
    ASSERT_OK(db_tx_exec(t, "INSERT INTO k VALUES (3)", 0, NULL, NULL, &eb), &eb);
    db_res *r = NULL;
    ASSERT_OK(db_tx_query(t, "SELECT pg_backend_pid()", 0, NULL, &r, &eb), &eb);
    char sql[96];
    snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%s)::int", db_res_get(r, 0, 0));
    ASSERT_EQ_INT(query_i64(killer, sql), 1);
    wait_gone(killer, db_res_i64(r, 0, 0));
    db_res_free(r);
    memset(&eb, 0, sizeof eb);
    ASSERT_EQ_INT(db_tx_commit(t, &eb), BASE_EIO);
    ASSERT_TRUE(eb.msg[0] != 0);
    ASSERT_EQ_INT(query_i64(d, "SELECT COUNT(*) FROM k"), 2);
    db_close(killer);
    db_close(d);
}

TEST(db_pg_commit_after_error) {
    /* PostgreSQL aborts a transaction at its first error; COMMIT then must not report
     * success (the server answers ROLLBACK). */
    db *d = open_ok(test_db_url(DB_POSTGRES));
    exec_ok(d, "CREATE TABLE e (x INTEGER PRIMARY KEY)");
    err_buf eb = {0};
    db_tx *t = NULL;
    ASSERT_OK(db_tx_begin(d, &t, &eb), &eb);
    ASSERT_OK(db_tx_exec(t, "INSERT INTO e VALUES (1)", 0, NULL, NULL, &eb), &eb);
    ASSERT_NE_INT(db_tx_exec(t, "INSERT INTO e VALUES (1)", 0, NULL, NULL, &eb), 0);
    ASSERT_NE_INT(db_tx_commit(t, &eb), 0);
    ASSERT_CONTAINS(eb.msg, "rolled back");
    ASSERT_EQ_INT(query_i64(d, "SELECT COUNT(*) FROM e"), 0);
    db_close(d);
}

/* Fail our allocation n, n+1, ... until open + query + transaction complete: every failure
 * is a clean error (ASan checks for leaks), and the driver libraries' own allocations are
 * not ours to fail. */
DB_TEST(db, oom_loop) {
    db *setup = open_ok(url);
    exec_ok(setup, "CREATE TABLE o (id INTEGER PRIMARY KEY, v TEXT)");
    exec_ok(setup, "INSERT INTO o VALUES (1, 'a'), (2, NULL), (3, 'ccc')");
    db_close(setup);
    bool done = false;
    for (long n = 0; n < 1000 && !done; n++) {
        mem_fail_after(n);
        db *d = NULL;
        db_tx *t = NULL;
        db_res *r = NULL;
        err_buf eb = {0};
        if (db_open(&d, url, &eb) == 0 && db_query(d, "SELECT * FROM o ORDER BY id", 0, NULL, &r,
                                                     &eb) == 0 &&
            db_tx_begin(d, &t, &eb) == 0) {
            int rc = db_tx_exec(t, "UPDATE o SET v = 'x' WHERE id = 1", 0, NULL, NULL, &eb);
            if (rc == 0) rc = db_tx_commit(t, &eb); else db_tx_rollback(t);
            done = rc == 0;
        }
        mem_fail_after(-1);
        if (!done) ASSERT_EQ_INT(eb.code, BASE_ENOMEM);
        if (r) {
            ASSERT_EQ_INT(db_res_rows(r), 3);
            ASSERT_NULL(db_res_get(r, 1, 1));
            ASSERT_EQ_STR(db_res_get(r, 2, 1), "ccc");
        }
        db_res_free(r);
        db_close(d);
    }
    ASSERT_TRUE(done);
}

/* The one piece of DDL that must differ: an automatic id. Inserts then read it back the same
 * way on both, and LIMIT/OFFSET take text parameters. */
DB_TEST(db, auto_id_and_limit) {
    db *d = open_ok(url);
    exec_ok(d, db_get_kind(d) == DB_SQLITE
                   ? "CREATE TABLE a (id INTEGER PRIMARY KEY, name TEXT NOT NULL)"
                   : "CREATE TABLE a (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, "
                     "name TEXT NOT NULL)");
    err_buf eb = {0};
    for (int i = 1; i <= 5; i++) {
        char name[16];
        snprintf(name, sizeof name, "n%d", i);
        const char *p[] = {name};
        db_res *r = NULL;
        ASSERT_OK(db_query(d, "INSERT INTO a (name) VALUES ($1) RETURNING id", 1, p, &r, &eb),
                  &eb);
        ASSERT_EQ_INT(db_res_i64(r, 0, 0), i);
        db_res_free(r);
    }
    const char *lim[] = {"2", "1"};
    db_res *r = NULL;
    ASSERT_OK(db_query(d, "SELECT name FROM a ORDER BY id LIMIT $1 OFFSET $2", 2, lim, &r, &eb),
              &eb);
    ASSERT_EQ_INT(db_res_rows(r), 2);
    ASSERT_EQ_STR(db_res_get(r, 0, 0), "n2");
    ASSERT_EQ_STR(db_res_get(r, 1, 0), "n3");
    db_res_free(r);
    /* A BIGINT column compared with a text parameter compares as numbers on both. */
    const char *gt[] = {"10"};
    ASSERT_OK(db_query(d, "SELECT COUNT(*) FROM a WHERE id < $1", 1, gt, &r, &eb), &eb);
    ASSERT_EQ_INT(db_res_i64(r, 0, 0), 5);
    db_res_free(r);
    db_close(d);
}

TEST(db_sqlite_concurrent_first_open) {
    /* Replicas starting together on a new file: each sets WAL mode and runs the migration;
     * the busy timeout makes them take turns, and none fails. */
    const char *url = test_db_url(DB_SQLITE);
    pid_t kids[6];
    for (int k = 0; k < 6; k++) {
        kids[k] = fork();
        ASSERT_CMP_INT(kids[k], >=, 0);
        if (kids[k] == 0) {
            db *d = NULL;
            err_buf eb = {0};
            int rc = db_open(&d, url, &eb);
            if (!rc)
                rc = db_exec_script(d, "CREATE TABLE IF NOT EXISTS m (x INTEGER);"
                                       "INSERT INTO m VALUES (1);", &eb);
            if (rc) fprintf(stderr, "child %d: %s\n", k, err_msg(&eb));
            db_close(d);
            _exit(rc ? 1 : 0);
        }
    }
    for (int k = 0; k < 6; k++) {
        int st = 0;
        ASSERT_EQ_INT(waitpid(kids[k], &st, 0), kids[k]);
        ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    db *d = open_ok(url);
    ASSERT_EQ_INT(query_i64(d, "SELECT COUNT(*) FROM m"), 6);
    db_close(d);
}
