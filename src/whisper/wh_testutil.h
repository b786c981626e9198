/* Helpers for the whisper tests: shared files, the WAV reader, error measures. */
#ifndef WH_TESTUTIL_H
#define WH_TESTUTIL_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "whisper/whisper.h"

/* A copy of test_shared_file's path (its buffer is reused), or the test is skipped. */
static inline char *wt_path(const char *rel) {
    char *p = strdup(test_shared_file(rel));
    ASSERT_NOT_NULL(p);
    return p;
}

/* The float32 file rel in shared/ (*n floats). Free with mem_free. */
static inline float *wt_f32(const char *rel, size_t *n) {
    char *path = wt_path(rel), *data;
    size_t len;
    err_buf eb = {0};
    ASSERT_OK(file_read_all(path, &data, &len, &eb), &eb);
    free(path);
    *n = len / 4;
    float *f = mem_alloc(len + 4);
    memcpy(f, data, len);
    mem_free(data);
    return f;
}

/* 16-bit mono PCM WAV as int16 / 32768 floats. */
static inline float *wt_wav(const char *rel, size_t *n) {
    char *path = wt_path(rel), *data;
    size_t len;
    err_buf eb = {0};
    ASSERT_OK(file_read_all(path, &data, &len, &eb), &eb);
    free(path);
    size_t off = 12;
    float *out = NULL;
    while (off + 8 <= len) {
        uint32_t sz;
        memcpy(&sz, data + off + 4, 4);
        if (memcmp(data + off, "data", 4) == 0) {
            if (sz > len - off - 8) sz = (uint32_t)(len - off - 8);
            *n = sz / 2;
            out = mem_alloc(*n * sizeof(float) + 4);
            for (size_t i = 0; i < *n; i++) {
                int16_t v;
                memcpy(&v, data + off + 8 + 2 * i, 2);
                out[i] = v / 32768.0f;
            }
            break;
        }
        off += 8 + sz + (sz & 1);
    }
    mem_free(data);
    ASSERT_NOT_NULL(out);
    return out;
}

typedef struct wt_err {
    double nrmse, maxabs;
} wt_err;

static inline wt_err wt_compare(const float *a, const float *ref, size_t n) {
    double se = 0, sr = 0, mx = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - ref[i];
        se += d * d;
        sr += (double)ref[i] * ref[i];
        if (fabs(d) > mx || d != d) mx = d != d ? INFINITY : fabs(d);
    }
    wt_err e = {sqrt(se / (double)n) / sqrt(sr / (double)n), mx};
    return e;
}

#endif
