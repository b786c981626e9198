/*
 * Python methods that templates call on values (str.strip, str.split, dict.get,
 * dict.items, list.append ...) and the globals transformers provides (raise_exception,
 * strftime_now, namespace, range, dict). Each is a builtin bound to its receiver.
 */
#include <ctype.h>
#include <string.h>
#include <time.h>

#include "template/tmpl_int.h"

#define S_ARGS rstate *rs, tmpl_value self, call_args *a, tmpl_value *out

static int ret_str(rstate *rs, sbuf *b, tmpl_value *out) {
    (void)rs;
    *out = tv_strn(b->p ? b->p : "", b->n);
    return 0;
}

static int want_str(rstate *rs, tmpl_value *v, const char *what) {
    if (!v || v->kind != TV_STR)
        return rs_err(rs, BASE_ETYPE, "TypeError", "%s must be str, not %s", what, v ? tv_type_name(*v) : "nothing");
    return 0;
}

static bool in_chars(char c, tmpl_value *chars) {
    if (!chars || chars->kind != TV_STR) return isspace((unsigned char)c) != 0;
    return memchr(chars->s.p, c, chars->s.n) != NULL;
}

static int strip_impl(rstate *rs, tmpl_value self, call_args *a, tmpl_value *out, bool l, bool r) {
    tmpl_value *chars = arg_get(a, 0, "chars");
    if (chars && chars->kind == TV_NONE) chars = NULL;
    if (chars && chars->kind != TV_STR) return want_str(rs, chars, "strip arg");
    size_t s = 0, e = self.s.n;
    if (l) while (s < e && in_chars(self.s.p[s], chars)) s++;
    if (r) while (e > s && in_chars(self.s.p[e - 1], chars)) e--;
    *out = tv_strn(self.s.p + s, e - s);
    return 0;
}
static int m_strip(S_ARGS) { return strip_impl(rs, self, a, out, true, true); }
static int m_lstrip(S_ARGS) { return strip_impl(rs, self, a, out, true, false); }
static int m_rstrip(S_ARGS) { return strip_impl(rs, self, a, out, false, true); }

/* Simple case mapping for ASCII, Latin-1, Latin Extended-A, Greek and Cyrillic: enough
 * for the text chat templates touch, without a Unicode database. */
uint32_t cp_upper(uint32_t c) {
    if (c >= 'a' && c <= 'z') return c - 32;
    if (c < 0x80) return c;
    if (c >= 0xE0 && c <= 0xFE && c != 0xF7) return c - 0x20;
    if (c == 0xFF) return 0x178;
    if ((c >= 0x100 && c <= 0x137) || (c >= 0x14A && c <= 0x177)) return c & 1 ? c - 1 : c;
    if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) return c & 1 ? c : c - 1;
    if (c == 0x3C2) return 0x3A3;
    if (c >= 0x3B1 && c <= 0x3C9) return c - 0x20;
    if (c == 0x3AC) return 0x386;
    if (c >= 0x3AD && c <= 0x3AF) return c - 0x25;
    if (c == 0x3CC) return 0x38C;
    if (c >= 0x3CD && c <= 0x3CE) return c - 0x3F;
    if (c >= 0x430 && c <= 0x44F) return c - 0x20;
    if (c >= 0x450 && c <= 0x45F) return c - 0x50;
    return c;
}

uint32_t cp_lower(uint32_t c) {
    if (c >= 'A' && c <= 'Z') return c + 32;
    if (c < 0x80) return c;
    if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 0x20;
    if (c == 0x178) return 0xFF;
    if ((c >= 0x100 && c <= 0x137) || (c >= 0x14A && c <= 0x177)) return c & 1 ? c : c + 1;
    if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) return c & 1 ? c + 1 : c;
    if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) return c + 0x20;
    if (c == 0x386) return 0x3AC;
    if (c >= 0x388 && c <= 0x38A) return c + 0x25;
    if (c == 0x38C) return 0x3CC;
    if (c >= 0x38E && c <= 0x38F) return c + 0x3F;
    if (c >= 0x410 && c <= 0x42F) return c + 0x20;
    if (c >= 0x400 && c <= 0x40F) return c + 0x50;
    return c;
}

