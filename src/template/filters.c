/*
 * Jinja filters ({{ x | name(args) }}) and tests ({% if x is name %}) with jinja2's
 * semantics, plus the tojson that transformers installs (json.dumps, ensure_ascii=False).
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "template/tmpl_int.h"

#define F_ARGS rstate *rs, tmpl_value v, call_args *a, tmpl_value *out

int str_replace(rstate *rs, tmpl_value s, tmpl_value old, tmpl_value nw, int64_t count, tmpl_value *out);

static int as_str(rstate *rs, tmpl_value v, tmpl_value *out) {
    if (v.kind == TV_UNDEF) { *out = tv_strn("", 0); return 0; }
    return tv_to_str(rs, v, out);
}

static int len_of(rstate *rs, tmpl_value v, int64_t *n) {
    switch (v.kind) {
    case TV_STR: *n = (int64_t)utf8_len(v.s.p, v.s.n); return 0;
    case TV_LIST: *n = (int64_t)v.list->n; return 0;
    case TV_DICT: case TV_NS: *n = (int64_t)v.dict->n; return 0;
    case TV_UNDEF: *n = 0; return 0;
    case TV_LOOP: *n = (int64_t)v.loop->length; return 0;
    default: return rs_err(rs, BASE_ETYPE, "TypeError", "object of type '%s' has no len()", tv_type_name(v));
    }
}

static int f_length(F_ARGS) {
    (void)a;
    int64_t n = 0;
    int rc = len_of(rs, v, &n);
    if (!rc) *out = tv_int(n);
    return rc;
}

static int f_tojson(F_ARGS) {
    tmpl_value *ind = arg_get(a, 1, "indent"), *sep = arg_get(a, 2, "separators"), *sk = arg_get(a, 3, "sort_keys");
    int indent = -1;
    const char *item_sep = ", ", *key_sep = ": ";
    if (ind && ind->kind == TV_INT) { indent = (int)(ind->i < 0 ? 0 : ind->i > 64 ? 64 : ind->i); item_sep = ","; }
    if (sep && sep->kind == TV_LIST && sep->list->n == 2 && sep->list->v[0].kind == TV_STR && sep->list->v[1].kind == TV_STR) {
        item_sep = arena_strndup(rs->a, sep->list->v[0].s.p, sep->list->v[0].s.n);
        key_sep = arena_strndup(rs->a, sep->list->v[1].s.p, sep->list->v[1].s.n);
        if (!item_sep || !key_sep) return rs_oom(rs);
    }
    sbuf b = {0};
    tmpl_value *asc = arg_get(a, 0, "ensure_ascii");
    json_opts o = {indent, item_sep, key_sep, sk && tv_truthy(*sk), asc && tv_truthy(*asc)};
    int rc = tv_write_json(rs, &b, v, &o, 0);
    if (rc) return rc;
    *out = tv_strn(b.p ? b.p : "", b.n);
    return 0;
}

static int f_string(F_ARGS) { (void)a; return as_str(rs, v, out); }

static int f_trim(F_ARGS) {
    tmpl_value s;
    int rc = as_str(rs, v, &s);
    if (rc) return rc;
    tmpl_value *chars = arg_get(a, 0, "chars");
    size_t st = 0, e = s.s.n;
#define STRIPPABLE(c) (chars && chars->kind == TV_STR ? memchr(chars->s.p, (c), chars->s.n) != NULL : isspace((unsigned char)(c)))
    while (st < e && STRIPPABLE(s.s.p[st])) st++;
    while (e > st && STRIPPABLE(s.s.p[e - 1])) e--;
#undef STRIPPABLE
    *out = tv_strn(s.s.p + st, e - st);
    out->safe = s.safe;
    return 0;
}

static int f_case(rstate *rs, tmpl_value v, tmpl_value *out, const char *m) {
    tmpl_value s, fn;
    call_args none = {0};
    int rc = as_str(rs, v, &s);
    if (rc) return rc;
    if (!method_lookup(rs, s, m, strlen(m), &fn)) return rs_oom(rs);
    return fn.fn->fn(rs, s, &none, out);
}
static int f_upper(F_ARGS) { (void)a; return f_case(rs, v, out, "upper"); }
static int f_lower(F_ARGS) { (void)a; return f_case(rs, v, out, "lower"); }
/* jinja's title filter differs from str.title: words start only after whitespace, '-',
 * or an opening bracket, so "they're" stays "They're". */
