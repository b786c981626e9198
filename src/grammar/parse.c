/*
 * The GBNF parser: text -> rules of GOP_* words (grammar_int.h). Groups and repetitions
 * become generated rules, so the matcher only knows sequences, alternatives and references:
 * x* is R ::= x R | (empty), x{m,n} is m copies of x then n-m nested optionals.
 * Errors point at line and column (in characters) of the offending text.
 */
#include "grammar_int.h"

#include <stdio.h>
#include <string.h>

#define MAX_REPEAT 1000  /* a bound on {m,n}: every repetition is a rule of its own */
#define MAX_NESTING 200  /* groups within groups; recursion depth of the parser */

typedef struct u32v {
    uint32_t *v;
    size_t n, cap;
} u32v;

typedef struct parser {
    const char *s;
    size_t len, pos;
    err_buf *eb;
    int rc;
    int n_rules, cap_rules;
    char **names;
    u32v *body;
    bool *defined;
    size_t *first_ref; /* where a rule was first referenced (error messages) */
    int depth;
} parser;

static int perr(parser *p, size_t at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int perr(parser *p, size_t at, const char *fmt, ...) {
    if (p->rc) return p->rc;
    int line = 1, col = 1;
    for (size_t i = 0; i < at && i < p->len; i++) {
        if (p->s[i] == '\n') { line++; col = 1; }
        else if (((unsigned char)p->s[i] & 0xC0) != 0x80) col++;
    }
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    p->rc = err_set(p->eb, BASE_EFORMAT, "line %d, column %d: %s", line, col, msg);
    return p->rc;
}

static int oom(parser *p) {
    if (!p->rc) p->rc = err_set(p->eb, BASE_ENOMEM, "out of memory");
    return p->rc;
}

static int push(parser *p, u32v *v, uint32_t w) {
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 16;
        uint32_t *nv = mem_realloc(v->v, cap * sizeof *nv);
        if (!nv) return oom(p);
        v->v = nv;
        v->cap = cap;
    }
    v->v[v->n++] = w;
    return 0;
}

static int push_all(parser *p, u32v *v, const uint32_t *w, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (push(p, v, w[i])) return p->rc;
    return 0;
}

/* A new rule (no body yet); -1 when out of memory. */
static int new_rule(parser *p, const char *name, size_t name_len) {
    if (p->n_rules == p->cap_rules) {
        int cap = p->cap_rules ? p->cap_rules * 2 : 32;
        char **names = mem_realloc(p->names, (size_t)cap * sizeof *names);
        if (names) p->names = names;
        u32v *body = mem_realloc(p->body, (size_t)cap * sizeof *body);
        if (body) p->body = body;
        bool *def = mem_realloc(p->defined, (size_t)cap * sizeof *def);
        if (def) p->defined = def;
        size_t *fr = mem_realloc(p->first_ref, (size_t)cap * sizeof *fr);
        if (fr) p->first_ref = fr;
        if (!names || !body || !def || !fr) return oom(p), -1;
        p->cap_rules = cap;
    }
    char *nm = mem_strndup(name, name_len);
    if (!nm) return oom(p), -1;
    int id = p->n_rules++;
    p->names[id] = nm;
    p->body[id] = (u32v){0};
    p->defined[id] = false;
    p->first_ref[id] = 0;
    return id;
}

/* A generated rule named after the rule being defined ("list_3"). */
static int gen_rule(parser *p, int parent) {
    char nm[96];
    snprintf(nm, sizeof nm, "%.60s_%d", parent >= 0 ? p->names[parent] : "g", p->n_rules);
    int id = new_rule(p, nm, strlen(nm));
    if (id >= 0) p->defined[id] = true;
    return id;
}

static int find_rule(parser *p, const char *name, size_t n, size_t at) {
    for (int i = 0; i < p->n_rules; i++)
        if (strlen(p->names[i]) == n && memcmp(p->names[i], name, n) == 0) return i;
    int id = new_rule(p, name, n);
    if (id >= 0) p->first_ref[id] = at;
    return id;
}

static bool is_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

static int peek(parser *p) { return p->pos < p->len ? (unsigned char)p->s[p->pos] : -1; }

