/*
 * Template values: construction in the render arena, lists and insertion-ordered dicts,
 * Python truthiness, equality and ordering, str()/repr() (with Python's float repr), and
 * json.dumps-compatible output. Conversion from jansson brings request JSON in.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template/tmpl_int.h"

int rs_oom(rstate *rs) {
    rs->oom = true;
    return err_set(rs->eb, BASE_ENOMEM, "out of memory");
}

int rs_err(rstate *rs, int code, const char *kind, const char *fmt, ...) {
    if (rs->oom) return rs_oom(rs); /* a failed allocation may surface as another error */
    char m[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    return err_set(rs->eb, code, "%s: %s (line %d)", kind, m, rs->line);
}

/* ---- string builder in the arena ---- */

int sb_put(rstate *rs, sbuf *b, const char *p, size_t n) {
    if (!n) return 0;
    if (b->n + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 64;
        while (nc < b->n + n + 1) nc *= 2;
        if (b == rs->out && nc > rs->prm.max_output + 1) {
            if (b->n + n > rs->prm.max_output)
                return err_set(rs->eb, BASE_EFULL, "template output exceeds %zu bytes", rs->prm.max_output);
            nc = rs->prm.max_output + 1;
        }
        if (arena_used(rs->a) + nc > rs->prm.max_memory)
            return err_set(rs->eb, BASE_ENOMEM, "template render exceeds its memory limit");
        char *np = arena_alloc(rs->a, nc);
        if (!np) return rs_oom(rs);
        if (b->n) memcpy(np, b->p, b->n);
        b->p = np; b->cap = nc;
    }
    memcpy(b->p + b->n, p, n);
    b->n += n;
    b->p[b->n] = 0;
    return 0;
}

/* ---- construction ---- */

tmpl_value tv_str_copy(rstate *rs, const char *p, size_t n) {
    char *s = arena_alloc(rs->a, n + 1);
    if (!s) { rs_oom(rs); return tv_undef(NULL); }
    if (n) memcpy(s, p, n);
    s[n] = 0;
    return tv_strn(s, n);
}

tmpl_value tv_list_new(rstate *rs) {
    tmpl_value v = {.kind = TV_LIST};
    v.list = arena_calloc(rs->a, 1, sizeof(tv_list));
    if (!v.list) { rs_oom(rs); v.kind = TV_UNDEF; }
    return v;
}

tmpl_value tv_dict_new(rstate *rs) {
    tmpl_value v = {.kind = TV_DICT};
    v.dict = arena_calloc(rs->a, 1, sizeof(tv_dict));
    if (!v.dict) { rs_oom(rs); v.kind = TV_UNDEF; }
    return v;
}

static int grow(rstate *rs, void **arr, size_t *cap, size_t need, size_t elem, size_t used) {
    if (need <= *cap) return 0;
    size_t nc = *cap ? *cap * 2 : 4;
    while (nc < need) nc *= 2;
    if (arena_used(rs->a) + nc * elem > rs->prm.max_memory)
        return err_set(rs->eb, BASE_ENOMEM, "template render exceeds its memory limit");
    void *np = arena_alloc(rs->a, nc * elem);
    if (!np) return rs_oom(rs);
    if (used) memcpy(np, *arr, used * elem);
    *arr = np; *cap = nc;
    return 0;
}

int tv_list_push(rstate *rs, tv_list *l, tmpl_value v) {
    int rc = grow(rs, (void **)&l->v, &l->cap, l->n + 1, sizeof(tmpl_value), l->n);
    if (rc) return rc;
    l->v[l->n++] = v;
    return 0;
}

tmpl_value *tv_dict_get(const tv_dict *d, tmpl_value k) {
    for (size_t i = 0; i < d->n; i++)
        if (tv_equal(d->k[i], k)) return &d->v[i];
    return NULL;
}

tmpl_value *tv_dict_get_str(const tv_dict *d, const char *k, size_t n) {
    for (size_t i = 0; i < d->n; i++)
        if (d->k[i].kind == TV_STR && d->k[i].s.n == n && !memcmp(d->k[i].s.p, k, n)) return &d->v[i];
    return NULL;
}