static int f_title(F_ARGS) {
    (void)a;
    tmpl_value s;
    int rc = as_str(rs, v, &s);
    if (rc) return rc;
    char *d = arena_alloc(rs->a, s.s.n * 2 + 1);
    if (!d) return rs_oom(rs);
    bool start = true;
    size_t o = 0;
    for (size_t i = 0; i < s.s.n;) {
        uint32_t c;
        size_t l = utf8_decode(s.s.p, s.s.n, i, &c);
        bool sep = c < 0x80 && (isspace((int)c) || c == '-' || c == '(' || c == '{' || c == '[' || c == '<');
        if (l == 1 && c >= 0x80) d[o++] = s.s.p[i]; /* invalid byte: copy */
        else o += cp_put(d + o, sep ? c : start ? cp_upper(c) : cp_lower(c));
        start = sep;
        i += l;
    }
    d[o] = 0;
    *out = tv_strn(d, o);
    return 0;
}
static int f_capitalize(F_ARGS) { (void)a; return f_case(rs, v, out, "capitalize"); }

static int f_default(F_ARGS) {
    tmpl_value *d = arg_get(a, 0, "default_value"), *b = arg_get(a, 1, "boolean");
    bool use = v.kind == TV_UNDEF || (b && tv_truthy(*b) && !tv_truthy(v));
    *out = use ? (d ? *d : tv_strn("", 0)) : v;
    (void)rs;
    return 0;
}

/* Jinja's attribute getter: "a.b.0" walks items/attributes, digits become indexes. */
static int get_path(rstate *rs, tmpl_value v, tmpl_value path, tmpl_value *out) {
    if (path.kind == TV_INT) return tv_getitem(rs, v, path, out);
    if (path.kind != TV_STR) return rs_err(rs, BASE_ETYPE, "TypeError", "attribute must be a string");
    const char *p = path.s.p, *end = p + path.s.n;
    while (p <= end) {
        const char *dot = memchr(p, '.', (size_t)(end - p));
        if (!dot) dot = end;
        size_t n = (size_t)(dot - p);
        bool digits = n > 0;
        for (size_t i = 0; i < n; i++) if (!isdigit((unsigned char)p[i])) digits = false;
        tmpl_value key = digits ? tv_int(strtoll(p, NULL, 10)) : tv_strn(p, n);
        int rc = tv_getitem(rs, v, key, &v);
        if (rc) return rc;
        p = dot + 1;
    }
    *out = v;
    return 0;
}

static int f_list(F_ARGS) {
    (void)a;
    tmpl_value l;
    int rc = tv_iter_list(rs, v, &l);
    if (rc) return rc;
    if (l.list == v.list && v.kind == TV_LIST) { /* copy, as list() does */
        tmpl_value c = tv_list_new(rs);
        if (c.kind != TV_LIST) return BASE_ENOMEM;
        for (size_t i = 0; i < l.list->n; i++)
            if ((rc = tv_list_push(rs, c.list, l.list->v[i]))) return rc;
        l = c;
    }
    *out = l;
    return 0;
}

static int f_join(F_ARGS) {
    tmpl_value *d = arg_get(a, 0, "d"), *attr = arg_get(a, 1, "attribute"), l, s;
    int rc = tv_iter_list(rs, v, &l);
    if (rc) return rc;
    sbuf b = {0};
    for (size_t i = 0; i < l.list->n; i++) {
        tmpl_value e = l.list->v[i];
        if (attr && (rc = get_path(rs, e, *attr, &e))) return rc;
        if (i && d && (rc = tv_write_str(rs, &b, *d))) return rc;
        if ((rc = as_str(rs, e, &s)) || (rc = sb_put(rs, &b, s.s.p, s.s.n))) return rc;
    }
    *out = tv_strn(b.p ? b.p : "", b.n);
    return 0;
}

static int f_items(F_ARGS) {
    (void)a;
    if (v.kind == TV_UNDEF) { *out = tv_list_new(rs); return out->kind == TV_LIST ? 0 : BASE_ENOMEM; }
    if (v.kind != TV_DICT && v.kind != TV_NS)
        return rs_err(rs, BASE_ETYPE, "TypeError", "can only get item pairs from a mapping.");
    tmpl_value l = tv_list_new(rs);
    int rc;
    if (l.kind != TV_LIST) return BASE_ENOMEM;
    for (size_t i = 0; i < v.dict->n; i++) {
        tmpl_value t = tv_list_new(rs);
        if (t.kind != TV_LIST) return BASE_ENOMEM;
        t.is_tuple = true;
        if ((rc = tv_list_push(rs, t.list, v.dict->k[i])) || (rc = tv_list_push(rs, t.list, v.dict->v[i])) ||
            (rc = tv_list_push(rs, l.list, t)))
            return rc;
    }
    *out = l;
    return 0;
}

