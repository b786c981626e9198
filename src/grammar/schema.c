/*
 * JSON Schema -> GBNF. Each schema node becomes a rule (or reuses a fixed JSON rule from
 * json.c); the text is then parsed like any user grammar, so the converter's output can be
 * read and tested on its own (grammar_schema_to_gbnf). Every value rule ends with `ws`, the
 * limited whitespace rule. Objects keep the declared property order; optional properties are
 * handled with two families of rules, "rest after something was written" (leading comma) and
 * "rest when nothing was written yet", so commas always come out right.
 */
#include "grammar_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define MAX_DEPTH 64    /* nesting of schema nodes (refs are memoized, so recursion ends) */
#define MAX_COUNT 1000  /* minItems, maxItems, minLength, maxLength the grammar spells out */

typedef struct refmemo {
    const char *ref;
    const char *name;
} refmemo;

typedef struct conv {
    const json_t *root;
    arena *a;
    buf rules;
    err_buf *eb;
    int rc;
    int n;
    refmemo *refs;
    int n_refs, cap_refs;
    int depth;
    bool need_fmt;
} conv;

static const char fmt_rules[] =
    "fmt-date ::= [0-9]{4} \"-\" (\"0\" [1-9] | \"1\" [0-2]) \"-\" (\"0\" [1-9] | [12] [0-9] | \"3\" [01])\n"
    "fmt-time ::= ([01] [0-9] | \"2\" [0-3]) \":\" [0-5] [0-9] \":\" [0-5] [0-9] (\".\" [0-9]{1,6})? "
    "(\"Z\" | [+-] ([01] [0-9] | \"2\" [0-3]) \":\" [0-5] [0-9])\n"
    "fmt-date-time ::= fmt-date \"T\" fmt-time\n"
    "fmt-uuid ::= json-hex{8} \"-\" json-hex{4} \"-\" json-hex{4} \"-\" json-hex{4} \"-\" json-hex{12}\n";

static int fail(conv *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(conv *c, int code, const char *fmt, ...) {
    if (c->rc) return c->rc;
    char msg[220];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    c->rc = err_set(c->eb, code, "json schema: %s", msg);
    return c->rc;
}

static const char *oom(conv *c) {
    fail(c, BASE_ENOMEM, "out of memory");
    return NULL;
}

/* A fresh rule name from a hint ("user-name-7"): letters, digits and '-' only. */
static const char *new_name(conv *c, const char *hint) {
    char h[40];
    size_t n = 0;
    for (const char *p = hint ? hint : "v"; *p && n < 24; p++) {
        char ch = *p;
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
        h[n++] = ok ? ch : '-';
    }
    h[n] = 0;
    const char *name = arena_printf(c->a, "s-%s-%d", h, ++c->n);
    if (!name) return oom(c);
    return name;
}

static const char *define(conv *c, const char *hint, buf *expr) {
    const char *name = new_name(c, hint);
    /* An empty body is written "" (after "::=" the body may start on the next line). */
    if (name) buf_printf(&c->rules, "%s ::= %s\n", name, expr->len ? expr->data : "\"\"");
    bool bad = expr->oom;
    buf_free(expr);
    if (bad || c->rules.oom) return oom(c);
    return name;
}

/* A GBNF string literal for bytes s[0..n). */
static void lit(buf *o, const char *s, size_t n) {
    buf_append_str(o, "\"");
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\') buf_printf(o, "\\%c", ch);
        else if (ch < 0x20 || ch == 0x7f) buf_printf(o, "\\x%02X", ch);
        else buf_append(o, &s[i], 1);
    }
    buf_append_str(o, "\"");
}