int tv_dict_set(rstate *rs, tv_dict *d, tmpl_value k, tmpl_value v) {
    tmpl_value *e = tv_dict_get(d, k);
    if (e) { *e = v; return 0; }
    size_t kc = d->cap;
    int rc = grow(rs, (void **)&d->k, &kc, d->n + 1, sizeof(tmpl_value), d->n);
    if (rc) return rc;
    rc = grow(rs, (void **)&d->v, &d->cap, d->n + 1, sizeof(tmpl_value), d->n);
    if (rc) return rc;
    d->k[d->n] = k; d->v[d->n] = v; d->n++;
    return 0;
}

int tv_dict_set_cstr(rstate *rs, tv_dict *d, const char *k, tmpl_value v) {
    return tv_dict_set(rs, d, tv_strn(k, strlen(k)), v);
}

/* ---- semantics ---- */

bool tv_truthy(tmpl_value v) {
    switch (v.kind) {
    case TV_UNDEF: case TV_NONE: return false;
    case TV_BOOL: return v.b;
    case TV_INT: return v.i != 0;
    case TV_FLOAT: return v.f != 0.0;
    case TV_STR: return v.s.n != 0;
    case TV_LIST: return v.list->n != 0;
    case TV_DICT: return v.dict->n != 0;
    default: return true;
    }
}

bool tv_is_num(tmpl_value v) { return v.kind == TV_INT || v.kind == TV_FLOAT || v.kind == TV_BOOL; }
double tv_num(tmpl_value v) {
    return v.kind == TV_FLOAT ? v.f : v.kind == TV_INT ? (double)v.i : v.kind == TV_BOOL ? v.b : 0;
}

/* Nested data deeper than this compares unequal instead of exhausting the C stack. */
#define EQ_MAX_DEPTH 512

static bool equal_at(tmpl_value a, tmpl_value b, int depth);
bool tv_equal(tmpl_value a, tmpl_value b) { return equal_at(a, b, 0); }

static bool equal_at(tmpl_value a, tmpl_value b, int depth) {
    if (depth > EQ_MAX_DEPTH) return false;
    if (tv_is_num(a) && tv_is_num(b)) {
        if (a.kind != TV_FLOAT && b.kind != TV_FLOAT) return (a.kind == TV_INT ? a.i : a.b) == (b.kind == TV_INT ? b.i : b.b);
        return tv_num(a) == tv_num(b);
    }
    if (a.kind != b.kind) return false;
    switch (a.kind) {
    case TV_UNDEF: case TV_NONE: return true;
    case TV_STR: return a.s.n == b.s.n && !memcmp(a.s.p, b.s.p, a.s.n);
    case TV_LIST:
        if (a.is_tuple != b.is_tuple || a.list->n != b.list->n) return false; /* (1,) != [1] */
        for (size_t i = 0; i < a.list->n; i++)
            if (!equal_at(a.list->v[i], b.list->v[i], depth + 1)) return false;
        return true;
    case TV_DICT:
        if (a.dict->n != b.dict->n) return false;
        for (size_t i = 0; i < a.dict->n; i++) {
            tmpl_value *o = tv_dict_get(b.dict, a.dict->k[i]);
            if (!o || !equal_at(a.dict->v[i], *o, depth + 1)) return false;
        }
        return true;
    case TV_NS: return a.dict == b.dict;
    case TV_FUNC: return a.fn == b.fn;
    case TV_MACRO: return a.mac == b.mac;
    case TV_LOOP: return a.loop == b.loop;
    default: return false;
    }
}

static int compare_at(rstate *rs, tmpl_value a, tmpl_value b, int *out, int depth);
int tv_compare(rstate *rs, tmpl_value a, tmpl_value b, int *out) { return compare_at(rs, a, b, out, 0); }