/* select/reject/selectattr/rejectattr: keep items whose test (or truth) matches. */
static int select_impl(rstate *rs, tmpl_value v, call_args *a, tmpl_value *out, bool attr, bool want) {
    tmpl_value l, r = tv_list_new(rs);
    if (r.kind != TV_LIST) return BASE_ENOMEM;
    if (!tv_truthy(v)) { *out = r; return 0; } /* jinja: "if value:" before iterating */
    int rc = tv_iter_list(rs, v, &l);
    if (rc) return rc;
    size_t first = attr ? 1 : 0;
    tmpl_value *path = attr ? arg_get(a, 0, NULL) : NULL;
    if (attr && !path) return rs_err(rs, BASE_EINVAL, "TypeError", "missing attribute");
    tmpl_value *tname = first < a->npos ? &a->pos[first] : NULL;
    call_args targs = {0};
    if (a->npos > first + 1) { targs.pos = a->pos + first + 1; targs.npos = a->npos - first - 1; }
    for (size_t i = 0; i < l.list->n; i++) {
        tmpl_value e = l.list->v[i];
        bool ok;
        if (path && (rc = get_path(rs, e, *path, &e))) return rc;
        if (tname) {
            char nm[64];
            if (tname->kind != TV_STR) return rs_err(rs, BASE_ETYPE, "TypeError", "test name must be a string");
            snprintf(nm, sizeof nm, "%.*s", (int)(tname->s.n < 63 ? tname->s.n : 63), tname->s.p);
            if ((rc = test_apply(rs, nm, e, &targs, &ok))) return rc;
        } else {
            ok = tv_truthy(e);
        }
        if (ok == want && (rc = tv_list_push(rs, r.list, l.list->v[i]))) return rc;
    }
    *out = r;
    return 0;
}
static int f_select(F_ARGS) { return select_impl(rs, v, a, out, false, true); }
static int f_reject(F_ARGS) { return select_impl(rs, v, a, out, false, false); }
static int f_selectattr(F_ARGS) { return select_impl(rs, v, a, out, true, true); }
static int f_rejectattr(F_ARGS) { return select_impl(rs, v, a, out, true, false); }

static int f_map(F_ARGS) {
    tmpl_value l, r = tv_list_new(rs);
    if (r.kind != TV_LIST) return BASE_ENOMEM;
    if (!tv_truthy(v)) { *out = r; return 0; }
    int rc = tv_iter_list(rs, v, &l);
    if (rc) return rc;
    tmpl_value *attr = arg_get(a, (size_t)-1, "attribute"), *def = arg_get(a, (size_t)-1, "default");
    tmpl_value *fname = a->npos ? &a->pos[0] : NULL;
    call_args fargs = {0};
    if (a->npos > 1) { fargs.pos = a->pos + 1; fargs.npos = a->npos - 1; }
    if (!attr) { fargs.kwn = a->kwn; fargs.kwv = a->kwv; fargs.nkw = a->nkw; }
    if (!attr && (!fname || fname->kind != TV_STR)) return rs_err(rs, BASE_EINVAL, "TypeError", "map requires a filter name or attribute");
    char nm[64] = "";
    if (fname && fname->kind == TV_STR) snprintf(nm, sizeof nm, "%.*s", (int)(fname->s.n < 63 ? fname->s.n : 63), fname->s.p);
    for (size_t i = 0; i < l.list->n; i++) {
        tmpl_value e = l.list->v[i];
        if (attr) {
            if ((rc = get_path(rs, e, *attr, &e))) return rc;
            if (e.kind == TV_UNDEF && def) e = *def;
        } else if ((rc = filter_apply(rs, nm, e, &fargs, &e))) {
            return rc;
        }
        if ((rc = tv_list_push(rs, r.list, e))) return rc;
    }
    *out = r;
    return 0;
}

/* Sort key comparison, case-insensitive for strings unless asked. */
static int cmp_ci(rstate *rs, tmpl_value x, tmpl_value y, bool cs, int *out) {
    if (!cs && x.kind == TV_STR && y.kind == TV_STR) {
        size_t m = x.s.n < y.s.n ? x.s.n : y.s.n;
        for (size_t i = 0; i < m; i++) {
            int c1 = tolower((unsigned char)x.s.p[i]), c2 = tolower((unsigned char)y.s.p[i]);
            if (c1 != c2) { *out = c1 < c2 ? -1 : 1; return 0; }
        }
        *out = x.s.n < y.s.n ? -1 : x.s.n > y.s.n;
        return 0;
    }
    return tv_compare(rs, x, y, out);
}

/* Stable insertion-merge sort of l by keys (computed once). */
static int sort_values(rstate *rs, tmpl_value *items, tmpl_value *keys, size_t n, bool cs, bool rev) {
    for (size_t i = 1; i < n; i++) {
        for (size_t j = i; j > 0; j--) {
            int c;
            int rc = cmp_ci(rs, keys[j - 1], keys[j], cs, &c);
            if (rc) return rc;
            if (rev ? c >= 0 : c <= 0) break;
            tmpl_value t = items[j]; items[j] = items[j - 1]; items[j - 1] = t;
            t = keys[j]; keys[j] = keys[j - 1]; keys[j - 1] = t;
        }
        int rc = rs_step(rs);
        if (rc) return rc;
    }
    return 0;
}