size_t cp_put(char *d, uint32_t cp) {
    if (cp < 0x80) { d[0] = (char)cp; return 1; }
    if (cp < 0x800) { d[0] = (char)(0xC0 | (cp >> 6)); d[1] = (char)(0x80 | (cp & 63)); return 2; }
    if (cp < 0x10000) {
        d[0] = (char)(0xE0 | (cp >> 12)); d[1] = (char)(0x80 | ((cp >> 6) & 63));
        d[2] = (char)(0x80 | (cp & 63)); return 3;
    }
    d[0] = (char)(0xF0 | (cp >> 18)); d[1] = (char)(0x80 | ((cp >> 12) & 63));
    d[2] = (char)(0x80 | ((cp >> 6) & 63)); d[3] = (char)(0x80 | (cp & 63)); return 4;
}

/* mode 0 upper, 1 lower, 2 str.title (words start after uncased characters), 3 capitalize */
static int case_impl(rstate *rs, tmpl_value self, tmpl_value *out, int mode) {
    char *d = arena_alloc(rs->a, self.s.n * 2 + 1);
    if (!d) return rs_oom(rs);
    size_t o = 0;
    bool word_start = true;
    for (size_t i = 0; i < self.s.n;) {
        uint32_t c;
        size_t l = utf8_decode(self.s.p, self.s.n, i, &c);
        if (l == 1 && c >= 0x80) { d[o++] = self.s.p[i++]; word_start = true; continue; } /* invalid byte */
        uint32_t r;
        if (mode == 0) r = cp_upper(c);
        else if (mode == 1) r = cp_lower(c);
        else if (mode == 2) {
            bool cased = cp_upper(c) != c || cp_lower(c) != c;
            r = word_start ? cp_upper(c) : cp_lower(c);
            word_start = !cased;
        } else {
            r = i == 0 ? cp_upper(c) : cp_lower(c);
        }
        o += cp_put(d + o, r);
        i += l;
    }
    d[o] = 0;
    *out = tv_strn(d, o);
    return 0;
}
static int m_upper(S_ARGS) { (void)a; return case_impl(rs, self, out, 0); }
static int m_lower(S_ARGS) { (void)a; return case_impl(rs, self, out, 1); }
static int m_title(S_ARGS) { (void)a; return case_impl(rs, self, out, 2); }
static int m_capitalize(S_ARGS) { (void)a; return case_impl(rs, self, out, 3); }

static int affix_impl(rstate *rs, tmpl_value self, call_args *a, tmpl_value *out, bool start) {
    tmpl_value *x = arg_get(a, 0, NULL);
    if (!x) return rs_err(rs, BASE_EINVAL, "TypeError", "%s() takes at least 1 argument", start ? "startswith" : "endswith");
    tv_list one = {x, 1, 1};
    tv_list *opts = x->kind == TV_LIST ? x->list : &one;
    for (size_t i = 0; i < opts->n; i++) {
        tmpl_value o = opts->v[i];
        if (o.kind != TV_STR) return want_str(rs, &o, start ? "startswith arg" : "endswith arg");
        if (o.s.n <= self.s.n && !memcmp(start ? self.s.p : self.s.p + self.s.n - o.s.n, o.s.p, o.s.n)) {
            *out = tv_bool(true);
            return 0;
        }
    }
    *out = tv_bool(false);
    return 0;
}
static int m_startswith(S_ARGS) { return affix_impl(rs, self, a, out, true); }
static int m_endswith(S_ARGS) { return affix_impl(rs, self, a, out, false); }