static int compare_at(rstate *rs, tmpl_value a, tmpl_value b, int *out, int depth) {
    if (depth > EQ_MAX_DEPTH) return rs_err(rs, BASE_ERANGE, "RecursionError", "values nested too deeply to compare");
    if (tv_is_num(a) && tv_is_num(b)) {
        if (a.kind != TV_FLOAT && b.kind != TV_FLOAT) {
            int64_t x = a.kind == TV_INT ? a.i : a.b, y = b.kind == TV_INT ? b.i : b.b;
            *out = x < y ? -1 : x > y;
        } else {
            double x = tv_num(a), y = tv_num(b);
            *out = x < y ? -1 : x > y;
        }
        return 0;
    }
    if (a.kind == TV_STR && b.kind == TV_STR) {
        size_t m = a.s.n < b.s.n ? a.s.n : b.s.n;
        int c = memcmp(a.s.p, b.s.p, m);
        *out = c < 0 ? -1 : c > 0 ? 1 : a.s.n < b.s.n ? -1 : a.s.n > b.s.n;
        return 0;
    }
    if (a.kind == TV_LIST && b.kind == TV_LIST) {
        size_t m = a.list->n < b.list->n ? a.list->n : b.list->n;
        for (size_t i = 0; i < m; i++) {
            if (tv_equal(a.list->v[i], b.list->v[i])) continue;
            return compare_at(rs, a.list->v[i], b.list->v[i], out, depth + 1);
        }
        *out = a.list->n < b.list->n ? -1 : a.list->n > b.list->n;
        return 0;
    }
    if (a.kind == TV_UNDEF || b.kind == TV_UNDEF)
        return rs_err(rs, BASE_ENOTFOUND, "UndefinedError", "%s",
                      a.kind == TV_UNDEF && a.undef_name ? a.undef_name : b.kind == TV_UNDEF && b.undef_name ? b.undef_name : "value is undefined");
    return rs_err(rs, BASE_ETYPE, "TypeError", "ordering not supported between instances of '%s' and '%s'",
                  tv_type_name(a), tv_type_name(b));
}

const char *tv_type_name(tmpl_value v) {
    switch (v.kind) {
    case TV_UNDEF: return "Undefined";
    case TV_NONE: return "NoneType";
    case TV_BOOL: return "bool";
    case TV_INT: return "int";
    case TV_FLOAT: return "float";
    case TV_STR: return "str";
    case TV_LIST: return v.is_tuple ? "tuple" : "list";
    case TV_DICT: return "dict";
    case TV_NS: return "Namespace";
    case TV_LOOP: return "LoopContext";
    default: return "function";
    }
}

/* ---- text ---- */

void tv_format_float(double f, char *dst, size_t cap) {
    if (isnan(f)) { snprintf(dst, cap, "nan"); return; }
    if (isinf(f)) { snprintf(dst, cap, f < 0 ? "-inf" : "inf"); return; }
    char tmp[40];
    int prec;
    for (prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, f);
        if (strtod(tmp, NULL) == f) break;
    }
    /* tmp = d.ddde[+-]XX: split digits and exponent, then lay out like Python's repr. */
    char digits[24];
    size_t nd = 0;
    const char *q = tmp;
    bool neg = false;
    if (*q == '-') { neg = true; q++; }
    for (; *q && *q != 'e'; q++)
        if (*q != '.') digits[nd++] = *q;
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    digits[nd] = 0;
    int exp = atoi(q + 1);
    char *o = dst;
    size_t left = cap;
#define PUT(...) do { int w_ = snprintf(o, left, __VA_ARGS__); if (w_ < 0 || (size_t)w_ >= left) return; o += w_; left -= (size_t)w_; } while (0)
    if (neg) PUT("-");
    if (exp < -4 || exp >= 16) {
        PUT("%c", digits[0]);
        if (nd > 1) PUT(".%s", digits + 1);
        PUT("e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    } else if (exp < 0) {
        PUT("0.");
        for (int i = -1; i > exp; i--) PUT("0");
        PUT("%s", digits);
    } else {
        for (int i = 0; i <= exp; i++) PUT("%c", (size_t)i < nd ? digits[i] : '0');
        PUT(".");
        if ((size_t)exp + 1 < nd) PUT("%s", digits + exp + 1);
        else PUT("0");
    }
#undef PUT
}

static int write_repr_str(rstate *rs, sbuf *b, const char *p, size_t n) {
    bool has_sq = memchr(p, '\'', n) != NULL, has_dq = memchr(p, '"', n) != NULL;
    char q = has_sq && !has_dq ? '"' : '\'';
    int rc = sb_put(rs, b, &q, 1);
    size_t run = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        unsigned char c = (unsigned char)p[i];
        const char *esc = NULL;
        char hex[8];
        if (c == '\\') esc = "\\\\";
        else if (c == (unsigned char)q) esc = q == '\'' ? "\\'" : "\\\"";
        else if (c == '\n') esc = "\\n";
        else if (c == '\r') esc = "\\r";
        else if (c == '\t') esc = "\\t";
        else if (c < 0x20 || c == 0x7f) { snprintf(hex, sizeof hex, "\\x%02x", c); esc = hex; }
        if (!esc) continue;
        rc = sb_put(rs, b, p + run, i - run);
        if (!rc) rc = sb_puts(rs, b, esc);
        run = i + 1;
    }
    if (!rc) rc = sb_put(rs, b, p + run, n - run);
    if (!rc) rc = sb_put(rs, b, &q, 1);
    return rc;
}

