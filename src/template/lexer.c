/*
 * Template lexer: splits Jinja source into data and tag tokens with jinja2's whitespace
 * rules (newline normalization, no trailing newline, trim_blocks, lstrip_blocks, "-" and
 * "+" modifiers), and tokenizes the expressions inside {{ }} and {% %}. Comments and raw
 * blocks are resolved here, so the parser never sees them.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "template/tmpl_int.h"

typedef struct lexer {
    arena *a;
    const char *s;
    size_t n, pos;
    tok_list *out;
    err_buf *eb;
    size_t lc_pos; /* line_col's cursor */
    int lc_line, lc_col;
} lexer;

/* Line and column of pos; positions mostly grow, so continue from the last answer. */
static void line_col(lexer *lx, size_t pos, int *line, int *col) {
    if (pos < lx->lc_pos) { lx->lc_pos = 0; lx->lc_line = 1; lx->lc_col = 1; }
    for (size_t i = lx->lc_pos; i < pos; i++) {
        if (lx->s[i] == '\n') { lx->lc_line++; lx->lc_col = 1; } else lx->lc_col++;
    }
    lx->lc_pos = pos;
    *line = lx->lc_line; *col = lx->lc_col;
}

static int lex_err(lexer *lx, size_t pos, const char *msg) {
    int l, c;
    line_col(lx, pos, &l, &c);
    return err_set(lx->eb, BASE_EFORMAT, "%d:%d: %s", l, c, msg);
}

static int push(lexer *lx, token t) {
    tok_list *L = lx->out;
    if (L->n == L->cap) {
        size_t nc = L->cap ? L->cap * 2 : 256;
        token *nv = arena_alloc(lx->a, nc * sizeof(token));
        if (!nv) return err_set(lx->eb, BASE_ENOMEM, "out of memory");
        if (L->n) memcpy(nv, L->v, L->n * sizeof(token));
        L->v = nv; L->cap = nc;
    }
    L->v[L->n++] = t;
    return 0;
}

static token mk(lexer *lx, int kind, size_t pos, const char *p, size_t n) {
    token t = {.kind = (uint8_t)kind, .p = p, .n = n};
    line_col(lx, pos, &t.line, &t.col);
    return t;
}

static bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