static int split_impl(rstate *rs, tmpl_value self, call_args *a, tmpl_value *out, bool right) {
    tmpl_value *sep = arg_get(a, 0, "sep"), *maxv = arg_get(a, 1, "maxsplit");
    int64_t maxs = maxv && maxv->kind == TV_INT ? maxv->i : -1;
    if (sep && sep->kind == TV_NONE) sep = NULL;
    if (sep && sep->kind != TV_STR) return want_str(rs, sep, "separator");
    if (sep && !sep->s.n) return rs_err(rs, BASE_EINVAL, "ValueError", "empty separator");
    tmpl_value l = tv_list_new(rs);
    if (l.kind != TV_LIST) return BASE_ENOMEM;
    const char *p = self.s.p;
    size_t n = self.s.n;
    int rc;
    /* Collect pieces as (start,end) pairs; for rsplit walk from the end and reverse. */
    size_t cap = 16, np = 0;
    size_t *pc = arena_alloc(rs->a, cap * 2 * sizeof(size_t));
    if (!pc) return rs_oom(rs);
#define ADD(s_, e_) do { if (np == cap) { size_t *q_ = arena_alloc(rs->a, cap * 4 * sizeof(size_t)); if (!q_) return rs_oom(rs); memcpy(q_, pc, np * 2 * sizeof(size_t)); pc = q_; cap *= 2; } pc[2 * np] = (s_); pc[2 * np + 1] = (e_); np++; } while (0)
    if (sep) {
        const char *sp = sep->s.p;
        size_t sl = sep->s.n;
        if (!right) {
            size_t st = 0, i = 0;
            while (i + sl <= n && (maxs < 0 || (int64_t)np < maxs)) {
                if (!memcmp(p + i, sp, sl)) { ADD(st, i); i += sl; st = i; }
                else i++;
            }
            ADD(st, n);
        } else {
            size_t en = n, i = n;
            while (i >= sl && (maxs < 0 || (int64_t)np < maxs)) {
                if (!memcmp(p + i - sl, sp, sl)) { ADD(i, en); i -= sl; en = i; }
                else i--;
            }
            ADD(0, en);
        }
    } else {
        if (!right) {
            size_t i = 0;
            while (i < n) {
                while (i < n && isspace((unsigned char)p[i])) i++;
                if (i >= n) break;
                if (maxs >= 0 && (int64_t)np >= maxs) { /* the rest keeps its trailing space */
                    ADD(i, n);
                    break;
                }
                size_t st = i;
                while (i < n && !isspace((unsigned char)p[i])) i++;
                ADD(st, i);
            }
        } else {
            size_t i = n;
            while (i > 0) {
                while (i > 0 && isspace((unsigned char)p[i - 1])) i--;
                if (!i) break;
                if (maxs >= 0 && (int64_t)np >= maxs) {
                    ADD(0, i);
                    break;
                }
                size_t en = i;
                while (i > 0 && !isspace((unsigned char)p[i - 1])) i--;
                ADD(i, en);
            }
        }
    }
#undef ADD
    for (size_t k = 0; k < np; k++) {
        size_t j = right ? np - 1 - k : k;
        if ((rc = tv_list_push(rs, l.list, tv_strn(p + pc[2 * j], pc[2 * j + 1] - pc[2 * j])))) return rc;
    }
    *out = l;
    return 0;
}
static int m_split(S_ARGS) { return split_impl(rs, self, a, out, false); }
static int m_rsplit(S_ARGS) { return split_impl(rs, self, a, out, true); }

static int m_splitlines(S_ARGS) {
    tmpl_value *keep = arg_get(a, 0, "keepends");
    bool k = keep && tv_truthy(*keep);
    tmpl_value l = tv_list_new(rs);
    if (l.kind != TV_LIST) return BASE_ENOMEM;
    size_t st = 0;
    int rc;
    for (size_t i = 0; i < self.s.n; i++) {
        char c = self.s.p[i];
        if (c != '\n' && c != '\r') continue;
        size_t e = i;
        if (c == '\r' && i + 1 < self.s.n && self.s.p[i + 1] == '\n') i++;
        if ((rc = tv_list_push(rs, l.list, tv_strn(self.s.p + st, (k ? i + 1 : e) - st)))) return rc;
        st = i + 1;
    }
    if (st < self.s.n && (rc = tv_list_push(rs, l.list, tv_strn(self.s.p + st, self.s.n - st)))) return rc;
    *out = l;
    return 0;
}

