/*
 * JSON Schema `pattern` -> GBNF for the inside of a JSON string. The regular expression
 * subset: literals, escapes (\d \w \s and their negations, \n \t \r, \uHHHH, escaped
 * punctuation), classes [..] and [^..], `.`, groups (..) and (?:..), `|`, and the quantifiers
 * * + ? {m} {m,} {m,n} (a lazy `?` after them is ignored). ^ and $ anchor only at the ends;
 * a pattern without them may have anything before or after, as JSON Schema says. Anything
 * else (backreferences, lookaround, flags) is BASE_EUNSUPPORTED and the caller falls back to
 * any string.
 *
 * The pattern describes the decoded string, but the grammar matches its JSON text: '"', '\'
 * and control characters are emitted as their JSON escapes.
 */
#include "grammar_int.h"

#include <stdio.h>
#include <string.h>

#define MAX_RANGES 128
#define MAX_QUANT 1000

typedef struct rx {
    const char *s;
    size_t len, pos;
    buf *o;
    int rc;
    int depth;
} rx;

typedef struct cls {
    uint32_t r[2 * MAX_RANGES];
    int n;
    bool neg;
} cls;

static int rx_fail(rx *x) {
    if (!x->rc) x->rc = BASE_EUNSUPPORTED;
    return x->rc;
}

static int peekc(const rx *x) { return x->pos < x->len ? (unsigned char)x->s[x->pos] : -1; }

/* The JSON spelling of one code point as a GBNF literal. */
static void emit_cp(buf *o, uint32_t cp) {
    if (cp == '"') buf_append_str(o, "\"\\\\\\\"\"");
    else if (cp == '\\') buf_append_str(o, "\"\\\\\\\\\"");
    else if (cp == '\n') buf_append_str(o, "\"\\\\n\"");
    else if (cp == '\t') buf_append_str(o, "\"\\\\t\"");
    else if (cp == '\r') buf_append_str(o, "\"\\\\r\"");
    else if (cp < 0x20 || cp == 0x7f) buf_printf(o, "\"\\\\u%04X\"", cp);
    else buf_printf(o, "\"\\U%08X\"", cp);
}

static bool json_special(uint32_t c) { return c < 0x20 || c == '"' || c == '\\' || c == 0x7f; }

static bool cls_has(const cls *c, uint32_t cp) {
    bool in = false;
    for (int i = 0; i < c->n && !in; i++) in = cp >= c->r[2 * i] && cp <= c->r[2 * i + 1];
    return in != c->neg;
}

static int cls_add(rx *x, cls *c, uint32_t lo, uint32_t hi) {
    if (c->n == MAX_RANGES) return rx_fail(x);
    c->r[2 * c->n] = lo;
    c->r[2 * c->n + 1] = hi;
    c->n++;
    return 0;
}

/* A class as GBNF: the safe characters as one [..] plus each JSON-special member spelled
 * as its escape. */
static int emit_cls(rx *x, const cls *c) {
    buf *o = x->o;
    buf safe = {0};
    if (c->neg) {
        buf_append_str(&safe, "[^\\x00-\\x1F\"\\\\\\x7F");
        for (int i = 0; i < c->n; i++) buf_printf(&safe, "\\U%08X-\\U%08X", c->r[2 * i], c->r[2 * i + 1]);
        buf_append_str(&safe, "]");
    } else {
        for (int i = 0; i < c->n; i++) {
            uint32_t lo = c->r[2 * i], hi = c->r[2 * i + 1];
            /* ASCII part: runs between the specials; the rest has none. */
            for (uint32_t a = lo; a <= hi && a <= 0x7f;) {
                if (json_special(a)) { a++; continue; }
                uint32_t b = a;
                while (b < hi && b + 1 <= 0x7f && !json_special(b + 1)) b++;
                buf_printf(&safe, "\\U%08X-\\U%08X", a, b);
                a = b + 1;
            }
            if (hi >= 0x80) buf_printf(&safe, "\\U%08X-\\U%08X", lo > 0x80 ? lo : 0x80, hi);
        }
    }
    bool any = false;
    buf_append_str(o, "(");
    if (safe.len) {
        if (c->neg) buf_append(o, safe.data, safe.len);
        else buf_printf(o, "[%s]", safe.data);
        any = true;
    }
    buf_free(&safe);
    for (uint32_t sp = 1; sp <= 0x7f; sp++)
        if (json_special(sp) && cls_has(c, sp)) {
            if (any) buf_append_str(o, " | ");
            emit_cp(o, sp);
            any = true;
        }
    buf_append_str(o, ")");
    return any ? 0 : rx_fail(x);
}