/* Emit data text, applying the strip sign of the tag that follows it. */
static int emit_data(lexer *lx, size_t start, size_t end, char sign, bool lstrip_ok,
                     bool line_starting) {
    const char *p = lx->s + start;
    size_t n = end - start;
    if (sign == '-') {
        while (n && is_ws(p[n - 1])) n--;
    } else if (sign != '+' && lstrip_ok) {
        size_t l = n;
        while (l && p[l - 1] != '\n') l--;
        if (l > 0 || line_starting) {
            bool ws = true;
            for (size_t i = l; i < n; i++)
                if (!is_ws(p[i])) { ws = false; break; }
            if (ws) n = l;
        }
    }
    if (!n) return 0;
    return push(lx, mk(lx, T_DATA, start, p, n));
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static size_t put_utf8(char *d, uint32_t cp) {
    if (cp < 0x80) { d[0] = (char)cp; return 1; }
    if (cp < 0x800) { d[0] = (char)(0xC0 | (cp >> 6)); d[1] = (char)(0x80 | (cp & 63)); return 2; }
    if (cp < 0x10000) {
        d[0] = (char)(0xE0 | (cp >> 12)); d[1] = (char)(0x80 | ((cp >> 6) & 63));
        d[2] = (char)(0x80 | (cp & 63)); return 3;
    }
    d[0] = (char)(0xF0 | (cp >> 18)); d[1] = (char)(0x80 | ((cp >> 12) & 63));
    d[2] = (char)(0x80 | ((cp >> 6) & 63)); d[3] = (char)(0x80 | (cp & 63)); return 4;
}

/* Decode a string literal body the way Python's unicode-escape does. */
static int lex_string(lexer *lx, size_t start, size_t *endp, token *t) {
    char q = lx->s[start];
    size_t i = start + 1;
    while (i < lx->n && lx->s[i] != q) {
        if (lx->s[i] == '\\' && i + 1 < lx->n) i++;
        i++;
    }
    if (i >= lx->n) return lex_err(lx, start, "unexpected end of string");
    size_t raw = i - start - 1;
    char *d = arena_alloc(lx->a, raw * 2 + 4);
    if (!d) return err_set(lx->eb, BASE_ENOMEM, "out of memory");
    size_t o = 0;
    const char *s = lx->s;
    for (size_t k = start + 1; k < i; k++) {
        char c = s[k];
        if (c != '\\') { d[o++] = c; continue; }
        char e = s[++k];
        switch (e) {
        case 'n': d[o++] = '\n'; break;
        case 't': d[o++] = '\t'; break;
        case 'r': d[o++] = '\r'; break;
        case '\\': d[o++] = '\\'; break;
        case '\'': d[o++] = '\''; break;
        case '"': d[o++] = '"'; break;
        case 'a': d[o++] = '\a'; break;
        case 'b': d[o++] = '\b'; break;
        case 'f': d[o++] = '\f'; break;
        case 'v': d[o++] = '\v'; break;
        case '\n': break;
        case 'x': case 'u': case 'U': {
            int nd = e == 'x' ? 2 : e == 'u' ? 4 : 8;
            uint32_t cp = 0;
            int got = 0;
            while (got < nd && k + 1 < i && hexval(s[k + 1]) >= 0) { cp = cp * 16 + (uint32_t)hexval(s[++k]); got++; }
            if (got < nd || cp > 0x10FFFF) return lex_err(lx, k, "bad escape in string");
            o += put_utf8(d + o, cp);
            break;
        }
        default:
            if (e >= '0' && e <= '7') {
                uint32_t cp = (uint32_t)(e - '0');
                for (int m = 0; m < 2 && k + 1 < i && s[k + 1] >= '0' && s[k + 1] <= '7'; m++)
                    cp = cp * 8 + (uint32_t)(s[++k] - '0');
                o += put_utf8(d + o, cp);
            } else {
                d[o++] = '\\';
                d[o++] = e;
            }
        }
    }
    d[o] = 0;
    *t = mk(lx, T_STRING, start, d, o);
    *endp = i + 1;
    return 0;
}

static const char *const OPS[] = {"//", "**", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%",
                                  "~", "<", ">", "(", ")", "[", "]", "{", "}", ",", ".", ":",
                                  "|", "=", ";", NULL};

/* Tokenize the inside of a tag until its end; returns the position after the end marker. */
static int lex_tag(lexer *lx, size_t pos, bool block, size_t *endp, bool *line_starting) {
    int depth = 0;
    const char *s = lx->s;
    for (;;) {
        while (pos < lx->n && is_ws(s[pos])) pos++;
        if (pos >= lx->n) return lex_err(lx, pos, block ? "unexpected end of template, expected '%}'" : "unexpected end of template, expected '}}'");
        char e1 = block ? '%' : '}';
        if (depth == 0) {
            size_t q = pos;
            char sign = 0;
            if ((s[q] == '-' || s[q] == '+') && q + 2 < lx->n + 0 && s[q + 1] == e1 && s[q + 2] == '}') { sign = s[q]; q++; }
            if (q + 1 < lx->n && s[q] == e1 && s[q + 1] == '}') {
                int rc = push(lx, mk(lx, block ? T_BLOCK_END : T_VAR_END, pos, s + pos, 0));
                if (rc) return rc;
                q += 2;
                if (sign == '-') {
                    while (q < lx->n && is_ws(s[q])) q++;
                } else if (block && sign != '+' && q < lx->n && s[q] == '\n') {
                    q++;
                }
                *line_starting = q > 0 && s[q - 1] == '\n';
                *endp = q;
                return 0;
            }
        }
        char c = s[pos];
        token t;
        if (c == '\'' || c == '"') {
            int rc = lex_string(lx, pos, &pos, &t);
            if (rc) return rc;
        } else if (isdigit((unsigned char)c)) {
            size_t st = pos;
            while (pos < lx->n && (isdigit((unsigned char)s[pos]) || s[pos] == '_')) pos++;
            bool isf = false;
            if (pos + 1 < lx->n && s[pos] == '.' && isdigit((unsigned char)s[pos + 1])) {
                isf = true; pos++;
                while (pos < lx->n && (isdigit((unsigned char)s[pos]) || s[pos] == '_')) pos++;
            }
            if (pos < lx->n && (s[pos] == 'e' || s[pos] == 'E')) {
                size_t q = pos + 1;
                if (q < lx->n && (s[q] == '+' || s[q] == '-')) q++;
                if (q < lx->n && isdigit((unsigned char)s[q])) {
                    isf = true; pos = q;
                    while (pos < lx->n && isdigit((unsigned char)s[pos])) pos++;
                }
            }
            char tmp[64];
            size_t k = 0;
            for (size_t m = st; m < pos && k < sizeof tmp - 1; m++)
                if (s[m] != '_') tmp[k++] = s[m];
            tmp[k] = 0;
            t = mk(lx, isf ? T_FLOAT : T_INT, st, s + st, pos - st);
            if (isf) t.f = strtod(tmp, NULL);
            else {
                errno = 0;
                t.i = strtoll(tmp, NULL, 10);
                if (errno) return lex_err(lx, st, "integer literal too large");
            }
        } else if (isalpha((unsigned char)c) || c == '_') {
            size_t st = pos;
            while (pos < lx->n && (isalnum((unsigned char)s[pos]) || s[pos] == '_')) pos++;
            t = mk(lx, T_NAME, st, s + st, pos - st);
        } else {
            size_t k = 0;
            for (; OPS[k]; k++) {
                size_t ol = strlen(OPS[k]);
                if (pos + ol <= lx->n && !memcmp(s + pos, OPS[k], ol)) break;
            }
            if (!OPS[k]) return lex_err(lx, pos, "unexpected character");
            size_t ol = strlen(OPS[k]);
            t = mk(lx, T_OP, pos, OPS[k], ol);
            if (c == '(' || c == '[' || c == '{') depth++;
            else if ((c == ')' || c == ']' || c == '}') && depth > 0) depth--;
            pos += ol;
        }
        int rc = push(lx, t);
        if (rc) return rc;
    }
}

/* Does a "{% raw %}"-like tag with the given word start at pos? Sets the end position. */
static bool match_word_tag(lexer *lx, size_t pos, const char *word, char *open_sign,
                           char *close_sign, size_t *endp) {
    const char *s = lx->s;
    size_t q = pos + 2;
    *open_sign = 0; *close_sign = 0;
    if (q < lx->n && (s[q] == '-' || s[q] == '+')) *open_sign = s[q++];
    while (q < lx->n && is_ws(s[q])) q++;
    size_t wl = strlen(word);
    if (q + wl > lx->n || memcmp(s + q, word, wl)) return false;
    q += wl;
    while (q < lx->n && is_ws(s[q])) q++;
    if (q < lx->n && (s[q] == '-' || s[q] == '+')) *close_sign = s[q++];
    if (q + 1 < lx->n && s[q] == '%' && s[q + 1] == '}') { *endp = q + 2; return true; }
    return false;
}

int tmpl_lex(arena *a, const char *src, size_t len, tok_list *out, err_buf *eb) {
    /* Normalize newlines and drop one trailing newline (keep_trailing_newline=False). */
    char *s = arena_alloc(a, len + 1);
    if (!s) return err_set(eb, BASE_ENOMEM, "out of memory");
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (src[i] == '\r') { s[n++] = '\n'; if (i + 1 < len && src[i + 1] == '\n') i++; }
        else s[n++] = src[i];
    }
    if (n && s[n - 1] == '\n') n--;
    s[n] = 0;
    lexer lx = {.a = a, .s = s, .n = n, .out = out, .eb = eb, .lc_line = 1, .lc_col = 1};
    size_t pos = 0;
    bool line_starting = true;
    while (pos < n) {
        size_t t = pos;
        while (t + 1 < n && !(s[t] == '{' && (s[t + 1] == '{' || s[t + 1] == '%' || s[t + 1] == '#'))) t++;
        if (t + 1 >= n) { /* rest is data */
            int rc = emit_data(&lx, pos, n, 0, false, false);
            if (rc) return rc;
            break;
        }
        char kind = s[t + 1];
        char sign = (t + 2 < n && (s[t + 2] == '-' || s[t + 2] == '+')) ? s[t + 2] : 0;
        if (kind == '{' && sign == '+') sign = 0;
        int rc = emit_data(&lx, pos, t, sign, kind != '{', line_starting);
        if (rc) return rc;
        size_t body = t + 2 + (sign ? 1 : 0);
        if (kind == '#') {
            size_t q = body;
            while (q + 1 < n && !(s[q] == '#' && s[q + 1] == '}')) q++;
            if (q + 1 >= n) return lex_err(&lx, t, "unexpected end of template in comment");
            char csign = (q > body && (s[q - 1] == '-' || s[q - 1] == '+')) ? s[q - 1] : 0;
            q += 2;
            if (csign == '-') while (q < n && is_ws(s[q])) q++;
            else if (csign != '+' && q < n && s[q] == '\n') q++;
            line_starting = s[q - 1] == '\n';
            pos = q;
            continue;
        }
        char os, cs;
        size_t rend;
        if (kind == '%' && match_word_tag(&lx, t, "raw", &os, &cs, &rend)) {
            if (cs == '-') while (rend < n && is_ws(s[rend])) rend++;
            else if (cs != '+' && rend < n && s[rend] == '\n') rend++;
            size_t q = rend, eend = 0;
            char es = 0, ec = 0;
            for (; q + 1 < n; q++)
                if (s[q] == '{' && s[q + 1] == '%' && match_word_tag(&lx, q, "endraw", &es, &ec, &eend)) break;
            if (q + 1 >= n) return lex_err(&lx, t, "missing endraw");
            rc = emit_data(&lx, rend, q, es, true, false);
            if (rc) return rc;
            if (ec == '-') while (eend < n && is_ws(s[eend])) eend++;
            else if (ec != '+' && eend < n && s[eend] == '\n') eend++;
            line_starting = s[eend - 1] == '\n';
            pos = eend;
            continue;
        }
        rc = push(&lx, mk(&lx, kind == '%' ? T_BLOCK_BEGIN : T_VAR_BEGIN, t, s + t, 0));
        if (rc) return rc;
        rc = lex_tag(&lx, body, kind == '%', &pos, &line_starting);
        if (rc) return rc;
    }
    return push(&lx, mk(&lx, T_EOF, n, s + n, 0));
}