/* Replace up to count occurrences of old with new (count < 0: all). Shared with the filter. */
int str_replace(rstate *rs, tmpl_value s, tmpl_value old, tmpl_value nw, int64_t count, tmpl_value *out);
int str_replace(rstate *rs, tmpl_value s, tmpl_value old, tmpl_value nw, int64_t count, tmpl_value *out) {
    sbuf b = {0};
    int rc = 0;
    int64_t done = 0;
    if (!old.s.n) { /* Python inserts new between every character */
        for (size_t i = 0; i <= s.s.n && !rc; i++) {
            if (count < 0 || done < count) { rc = sb_put(rs, &b, nw.s.p, nw.s.n); done++; }
            if (i < s.s.n && !rc) rc = sb_put(rs, &b, s.s.p + i, 1);
        }
        return rc ? rc : ret_str(rs, &b, out);
    }
    size_t i = 0, st = 0;
    while (i + old.s.n <= s.s.n && (count < 0 || done < count)) {
        if (!memcmp(s.s.p + i, old.s.p, old.s.n)) {
            if ((rc = sb_put(rs, &b, s.s.p + st, i - st)) || (rc = sb_put(rs, &b, nw.s.p, nw.s.n))) return rc;
            i += old.s.n; st = i; done++;
        } else i++;
    }
    if ((rc = sb_put(rs, &b, s.s.p + st, s.s.n - st))) return rc;
    return ret_str(rs, &b, out);
}

static int m_replace(S_ARGS) {
    tmpl_value *o = arg_get(a, 0, NULL), *n = arg_get(a, 1, NULL), *c = arg_get(a, 2, "count");
    int rc;
    if ((rc = want_str(rs, o, "replace arg 1")) || (rc = want_str(rs, n, "replace arg 2"))) return rc;
    return str_replace(rs, self, *o, *n, c && c->kind == TV_INT ? c->i : -1, out);
}

static int find_impl(rstate *rs, tmpl_value self, call_args *a, tmpl_value *out, int mode) {
    tmpl_value *x = arg_get(a, 0, NULL);
    int rc = want_str(rs, x, "substring");
    if (rc) return rc;
    int64_t cnt = 0, pos = -1;
    if (mode == 2) { /* rfind */
        for (size_t i = self.s.n + 1; i-- > 0;)
            if (i + x->s.n <= self.s.n && !memcmp(self.s.p + i, x->s.p, x->s.n)) { pos = (int64_t)i; break; }
    } else {
        for (size_t i = 0; i + x->s.n <= self.s.n;) {
            if (!memcmp(self.s.p + i, x->s.p, x->s.n)) {
                if (pos < 0) pos = (int64_t)i;
                cnt++;
                i += x->s.n ? x->s.n : 1;
                if (mode != 1) break;
            } else i++;
        }
        if (!x->s.n) cnt = (int64_t)utf8_len(self.s.p, self.s.n) + 1;
    }
    if (pos > 0) pos = (int64_t)utf8_len(self.s.p, (size_t)pos);
    *out = tv_int(mode == 1 ? cnt : pos);
    return 0;
}
static int m_find(S_ARGS) { return find_impl(rs, self, a, out, 0); }
static int m_count(S_ARGS) { return find_impl(rs, self, a, out, 1); }
static int m_rfind(S_ARGS) { return find_impl(rs, self, a, out, 2); }

