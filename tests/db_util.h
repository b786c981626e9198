/*
 * Test helpers for code that stores things through src/db: run one test body against both
 * backends, each time on a fresh, empty database.
 *
 *   #include "db_util.h"
 *   DB_TEST(auth, create_user) {          // defines auth_sqlite_create_user, auth_pg_create_user
 *       db *d; err_buf eb = {0};
 *       ASSERT_OK(db_open(&d, url, &eb), &eb);   // url: this variant's fresh database
 *       ...
 *       db_close(d);
 *   }
 *
 * SQLite: a new file under the test's tmpdir. PostgreSQL: a new schema on the server named by
 * $LOCALAI_TEST_DATABASE_URL (make test and make asan start one with scripts/pg-test and set
 * it), put first on the search_path through the URL, so unqualified tables land in it and
 * tests never see each other's tables. Without that variable the pg variants skip.
 * Run one backend alone with build/tests 'auth_sqlite_*' or build/tests 'auth_pg_*'.
 */
#ifndef LOCALAI_TESTS_DB_UTIL_H
#define LOCALAI_TESTS_DB_UTIL_H

#include "db/db.h"
#include "test.h"

/* The URL of a fresh empty database on backend (DB_SQLITE or DB_POSTGRES). The string stays
 * valid until the test ends (up to 16 URLs per test). Skips the test when backend is
 * DB_POSTGRES and no test server is configured; fails it when the server cannot be reached.
 * A PostgreSQL schema is dropped when the test passes (kept for a look when it fails). */
const char *test_db_url(db_kind backend);

/* The server's base URL ($LOCALAI_TEST_DATABASE_URL), or NULL when none is configured. */
const char *test_db_pg_base(void);

#define DB_TEST(prefix, name)                                                          \
    static void prefix##_##name##_body(const char *url);                               \
    TEST(prefix##_sqlite_##name) { prefix##_##name##_body(test_db_url(DB_SQLITE)); }   \
    TEST(prefix##_pg_##name) { prefix##_##name##_body(test_db_url(DB_POSTGRES)); }     \
    static void prefix##_##name##_body(const char *url)

#endif
