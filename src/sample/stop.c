/*
 * Stop strings. Text is emitted only once no stop string can still start inside it, so a
 * client never sees the beginning of a stop string that later completes.
 */
#include "sample.h"

#include <string.h>

struct smp_stop {
    char **stops;
    int n;
    buf held;   /* text received but not yet emitted */
    bool done;
};

int smp_stop_new(const char *const *stops, int n, smp_stop **out) {
    smp_stop *st = mem_calloc(1, sizeof *st);
    if (!st) return BASE_ENOMEM;
    st->stops = n ? mem_calloc((size_t)n, sizeof *st->stops) : NULL;
    if (n && !st->stops) {
        mem_free(st);
        return BASE_ENOMEM;
    }
    for (int i = 0; i < n; i++) {
        if (!stops[i] || !stops[i][0]) continue;
        if (!(st->stops[st->n++] = mem_strdup(stops[i]))) {
            smp_stop_free(st);
            return BASE_ENOMEM;
        }
    }
    *out = st;
    return 0;
}

void smp_stop_free(smp_stop *st) {
    if (!st) return;
    for (int i = 0; i < st->n; i++) mem_free(st->stops[i]);
    mem_free(st->stops);
    buf_free(&st->held);
    mem_free(st);
}

bool smp_stop_feed(smp_stop *st, const char *text, size_t len, buf *out) {
    if (st->done) return true;
    buf_append(&st->held, text, len);
    const char *h = st->held.data ? st->held.data : "";
    size_t hl = st->held.len;
    /* A complete stop string: emit what precedes the earliest one. */
    size_t cut = hl;
    for (int i = 0; i < st->n; i++) {
        const char *f = memmem(h, hl, st->stops[i], strlen(st->stops[i]));
        if (f && (size_t)(f - h) < cut) cut = (size_t)(f - h);
    }
    if (cut < hl) {
        buf_append(out, h, cut);
        st->done = true;
        st->held.len = 0;
        return true;
    }
    /* Hold back the longest tail that is a prefix of some stop string. */
    size_t keep = 0;
    for (int i = 0; i < st->n; i++) {
        size_t sl = strlen(st->stops[i]);
        for (size_t k = sl - 1 < hl ? sl - 1 : hl; k > keep; k--)
            if (memcmp(h + hl - k, st->stops[i], k) == 0) {
                keep = k;
                break;
            }
    }
    buf_append(out, h, hl - keep);
    memmove(st->held.data, h + hl - keep, keep);
    st->held.len = keep;
    if (st->held.data) st->held.data[keep] = 0;
    return false;
}

void smp_stop_flush(smp_stop *st, buf *out) {
    if (!st->done && st->held.len) buf_append(out, st->held.data, st->held.len);
    st->held.len = 0;
}