/* Skip blanks and comments; newlines only when newline_ok. */
static void skip_space(parser *p, bool newline_ok) {
    while (p->pos < p->len) {
        char c = p->s[p->pos];
        if (c == ' ' || c == '\t' || c == '\r') p->pos++;
        else if (c == '\n' && newline_ok) p->pos++;
        else if (c == '#') {
            while (p->pos < p->len && p->s[p->pos] != '\n') p->pos++;
        } else break;
    }
}

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* One character of a literal or class, escapes decoded. */
static int parse_char(parser *p, uint32_t *cp) {
    size_t at = p->pos;
    if (p->pos >= p->len) return perr(p, at, "unexpected end of grammar");
    unsigned char c = (unsigned char)p->s[p->pos];
    if (c == '\\') {
        p->pos++;
        int e = peek(p);
        if (e < 0) return perr(p, at, "unfinished escape");
        p->pos++;
        int nhex = e == 'x' ? 2 : e == 'u' ? 4 : e == 'U' ? 8 : 0;
        if (nhex) {
            uint32_t v = 0;
            for (int i = 0; i < nhex; i++) {
                int h = hexval(peek(p));
                if (h < 0) return perr(p, p->pos, "expected %d hex digits after \\%c", nhex, e);
                v = v * 16 + (uint32_t)h;
                p->pos++;
            }
            if (v > 0x10FFFF) return perr(p, at, "code point U+%X is out of range", v);
            *cp = v;
            return 0;
        }
        switch (e) {
        case 'n': *cp = '\n'; return 0;
        case 'r': *cp = '\r'; return 0;
        case 't': *cp = '\t'; return 0;
        case '0': *cp = 0; return 0;
        case '\\': case '"': case '\'': case '[': case ']': case '-': case '^': case '/':
        case '.': case '(': case ')': case '*': case '+': case '?': case '{': case '}': case '|':
            *cp = (uint32_t)e;
            return 0;
        default: return perr(p, at, "unknown escape \\%c", e);
        }
    }
    gutf8 u = {0};
    for (;;) {
        if (p->pos >= p->len) return perr(p, at, "invalid UTF-8");
        int r = gutf8_push(&u, (uint8_t)p->s[p->pos++], cp);
        if (r == GUTF8_BAD) return perr(p, at, "invalid UTF-8");
        if (r == GUTF8_DONE) return 0;
    }
}

static int emit_chars(parser *p, u32v *out, bool neg, const uint32_t *ranges, uint32_t n) {
    if (push(p, out, GOP_CHARS) || push(p, out, neg) || push(p, out, n)) return p->rc;
    return push_all(p, out, ranges, 2 * (size_t)n);
}

static int parse_literal(parser *p, u32v *out) {
    size_t at = p->pos++;
    for (;;) {
        if (p->pos >= p->len || p->s[p->pos] == '\n') return perr(p, at, "unterminated string");
        if (p->s[p->pos] == '"') { p->pos++; return 0; }
        uint32_t cp;
        if (parse_char(p, &cp)) return p->rc;
        uint32_t r[2] = {cp, cp};
        if (emit_chars(p, out, false, r, 1)) return p->rc;
    }
}

static int parse_class(parser *p, u32v *out) {
    size_t at = p->pos++;
    bool neg = false;
    if (peek(p) == '^') { neg = true; p->pos++; }
    u32v r = {0};
    for (;;) {
        if (p->pos >= p->len || p->s[p->pos] == '\n') { perr(p, at, "unterminated character class"); break; }
        if (p->s[p->pos] == ']') { p->pos++; break; }
        size_t c_at = p->pos;
        uint32_t lo, hi;
        if (parse_char(p, &lo)) break;
        hi = lo;
        if (peek(p) == '-' && p->pos + 1 < p->len && p->s[p->pos + 1] != ']') {
            p->pos++;
            if (parse_char(p, &hi)) break;
            if (hi < lo) { perr(p, c_at, "character range is backwards"); break; }
        }
        if (push(p, &r, lo) || push(p, &r, hi)) break;
    }
    if (!p->rc) emit_chars(p, out, neg, r.v, (uint32_t)(r.n / 2));
    mem_free(r.v);
    return p->rc;
}

static int parse_uint(parser *p, uint32_t *v) {
    size_t at = p->pos;
    uint64_t x = 0;
    if (peek(p) < '0' || peek(p) > '9') return perr(p, at, "expected a number");
    while (peek(p) >= '0' && peek(p) <= '9') {
        x = x * 10 + (uint64_t)(p->s[p->pos++] - '0');
        if (x > MAX_REPEAT) return perr(p, at, "repetition count above %d", MAX_REPEAT);
    }
    *v = (uint32_t)x;
    return 0;
}