static int is_impl(tmpl_value self, tmpl_value *out, int (*pred)(int)) {
    bool r = self.s.n > 0;
    for (size_t i = 0; i < self.s.n && r; i++) r = pred((unsigned char)self.s.p[i]) != 0;
    *out = tv_bool(r);
    return 0;
}
static int m_isdigit(S_ARGS) { (void)rs; (void)a; return is_impl(self, out, isdigit); }
static int m_isalpha(S_ARGS) { (void)rs; (void)a; return is_impl(self, out, isalpha); }
static int m_isalnum(S_ARGS) { (void)rs; (void)a; return is_impl(self, out, isalnum); }
static int m_isspace(S_ARGS) { (void)rs; (void)a; return is_impl(self, out, isspace); }
static int m_isupper(S_ARGS) {
    (void)rs; (void)a;
    bool any = false, ok = true;
    for (size_t i = 0; i < self.s.n; i++) { if (islower((unsigned char)self.s.p[i])) ok = false; if (isupper((unsigned char)self.s.p[i])) any = true; }
    *out = tv_bool(ok && any);
    return 0;
}
static int m_islower(S_ARGS) {
    (void)rs; (void)a;
    bool any = false, ok = true;
    for (size_t i = 0; i < self.s.n; i++) { if (isupper((unsigned char)self.s.p[i])) ok = false; if (islower((unsigned char)self.s.p[i])) any = true; }
    *out = tv_bool(ok && any);
    return 0;
}

static int m_join(S_ARGS) {
    tmpl_value *x = arg_get(a, 0, NULL), l;
    if (!x) return rs_err(rs, BASE_EINVAL, "TypeError", "join() takes exactly one argument");
    int rc = tv_iter_list(rs, *x, &l);
    if (rc) return rc;
    sbuf b = {0};
    for (size_t i = 0; i < l.list->n; i++) {
        if (l.list->v[i].kind != TV_STR)
            return rs_err(rs, BASE_ETYPE, "TypeError", "sequence item %zu: expected str instance, %s found", i, tv_type_name(l.list->v[i]));
        if ((i && (rc = sb_put(rs, &b, self.s.p, self.s.n))) || (rc = sb_put(rs, &b, l.list->v[i].s.p, l.list->v[i].s.n))) return rc;
    }
    return ret_str(rs, &b, out);
}

static int affix_remove(rstate *rs, tmpl_value self, call_args *a, tmpl_value *out, bool prefix) {
    tmpl_value *x = arg_get(a, 0, NULL);
    int rc = want_str(rs, x, "argument");
    if (rc) return rc;
    *out = self;
    if (x->s.n <= self.s.n && !memcmp(prefix ? self.s.p : self.s.p + self.s.n - x->s.n, x->s.p, x->s.n))
        *out = tv_strn(prefix ? self.s.p + x->s.n : self.s.p, self.s.n - x->s.n);
    return 0;
}
static int m_removeprefix(S_ARGS) { return affix_remove(rs, self, a, out, true); }
static int m_removesuffix(S_ARGS) { return affix_remove(rs, self, a, out, false); }

/* str.format: {} {0} {name} fields with str() conversion (no format specs beyond none). */
static int m_format(S_ARGS) {
    sbuf b = {0};
    size_t auto_i = 0;
    int rc = 0;
    for (size_t i = 0; i < self.s.n && !rc; i++) {
        char c = self.s.p[i];
        if ((c == '{' || c == '}') && i + 1 < self.s.n && self.s.p[i + 1] == c) { rc = sb_put(rs, &b, &c, 1); i++; continue; }
        if (c != '{') { rc = sb_put(rs, &b, &c, 1); continue; }
        size_t e = i + 1;
        while (e < self.s.n && self.s.p[e] != '}') e++;
        if (e >= self.s.n) return rs_err(rs, BASE_EINVAL, "ValueError", "Single '{' encountered in format string");
        const char *f = self.s.p + i + 1;
        size_t fl = e - i - 1, nl = 0;
        while (nl < fl && f[nl] != ':' && f[nl] != '!') nl++;
        tmpl_value *v = NULL;
        if (!nl) v = arg_get(a, auto_i++, NULL);
        else if (isdigit((unsigned char)f[0])) v = arg_get(a, (size_t)atoi(f), NULL);
        else {
            char key[64];
            snprintf(key, sizeof key, "%.*s", (int)(nl < 63 ? nl : 63), f);
            v = arg_get(a, (size_t)-1, key);
        }
        if (!v) return rs_err(rs, BASE_EINVAL, "IndexError", "Replacement index out of range for positional args tuple");
        rc = (nl < fl && f[nl] == '!' && nl + 1 < fl && f[nl + 1] == 'r') ? tv_write_repr(rs, &b, *v) : tv_write_str(rs, &b, *v);
        i = e;
    }
    return rc ? rc : ret_str(rs, &b, out);
}

