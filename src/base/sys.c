/* Clocks and whole-file reads. */
#include "base.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

uint64_t time_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int64_t time_unix(void) { return (int64_t)time(NULL); }

int file_read_all(const char *path, char **out, size_t *out_len, err_buf *eb) {
    FILE *f = fopen(path, "rb");
    if (!f) return err_set(eb, BASE_EIO, "cannot open %s: %s", path, strerror(errno));
    buf b = {0};
    char tmp[65536];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0) {
        if (buf_append(&b, tmp, n)) {
            fclose(f);
            buf_free(&b);
            return err_set(eb, BASE_ENOMEM, "out of memory reading %s", path);
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        buf_free(&b);
        return err_set(eb, BASE_EIO, "cannot read %s", path);
    }
    if (!b.data && buf_append(&b, "", 0)) return err_set(eb, BASE_ENOMEM, "out of memory");
    *out = b.data;
    if (out_len) *out_len = b.len;
    return BASE_OK;
}
