/*
 * Template operators with Python semantics: arithmetic (int/float promotion, floor
 * division and modulo with the divisor's sign, overflow falling back to float), string and
 * list concatenation and repetition (size-checked), printf-style "%" formatting,
 * comparisons and membership tests.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "template/tmpl_int.h"


static int arith_err(rstate *rs, const char *op, tmpl_value a, tmpl_value b) {
    if (a.kind == TV_UNDEF) return undef_err(rs, a);
    if (b.kind == TV_UNDEF) return undef_err(rs, b);
    return rs_err(rs, BASE_ETYPE, "TypeError", "unsupported operand type(s) for %s: '%s' and '%s'", op,
                  tv_type_name(a), tv_type_name(b));
}

static int repeat(rstate *rs, tmpl_value seq, int64_t times, tmpl_value *out) {
    int rc;
    if (times < 0) times = 0;
    if (seq.kind == TV_STR) {
        sbuf b = {0};
        if (seq.s.n && (size_t)times > rs->prm.max_output / seq.s.n)
            return err_set(rs->eb, BASE_EFULL, "string repetition too large (line %d)", rs->line);
        for (int64_t i = 0; i < times; i++)
            if ((rc = sb_put(rs, &b, seq.s.p, seq.s.n))) return rc;
        *out = tv_strn(b.p ? b.p : "", b.n);
        return 0;
    }
    tmpl_value l = tv_list_new(rs);
    if (l.kind != TV_LIST) return BASE_ENOMEM;
    if (seq.list->n && (size_t)times > rs->prm.max_steps / seq.list->n)
        return err_set(rs->eb, BASE_EFULL, "list repetition too large (line %d)", rs->line);
    for (int64_t i = 0; i < times; i++)
        for (size_t k = 0; k < seq.list->n; k++)
            if ((rc = tv_list_push(rs, l.list, seq.list->v[k]))) return rc;
    *out = l;
    return 0;
}

int eval_binop(rstate *rs, int op, tmpl_value a, tmpl_value b, tmpl_value *out) {
    static const char *const names[] = {"+", "-", "*", "/", "//", "%", "**"};
    bool ints = (a.kind == TV_INT || a.kind == TV_BOOL) && (b.kind == TV_INT || b.kind == TV_BOOL);
    int64_t x = a.kind == TV_INT ? a.i : a.kind == TV_BOOL ? a.b : 0;
    int64_t y = b.kind == TV_INT ? b.i : b.kind == TV_BOOL ? b.b : 0, r;
    if (tv_is_num(a) && tv_is_num(b)) {
        double fx = tv_num(a), fy = tv_num(b);
        switch (op) {
        case OP_ADD:
            if (ints && !__builtin_add_overflow(x, y, &r)) { *out = tv_int(r); return 0; }
            *out = tv_float(fx + fy); return 0;
        case OP_SUB:
            if (ints && !__builtin_sub_overflow(x, y, &r)) { *out = tv_int(r); return 0; }
            *out = tv_float(fx - fy); return 0;
        case OP_MUL:
            if (ints && !__builtin_mul_overflow(x, y, &r)) { *out = tv_int(r); return 0; }
            *out = tv_float(fx * fy); return 0;
        case OP_DIV:
            if (fy == 0) return rs_err(rs, BASE_EINVAL, "ZeroDivisionError", "division by zero");
            *out = tv_float(fx / fy); return 0;
        case OP_FLOORDIV: case OP_MOD:
            if (fy == 0) return rs_err(rs, BASE_EINVAL, "ZeroDivisionError", "integer division or modulo by zero");
            if (ints) {
                if (x == INT64_MIN && y == -1) { *out = op == OP_MOD ? tv_int(0) : tv_float(-(double)x); return 0; }
                int64_t q = x / y, m = x % y;
                if (m != 0 && ((m < 0) != (y < 0))) { q--; m += y; }
                *out = tv_int(op == OP_MOD ? m : q);
                return 0;
            }
            if (op == OP_FLOORDIV) { *out = tv_float(floor(fx / fy)); return 0; }
            {
                double m = fmod(fx, fy);
                if (m != 0 && ((m < 0) != (fy < 0))) m += fy;
                *out = tv_float(m);
            }
            return 0;
        case OP_POW:
            if (ints && y >= 0) {
                int64_t acc = 1;
                bool ovf = false;
                for (int64_t i = 0; i < y && !ovf; i++) {
                    ovf = __builtin_mul_overflow(acc, x, &acc);
                    if (acc == 0 || acc == 1) break;
                }
                if (!ovf) { *out = tv_int(acc); return 0; }
            }
            *out = tv_float(pow(fx, fy));
            return 0;
        }
    }
    if (op == OP_ADD && a.kind == TV_STR && b.kind == TV_STR) {
        /* Markup + str escapes the plain side (markupsafe), so "x"|safe + y escapes y. */
        bool markup = a.safe || b.safe;
        sbuf s = {0};
        int rc = markup && !a.safe ? str_escape_html(rs, &s, a) : sb_put(rs, &s, a.s.p, a.s.n);
        if (!rc) rc = markup && !b.safe ? str_escape_html(rs, &s, b) : sb_put(rs, &s, b.s.p, b.s.n);
        if (rc) return rc;
        *out = tv_strn(s.p ? s.p : "", s.n);
        out->safe = markup;
        return 0;
    }
    if (op == OP_ADD && a.kind == TV_LIST && b.kind == TV_LIST) {
        tmpl_value l = tv_list_new(rs);
        int rc = 0;
        if (l.kind != TV_LIST) return BASE_ENOMEM;
        for (size_t i = 0; i < a.list->n && !rc; i++) rc = tv_list_push(rs, l.list, a.list->v[i]);
        for (size_t i = 0; i < b.list->n && !rc; i++) rc = tv_list_push(rs, l.list, b.list->v[i]);
        *out = l;
        return rc;
    }
    if (op == OP_MUL && (a.kind == TV_STR || a.kind == TV_LIST) && (b.kind == TV_INT || b.kind == TV_BOOL))
        return repeat(rs, a, y, out);
    if (op == OP_MUL && (b.kind == TV_STR || b.kind == TV_LIST) && (a.kind == TV_INT || a.kind == TV_BOOL))
        return repeat(rs, b, x, out);
    if (op == OP_MOD && a.kind == TV_STR) {
        return str_percent(rs, a, b, out);
    }
    return arith_err(rs, names[op], a, b);
}