/* A literal for v's compact JSON text. */
static int json_lit(conv *c, buf *o, const json_t *v) {
    size_t need = json_dumpb(v, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
    if (need == 0) return fail(c, BASE_EINVAL, "cannot encode a const/enum value");
    char *tmp = arena_alloc(c->a, need);
    if (!tmp) return oom(c), c->rc;
    json_dumpb(v, tmp, need, JSON_COMPACT | JSON_ENCODE_ANY);
    lit(o, tmp, need);
    return 0;
}

static const char *visit(conv *c, const json_t *s, const char *hint);

/* Resolve a local reference ("#", "#/$defs/x", "#/definitions/a~1b/0"). */
static const json_t *resolve(conv *c, const char *ref) {
    if (ref[0] != '#') return NULL;
    const json_t *cur = c->root;
    const char *p = ref + 1;
    while (*p == '/' && cur) {
        p++;
        size_t n = strcspn(p, "/");
        char *seg = arena_alloc(c->a, n + 1);
        if (!seg) return NULL;
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            if (p[i] == '~' && i + 1 < n && (p[i + 1] == '0' || p[i + 1] == '1')) {
                seg[k++] = p[i + 1] == '0' ? '~' : '/';
                i++;
            } else {
                seg[k++] = p[i];
            }
        }
        seg[k] = 0;
        if (json_is_object(cur)) cur = json_object_get(cur, seg);
        else if (json_is_array(cur)) cur = json_array_get(cur, (size_t)strtoul(seg, NULL, 10));
        else cur = NULL;
        p += n;
    }
    return *p ? NULL : cur;
}

static const char *visit_ref(conv *c, const char *ref) {
    for (int i = 0; i < c->n_refs; i++)
        if (strcmp(c->refs[i].ref, ref) == 0) return c->refs[i].name;
    const json_t *target = resolve(c, ref);
    if (!target) {
        fail(c, BASE_EUNSUPPORTED, "cannot resolve $ref \"%.100s\" (only local \"#/...\" refs)", ref);
        return NULL;
    }
    if (c->n_refs == c->cap_refs) {
        int cap = c->cap_refs ? c->cap_refs * 2 : 8;
        refmemo *r = mem_realloc(c->refs, (size_t)cap * sizeof *r);
        if (!r) return oom(c);
        c->refs = r;
        c->cap_refs = cap;
    }
    const char *slash = strrchr(ref, '/');
    const char *name = new_name(c, slash ? slash + 1 : "root");
    if (!name) return NULL;
    /* Memoize before visiting, so a recursive reference finds this name. */
    c->refs[c->n_refs++] = (refmemo){ref, name};
    const char *body = visit(c, target, slash ? slash + 1 : "root");
    if (!body) return NULL;
    buf_printf(&c->rules, "%s ::= %s\n", name, body);
    return name;
}

/* Gather properties, required names and additionalProperties of an object schema into
 * props/req (allOf parts merge into the same ones). */
static int collect_object(conv *c, const json_t *s, json_t *props, json_t *req,
                          const json_t **additional) {
    const json_t *ref = json_object_get(s, "$ref");
    if (json_is_string(ref)) {
        s = resolve(c, json_string_value(ref));
        if (!s) return fail(c, BASE_EUNSUPPORTED, "cannot resolve $ref \"%.100s\"", json_string_value(ref));
    }
    if (!json_is_object(s)) return fail(c, BASE_EUNSUPPORTED, "allOf parts must be object schemas");
    const json_t *type = json_object_get(s, "type");
    if (type && !(json_is_string(type) && strcmp(json_string_value(type), "object") == 0))
        return fail(c, BASE_EUNSUPPORTED, "allOf is supported for object schemas only");
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)json_object_get(s, "properties"), k, v)
        if (json_object_set(props, k, v)) return oom(c), c->rc;
    size_t i;
    json_array_foreach(json_object_get(s, "required"), i, v)
        if (json_is_string(v) && json_object_set_new(req, json_string_value(v), json_true()))
            return oom(c), c->rc;
    const json_t *add = json_object_get(s, "additionalProperties");
    if (add && (!*additional || json_is_false(add) || json_is_true(*additional))) *additional = add;
    const json_t *all = json_object_get(s, "allOf");
    json_array_foreach(all, i, v)
        if (collect_object(c, v, props, req, additional)) return c->rc;
    return 0;
}