static int copy_list(rstate *rs, tmpl_value v, tmpl_value *out) {
    tmpl_value l;
    int rc = tv_iter_list(rs, v, &l);
    if (rc) return rc;
    tmpl_value c = tv_list_new(rs);
    if (c.kind != TV_LIST) return BASE_ENOMEM;
    for (size_t i = 0; i < l.list->n; i++)
        if ((rc = tv_list_push(rs, c.list, l.list->v[i]))) return rc;
    *out = c;
    return 0;
}

static int f_sort(F_ARGS) {
    tmpl_value *rev = arg_get(a, 0, "reverse"), *cs = arg_get(a, 1, "case_sensitive"), *attr = arg_get(a, 2, "attribute");
    tmpl_value c;
    int rc = copy_list(rs, v, &c);
    if (rc) return rc;
    size_t n = c.list->n;
    tmpl_value *keys = arena_alloc(rs->a, (n + 1) * sizeof(tmpl_value));
    if (!keys) return rs_oom(rs);
    for (size_t i = 0; i < n; i++) {
        keys[i] = c.list->v[i];
        if (attr && (rc = get_path(rs, keys[i], *attr, &keys[i]))) return rc;
    }
    if ((rc = sort_values(rs, c.list->v, keys, n, cs && tv_truthy(*cs), rev && tv_truthy(*rev)))) return rc;
    *out = c;
    return 0;
}

static int f_dictsort(F_ARGS) {
    tmpl_value *cs = arg_get(a, 0, "case_sensitive"), *by = arg_get(a, 1, "by"), *rev = arg_get(a, 2, "reverse");
    tmpl_value l;
    int rc = f_items(rs, v, a, &l);
    if (rc) return rc;
    bool by_value = by && by->kind == TV_STR && by->s.n == 5 && !memcmp(by->s.p, "value", 5);
    size_t n = l.list->n;
    tmpl_value *keys = arena_alloc(rs->a, (n + 1) * sizeof(tmpl_value));
    if (!keys) return rs_oom(rs);
    for (size_t i = 0; i < n; i++) keys[i] = l.list->v[i].list->v[by_value ? 1 : 0];
    if ((rc = sort_values(rs, l.list->v, keys, n, cs && tv_truthy(*cs), rev && tv_truthy(*rev)))) return rc;
    *out = l;
    return 0;
}

static int f_unique(F_ARGS) {
    tmpl_value *cs = arg_get(a, 0, "case_sensitive"), *attr = arg_get(a, 1, "attribute");
    tmpl_value l, r = tv_list_new(rs), keys = tv_list_new(rs);
    int rc = tv_iter_list(rs, v, &l);
    if (rc) return rc;
    if (r.kind != TV_LIST || keys.kind != TV_LIST) return BASE_ENOMEM;
    for (size_t i = 0; i < l.list->n; i++) {
        tmpl_value k = l.list->v[i];
        if (attr && (rc = get_path(rs, k, *attr, &k))) return rc;
        if (!(cs && tv_truthy(*cs)) && k.kind == TV_STR && (rc = f_lower(rs, k, a, &k))) return rc;
        bool seen = false;
        for (size_t j = 0; j < keys.list->n && !seen; j++) seen = tv_equal(keys.list->v[j], k);
        if (seen) continue;
        if ((rc = tv_list_push(rs, keys.list, k)) || (rc = tv_list_push(rs, r.list, l.list->v[i]))) return rc;
    }
    *out = r;
    return 0;
}

static int minmax(rstate *rs, tmpl_value v, call_args *a, tmpl_value *out, bool want_max) {
    tmpl_value *cs = arg_get(a, 0, "case_sensitive"), *attr = arg_get(a, 1, "attribute"), l;
    int rc = tv_iter_list(rs, v, &l);
    if (rc) return rc;
    if (!l.list->n) { *out = tv_undef("No aggregated item, sequence was empty."); return 0; }
    tmpl_value best = l.list->v[0], bk = best;
    if (attr && (rc = get_path(rs, bk, *attr, &bk))) return rc;
    for (size_t i = 1; i < l.list->n; i++) {
        tmpl_value k = l.list->v[i];
        int c;
        if (attr && (rc = get_path(rs, k, *attr, &k))) return rc;
        if ((rc = cmp_ci(rs, k, bk, cs && tv_truthy(*cs), &c))) return rc;
        if (want_max ? c > 0 : c < 0) { best = l.list->v[i]; bk = k; }
    }
    *out = best;
    return 0;
}
static int f_min(F_ARGS) { return minmax(rs, v, a, out, false); }
static int f_max(F_ARGS) { return minmax(rs, v, a, out, true); }