static int write_value(rstate *rs, sbuf *b, tmpl_value v, bool repr, int depth) {
    char num[64];
    int rc = 0;
    if (depth > 100) return rs_err(rs, BASE_ERANGE, "RecursionError", "value nested too deeply");
    switch (v.kind) {
    case TV_UNDEF: return repr ? sb_puts(rs, b, "Undefined") : 0;
    case TV_NONE: return sb_puts(rs, b, "None");
    case TV_BOOL: return sb_puts(rs, b, v.b ? "True" : "False");
    case TV_INT: snprintf(num, sizeof num, "%lld", (long long)v.i); return sb_puts(rs, b, num);
    case TV_FLOAT: tv_format_float(v.f, num, sizeof num); return sb_puts(rs, b, num);
    case TV_STR: return repr ? write_repr_str(rs, b, v.s.p, v.s.n) : sb_put(rs, b, v.s.p, v.s.n);
    case TV_LIST:
        rc = sb_puts(rs, b, v.is_tuple ? "(" : "[");
        for (size_t i = 0; i < v.list->n && !rc; i++) {
            if (i) rc = sb_puts(rs, b, ", ");
            if (!rc) rc = write_value(rs, b, v.list->v[i], true, depth + 1);
        }
        if (!rc && v.is_tuple && v.list->n == 1) rc = sb_puts(rs, b, ",");
        return rc ? rc : sb_puts(rs, b, v.is_tuple ? ")" : "]");
    case TV_DICT:
        rc = sb_puts(rs, b, "{");
        for (size_t i = 0; i < v.dict->n && !rc; i++) {
            if (i) rc = sb_puts(rs, b, ", ");
            if (!rc) rc = write_value(rs, b, v.dict->k[i], true, depth + 1);
            if (!rc) rc = sb_puts(rs, b, ": ");
            if (!rc) rc = write_value(rs, b, v.dict->v[i], true, depth + 1);
        }
        return rc ? rc : sb_puts(rs, b, "}");
    case TV_NS: return sb_puts(rs, b, "<Namespace>");
    case TV_LOOP: return sb_puts(rs, b, "<LoopContext>");
    case TV_MACRO: return sb_puts(rs, b, "<Macro>");
    default: return sb_puts(rs, b, "<function>");
    }
}

int tv_write_str(rstate *rs, sbuf *b, tmpl_value v) { return write_value(rs, b, v, false, 0); }
int tv_write_repr(rstate *rs, sbuf *b, tmpl_value v) { return write_value(rs, b, v, true, 0); }

int tv_to_str(rstate *rs, tmpl_value v, tmpl_value *out) {
    if (v.kind == TV_STR) { *out = v; return 0; }
    sbuf b = {0};
    int rc = tv_write_str(rs, &b, v);
    if (rc) return rc;
    *out = tv_strn(b.p ? b.p : "", b.n);
    return 0;
}

/* ---- JSON out ---- */

/* Decode one UTF-8 sequence at p[i]; returns its length (1 for invalid bytes). */
size_t utf8_decode(const char *p, size_t n, size_t i, uint32_t *cp) {
    unsigned char c = (unsigned char)p[i];
    size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    if (len == 1 || i + len > n) { *cp = c; return 1; }
    uint32_t v = c & (0x3F >> (len - 1));
    for (size_t k = 1; k < len; k++) {
        if (((unsigned char)p[i + k] & 0xC0) != 0x80) { *cp = c; return 1; }
        v = (v << 6) | ((unsigned char)p[i + k] & 0x3F);
    }
    *cp = v;
    return len;
}

