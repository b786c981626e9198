/*
 * The PostgreSQL driver (libpq). Each pooled connection is one PGconn; statements go through
 * PQexecParams with text parameters, so values never need quoting. A connection found broken
 * (server restarted, backend killed) is reset once by db.c through pg_recover before the call
 * fails. Transactions use the server's default READ COMMITTED: a conditional UPDATE re-checks
 * its WHERE against the latest row version, which is all a quota reservation needs.
 */
#include "db_int.h"

#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

/* libpq's messages end in a newline and may span lines; keep one line of it. */
static int pg_err(err_buf *eb, int code, const char *msg) {
    char line[sizeof eb->msg];
    size_t n = 0;
    for (const char *s = msg ? msg : "unknown error"; *s && n + 1 < sizeof line; s++)
        line[n++] = *s == '\n' || *s == '\t' ? ' ' : *s;
    while (n > 0 && line[n - 1] == ' ') n--;
    line[n] = 0;
    return err_set(eb, code, "postgres: %s", line);
}

/* Map an SQLSTATE onto our codes; see db.h for what each means to a caller. */
static int pg_code(const PGresult *res) {
    const char *s = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (!s || strlen(s) != 5) return BASE_EIO; /* no server answer: the connection failed */
    if (!strcmp(s, "08P01")) return BASE_EINVAL; /* wrong number of parameters */
    if (!strncmp(s, "23", 2) || !strncmp(s, "22", 2)) return BASE_EINVAL;
    if (!strcmp(s, "40001") || !strcmp(s, "40P01") || !strcmp(s, "55P03")) return BASE_EBUSY;
    if (!strcmp(s, "57014")) return BASE_ETIMEDOUT;
    if (!strncmp(s, "08", 2) || !strncmp(s, "57P", 3) || !strncmp(s, "53", 2)) return BASE_EIO;
    return BASE_EINTERNAL; /* bad SQL, missing table: our own bug */
}

/* A failed statement: the server's own sentence and detail when it answered, libpq's account
 * of the connection otherwise. */
static int pg_fail(PGconn *c, const PGresult *res, err_buf *eb) {
    const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (!primary)
        return pg_err(eb, BASE_EIO, res ? PQresultErrorMessage(res) : PQerrorMessage(c));
    const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
    return err_set(eb, pg_code(res), "postgres: %s%s%s%s", primary, detail ? " (" : "",
                   detail ? detail : "", detail ? ")" : "");
}

/* Server notices ("table already exists, skipping") are not errors; keep them off stderr. */
static void pg_notice(void *arg, const char *msg) {
    (void)arg;
    log_debug("postgres: %s", msg);
}

static int pg_connect(const char *target, void **conn, err_buf *eb) {
    *conn = NULL;
    /* dbname comes last and is expanded as a URI, so what the URL says wins over these. */
    const char *const keys[] = {"connect_timeout", "application_name", "dbname", NULL};
    const char *const vals[] = {"10", "local-ai", target, NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (!c) return err_set(eb, BASE_ENOMEM, "postgres: out of memory");
    if (PQstatus(c) != CONNECTION_OK) {
        int code = pg_err(eb, BASE_EIO, PQerrorMessage(c));
        PQfinish(c);
        return code;
    }
    PQsetNoticeProcessor(c, pg_notice, NULL);
    *conn = c;
    return BASE_OK;
}

static void pg_disconnect(void *conn) { PQfinish(conn); }

static int pg_rows(const PGresult *res, db_res **out, err_buf *eb) {
    int cols = PQnfields(res), rows = PQntuples(res);
    db_res *r = db_res_new(cols);
    if (!r) return err_set(eb, BASE_ENOMEM, "postgres: out of memory");
    for (int c = 0; c < cols; c++) {
        const char *name = PQfname(res, c);
        if (db_res_push(r, name, strlen(name))) goto oom;
    }
    for (int i = 0; i < rows; i++) {
        for (int c = 0; c < cols; c++) {
            bool null = PQgetisnull(res, i, c);
            if (db_res_push(r, null ? NULL : PQgetvalue(res, i, c),
                            null ? 0 : (size_t)PQgetlength(res, i, c)))
                goto oom;
        }
    }
    *out = r;
    return BASE_OK;
oom:
    db_res_free(r);
    return err_set(eb, BASE_ENOMEM, "postgres: out of memory");
}

/* Rows changed, from the command tag; a SELECT's row count is not a change. */
static int64_t pg_changes(const PGresult *res) {
    const char *tag = PQcmdStatus((PGresult *)res);
    static const char *const writes[] = {"INSERT ", "UPDATE ", "DELETE ", "MERGE "};
    for (size_t i = 0; i < sizeof writes / sizeof writes[0]; i++)
        if (!strncmp(tag, writes[i], strlen(writes[i])))
            return strtoll(PQcmdTuples((PGresult *)res), NULL, 10);
    return 0;
}

static int pg_run(void *conn, const char *sql, int n_params, const char *const *params,
                  int64_t *changes, db_res **out, err_buf *eb) {
    PGconn *c = conn;
    PGresult *res = PQexecParams(c, sql, n_params, NULL, params, NULL, NULL, 0);
    int rc = BASE_OK;
    switch (PQresultStatus(res)) {
    case PGRES_TUPLES_OK:
    case PGRES_COMMAND_OK:
        /* COMMIT of a transaction that had an error answers "ROLLBACK", not an error. */
        if (!strcmp(sql, "COMMIT") && !strcmp(PQcmdStatus(res), "ROLLBACK")) {
            rc = err_set(eb, BASE_EINVAL, "postgres: transaction rolled back after an error");
            break;
        }
        if (changes) *changes = pg_changes(res);
        if (out) rc = pg_rows(res, out, eb);
        break;
    case PGRES_EMPTY_QUERY: rc = err_set(eb, BASE_EINVAL, "postgres: empty statement"); break;
    default: rc = pg_fail(c, res, eb); break;
    }
    PQclear(res);
    return rc;
}

/* Several statements in one PQexec run as one transaction (unless the script says
 * BEGIN/COMMIT itself), which is what a migration wants. */
static int pg_script(void *conn, const char *sql, err_buf *eb) {
    PGconn *c = conn;
    PGresult *res = PQexec(c, sql);
    int rc = BASE_OK;
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY)
        rc = pg_fail(c, res, eb);
    PQclear(res);
    return rc;
}

static bool pg_recover(void *conn) {
    PGconn *c = conn;
    if (PQstatus(c) == CONNECTION_OK) return false; /* a real SQL error: retrying won't help */
    PQreset(c);
    return PQstatus(c) == CONNECTION_OK;
}

static bool pg_reusable(void *conn) {
    PGconn *c = conn;
    return PQstatus(c) == CONNECTION_OK && PQtransactionStatus(c) == PQTRANS_IDLE;
}

const db_driver db_pg_driver = {
    .name = "postgres",
    .kind = DB_POSTGRES,
    .begin_sql = "BEGIN",
    .connect = pg_connect,
    .disconnect = pg_disconnect,
    .run = pg_run,
    .script = pg_script,
    .recover = pg_recover,
    .reusable = pg_reusable,
};