static int f_first(F_ARGS) {
    (void)a;
    tmpl_value l;
    int rc = tv_iter_list(rs, v, &l);
    if (rc) return rc;
    *out = l.list->n ? l.list->v[0] : tv_undef("No first item, sequence was empty.");
    return 0;
}

static int f_last(F_ARGS) {
    (void)a;
    tmpl_value l;
    int rc = tv_iter_list(rs, v, &l);
    if (rc) return rc;
    *out = l.list->n ? l.list->v[l.list->n - 1] : tv_undef("No last item, sequence was empty.");
    return 0;
}

static int f_reverse(F_ARGS) {
    (void)a;
    int rc;
    if (v.kind == TV_STR) {
        char *d = arena_alloc(rs->a, v.s.n + 1);
        if (!d) return rs_oom(rs);
        size_t o = v.s.n;
        for (size_t i = 0; i < v.s.n;) { /* reverse by code point */
            size_t j = i + 1;
            while (j < v.s.n && ((unsigned char)v.s.p[j] & 0xC0) == 0x80) j++;
            o -= j - i;
            memcpy(d + o, v.s.p + i, j - i);
            i = j;
        }
        d[v.s.n] = 0;
        *out = tv_strn(d, v.s.n);
        return 0;
    }
    tmpl_value c;
    if ((rc = copy_list(rs, v, &c))) return rc;
    for (size_t i = 0, j = c.list->n; i + 1 < j; i++, j--) {
        tmpl_value t = c.list->v[i]; c.list->v[i] = c.list->v[j - 1]; c.list->v[j - 1] = t;
    }
    *out = c;
    return 0;
}

static int parse_int_str(tmpl_value s, int64_t *out) {
    char nb[64];
    size_t st = 0, e = s.s.n, k = 0;
    while (st < e && isspace((unsigned char)s.s.p[st])) st++;
    while (e > st && isspace((unsigned char)s.s.p[e - 1])) e--;
    if (e == st || e - st >= sizeof nb) return -1;
    for (size_t i = st; i < e; i++) {
        char c = s.s.p[i];
        if (c == 'x' || c == 'X' || c == 'p' || c == 'P') return -1; /* no C hex floats */
        if (c != '_') nb[k++] = c;
    }
    nb[k] = 0;
    char *end;
    errno = 0;
    long long x = strtoll(nb, &end, 10);
    if (*end || errno) {
        double d = strtod(nb, &end);
        if (*end || !isfinite(d)) return -1;
        x = (long long)d;
    }
    *out = x;
    return 0;
}

static int f_int(F_ARGS) {
    tmpl_value *d = arg_get(a, 0, "default");
    int64_t x;
    (void)rs;
    switch (v.kind) {
    case TV_INT: *out = v; return 0;
    case TV_BOOL: *out = tv_int(v.b); return 0;
    case TV_FLOAT: if (isfinite(v.f)) { *out = tv_int((int64_t)v.f); return 0; } break;
    case TV_STR: if (!parse_int_str(v, &x)) { *out = tv_int(x); return 0; } break;
    default: break;
    }
    *out = d ? *d : tv_int(0);
    return 0;
}

static int f_float(F_ARGS) {
    tmpl_value *d = arg_get(a, 0, "default");
    (void)rs;
    if (tv_is_num(v)) { *out = tv_float(tv_num(v)); return 0; }
    if (v.kind == TV_STR && v.s.n < 64 && !memchr(v.s.p, 'x', v.s.n) && !memchr(v.s.p, 'X', v.s.n)) {
        char nb[64], *end;
        memcpy(nb, v.s.p, v.s.n); nb[v.s.n] = 0;
        double f = strtod(nb, &end);
        while (*end && isspace((unsigned char)*end)) end++;
        if (end != nb && !*end) { *out = tv_float(f); return 0; }
    }
    *out = d ? *d : tv_float(0);
    return 0;
}

static int f_abs(F_ARGS) {
    (void)a;
    if (v.kind == TV_INT) { *out = v.i == INT64_MIN ? tv_float(-(double)v.i) : tv_int(v.i < 0 ? -v.i : v.i); return 0; }
    if (v.kind == TV_BOOL) { *out = tv_int(v.b); return 0; }
    if (v.kind == TV_FLOAT) { *out = tv_float(fabs(v.f)); return 0; }
    return rs_err(rs, BASE_ETYPE, "TypeError", "bad operand type for abs(): '%s'", tv_type_name(v));
}