/* Replace the atom at out[start..] by its repetition {mn, mx} (mx UINT32_MAX: unbounded). */
static int repeat(parser *p, u32v *out, size_t start, uint32_t mn, uint32_t mx, int parent) {
    size_t n = out->n - start;
    if (n == 0) return 0;
    uint32_t el[2];
    size_t el_n;
    bool single = gop_size(out->v, (uint32_t)start) == n;
    if (single && n <= 2) {
        memcpy(el, out->v + start, n * sizeof *el);
        el_n = n;
    } else {
        int a = gen_rule(p, parent);
        if (a < 0) return p->rc;
        if (push_all(p, &p->body[a], out->v + start, n) || push(p, &p->body[a], GOP_END)) return p->rc;
        el[0] = GOP_REF;
        el[1] = (uint32_t)a;
        el_n = 2;
    }
    out->n = start;
    for (uint32_t i = 0; i < mn; i++)
        if (push_all(p, out, el, el_n)) return p->rc;
    if (mx == mn) return 0;
    if (mx == UINT32_MAX) {
        int s = gen_rule(p, parent); /* s ::= el s | (empty) */
        if (s < 0) return p->rc;
        u32v *b = &p->body[s];
        if (push_all(p, b, el, el_n) || push(p, b, GOP_REF) || push(p, b, (uint32_t)s) ||
            push(p, b, GOP_END) || push(p, b, GOP_END))
            return p->rc;
        return push(p, out, GOP_REF) || push(p, out, (uint32_t)s);
    }
    int prev = -1; /* o_k ::= el o_(k-1) | (empty) */
    for (uint32_t k = 0; k < mx - mn; k++) {
        int o = gen_rule(p, parent);
        if (o < 0) return p->rc;
        u32v *b = &p->body[o];
        if (push_all(p, b, el, el_n)) return p->rc;
        if (prev >= 0 && (push(p, b, GOP_REF) || push(p, b, (uint32_t)prev))) return p->rc;
        if (push(p, b, GOP_END) || push(p, b, GOP_END)) return p->rc;
        prev = o;
    }
    return push(p, out, GOP_REF) || push(p, out, (uint32_t)prev);
}

static int parse_alternates(parser *p, u32v *out, bool nested, int rule);

static int parse_sequence(parser *p, u32v *out, bool nested, int rule) {
    size_t last = SIZE_MAX;
    for (;;) {
        skip_space(p, nested);
        int c = peek(p);
        size_t at = p->pos;
        if (c == '"') {
            last = out->n;
            if (parse_literal(p, out)) return p->rc;
        } else if (c == '[') {
            last = out->n;
            if (parse_class(p, out)) return p->rc;
        } else if (c == '.') {
            p->pos++;
            last = out->n;
            if (emit_chars(p, out, true, NULL, 0)) return p->rc;
        } else if (c == '(') {
            p->pos++;
            if (++p->depth > MAX_NESTING) return perr(p, at, "groups nested too deeply");
            int g = gen_rule(p, rule);
            if (g < 0) return p->rc;
            u32v body = {0};
            int rc = parse_alternates(p, &body, true, rule);
            p->body[g] = body; /* after parsing: nested groups may move p->body */
            if (rc) return rc;
            skip_space(p, true);
            if (peek(p) != ')') return perr(p, at, "unclosed '('");
            p->pos++;
            p->depth--;
            last = out->n;
            if (push(p, out, GOP_REF) || push(p, out, (uint32_t)g)) return p->rc;
        } else if (c >= 0 && is_name_char((char)c)) {
            size_t st = p->pos;
            while (p->pos < p->len && is_name_char(p->s[p->pos])) p->pos++;
            int r = find_rule(p, p->s + st, p->pos - st, st);
            if (r < 0) return p->rc;
            last = out->n;
            if (push(p, out, GOP_REF) || push(p, out, (uint32_t)r)) return p->rc;
        } else if (c == '*' || c == '+' || c == '?' || c == '{') {
            if (last == SIZE_MAX) return perr(p, at, "'%c' has nothing to repeat", c);
            uint32_t mn = c == '+' ? 1 : 0, mx = c == '?' ? 1 : UINT32_MAX;
            p->pos++;
            if (c == '{') {
                skip_space(p, false);
                if (parse_uint(p, &mn)) return p->rc;
                skip_space(p, false);
                mx = mn;
                if (peek(p) == ',') {
                    p->pos++;
                    skip_space(p, false);
                    mx = UINT32_MAX;
                    if (peek(p) >= '0' && peek(p) <= '9') {
                        if (parse_uint(p, &mx)) return p->rc;
                        if (mx < mn) return perr(p, at, "repetition {%u,%u}: max below min", mn, mx);
                    }
                    skip_space(p, false);
                }
                if (peek(p) != '}') return perr(p, p->pos, "expected '}'");
                p->pos++;
            }
            if (repeat(p, out, last, mn, mx, rule)) return p->rc;
            last = SIZE_MAX;
        } else {
            return 0;
        }
    }
}