/* ---- dict ---- */

static int m_get(S_ARGS) {
    tmpl_value *k = arg_get(a, 0, NULL), *d = arg_get(a, 1, "default");
    if (!k) return rs_err(rs, BASE_EINVAL, "TypeError", "get expected at least 1 argument, got 0");
    tmpl_value *v = tv_dict_get(self.dict, *k);
    *out = v ? *v : d ? *d : tv_none();
    return 0;
}

static int m_items(S_ARGS) {
    (void)a;
    tmpl_value l = tv_list_new(rs);
    int rc;
    if (l.kind != TV_LIST) return BASE_ENOMEM;
    for (size_t i = 0; i < self.dict->n; i++) {
        tmpl_value t = tv_list_new(rs);
        if (t.kind != TV_LIST) return BASE_ENOMEM;
        t.is_tuple = true;
        if ((rc = tv_list_push(rs, t.list, self.dict->k[i])) || (rc = tv_list_push(rs, t.list, self.dict->v[i])) ||
            (rc = tv_list_push(rs, l.list, t)))
            return rc;
    }
    *out = l;
    return 0;
}

static int m_keys_values(rstate *rs, tmpl_value self, tmpl_value *out, bool keys) {
    tmpl_value l = tv_list_new(rs);
    int rc;
    if (l.kind != TV_LIST) return BASE_ENOMEM;
    for (size_t i = 0; i < self.dict->n; i++)
        if ((rc = tv_list_push(rs, l.list, keys ? self.dict->k[i] : self.dict->v[i]))) return rc;
    *out = l;
    return 0;
}
static int m_keys(S_ARGS) { (void)a; return m_keys_values(rs, self, out, true); }
static int m_values(S_ARGS) { (void)a; return m_keys_values(rs, self, out, false); }

static int m_update(S_ARGS) {
    int rc;
    tmpl_value *o = arg_get(a, 0, NULL);
    if (o && (o->kind == TV_DICT || o->kind == TV_NS))
        for (size_t i = 0; i < o->dict->n; i++)
            if ((rc = tv_dict_set(rs, self.dict, o->dict->k[i], o->dict->v[i]))) return rc;
    for (size_t i = 0; i < a->nkw; i++)
        if ((rc = tv_dict_set_cstr(rs, self.dict, a->kwn[i], a->kwv[i]))) return rc;
    *out = tv_none();
    return 0;
}

static int m_dict_pop(S_ARGS) {
    tmpl_value *k = arg_get(a, 0, NULL), *d = arg_get(a, 1, NULL);
    if (!k) return rs_err(rs, BASE_EINVAL, "TypeError", "pop expected at least 1 argument, got 0");
    tv_dict *dc = self.dict;
    for (size_t i = 0; i < dc->n; i++)
        if (tv_equal(dc->k[i], *k)) {
            *out = dc->v[i];
            memmove(dc->k + i, dc->k + i + 1, (dc->n - i - 1) * sizeof(tmpl_value));
            memmove(dc->v + i, dc->v + i + 1, (dc->n - i - 1) * sizeof(tmpl_value));
            dc->n--;
            return 0;
        }
    if (d) { *out = *d; return 0; }
    return rs_err(rs, BASE_ENOTFOUND, "KeyError", "key not found");
}

/* ---- list ---- */

static int m_append(S_ARGS) {
    tmpl_value *x = arg_get(a, 0, NULL);
    if (!x) return rs_err(rs, BASE_EINVAL, "TypeError", "append() takes exactly one argument");
    *out = tv_none();
    return tv_list_push(rs, self.list, *x);
}