static const char *visit_object(conv *c, const json_t *props, const json_t *req,
                                const json_t *additional, const char *hint) {
    size_t n = json_object_size(props);
    const char **kv = arena_calloc(c->a, n + 1, sizeof *kv);
    bool *required = arena_calloc(c->a, n + 1, sizeof *required);
    if (!kv || !required) return oom(c);
    size_t i = 0;
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)props, key, val) {
        const char *vr = visit(c, val, key);
        if (!vr) return NULL;
        buf e = {0};
        json_t *ks = json_string(key);
        if (!ks) return oom(c);
        int rc = json_lit(c, &e, ks);
        json_decref(ks);
        if (rc) return buf_free(&e), NULL;
        buf_printf(&e, " ws \":\" ws %s", vr);
        if (!(kv[i] = define(c, "kv", &e))) return NULL;
        required[i] = json_object_get(req, key) != NULL;
        i++;
    }
    const char *add_kv = NULL;
    if (!json_is_false(additional)) {
        const char *vr = additional && !json_is_true(additional) ? visit(c, additional, "additional")
                                                                 : "json-value";
        if (!vr) return NULL;
        const char *keyr = "json-string";
        if (n) {
            /* Extra keys must differ from the declared ones. */
            const char **names = arena_calloc(c->a, n, sizeof *names);
            const char *kn = new_name(c, "other-key");
            if (!names || !kn) return oom(c);
            size_t j = 0;
            json_object_foreach((json_t *)props, key, val) names[j++] = key;
            err_buf eb2 = {0};
            if (gschema_not_keys(&c->rules, kn, names, n, &eb2)) return oom(c);
            keyr = arena_printf(c->a, "\"\\\"\" %s ws", kn);
            if (!keyr) return oom(c);
        }
        buf e = {0};
        buf_printf(&e, "%s \":\" ws %s", keyr, vr);
        if (!(add_kv = define(c, "additional-kv", &e))) return NULL;
    }
    /* tail[i]: the properties from i on once something has been written (leading commas);
     * head[i]: the same when nothing has been written yet. */
    const char **tail = arena_calloc(c->a, n + 1, sizeof *tail);
    const char **head = arena_calloc(c->a, n + 1, sizeof *head);
    if (!tail || !head) return oom(c);
    buf e = {0};
    if (add_kv) buf_printf(&e, "(\",\" ws %s)*", add_kv);
    if (!(tail[n] = define(c, "tail", &e))) return NULL;
    if (add_kv) buf_printf(&e, "(%s %s)?", add_kv, tail[n]);
    if (!(head[n] = define(c, "head", &e))) return NULL;
    for (size_t j = n; j-- > 0;) {
        if (required[j]) buf_printf(&e, "\",\" ws %s %s", kv[j], tail[j + 1]);
        else buf_printf(&e, "(\",\" ws %s)? %s", kv[j], tail[j + 1]);
        if (!(tail[j] = define(c, "tail", &e))) return NULL;
        if (required[j]) buf_printf(&e, "%s %s", kv[j], tail[j + 1]);
        else buf_printf(&e, "%s %s | %s", kv[j], tail[j + 1], head[j + 1]);
        if (!(head[j] = define(c, "head", &e))) return NULL;
    }
    buf_printf(&e, "\"{\" ws %s \"}\" ws", head[0]);
    return define(c, hint, &e);
}

static bool get_count(conv *c, const json_t *s, const char *key, long *out) {
    const json_t *v = json_object_get(s, key);
    if (!v) return false;
    double d = json_number_value(v);
    if (!json_is_number(v) || d < 0 || d != floor(d)) {
        fail(c, BASE_EINVAL, "%s must be a non-negative integer", key);
        return false;
    }
    if (d > MAX_COUNT) {
        fail(c, BASE_EUNSUPPORTED, "%s above %d", key, MAX_COUNT);
        return false;
    }
    *out = (long)d;
    return true;
}