static int json_str(rstate *rs, sbuf *b, const char *p, size_t n, bool ascii) {
    int rc = sb_puts(rs, b, "\"");
    size_t run = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        unsigned char c = (unsigned char)p[i];
        char esc[16];
        if (ascii && c >= 0x80) { /* ensure_ascii: \uXXXX, surrogate pairs above the BMP */
            uint32_t cp;
            size_t l = utf8_decode(p, n, i, &cp);
            if (cp >= 0x10000) {
                cp -= 0x10000;
                snprintf(esc, sizeof esc, "\\u%04x\\u%04x", 0xD800 + (cp >> 10), 0xDC00 + (cp & 0x3FF));
            } else {
                snprintf(esc, sizeof esc, "\\u%04x", cp);
            }
            rc = sb_put(rs, b, p + run, i - run);
            if (!rc) rc = sb_puts(rs, b, esc);
            i += l - 1;
            run = i + 1;
            continue;
        }
        if (c == '"') strcpy(esc, "\\\"");
        else if (c == '\\') strcpy(esc, "\\\\");
        else if (c == '\n') strcpy(esc, "\\n");
        else if (c == '\r') strcpy(esc, "\\r");
        else if (c == '\t') strcpy(esc, "\\t");
        else if (c == '\b') strcpy(esc, "\\b");
        else if (c == '\f') strcpy(esc, "\\f");
        else if (c < 0x20) snprintf(esc, sizeof esc, "\\u%04x", c);
        else continue;
        rc = sb_put(rs, b, p + run, i - run);
        if (!rc) rc = sb_puts(rs, b, esc);
        run = i + 1;
    }
    if (!rc) rc = sb_put(rs, b, p + run, n - run);
    return rc ? rc : sb_puts(rs, b, "\"");
}

static int json_nl(rstate *rs, sbuf *b, int indent, int level) {
    int rc = sb_puts(rs, b, "\n");
    for (int i = 0; i < indent * level && !rc; i++) rc = sb_puts(rs, b, " ");
    return rc;
}

int tv_write_json(rstate *rs, sbuf *b, tmpl_value v, const json_opts *o, int level) {
    int indent = o->indent;
    const char *item_sep = o->item_sep, *key_sep = o->key_sep;
    bool sort_keys = o->sort_keys;
    char num[64];
    int rc = 0;
    if (level > 100) return rs_err(rs, BASE_ERANGE, "ValueError", "value nested too deeply for tojson");
    switch (v.kind) {
    case TV_NONE: return sb_puts(rs, b, "null");
    case TV_BOOL: return sb_puts(rs, b, v.b ? "true" : "false");
    case TV_INT: snprintf(num, sizeof num, "%lld", (long long)v.i); return sb_puts(rs, b, num);
    case TV_FLOAT:
        if (isnan(v.f)) return sb_puts(rs, b, "NaN");
        if (isinf(v.f)) return sb_puts(rs, b, v.f < 0 ? "-Infinity" : "Infinity");
        tv_format_float(v.f, num, sizeof num);
        return sb_puts(rs, b, num);
    case TV_STR: return json_str(rs, b, v.s.p, v.s.n, o->ascii);
    case TV_LIST:
        if (!v.list->n) return sb_puts(rs, b, "[]");
        rc = sb_puts(rs, b, "[");
        for (size_t i = 0; i < v.list->n && !rc; i++) {
            if (i) rc = sb_puts(rs, b, item_sep);
            if (!rc && indent >= 0) rc = json_nl(rs, b, indent, level + 1);
            if (!rc) rc = tv_write_json(rs, b, v.list->v[i], o, level + 1);
        }
        if (!rc && indent >= 0) rc = json_nl(rs, b, indent, level);
        return rc ? rc : sb_puts(rs, b, "]");
    case TV_DICT: case TV_NS: {
        tv_dict *d = v.dict;
        if (!d->n) return sb_puts(rs, b, "{}");
        size_t *ord = arena_alloc(rs->a, d->n * sizeof(size_t));
        if (!ord) return rs_oom(rs);
        for (size_t i = 0; i < d->n; i++) ord[i] = i;
        if (sort_keys) /* insertion sort: dicts in templates are small */
            for (size_t i = 1; i < d->n; i++)
                for (size_t j = i; j > 0; j--) {
                    int c = 0;
                    if ((rc = tv_compare(rs, d->k[ord[j - 1]], d->k[ord[j]], &c))) return rc;
                    if (c <= 0) break;
                    size_t t = ord[j]; ord[j] = ord[j - 1]; ord[j - 1] = t;
                }
        rc = sb_puts(rs, b, "{");
        for (size_t i = 0; i < d->n && !rc; i++) {
            tmpl_value k = d->k[ord[i]];
            if (i) rc = sb_puts(rs, b, item_sep);
            if (!rc && indent >= 0) rc = json_nl(rs, b, indent, level + 1);
            if (rc) break;
            if (k.kind == TV_STR) rc = json_str(rs, b, k.s.p, k.s.n, o->ascii);
            else if (k.kind == TV_INT || k.kind == TV_FLOAT || k.kind == TV_BOOL || k.kind == TV_NONE) {
                sbuf t = {0};
                json_opts plain = {-1, ", ", ": ", false, false};
                rc = tv_write_json(rs, &t, k, &plain, level + 1);
                if (!rc) rc = json_str(rs, b, t.p, t.n, false);
            } else {
                return rs_err(rs, BASE_ETYPE, "TypeError", "keys must be str, int, float, bool or None, not %s", tv_type_name(k));
            }
            if (!rc) rc = sb_puts(rs, b, key_sep);
            if (!rc) rc = tv_write_json(rs, b, d->v[ord[i]], o, level + 1);
        }
        if (!rc && indent >= 0) rc = json_nl(rs, b, indent, level);
        return rc ? rc : sb_puts(rs, b, "}");
    }
    default:
        return rs_err(rs, BASE_ETYPE, "TypeError", "Object of type %s is not JSON serializable", tv_type_name(v));
    }
}