static int m_list_pop(S_ARGS) {
    tmpl_value *x = arg_get(a, 0, NULL);
    tv_list *l = self.list;
    int64_t i = x && x->kind == TV_INT ? x->i : -1;
    if (i < 0) i += (int64_t)l->n;
    if (i < 0 || (size_t)i >= l->n) return rs_err(rs, BASE_ERANGE, "IndexError", "pop index out of range");
    *out = l->v[i];
    memmove(l->v + i, l->v + i + 1, (l->n - (size_t)i - 1) * sizeof(tmpl_value));
    l->n--;
    return 0;
}

static int m_list_index(S_ARGS) {
    tmpl_value *x = arg_get(a, 0, NULL);
    for (size_t i = 0; x && i < self.list->n; i++)
        if (tv_equal(self.list->v[i], *x)) { *out = tv_int((int64_t)i); return 0; }
    return rs_err(rs, BASE_ENOTFOUND, "ValueError", "value is not in list");
}

static int m_list_count(S_ARGS) {
    (void)rs;
    tmpl_value *x = arg_get(a, 0, NULL);
    int64_t c = 0;
    for (size_t i = 0; x && i < self.list->n; i++) c += tv_equal(self.list->v[i], *x);
    *out = tv_int(c);
    return 0;
}

static int m_extend(S_ARGS) {
    tmpl_value *x = arg_get(a, 0, NULL), l;
    int rc;
    if (!x) return rs_err(rs, BASE_EINVAL, "TypeError", "extend() takes exactly one argument");
    if ((rc = tv_iter_list(rs, *x, &l))) return rc;
    size_t n = l.list->n; /* l may be self */
    for (size_t i = 0; i < n; i++)
        if ((rc = tv_list_push(rs, self.list, l.list->v[i]))) return rc;
    *out = tv_none();
    return 0;
}

typedef struct method { const char *name; tv_builtin fn; } method;

static const method STR_METHODS[] = {
    {"strip", m_strip}, {"lstrip", m_lstrip}, {"rstrip", m_rstrip}, {"upper", m_upper},
    {"lower", m_lower}, {"title", m_title}, {"capitalize", m_capitalize},
    {"startswith", m_startswith}, {"endswith", m_endswith}, {"split", m_split},
    {"rsplit", m_rsplit}, {"splitlines", m_splitlines}, {"replace", m_replace},
    {"find", m_find}, {"rfind", m_rfind}, {"count", m_count}, {"isdigit", m_isdigit},
    {"isalpha", m_isalpha}, {"isalnum", m_isalnum}, {"isspace", m_isspace},
    {"isupper", m_isupper}, {"islower", m_islower}, {"join", m_join}, {"format", m_format},
    {"removeprefix", m_removeprefix}, {"removesuffix", m_removesuffix}, {NULL, NULL}};
static const method DICT_METHODS[] = {
    {"get", m_get}, {"items", m_items}, {"keys", m_keys}, {"values", m_values},
    {"update", m_update}, {"pop", m_dict_pop}, {NULL, NULL}};
static const method LIST_METHODS[] = {
    {"append", m_append}, {"pop", m_list_pop}, {"index", m_list_index},
    {"count", m_list_count}, {"extend", m_extend}, {NULL, NULL}};

bool method_lookup(rstate *rs, tmpl_value self, const char *name, size_t n, tmpl_value *out) {
    const method *tab = self.kind == TV_STR ? STR_METHODS : self.kind == TV_DICT ? DICT_METHODS
                      : self.kind == TV_LIST ? LIST_METHODS : NULL;
    for (; tab && tab->name; tab++) {
        if (strlen(tab->name) != n || memcmp(tab->name, name, n)) continue;
        tv_func *f = arena_calloc(rs->a, 1, sizeof *f);
        if (!f) { rs_oom(rs); return false; }
        f->name = tab->name; f->fn = tab->fn; f->self = self;
        out->kind = TV_FUNC; out->fn = f;
        return true;
    }
    return false;
}

/* ---- globals ---- */

