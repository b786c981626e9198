/* The PostgreSQL driver (libpq): not written yet. */
#include "db_int.h"

static int pg_connect(const char *target, void **conn, err_buf *eb) {
    *conn = NULL;
    return err_set(eb, BASE_EUNSUPPORTED, "postgres: not supported yet");
}

const db_driver db_pg_driver = {
    .name = "postgres",
    .kind = DB_POSTGRES,
    .begin_sql = "BEGIN",
    .connect = pg_connect,
};
