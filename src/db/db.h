/*
 * db: one small SQL interface over SQLite (embedded default) and PostgreSQL (libpq), so the
 * auth store writes its queries once.
 *
 *   db *d; err_buf eb = {0};
 *   if (db_open(&d, "postgres://u@127.0.0.1:5432/localai", &eb)) die(err_msg(&eb));
 *   const char *p[] = { "alice", "admin" };
 *   db_exec(d, "INSERT INTO users(name, role) VALUES ($1, $2)", 2, p, NULL, &eb);
 *
 * SQL uses $1..$N placeholders on both backends (the SQLite driver binds them as ?N). Parameters
 * and results are text (NULL pointer = SQL NULL); integers are converted by the caller or with
 * db_res_i64. Write portable SQL: INTEGER/BIGINT, TEXT, "RETURNING", "ON CONFLICT"; conditional
 * UPDATE ... WHERE used + $n <= limit RETURNING ... is atomic on both and is how quotas reserve.
 * Differences to keep out of shared SQL: PostgreSQL gives one parameter one type, so do not use
 * the same $n as an INTEGER in one place and a BIGINT or TEXT in another; booleans read back as
 * "t"/"f" there and "1"/"0" on SQLite (store flags as INTEGER); one statement per db_exec.
 *
 * Errors: every failing call returns a negative BASE_E* code and writes a one-line message
 * ("sqlite: UNIQUE constraint failed: users.name", "postgres: duplicate key value ...") to eb:
 *   BASE_EINVAL     the data broke a constraint (unique, foreign key, not null, check) or a
 *                   value did not fit its type; wrong number of parameters
 *   BASE_EINTERNAL  the SQL itself is wrong (syntax, missing table or column): a bug
 *   BASE_EBUSY      gave up waiting for a lock (SQLite's 5 s busy timeout), deadlock
 *   BASE_EIO        cannot open or reach the database, or the connection broke
 *   BASE_ENOMEM     out of memory
 *
 * Connections: up to 8 per handle, opened when needed; a caller finding all busy waits. A
 * PostgreSQL connection found broken is reset and the statement retried once (never inside a
 * transaction). SQLite runs in WAL mode with a 5 s busy timeout, so writers in other threads
 * and processes wait for each other instead of failing.
 *
 * Thread safety: a db handle may be used from many threads; each call takes a connection from a
 * small pool. A transaction pins one connection: db_tx_begin returns it, and statements inside
 * the transaction go through db_tx_exec / db_tx_query until db_tx_commit or db_tx_rollback.
 * While a thread holds a transaction it must not write through db_exec as well: that runs on
 * another connection, which on SQLite waits for the transaction's own write lock (and fails
 * after 5 s), and on PostgreSQL waits for the rows it locked (for ever). Reads are fine.
 * A statement that fails inside a transaction ends it on PostgreSQL: roll back.
 */
#ifndef LOCALAI_DB_H
#define LOCALAI_DB_H

#include <stdint.h>

#include "base/base.h"

typedef struct db db;
typedef struct db_tx db_tx;
typedef struct db_res db_res;

typedef enum db_kind { DB_SQLITE, DB_POSTGRES } db_kind;

/* url: "postgres://..." or "postgresql://..." (libpq connection URI), "sqlite:PATH", or a plain
 * file path (SQLite; created if missing, WAL mode, busy timeout set). Connects once before
 * returning, so a wrong URL fails here. Free with db_close after every transaction ended. */
int db_open(db **out, const char *url, err_buf *eb);
void db_close(db *d);
db_kind db_get_kind(const db *d);

/* Run one statement. changes (may be NULL) receives the number of rows changed. */
int db_exec(db *d, const char *sql, int n_params, const char *const *params, int64_t *changes,
            err_buf *eb);
/* Run one statement returning rows. *out is always set on success (maybe zero rows) and is
 * the caller's, freed with db_res_free; it is NULL on failure. */
int db_query(db *d, const char *sql, int n_params, const char *const *params, db_res **out,
             err_buf *eb);
/* Run a script of several statements with no parameters (migrations). It runs as one
 * transaction on both backends, so do not put BEGIN/COMMIT in it; a failure leaves nothing. */
int db_exec_script(db *d, const char *sql, err_buf *eb);

/* Transactions. begin on SQLite is BEGIN IMMEDIATE (takes the write lock at once). */
int db_tx_begin(db *d, db_tx **out, err_buf *eb);
int db_tx_exec(db_tx *t, const char *sql, int n_params, const char *const *params,
               int64_t *changes, err_buf *eb);
int db_tx_query(db_tx *t, const char *sql, int n_params, const char *const *params, db_res **out,
                err_buf *eb);
int db_tx_commit(db_tx *t, err_buf *eb);   /* frees t, also on failure (rolled back then) */
void db_tx_rollback(db_tx *t);             /* frees t; NULL is fine */

int db_res_rows(const db_res *r);
int db_res_cols(const db_res *r);
/* Strings returned by db_res_name and db_res_get stay valid until db_res_free(r). Out of
 * range rows or columns give NULL. */
const char *db_res_name(const db_res *r, int col);
const char *db_res_get(const db_res *r, int row, int col);   /* NULL for SQL NULL */
int64_t db_res_i64(const db_res *r, int row, int col);       /* 0 for NULL */
void db_res_free(db_res *r);                                  /* NULL is fine */

#endif
