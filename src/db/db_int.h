/*
 * db internals shared by db.c (URL dispatch, pool, transactions), db_res.c (result sets) and the
 * two drivers, db_sqlite.c and db_pg.c. A driver is a small table of functions over its own
 * connection type; db.c never sees sqlite3 or PGconn.
 */
#ifndef LOCALAI_DB_INT_H
#define LOCALAI_DB_INT_H

#include <stdbool.h>

#include "db.h"

typedef struct db_driver {
    const char *name;
    db_kind kind;
    const char *begin_sql; /* what db_tx_begin runs */
    /* Open one connection to target (a file path or a libpq URI). */
    int (*connect)(const char *target, void **conn, err_buf *eb);
    void (*disconnect)(void *conn);
    /* Run one statement with text parameters. changes may be NULL; out NULL means the rows,
     * if any, are read and dropped. */
    int (*run)(void *conn, const char *sql, int n_params, const char *const *params,
               int64_t *changes, db_res **out, err_buf *eb);
    /* Run several statements without parameters. */
    int (*script)(void *conn, const char *sql, err_buf *eb);
    /* After a failed call outside a transaction: make a broken connection usable again.
     * Returns true when it did, so the call is worth one retry. NULL: never retry. */
    bool (*recover)(void *conn);
    /* True when conn may go back to the pool: healthy and outside any transaction. */
    bool (*reusable)(void *conn);
} db_driver;

extern const db_driver db_sqlite_driver;
extern const db_driver db_pg_driver;

/* Result sets are built by the drivers: db_res_new(cols), then db_res_push for each column
 * name and then every cell row by row (s NULL: SQL NULL; s need not be NUL-terminated). */
db_res *db_res_new(int cols);
int db_res_push(db_res *r, const char *s, size_t len);

#endif