static int g_raise(S_ARGS) {
    (void)self; (void)out;
    tmpl_value *m = arg_get(a, 0, NULL), s = tv_strn("", 0);
    if (m && tv_to_str(rs, *m, &s)) return BASE_ENOMEM;
    return rs_err(rs, BASE_EINVAL, "TemplateError", "%.*s", (int)(s.s.n < 180 ? s.s.n : 180), s.s.p);
}

static int g_strftime(S_ARGS) {
    (void)self;
    tmpl_value *f = arg_get(a, 0, NULL);
    int rc = want_str(rs, f, "format");
    if (rc) return rc;
    time_t t = rs->prm.now_unix ? (time_t)rs->prm.now_unix : time(NULL);
    struct tm tm;
    if (rs->prm.now_unix) gmtime_r(&t, &tm);
    else localtime_r(&t, &tm);
    char fmt[256], res[512];
    snprintf(fmt, sizeof fmt, "%.*s", (int)(f->s.n < 255 ? f->s.n : 255), f->s.p);
    size_t n = fmt[0] ? strftime(res, sizeof res, fmt, &tm) : 0;
    *out = tv_str_copy(rs, res, n);
    return out->kind == TV_STR ? 0 : BASE_ENOMEM;
}

static int g_namespace(S_ARGS) {
    (void)self;
    tmpl_value ns = tv_dict_new(rs);
    int rc;
    if (ns.kind != TV_DICT) return BASE_ENOMEM;
    ns.kind = TV_NS;
    tmpl_value *init = arg_get(a, 0, NULL);
    if (init && (init->kind == TV_DICT || init->kind == TV_NS))
        for (size_t i = 0; i < init->dict->n; i++)
            if ((rc = tv_dict_set(rs, ns.dict, init->dict->k[i], init->dict->v[i]))) return rc;
    for (size_t i = 0; i < a->nkw; i++)
        if ((rc = tv_dict_set_cstr(rs, ns.dict, a->kwn[i], a->kwv[i]))) return rc;
    *out = ns;
    return 0;
}

static int g_dict(S_ARGS) {
    int rc = g_namespace(rs, self, a, out);
    if (!rc) out->kind = TV_DICT;
    return rc;
}

static int g_range(S_ARGS) {
    (void)self;
    int64_t v[3] = {0, 0, 1};
    if (a->npos < 1 || a->npos > 3) return rs_err(rs, BASE_EINVAL, "TypeError", "range expected 1 to 3 arguments");
    for (size_t i = 0; i < a->npos; i++) {
        if (a->pos[i].kind != TV_INT && a->pos[i].kind != TV_BOOL)
            return rs_err(rs, BASE_ETYPE, "TypeError", "'%s' object cannot be interpreted as an integer", tv_type_name(a->pos[i]));
        v[i] = a->pos[i].kind == TV_INT ? a->pos[i].i : a->pos[i].b;
    }
    int64_t start = a->npos == 1 ? 0 : v[0], stop = a->npos == 1 ? v[0] : v[1], step = a->npos == 3 ? v[2] : 1;
    if (!step) return rs_err(rs, BASE_EINVAL, "ValueError", "range() arg 3 must not be zero");
    tmpl_value l = tv_list_new(rs);
    int rc;
    if (l.kind != TV_LIST) return BASE_ENOMEM;
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
        if ((rc = rs_step(rs)) || (rc = tv_list_push(rs, l.list, tv_int(i)))) return rc;
    }
    *out = l;
    return 0;
}

int globals_install(rstate *rs, tv_dict *g) {
    static const method G[] = {{"raise_exception", g_raise}, {"strftime_now", g_strftime},
                                {"namespace", g_namespace}, {"range", g_range}, {"dict", g_dict},
                                {NULL, NULL}};
    for (const method *m = G; m->name; m++) {
        tv_func *f = arena_calloc(rs->a, 1, sizeof *f);
        if (!f) return rs_oom(rs);
        f->name = m->name; f->fn = m->fn;
        tmpl_value v = {.kind = TV_FUNC};
        v.fn = f;
        int rc = tv_dict_set_cstr(rs, g, m->name, v);
        if (rc) return rc;
    }
    return 0;
}
