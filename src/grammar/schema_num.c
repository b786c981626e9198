/*
 * Integer ranges as grammar text: [lo, hi] becomes alternatives over digit strings, split by
 * digit count and then digit by digit ("0" [5-9] | [1-8] [0-9] | "9" [0-3] for 5..93), so the
 * grammar accepts exactly the integers in range. Bounds are capped at 15 digits, like the
 * unbounded integer rule, which keeps every value inside int64 for JSON parsers.
 */
#include "grammar_int.h"

#include <stdio.h>
#include <string.h>

#define MAXDIG 15
static const int64_t POW10_MAX = 999999999999999LL; /* 15 nines */

static void pow10_str(char *s, int n, char c) {
    memset(s, c, (size_t)n);
    s[n] = 0;
}

/* Both strings have n digits, a <= b. Appends an expression (no outer parentheses needed
 * around it by the caller: it brackets alternatives itself). */
static void same_len(buf *o, const char *a, const char *b, int n) {
    if (n == 0) return;
    if (strcmp(a, b) == 0) {
        buf_printf(o, "\"%s\"", a);
        return;
    }
    if (a[0] == b[0]) {
        buf_printf(o, "\"%c\" ", a[0]);
        same_len(o, a + 1, b + 1, n - 1);
        return;
    }
    char zeros[MAXDIG + 1], nines[MAXDIG + 1];
    pow10_str(zeros, n - 1, '0');
    pow10_str(nines, n - 1, '9');
    bool a_full = strcmp(a + 1, zeros) == 0, b_full = strcmp(b + 1, nines) == 0;
    char lo = a_full ? a[0] : (char)(a[0] + 1), hi = b_full ? b[0] : (char)(b[0] - 1);
    buf_append_str(o, "(");
    bool first = true;
    if (!a_full) {
        buf_printf(o, "\"%c\" (", a[0]);
        same_len(o, a + 1, nines, n - 1);
        buf_append_str(o, ")");
        first = false;
    }
    if (lo <= hi) {
        buf_printf(o, "%s[%c-%c]", first ? "" : " | ", lo, hi);
        if (n > 1) buf_printf(o, " [0-9]{%d}", n - 1);
        first = false;
    }
    if (!b_full) {
        buf_printf(o, "%s\"%c\" (", first ? "" : " | ", b[0]);
        same_len(o, zeros, b + 1, n - 1);
        buf_append_str(o, ")");
    }
    buf_append_str(o, ")");
}

static int ndigits(int64_t v) {
    int n = 1;
    while (v >= 10) { v /= 10; n++; }
    return n;
}

static int64_t pow10i(int n) {
    int64_t p = 1;
    while (n-- > 0) p *= 10;
    return p;
}

/* 0 <= lo <= hi <= POW10_MAX: alternatives (with a leading " | " unless first). */
static void nonneg_range(buf *o, int64_t lo, int64_t hi, bool *first) {
    for (int d = ndigits(lo); d <= ndigits(hi); d++) {
        int64_t a = d == 1 ? 0 : pow10i(d - 1), b = pow10i(d) - 1;
        if (a < lo) a = lo;
        if (b > hi) b = hi;
        if (a > b) continue;
        char as[24], bs[24];
        snprintf(as, sizeof as, "%lld", (long long)a);
        snprintf(bs, sizeof bs, "%lld", (long long)b);
        buf_append_str(o, *first ? "" : " | ");
        *first = false;
        buf_append_str(o, "(");
        same_len(o, as, bs, d);
        buf_append_str(o, ")");
    }
}

/* Non-negative integers >= lo, any length up to 15 digits. */
static void nonneg_from(buf *o, int64_t lo, bool *first) {
    int d = ndigits(lo);
    nonneg_range(o, lo, pow10i(d) - 1, first);
    if (d < MAXDIG) {
        buf_printf(o, "%s[1-9] [0-9]{%d,%d}", *first ? "" : " | ", d, MAXDIG - 1);
        *first = false;
    }
}

int gschema_int_range(buf *o, bool has_lo, int64_t lo, bool has_hi, int64_t hi, err_buf *eb) {
    if (has_lo && lo < -POW10_MAX) has_lo = false;
    if (has_hi && hi > POW10_MAX) has_hi = false;
    if (has_lo && lo > POW10_MAX) return err_set(eb, BASE_EUNSUPPORTED, "minimum %lld has more than 15 digits", (long long)lo);
    if (has_hi && hi < -POW10_MAX) return err_set(eb, BASE_EUNSUPPORTED, "maximum %lld has more than 15 digits", (long long)hi);
    if (has_lo && has_hi && lo > hi)
        return err_set(eb, BASE_EINVAL, "integer range is empty (minimum %lld > maximum %lld)",
                       (long long)lo, (long long)hi);
    bool first = true;
    buf_append_str(o, "(");
    /* Negative part: "-" followed by the magnitudes [max(1, -hi), -lo]. */
    if (!has_lo || lo < 0) {
        int64_t mlo = has_hi && hi < 0 ? -hi : 1;
        buf_append_str(o, "\"-\" (");
        bool f2 = true;
        if (has_lo) nonneg_range(o, mlo, -lo, &f2);
        else nonneg_from(o, mlo, &f2);
        buf_append_str(o, ")");
        first = false;
    }
    /* Non-negative part. */
    if (!has_hi || hi >= 0) {
        int64_t nlo = has_lo && lo > 0 ? lo : 0;
        if (has_hi) nonneg_range(o, nlo, hi, &first);
        else nonneg_from(o, nlo, &first);
    }
    buf_append_str(o, ")");
    return o->oom ? err_set(eb, BASE_ENOMEM, "out of memory") : 0;
}