static int f_round(F_ARGS) {
    tmpl_value *pr = arg_get(a, 0, "precision"), *m = arg_get(a, 1, "method");
    int64_t p = pr && pr->kind == TV_INT ? pr->i : 0;
    if (!tv_is_num(v)) return rs_err(rs, BASE_ETYPE, "TypeError", "type %s doesn't define __round__ method", tv_type_name(v));
    double x = tv_num(v), s = pow(10.0, (double)p), r;
    const char *meth = m && m->kind == TV_STR ? m->s.p : "common";
    if (!strncmp(meth, "ceil", 4)) r = ceil(x * s) / s;
    else if (!strncmp(meth, "floor", 5)) r = floor(x * s) / s;
    else r = nearbyint(x * s) / s; /* Python's round(): half to even */
    *out = v.kind == TV_FLOAT || !strncmp(meth, "c", 1) || !strncmp(meth, "f", 1) ? tv_float(r) : tv_int((int64_t)r);
    if (v.kind != TV_FLOAT && !strcmp(meth, "common")) *out = tv_int((int64_t)r);
    return 0;
}

static int f_sum(F_ARGS) {
    tmpl_value *attr = arg_get(a, 0, "attribute"), *start = arg_get(a, 1, "start"), l;
    int rc = tv_iter_list(rs, v, &l);
    if (rc) return rc;
    tmpl_value acc = start ? *start : tv_int(0);
    for (size_t i = 0; i < l.list->n; i++) {
        tmpl_value e = l.list->v[i];
        if (attr && (rc = get_path(rs, e, *attr, &e))) return rc;
        if (!tv_is_num(e) || !tv_is_num(acc))
            return rs_err(rs, BASE_ETYPE, "TypeError", "unsupported operand type(s) for +: '%s' and '%s'", tv_type_name(acc), tv_type_name(e));
        if (acc.kind != TV_FLOAT && e.kind != TV_FLOAT) acc = tv_int((int64_t)tv_num(acc) + (int64_t)tv_num(e));
        else acc = tv_float(tv_num(acc) + tv_num(e));
    }
    *out = acc;
    return 0;
}

static int f_replace(F_ARGS) {
    tmpl_value s, *o = arg_get(a, 0, "old"), *n = arg_get(a, 1, "new"), *c = arg_get(a, 2, "count"), os, ns;
    int rc = as_str(rs, v, &s);
    if (rc) return rc;
    if (!o || !n) return rs_err(rs, BASE_EINVAL, "TypeError", "replace() needs old and new");
    if ((rc = as_str(rs, *o, &os)) || (rc = as_str(rs, *n, &ns))) return rc;
    return str_replace(rs, s, os, ns, c && c->kind == TV_INT ? c->i : -1, out);
}

static int f_indent(F_ARGS) {
    tmpl_value *w = arg_get(a, 0, "width"), *first = arg_get(a, 1, "first"), *blank = arg_get(a, 2, "blank"), s;
    if (v.kind != TV_STR && v.kind != TV_UNDEF) /* jinja does s += "\n" */
        return rs_err(rs, BASE_ETYPE, "TypeError", "unsupported operand type(s) for +=: '%s' and 'str'", tv_type_name(v));
    int rc = as_str(rs, v, &s);
    if (rc) return rc;
    sbuf ind = {0}, b = {0};
    if (w && w->kind == TV_STR) rc = sb_put(rs, &ind, w->s.p, w->s.n);
    else for (int64_t i = 0; i < (w && w->kind == TV_INT ? w->i : 4) && i < 256 && !rc; i++) rc = sb_puts(rs, &ind, " ");
    if (rc) return rc;
    const char *is = ind.p ? ind.p : "";
    if (first && tv_truthy(*first) && (rc = sb_puts(rs, &b, is))) return rc;
    /* Lines as Python's (s + "\n").splitlines(): every newline starts a line, even at the end. */
    size_t st = 0, line = 0;
    for (;;) {
        size_t e = st;
        while (e < s.s.n && s.s.p[e] != '\n' && s.s.p[e] != '\r') e++;
        bool empty = e == st;
        if (line > 0) {
            if ((rc = sb_puts(rs, &b, "\n"))) return rc;
            if ((!empty || (blank && tv_truthy(*blank))) && (rc = sb_puts(rs, &b, is))) return rc;
        }
        if ((rc = sb_put(rs, &b, s.s.p + st, e - st))) return rc;
        line++;
        if (e >= s.s.n) break;
        if (s.s.p[e] == '\r' && e + 1 < s.s.n && s.s.p[e + 1] == '\n') e++;
        st = e + 1;
    }
    *out = tv_strn(b.p ? b.p : "", b.n);
    return 0;
}

int str_escape_html(rstate *rs, sbuf *b, tmpl_value s) {
    int rc = 0;
    size_t run = 0;
    for (size_t i = 0; i < s.s.n && !rc; i++) {
        char c = s.s.p[i];
        const char *e = c == '&' ? "&amp;" : c == '<' ? "&lt;" : c == '>' ? "&gt;" : c == '"' ? "&#34;"
                      : c == '\'' ? "&#39;" : NULL;
        if (!e) continue;
        rc = sb_put(rs, b, s.s.p + run, i - run);
        if (!rc) rc = sb_puts(rs, b, e);
        run = i + 1;
    }
    return rc ? rc : sb_put(rs, b, s.s.p + run, s.s.n - run);
}