static int parse_alternates(parser *p, u32v *out, bool nested, int rule) {
    for (;;) {
        if (parse_sequence(p, out, nested, rule) || push(p, out, GOP_END)) return p->rc;
        skip_space(p, nested);
        if (peek(p) == '|') {
            p->pos++;
            skip_space(p, true);
            continue;
        }
        if (!nested) {
            /* Lenient: an alternative may start on the next line with '|'. */
            size_t save = p->pos;
            skip_space(p, true);
            if (peek(p) == '|') {
                p->pos++;
                skip_space(p, true);
                continue;
            }
            p->pos = save;
        }
        return 0;
    }
}

static void parser_free(parser *p) {
    for (int i = 0; i < p->n_rules; i++) {
        mem_free(p->names[i]);
        mem_free(p->body[i].v);
    }
    mem_free(p->names);
    mem_free(p->body);
    mem_free(p->defined);
    mem_free(p->first_ref);
}

static int parse_all(parser *p) {
    skip_space(p, true);
    if (p->pos >= p->len) return perr(p, p->pos, "empty grammar");
    while (p->pos < p->len) {
        size_t at = p->pos;
        while (p->pos < p->len && is_name_char(p->s[p->pos])) p->pos++;
        if (p->pos == at) return perr(p, at, "expected a rule name");
        int r = find_rule(p, p->s + at, p->pos - at, at);
        if (r < 0) return p->rc;
        if (p->defined[r]) return perr(p, at, "rule '%s' is defined twice", p->names[r]);
        p->defined[r] = true;
        skip_space(p, false);
        if (p->len - p->pos < 3 || memcmp(p->s + p->pos, "::=", 3) != 0)
            return perr(p, p->pos, "expected '::=' after rule name");
        p->pos += 3;
        skip_space(p, true);
        u32v body = {0};
        int rc = parse_alternates(p, &body, false, r);
        p->body[r] = body;
        if (rc) return rc;
        skip_space(p, false);
        int c = peek(p);
        if (c == ')') return perr(p, p->pos, "unmatched ')'");
        if (c >= 0 && c != '\n') return perr(p, p->pos, "unexpected character '%c'", c);
        skip_space(p, true);
    }
    for (int i = 0; i < p->n_rules; i++)
        if (!p->defined[i]) return perr(p, p->first_ref[i], "undefined rule '%s'", p->names[i]);
    return 0;
}

int grammar_parse(const char *text, size_t len, grammar **out, err_buf *eb) {
    *out = NULL;
    if (!text) return err_set(eb, BASE_EINVAL, "no grammar text");
    parser p = {.s = text, .len = len, .eb = eb};
    if (parse_all(&p)) {
        parser_free(&p);
        return p.rc;
    }
    int root = -1;
    for (int i = 0; i < p.n_rules; i++)
        if (strcmp(p.names[i], "root") == 0) root = i;
    int rc;
    if (root < 0) {
        rc = err_set(eb, BASE_EFORMAT, "the grammar has no rule named 'root'");
    } else {
        const uint32_t **rules = mem_alloc((size_t)p.n_rules * sizeof *rules);
        size_t *lens = mem_alloc((size_t)p.n_rules * sizeof *lens);
        if (!rules || !lens) {
            rc = err_set(eb, BASE_ENOMEM, "out of memory");
        } else {
            for (int i = 0; i < p.n_rules; i++) {
                rules[i] = p.body[i].v;
                lens[i] = p.body[i].n;
            }
            rc = grammar_build(rules, lens, p.n_rules, root, (const char *const *)p.names, out, eb);
        }
        mem_free(rules);
        mem_free(lens);
    }
    parser_free(&p);
    return rc;
}