/* "x (sep x){min-1,max-1}" with min/max (max < 0: unbounded), optional when min is 0. */
static void repeat_list(buf *e, const char *item, long mn, long mx, const char *sep) {
    if (mx == 0) return;
    if (mn == 0) buf_append_str(e, "(");
    buf_printf(e, "%s", item);
    long lo = mn > 0 ? mn - 1 : 0;
    if (mx < 0) buf_printf(e, " (%s %s){%ld,}", sep, item, lo);
    else if (mx > 1) buf_printf(e, " (%s %s){%ld,%ld}", sep, item, lo, mx - 1);
    if (mn == 0) buf_append_str(e, ")?");
}

static const char *visit_array(conv *c, const json_t *s, const char *hint) {
    const json_t *prefix = json_object_get(s, "prefixItems"), *items = json_object_get(s, "items");
    if (!prefix && json_is_array(items)) prefix = items; /* draft 4 tuples */
    buf e = {0};
    buf_append_str(&e, "\"[\" ws ");
    if (json_is_array(prefix)) {
        size_t i;
        json_t *v;
        json_array_foreach(prefix, i, v) {
            const char *r = visit(c, v, "item");
            if (!r) return buf_free(&e), NULL;
            buf_printf(&e, "%s%s ", i ? "\",\" ws " : "", r);
        }
    } else {
        long mn = 0, mx = -1;
        get_count(c, s, "minItems", &mn);
        get_count(c, s, "maxItems", &mx);
        if (c->rc) return buf_free(&e), NULL;
        if (mx >= 0 && mn > mx) {
            buf_free(&e);
            fail(c, BASE_EINVAL, "minItems %ld > maxItems %ld", mn, mx);
            return NULL;
        }
        if (json_is_false(items)) mx = 0;
        const char *r = items && !json_is_boolean(items) ? visit(c, items, "item") : "json-value";
        if (!r) return buf_free(&e), NULL;
        repeat_list(&e, r, mn, mx, "\",\" ws");
    }
    buf_append_str(&e, " \"]\" ws");
    return define(c, hint, &e);
}

static const char *visit_string(conv *c, const json_t *s, const char *hint) {
    const char *fmt = json_string_value(json_object_get(s, "format"));
    const char *fr = NULL;
    if (fmt && strcmp(fmt, "date") == 0) fr = "fmt-date";
    else if (fmt && strcmp(fmt, "time") == 0) fr = "fmt-time";
    else if (fmt && strcmp(fmt, "date-time") == 0) fr = "fmt-date-time";
    else if (fmt && strcmp(fmt, "uuid") == 0) fr = "fmt-uuid";
    /* Other formats (email, uri, ...) are not enforced: any string passes. */
    const char *pattern = json_string_value(json_object_get(s, "pattern"));
    if (pattern && !fr) {
        buf e = {0};
        int rc = gschema_pattern(&e, pattern);
        if (rc == 0) return define(c, hint, &e);
        buf_free(&e);
        if (rc == BASE_ENOMEM) return oom(c);
        /* Outside the supported subset: any string (within the lengths below) passes. */
        log_debug("json schema: pattern \"%.80s\" not supported, not enforced", pattern);
    }
    long mn = 0, mx = -1;
    bool has_mn = get_count(c, s, "minLength", &mn), has_mx = get_count(c, s, "maxLength", &mx);
    if (c->rc) return NULL;
    if (!fr && !has_mn && !has_mx) return "json-string";
    buf e = {0};
    if (fr) {
        c->need_fmt = true;
        buf_printf(&e, "\"\\\"\" %s \"\\\"\" ws", fr);
    } else {
        if (mx >= 0 && mn > mx) {
            fail(c, BASE_EINVAL, "minLength %ld > maxLength %ld", mn, mx);
            return NULL;
        }
        if (mx < 0) buf_printf(&e, "\"\\\"\" json-char{%ld,} \"\\\"\" ws", mn);
        else buf_printf(&e, "\"\\\"\" json-char{%ld,%ld} \"\\\"\" ws", mn, mx);
    }
    return define(c, hint, &e);
}

