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
 *
 * Thread safety: a db handle may be used from many threads; each call takes a connection from a
 * small pool. A transaction pins one connection: db_tx_begin returns it, and statements inside
 * the transaction go through db_tx_exec / db_tx_query until db_tx_commit or db_tx_rollback.
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
 * file path (SQLite; created if missing, WAL mode, busy timeout set). */
int db_open(db **out, const char *url, err_buf *eb);
void db_close(db *d);
db_kind db_get_kind(const db *d);

/* Run one statement. changes (may be NULL) receives the number of rows changed. */
int db_exec(db *d, const char *sql, int n_params, const char *const *params, int64_t *changes,
            err_buf *eb);
/* Run one statement returning rows. *out is always set on success (maybe zero rows). */
int db_query(db *d, const char *sql, int n_params, const char *const *params, db_res **out,
             err_buf *eb);
/* Run a script of several statements with no parameters (migrations). */
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
const char *db_res_name(const db_res *r, int col);
const char *db_res_get(const db_res *r, int row, int col);   /* NULL for SQL NULL */
int64_t db_res_i64(const db_res *r, int row, int col);       /* 0 for NULL */
void db_res_free(db_res *r);                                  /* NULL is fine */

#endif