int str_percent(rstate *rs, tmpl_value fmt, tmpl_value b, tmpl_value *out) {
    tmpl_value one = b;
    tv_list single = {&one, 1, 1};
    tv_list *args = b.kind == TV_LIST && b.is_tuple ? b.list : &single;
    sbuf s = {0};
    size_t k = 0;
    int rc = 0;
    const char *p = fmt.s.p;
    size_t n = fmt.s.n;
    for (size_t i = 0; i < n && !rc; i++) {
        if (p[i] != '%') { rc = sb_put(rs, &s, p + i, 1); continue; }
        if (++i >= n) return rs_err(rs, BASE_EINVAL, "ValueError", "incomplete format");
        if (p[i] == '%') { rc = sb_puts(rs, &s, "%"); continue; }
        tmpl_value v;
        bool have = false;
        if (p[i] == '(') { /* %(name)s takes from a dict */
            size_t e = i + 1;
            while (e < n && p[e] != ')') e++;
            if (e >= n || b.kind != TV_DICT) return rs_err(rs, BASE_EINVAL, "TypeError", "format requires a mapping");
            tmpl_value *dv = tv_dict_get_str(b.dict, p + i + 1, e - i - 1);
            if (!dv) return rs_err(rs, BASE_ENOTFOUND, "KeyError", "%.*s", (int)(e - i - 1), p + i + 1);
            v = *dv; have = true;
            i = e + 1;
        }
        char spec[32] = "%";
        size_t sl = 1;
        while (i < n && strchr("-+ #0123456789.", p[i]) && sl < sizeof spec - 4) spec[sl++] = p[i++];
        if (i >= n) return rs_err(rs, BASE_EINVAL, "ValueError", "incomplete format");
        char c = p[i];
        if (!have) {
            if (k >= args->n) return rs_err(rs, BASE_EINVAL, "TypeError", "not enough arguments for format string");
            v = args->v[k++];
        }
        char num[128];
        if (c == 'd' || c == 'i' || c == 'x' || c == 'X' || c == 'o') {
            if (!tv_is_num(v)) return rs_err(rs, BASE_ETYPE, "TypeError", "%%%c format: a real number is required, not %s", c, tv_type_name(v));
            spec[sl++] = 'l'; spec[sl++] = 'l'; spec[sl++] = c == 'i' ? 'd' : c; spec[sl] = 0;
            snprintf(num, sizeof num, spec, (long long)tv_num(v));
            rc = sb_puts(rs, &s, num);
        } else if (c == 'f' || c == 'F' || c == 'e' || c == 'E' || c == 'g' || c == 'G') {
            if (!tv_is_num(v)) return rs_err(rs, BASE_ETYPE, "TypeError", "must be real number, not %s", tv_type_name(v));
            spec[sl++] = c; spec[sl] = 0;
            snprintf(num, sizeof num, spec, tv_num(v));
            rc = sb_puts(rs, &s, num);
        } else if (c == 's' || c == 'r' || c == 'a') {
            /* %-10s / %10s: pad the text to a width (counted in code points) */
            sbuf t = {0};
            rc = c == 's' ? tv_write_str(rs, &t, v) : tv_write_repr(rs, &t, v);
            bool left = memchr(spec, '-', sl) != NULL;
            size_t k2 = 1;
            while (k2 < sl && !(spec[k2] >= '1' && spec[k2] <= '9') && spec[k2] != '.') k2++;
            long width = k2 < sl && spec[k2] != '.' ? strtol(spec + k2, NULL, 10) : 0;
            size_t len = t.p ? utf8_len(t.p, t.n) : 0;
            for (long w = (long)len; !rc && !left && w < width && w < 4096; w++) rc = sb_puts(rs, &s, " ");
            if (!rc && t.n) rc = sb_put(rs, &s, t.p, t.n);
            for (long w = (long)len; !rc && left && w < width && w < 4096; w++) rc = sb_puts(rs, &s, " ");
        } else {
            return rs_err(rs, BASE_EINVAL, "ValueError", "unsupported format character '%c'", c);
        }
    }
    if (rc) return rc;
    if (b.kind != TV_DICT && k < args->n)
        return rs_err(rs, BASE_EINVAL, "TypeError", "not all arguments converted during string formatting");
    *out = tv_strn(s.p ? s.p : "", s.n);
    return 0;
}