static const char *visit_integer(conv *c, const json_t *s, const char *hint) {
    const json_t *mn = json_object_get(s, "minimum"), *mx = json_object_get(s, "maximum");
    const json_t *xmn = json_object_get(s, "exclusiveMinimum"), *xmx = json_object_get(s, "exclusiveMaximum");
    bool has_lo = false, has_hi = false;
    double lo = 0, hi = 0;
    if (json_is_number(mn)) { has_lo = true; lo = ceil(json_number_value(mn)); }
    if (json_is_number(xmn)) {
        double v = floor(json_number_value(xmn)) + 1;
        if (!has_lo || v > lo) lo = v;
        has_lo = true;
    }
    if (json_is_number(mx)) { has_hi = true; hi = floor(json_number_value(mx)); }
    if (json_is_number(xmx)) {
        double v = ceil(json_number_value(xmx)) - 1;
        if (!has_hi || v < hi) hi = v;
        has_hi = true;
    }
    if (!has_lo && !has_hi) return "json-integer";
    if (lo < -1e15) has_lo = false;
    if (hi > 1e15) has_hi = false;
    if ((has_lo && lo > 1e15) || (has_hi && hi < -1e15)) {
        fail(c, BASE_EUNSUPPORTED, "integer bounds beyond 15 digits");
        return NULL;
    }
    buf e = {0};
    err_buf eb2 = {0};
    if (gschema_int_range(&e, has_lo, (int64_t)lo, has_hi, (int64_t)hi, &eb2)) {
        buf_free(&e);
        fail(c, eb2.code, "%s", eb2.msg);
        return NULL;
    }
    buf_append_str(&e, " ws");
    return define(c, hint, &e);
}

static const char *visit_typed(conv *c, const json_t *s, const char *type, const char *hint) {
    if (strcmp(type, "string") == 0) return visit_string(c, s, hint);
    if (strcmp(type, "number") == 0) return "json-number";
    if (strcmp(type, "integer") == 0) return visit_integer(c, s, hint);
    if (strcmp(type, "boolean") == 0) return "json-boolean";
    if (strcmp(type, "null") == 0) return "json-null";
    if (strcmp(type, "array") == 0) return visit_array(c, s, hint);
    if (strcmp(type, "object") == 0) {
        json_t *props = json_object(), *req = json_object();
        const json_t *add = NULL;
        const char *r = NULL;
        if (!props || !req) oom(c);
        else if (!collect_object(c, s, props, req, &add)) r = visit_object(c, props, req, add, hint);
        json_decref(props);
        json_decref(req);
        return r;
    }
    fail(c, BASE_EUNSUPPORTED, "unknown type \"%.40s\"", type);
    return NULL;
}

/* Alternatives: each of list's schemas (anyOf/oneOf) or each given value (enum). */
static const char *visit_alts(conv *c, const json_t *list, bool values, const char *hint) {
    if (!json_is_array(list) || json_array_size(list) == 0) {
        fail(c, BASE_EINVAL, "%s must be a non-empty array", values ? "enum" : "anyOf/oneOf");
        return NULL;
    }
    buf e = {0};
    buf_append_str(&e, "(");
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v) {
        if (i) buf_append_str(&e, " | ");
        if (values) {
            if (json_lit(c, &e, v)) return buf_free(&e), NULL;
        } else {
            const char *r = visit(c, v, hint);
            if (!r) return buf_free(&e), NULL;
            buf_append_str(&e, r);
        }
    }
    buf_append_str(&e, values ? ") ws" : ")");
    return define(c, hint, &e);
}