static int hexv(int c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static int read_cp(rx *x, uint32_t *cp) {
    gutf8 u = {0};
    for (;;) {
        if (x->pos >= x->len) return rx_fail(x);
        int r = gutf8_push(&u, (uint8_t)x->s[x->pos++], cp);
        if (r == GUTF8_BAD) return rx_fail(x);
        if (r == GUTF8_DONE) return 0;
    }
}

/* After a backslash: a class shorthand (into c) or one code point. *is_cls tells which. */
static int read_escape(rx *x, cls *c, bool *is_cls, uint32_t *cp) {
    int e = peekc(x);
    if (e < 0) return rx_fail(x);
    x->pos++;
    *is_cls = false;
    switch (e) {
    case 'd': case 'D': case 'w': case 'W': case 's': case 'S':
        *is_cls = true;
        c->neg = e == 'D' || e == 'W' || e == 'S';
        if (e == 'd' || e == 'D') return cls_add(x, c, '0', '9');
        if (e == 's' || e == 'S')
            return cls_add(x, c, ' ', ' ') || cls_add(x, c, '\t', '\r');
        return cls_add(x, c, 'a', 'z') || cls_add(x, c, 'A', 'Z') || cls_add(x, c, '0', '9') ||
               cls_add(x, c, '_', '_');
    case 'n': *cp = '\n'; return 0;
    case 't': *cp = '\t'; return 0;
    case 'r': *cp = '\r'; return 0;
    case 'f': *cp = '\f'; return 0;
    case 'v': *cp = '\v'; return 0;
    case 'u': {
        uint32_t v = 0;
        for (int i = 0; i < 4; i++) {
            int h = hexv(peekc(x));
            if (h < 0) return rx_fail(x);
            v = v * 16 + (uint32_t)h;
            x->pos++;
        }
        *cp = v;
        return 0;
    }
    default:
        if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') || (e >= '0' && e <= '9'))
            return rx_fail(x); /* \b, \1, \p{..}: not supported */
        x->pos--;
        return read_cp(x, cp);
    }
}

static int parse_class(rx *x, cls *c) {
    x->pos++; /* '[' */
    if (peekc(x) == '^') { c->neg = true; x->pos++; }
    bool first = true;
    for (;;) {
        int ch = peekc(x);
        if (ch < 0) return rx_fail(x);
        if (ch == ']' && !first) { x->pos++; return 0; }
        first = false;
        uint32_t lo, hi;
        if (ch == '\\') {
            x->pos++;
            cls sub = {0};
            bool is_cls;
            if (read_escape(x, &sub, &is_cls, &lo)) return x->rc;
            if (is_cls) {
                if (sub.neg) return rx_fail(x); /* [\D] etc.: rare, not supported */
                for (int i = 0; i < sub.n; i++)
                    if (cls_add(x, c, sub.r[2 * i], sub.r[2 * i + 1])) return x->rc;
                continue;
            }
        } else if (read_cp(x, &lo)) {
            return x->rc;
        }
        hi = lo;
        if (peekc(x) == '-' && x->pos + 1 < x->len && x->s[x->pos + 1] != ']') {
            x->pos++;
            if (peekc(x) == '\\') {
                x->pos++;
                cls sub = {0};
                bool is_cls;
                if (read_escape(x, &sub, &is_cls, &hi) || is_cls) return rx_fail(x);
            } else if (read_cp(x, &hi)) {
                return x->rc;
            }
            if (hi < lo) return rx_fail(x);
        }
        if (cls_add(x, c, lo, hi)) return x->rc;
    }
}

static int parse_alt(rx *x);

static int parse_uint(rx *x, long *v) {
    if (peekc(x) < '0' || peekc(x) > '9') return rx_fail(x);
    *v = 0;
    while (peekc(x) >= '0' && peekc(x) <= '9') {
        *v = *v * 10 + (peekc(x) - '0');
        if (*v > MAX_QUANT) return rx_fail(x);
        x->pos++;
    }
    return 0;
}

static int parse_seq(rx *x) {
    buf_append_str(x->o, "(\"\"");
    for (;;) {
        int ch = peekc(x);
        if (ch < 0 || ch == '|' || ch == ')') break;
        if (ch == '$' && x->pos + 1 == x->len) break;
        buf_append_str(x->o, " (");
        if (ch == '(') {
            x->pos++;
            if (peekc(x) == '?') {
                if (x->pos + 1 < x->len && x->s[x->pos + 1] == ':') x->pos += 2;
                else return rx_fail(x); /* lookaround, named groups */
            }
            if (++x->depth > 50 || parse_alt(x)) return rx_fail(x);
            x->depth--;
            if (peekc(x) != ')') return rx_fail(x);
            x->pos++;
        } else if (ch == '[') {
            cls c = {0};
            if (parse_class(x, &c)) return x->rc;
            if (emit_cls(x, &c)) return x->rc;
        } else if (ch == '.') {
            x->pos++;
            cls c = {.neg = true};
            cls_add(x, &c, '\n', '\n');
            if (emit_cls(x, &c)) return x->rc;
        } else if (ch == '\\') {
            x->pos++;
            cls c = {0};
            bool is_cls;
            uint32_t cp;
            if (read_escape(x, &c, &is_cls, &cp)) return x->rc;
            if (is_cls) {
                if (emit_cls(x, &c)) return x->rc;
            } else {
                emit_cp(x->o, cp);
            }
        } else if (ch == '*' || ch == '+' || ch == '?' || ch == '{' || ch == '^' || ch == '$') {
            return rx_fail(x); /* nothing to repeat, or an anchor inside */
        } else {
            uint32_t cp;
            if (read_cp(x, &cp)) return x->rc;
            emit_cp(x->o, cp);
        }
        buf_append_str(x->o, ")");
        ch = peekc(x);
        if (ch == '*' || ch == '+' || ch == '?') {
            x->pos++;
            buf_printf(x->o, "%c", ch);
        } else if (ch == '{') {
            x->pos++;
            long mn, mx;
            if (parse_uint(x, &mn)) return x->rc;
            mx = mn;
            if (peekc(x) == ',') {
                x->pos++;
                mx = -1;
                if (peekc(x) != '}' && parse_uint(x, &mx)) return x->rc;
                if (mx >= 0 && mx < mn) return rx_fail(x);
            }
            if (peekc(x) != '}') return rx_fail(x);
            x->pos++;
            if (mx < 0) buf_printf(x->o, "{%ld,}", mn);
            else buf_printf(x->o, "{%ld,%ld}", mn, mx);
        } else {
            continue;
        }
        if (peekc(x) == '?') x->pos++; /* lazy: same language */
        if (peekc(x) == '*' || peekc(x) == '+' || peekc(x) == '{') return rx_fail(x);
    }
    buf_append_str(x->o, ")");
    return 0;
}

static int parse_alt(rx *x) {
    buf_append_str(x->o, "(");
    for (;;) {
        if (parse_seq(x)) return x->rc;
        if (peekc(x) != '|') break;
        x->pos++;
        buf_append_str(x->o, " | ");
    }
    buf_append_str(x->o, ")");
    return 0;
}

int gschema_pattern(buf *o, const char *pattern) {
    rx x = {.s = pattern, .len = strlen(pattern), .o = o};
    bool start = x.len && pattern[0] == '^';
    bool end = x.len > 1 && pattern[x.len - 1] == '$' && pattern[x.len - 2] != '\\';
    if (start) x.pos = 1;
    buf_append_str(o, "\"\\\"\" ");
    if (!start) buf_append_str(o, "json-char* ");
    if (parse_alt(&x)) return x.rc;
    if (end) x.pos++;
    if (x.pos != x.len) return rx_fail(&x);
    if (!end) buf_append_str(o, " json-char*");
    buf_append_str(o, " \"\\\"\" ws");
    return o->oom ? BASE_ENOMEM : 0;
}