static int contains(rstate *rs, tmpl_value hay, tmpl_value needle, bool *out) {
    switch (hay.kind) {
    case TV_STR:
        if (needle.kind != TV_STR)
            return rs_err(rs, BASE_ETYPE, "TypeError", "'in <string>' requires string as left operand, not %s", tv_type_name(needle));
        *out = needle.s.n == 0 || memmem(hay.s.p, hay.s.n, needle.s.p, needle.s.n) != NULL;
        return 0;
    case TV_LIST:
        *out = false;
        for (size_t i = 0; i < hay.list->n; i++)
            if (tv_equal(hay.list->v[i], needle)) { *out = true; break; }
        return 0;
    case TV_DICT: case TV_NS:
        *out = tv_dict_get(hay.dict, needle) != NULL;
        return 0;
    case TV_UNDEF:
        *out = false;
        return 0;
    default:
        return rs_err(rs, BASE_ETYPE, "TypeError", "argument of type '%s' is not iterable", tv_type_name(hay));
    }
}

int eval_compare(rstate *rs, int op, tmpl_value a, tmpl_value b, tmpl_value *out) {
    int rc, c;
    bool r = false;
    switch (op) {
    case OP_EQ: *out = tv_bool(tv_equal(a, b)); return 0;
    case OP_NE: *out = tv_bool(!tv_equal(a, b)); return 0;
    case OP_IN: case OP_NOTIN:
        if ((rc = contains(rs, b, a, &r))) return rc;
        *out = tv_bool(op == OP_IN ? r : !r);
        return 0;
    default:
        if ((rc = tv_compare(rs, a, b, &c))) return rc;
        *out = tv_bool(op == OP_LT ? c < 0 : op == OP_LE ? c <= 0 : op == OP_GT ? c > 0 : c >= 0);
        return 0;
    }
}