static int f_escape(F_ARGS) {
    (void)a;
    tmpl_value s;
    int rc = as_str(rs, v, &s);
    if (rc) return rc;
    if (s.safe) { *out = s; return 0; }
    sbuf b = {0};
    if ((rc = str_escape_html(rs, &b, s))) return rc;
    *out = tv_strn(b.p ? b.p : "", b.n);
    out->safe = true;
    return 0;
}

static int f_safe(F_ARGS) {
    (void)a;
    int rc = as_str(rs, v, out);
    if (!rc) out->safe = true;
    return rc;
}

static int f_attr(F_ARGS) {
    tmpl_value *n = arg_get(a, 0, NULL);
    if (!n || n->kind != TV_STR) return rs_err(rs, BASE_EINVAL, "TypeError", "attr needs a name");
    return tv_getattr(rs, v, n->s.p, n->s.n, out);
}

static int f_wordcount(F_ARGS) {
    (void)a;
    tmpl_value s;
    int rc = as_str(rs, v, &s);
    if (rc) return rc;
    int64_t c = 0;
    bool in = false;
    for (size_t i = 0; i < s.s.n; i++) {
        bool w = isalnum((unsigned char)s.s.p[i]) || s.s.p[i] == '_' || (unsigned char)s.s.p[i] >= 0x80;
        if (w && !in) c++;
        in = w;
    }
    *out = tv_int(c);
    return 0;
}

static int f_format(F_ARGS) {
    tmpl_value s, args;
    int rc = as_str(rs, v, &s);
    if (rc) return rc;
    if (a->nkw) {
        args = tv_dict_new(rs);
        if (args.kind != TV_DICT) return BASE_ENOMEM;
        for (size_t i = 0; i < a->nkw; i++)
            if ((rc = tv_dict_set_cstr(rs, args.dict, a->kwn[i], a->kwv[i]))) return rc;
    } else {
        args = tv_list_new(rs);
        if (args.kind != TV_LIST) return BASE_ENOMEM;
        args.is_tuple = true;
        for (size_t i = 0; i < a->npos; i++)
            if ((rc = tv_list_push(rs, args.list, a->pos[i]))) return rc;
    }
    return str_percent(rs, s, args, out);
}

typedef struct filter_def { const char *name; int (*fn)(F_ARGS); } filter_def;

static const filter_def FILTERS[] = {
    {"length", f_length}, {"count", f_length}, {"tojson", f_tojson}, {"trim", f_trim},
    {"join", f_join}, {"string", f_string}, {"default", f_default}, {"d", f_default},
    {"list", f_list}, {"lower", f_lower}, {"upper", f_upper}, {"title", f_title},
    {"capitalize", f_capitalize}, {"items", f_items}, {"safe", f_safe}, {"select", f_select},
    {"reject", f_reject}, {"selectattr", f_selectattr}, {"rejectattr", f_rejectattr},
    {"map", f_map}, {"dictsort", f_dictsort}, {"sort", f_sort}, {"unique", f_unique},
    {"min", f_min}, {"max", f_max}, {"first", f_first}, {"last", f_last},
    {"reverse", f_reverse}, {"int", f_int}, {"float", f_float}, {"abs", f_abs},
    {"round", f_round}, {"sum", f_sum}, {"replace", f_replace}, {"indent", f_indent},
    {"escape", f_escape}, {"e", f_escape}, {"forceescape", f_escape}, {"attr", f_attr},
    {"wordcount", f_wordcount}, {"format", f_format}, {NULL, NULL}};

int filter_apply(rstate *rs, const char *name, tmpl_value v, call_args *a, tmpl_value *out) {
    for (const filter_def *f = FILTERS; f->name; f++)
        if (!strcmp(f->name, name)) return f->fn(rs, v, a, out);
    return rs_err(rs, BASE_EUNSUPPORTED, "TemplateRuntimeError", "No filter named '%s' found.", name);
}

/* ---- tests ---- */

static bool is_lower_str(tmpl_value v, bool upper) {
    if (v.kind != TV_STR) return false;
    bool cased = false;
    for (size_t i = 0; i < v.s.n;) {
        uint32_t c;
        i += utf8_decode(v.s.p, v.s.n, i, &c);
        uint32_t u = cp_upper(c), l = cp_lower(c);
        if (u == l) continue; /* uncased */
        if (upper ? c != u : c != l) return false;
        cased = true;
    }
    return cased;
}