/* ---- JSON in ---- */

int tv_from_json(rstate *rs, const json_t *j, tmpl_value *out) {
    int rc;
    if (!j) { *out = tv_none(); return 0; }
    switch (json_typeof(j)) {
    case JSON_NULL: *out = tv_none(); return 0;
    case JSON_TRUE: *out = tv_bool(true); return 0;
    case JSON_FALSE: *out = tv_bool(false); return 0;
    case JSON_INTEGER: *out = tv_int(json_integer_value(j)); return 0;
    case JSON_REAL: *out = tv_float(json_real_value(j)); return 0;
    case JSON_STRING:
        *out = tv_str_copy(rs, json_string_value(j), json_string_length(j));
        return out->kind == TV_STR ? 0 : BASE_ENOMEM;
    case JSON_ARRAY: {
        *out = tv_list_new(rs);
        if (out->kind != TV_LIST) return BASE_ENOMEM;
        for (size_t i = 0; i < json_array_size(j); i++) {
            tmpl_value e;
            if ((rc = tv_from_json(rs, json_array_get(j, i), &e))) return rc;
            if ((rc = tv_list_push(rs, out->list, e))) return rc;
        }
        return 0;
    }
    case JSON_OBJECT: {
        *out = tv_dict_new(rs);
        if (out->kind != TV_DICT) return BASE_ENOMEM;
        const char *k;
        json_t *e;
        json_object_foreach((json_t *)j, k, e) {
            tmpl_value kv = tv_str_copy(rs, k, strlen(k)), ev;
            if (kv.kind != TV_STR) return BASE_ENOMEM;
            if ((rc = tv_from_json(rs, e, &ev))) return rc;
            if ((rc = tv_dict_set(rs, out->dict, kv, ev))) return rc;
        }
        return 0;
    }
    }
    *out = tv_none();
    return 0;
}

int tv_parse_json(rstate *rs, const char *p, size_t n, tmpl_value *out) {
    json_error_t je;
    json_t *j = json_loadb(p, n, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL * 0, &je);
    if (!j) return rs_err(rs, BASE_EFORMAT, "JSONDecodeError", "%s", je.text);
    int rc = tv_from_json(rs, j, out);
    json_decref(j);
    return rc;
}

/* ---- UTF-8 ---- */

size_t utf8_len(const char *p, size_t n) {
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)p[i] & 0xC0) != 0x80) c++;
    return c;
}

size_t utf8_offset(const char *p, size_t n, size_t idx) {
    size_t c = 0;
    for (size_t i = 0; i < n; i++) {
        if (((unsigned char)p[i] & 0xC0) != 0x80) {
            if (c == idx) return i;
            c++;
        }
    }
    return n;
}
