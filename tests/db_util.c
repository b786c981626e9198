/*
 * Fresh databases for tests: a file per call for SQLite, a schema per call for PostgreSQL
 * (much faster than CREATE DATABASE, which copies a template on every call).
 */
#include "db_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define MAX_URLS 16

static char urls[MAX_URLS][1024];
static char schemas[MAX_URLS][64];
static int n_urls, n_schemas;
static pid_t owner; /* only the process that made the schemas drops them */

const char *test_db_pg_base(void) {
    const char *u = getenv("LOCALAI_TEST_DATABASE_URL");
    return u && *u ? u : NULL;
}

static void drop_schemas(void) {
    if (getpid() != owner || n_schemas == 0) return;
    db *d;
    err_buf eb = {0};
    if (db_open(&d, test_db_pg_base(), &eb)) return;
    for (int i = 0; i < n_schemas; i++) {
        char sql[256];
        snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %.63s CASCADE", schemas[i]);
        db_exec(d, sql, 0, NULL, NULL, &eb);
    }
    n_schemas = 0;
    db_close(d);
}

static const char *pg_url(char *url, size_t cap, int n) {
    const char *base = test_db_pg_base();
    if (!base) TEST_SKIP("PostgreSQL tests need LOCALAI_TEST_DATABASE_URL (make test sets it)");
    char *schema = schemas[n_schemas];
    snprintf(schema, sizeof schemas[0], "t_%d_%d", (int)getpid(), n);
    db *d;
    err_buf eb = {0};
    if (db_open(&d, base, &eb))
        test_fail(__FILE__, __LINE__, "test database %s: %s", base, err_msg(&eb));
    char sql[256];
    /* A pid can repeat across runs on a long-lived server: start from nothing. */
    snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE; CREATE SCHEMA %s", schema,
             schema);
    int rc = db_exec_script(d, sql, &eb);
    db_close(d);
    if (rc) test_fail(__FILE__, __LINE__, "create schema %s: %s", schema, err_msg(&eb));
    if (n_schemas++ == 0) {
        owner = getpid();
        atexit(drop_schemas);
    }
    /* libpq's "options" URI parameter, percent-encoded: -c search_path=SCHEMA */
    snprintf(url, cap, "%s%coptions=-c%%20search_path%%3D%s", base, strchr(base, '?') ? '&' : '?',
             schema);
    return url;
}

const char *test_db_url(db_kind backend) {
    if (n_urls == MAX_URLS) test_fail(__FILE__, __LINE__, "test_db_url: too many databases");
    int n = n_urls++;
    char *url = urls[n];
    if (backend == DB_POSTGRES) return pg_url(url, sizeof urls[0], n);
    snprintf(url, sizeof urls[0], "sqlite:%s/db-%d.sqlite", test_tmpdir(), n);
    return url;
}