int test_apply(rstate *rs, const char *name, tmpl_value v, call_args *a, bool *out) {
    tmpl_value *x = arg_get(a, 0, NULL);
    int rc, c;
#define IS(n) (!strcmp(name, n))
    if (IS("defined")) *out = v.kind != TV_UNDEF;
    else if (IS("undefined")) *out = v.kind == TV_UNDEF;
    else if (IS("none")) *out = v.kind == TV_NONE;
    else if (IS("string")) *out = v.kind == TV_STR;
    else if (IS("number")) *out = tv_is_num(v);
    else if (IS("integer")) *out = v.kind == TV_INT;
    else if (IS("float")) *out = v.kind == TV_FLOAT;
    else if (IS("boolean")) *out = v.kind == TV_BOOL;
    else if (IS("true")) *out = v.kind == TV_BOOL && v.b;
    else if (IS("false")) *out = v.kind == TV_BOOL && !v.b;
    else if (IS("mapping")) *out = v.kind == TV_DICT;
    else if (IS("sequence")) *out = v.kind == TV_STR || v.kind == TV_LIST || v.kind == TV_DICT || v.kind == TV_UNDEF;
    else if (IS("iterable")) *out = v.kind == TV_STR || v.kind == TV_LIST || v.kind == TV_DICT || v.kind == TV_UNDEF || v.kind == TV_LOOP;
    else if (IS("callable")) *out = v.kind == TV_FUNC || v.kind == TV_MACRO;
    else if (IS("escaped")) *out = false;
    else if (IS("lower") || IS("upper")) { /* str(value).islower() */
        tmpl_value sv;
        if ((rc = tv_to_str(rs, v, &sv))) return rc;
        *out = is_lower_str(sv, IS("upper"));
    }
    else if (IS("odd") || IS("even") || IS("divisibleby")) { /* value % 2 / value % num */
        if (!tv_is_num(v)) {
            if (v.kind == TV_UNDEF) return rs_err(rs, BASE_ENOTFOUND, "UndefinedError", "%s", v.undef_name ? v.undef_name : "value is undefined");
            return rs_err(rs, BASE_ETYPE, "TypeError", "unsupported operand type(s) for %%: '%s' and 'int'", tv_type_name(v));
        }
        tmpl_value d = tv_int(2), m;
        if (IS("divisibleby")) {
            if (!x || !tv_is_num(*x)) return rs_err(rs, BASE_EINVAL, "TypeError", "divisibleby needs a number");
            d = *x;
        }
        if ((rc = eval_binop(rs, OP_MOD, v, d, &m))) return rc;
        *out = IS("odd") ? tv_equal(m, tv_int(1)) : tv_equal(m, tv_int(0));
    } else if (IS("in")) {
        if (!x) return rs_err(rs, BASE_EINVAL, "TypeError", "test 'in' needs an argument");
        if (x->kind == TV_STR) {
            if (v.kind != TV_STR) return rs_err(rs, BASE_ETYPE, "TypeError", "'in <string>' requires string as left operand");
            *out = v.s.n == 0 || memmem(x->s.p, x->s.n, v.s.p, v.s.n) != NULL;
        } else if (x->kind == TV_LIST) {
            *out = false;
            for (size_t i = 0; i < x->list->n && !*out; i++) *out = tv_equal(x->list->v[i], v);
        } else if (x->kind == TV_DICT) {
            *out = tv_dict_get(x->dict, v) != NULL;
        } else {
            return rs_err(rs, BASE_ETYPE, "TypeError", "argument of type '%s' is not iterable", tv_type_name(*x));
        }
    } else if (IS("eq") || IS("equalto") || IS("==")) *out = x && tv_equal(v, *x);
    else if (IS("ne") || IS("!=")) *out = !x || !tv_equal(v, *x);
    else if (IS("sameas")) *out = x && x->kind == v.kind && tv_equal(v, *x);
    else if (IS("lt") || IS("lessthan") || IS("<") || IS("le") || IS("<=") || IS("gt") || IS("greaterthan") ||
             IS(">") || IS("ge") || IS(">=")) {
        if (!x) return rs_err(rs, BASE_EINVAL, "TypeError", "comparison test needs an argument");
        if ((rc = tv_compare(rs, v, *x, &c))) return rc;
        if (IS("lt") || IS("lessthan") || IS("<")) *out = c < 0;
        else if (IS("le") || IS("<=")) *out = c <= 0;
        else if (IS("gt") || IS("greaterthan") || IS(">")) *out = c > 0;
        else *out = c >= 0;
    } else if (IS("filter")) {
        *out = false;
        for (const filter_def *f = FILTERS; x && x->kind == TV_STR && f->name; f++)
            if (strlen(f->name) == x->s.n && !memcmp(f->name, x->s.p, x->s.n)) *out = true;
    } else {
        return rs_err(rs, BASE_EUNSUPPORTED, "TemplateRuntimeError", "No test named '%s' found.", name);
    }
#undef IS
    return 0;
}