static const char *visit(conv *c, const json_t *s, const char *hint) {
    if (c->rc) return NULL;
    if (json_is_true(s)) return "json-value";
    if (!json_is_object(s)) {
        fail(c, BASE_EINVAL, "a schema must be an object or true");
        return NULL;
    }
    if (++c->depth > MAX_DEPTH) {
        fail(c, BASE_EUNSUPPORTED, "schema nested deeper than %d", MAX_DEPTH);
        return NULL;
    }
    const char *r;
    const json_t *v, *type = json_object_get(s, "type");
    if ((v = json_object_get(s, "$ref"))) {
        r = json_is_string(v) ? visit_ref(c, json_string_value(v)) : NULL;
        if (!json_is_string(v)) fail(c, BASE_EINVAL, "$ref must be a string");
    } else if ((v = json_object_get(s, "const"))) {
        buf e = {0};
        r = json_lit(c, &e, v) ? (buf_free(&e), NULL) : (buf_append_str(&e, " ws"), define(c, hint, &e));
    } else if ((v = json_object_get(s, "enum"))) {
        r = visit_alts(c, v, true, hint);
    } else if ((v = json_object_get(s, "anyOf")) || (v = json_object_get(s, "oneOf"))) {
        r = visit_alts(c, v, false, hint);
    } else if (json_object_get(s, "allOf") && json_array_size(json_object_get(s, "allOf")) == 1 &&
               !json_object_get(s, "properties")) {
        r = visit(c, json_array_get(json_object_get(s, "allOf"), 0), hint);
    } else if (json_is_string(type)) {
        r = visit_typed(c, s, json_string_value(type), hint);
    } else if (json_is_array(type)) {
        buf e = {0};
        buf_append_str(&e, "(");
        size_t i;
        json_t *t;
        r = NULL;
        json_array_foreach(type, i, t) {
            const char *tr = json_is_string(t) ? visit_typed(c, s, json_string_value(t), hint) : NULL;
            if (!tr) {
                if (!c->rc) fail(c, BASE_EINVAL, "type lists must hold strings");
                break;
            }
            buf_printf(&e, "%s%s", i ? " | " : "", tr);
        }
        buf_append_str(&e, ")");
        if (!c->rc && json_array_size(type) == 0) fail(c, BASE_EINVAL, "empty type list");
        if (c->rc) buf_free(&e);
        else r = define(c, hint, &e);
    } else if (json_object_get(s, "properties") || json_object_get(s, "additionalProperties") ||
               json_object_get(s, "allOf") || json_object_get(s, "required")) {
        r = visit_typed(c, s, "object", hint);
    } else if (json_object_get(s, "items") || json_object_get(s, "prefixItems")) {
        r = visit_typed(c, s, "array", hint);
    } else {
        r = "json-value";
    }
    c->depth--;
    return c->rc ? NULL : r;
}

int grammar_schema_to_gbnf(const json_t *schema, buf *out, err_buf *eb) {
    conv c = {.root = schema, .eb = eb};
    c.a = arena_new(0);
    if (!c.a) return err_set(eb, BASE_ENOMEM, "out of memory");
    const char *root = visit(&c, schema, "root");
    if (root) {
        buf_printf(out, "root ::= %s\n", root);
        buf_append(out, c.rules.data ? c.rules.data : "", c.rules.len);
        buf_append_str(out, grammar_json_prims);
        if (c.need_fmt) buf_append_str(out, fmt_rules);
        if (out->oom) fail(&c, BASE_ENOMEM, "out of memory");
    }
    buf_free(&c.rules);
    mem_free(c.refs);
    arena_free(c.a);
    return c.rc;
}

int grammar_from_json_schema(const json_t *schema, grammar **out, err_buf *eb) {
    *out = NULL;
    buf b = {0};
    int rc = grammar_schema_to_gbnf(schema, &b, eb);
    if (!rc) rc = grammar_parse(b.data, b.len, out, eb);
    buf_free(&b);
    return rc;
}
