/*
 * Result sets: every cell of a query's answer copied into one text buffer, so a result costs
 * two allocations however many rows it has, and outlives the connection that produced it.
 */
#include "db_int.h"

#include <stdlib.h>

struct db_res {
    int cols;
    size_t n, cap;  /* cells pushed so far (names first), capacity of off */
    ptrdiff_t *off; /* (cols + rows*cols) offsets into text; -1 for SQL NULL */
    buf text;
};

db_res *db_res_new(int cols) {
    if (cols < 0) return NULL;
    db_res *r = mem_calloc(1, sizeof *r);
    if (r) r->cols = cols;
    return r;
}

int db_res_push(db_res *r, const char *s, size_t len) {
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16, bytes;
        if (!size_mul(cap, sizeof *r->off, &bytes)) return BASE_ENOMEM;
        ptrdiff_t *off = mem_realloc(r->off, bytes);
        if (!off) return BASE_ENOMEM;
        r->off = off;
        r->cap = cap;
    }
    if (!s) {
        r->off[r->n++] = -1;
        return BASE_OK;
    }
    size_t at = r->text.len;
    /* Each cell keeps its own NUL so db_res_get can hand out a pointer into text. */
    if (buf_append(&r->text, s, len) || buf_append(&r->text, "", 1)) return BASE_ENOMEM;
    r->off[r->n++] = (ptrdiff_t)at;
    return BASE_OK;
}

int db_res_rows(const db_res *r) {
    if (!r || r->cols == 0 || r->n < (size_t)r->cols) return 0;
    return (int)((r->n - (size_t)r->cols) / (size_t)r->cols);
}

int db_res_cols(const db_res *r) { return r ? r->cols : 0; }

static const char *cell(const db_res *r, size_t i) {
    if (i >= r->n || r->off[i] < 0) return NULL;
    return r->text.data + r->off[i];
}

const char *db_res_name(const db_res *r, int col) {
    if (!r || col < 0 || col >= r->cols) return NULL;
    return cell(r, (size_t)col);
}

const char *db_res_get(const db_res *r, int row, int col) {
    if (!r || row < 0 || col < 0 || col >= r->cols || row >= db_res_rows(r)) return NULL;
    return cell(r, (size_t)r->cols + (size_t)row * (size_t)r->cols + (size_t)col);
}

int64_t db_res_i64(const db_res *r, int row, int col) {
    const char *s = db_res_get(r, row, col);
    return s ? strtoll(s, NULL, 10) : 0;
}

void db_res_free(db_res *r) {
    if (!r) return;
    mem_free(r->off);
    buf_free(&r->text);
    mem_free(r);
}
