/*
 * Template parser: turns the lexer's tokens into an AST (statements and expressions),
 * following jinja2's grammar and operator precedence so that expressions group the same
 * way they do in Python. Nesting is limited so hostile templates cannot blow the stack.
 */
#include <string.h>

#include "template/tmpl_int.h"

#define PARSE_MAX_DEPTH 200

typedef struct parser {
    arena *a;
    const tok_list *t;
    size_t i;
    err_buf *eb;
    int depth;
    int loops; /* for bodies we are inside of (a macro body starts from zero): break/continue */
} parser;

static int expr_tuple(parser *p, bool condexpr, node **out);
static int expr(parser *p, bool condexpr, node **out);
static int parse_body(parser *p, node_list *out, const char *const *ends, const char **which);

static const token *cur(parser *p) { return &p->t->v[p->i]; }
static const token *peek(parser *p, size_t k) {
    size_t j = p->i + k;
    return j < p->t->n ? &p->t->v[j] : &p->t->v[p->t->n - 1];
}

static int perr(parser *p, const token *t, const char *fmt, const char *arg) {
    char m[160];
    snprintf(m, sizeof m, fmt, arg ? arg : "");
    return err_set(p->eb, BASE_EFORMAT, "%d:%d: %s", t->line, t->col, m);
}

static bool is_op(const token *t, const char *op) {
    return t->kind == T_OP && t->n == strlen(op) && !memcmp(t->p, op, t->n);
}
static bool is_name(const token *t, const char *nm) {
    return t->kind == T_NAME && t->n == strlen(nm) && !memcmp(t->p, nm, t->n);
}
static bool skip_op(parser *p, const char *op) {
    if (is_op(cur(p), op)) { p->i++; return true; }
    return false;
}
static bool skip_name(parser *p, const char *nm) {
    if (is_name(cur(p), nm)) { p->i++; return true; }
    return false;
}
static int expect_op(parser *p, const char *op) {
    if (skip_op(p, op)) return 0;
    return perr(p, cur(p), "expected '%s'", op);
}

static node *nnew(parser *p, int kind, const token *t) {
    node *n = arena_calloc(p->a, 1, sizeof(node));
    if (n) { n->kind = (uint8_t)kind; n->line = t->line; }
    else err_set(p->eb, BASE_ENOMEM, "out of memory");
    return n;
}

static int nl_push(parser *p, node_list *l, node *n) {
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 4;
        node **nv = arena_alloc(p->a, nc * sizeof(node *));
        if (!nv) return err_set(p->eb, BASE_ENOMEM, "out of memory");
        if (l->n) memcpy(nv, l->v, l->n * sizeof(node *));
        l->v = nv; l->cap = nc;
    }
    l->v[l->n++] = n;
    return 0;
}

static const char *tok_str(parser *p, const token *t) {
    char *s = arena_strndup(p->a, t->p, t->n);
    if (!s) err_set(p->eb, BASE_ENOMEM, "out of memory");
    return s;
}

static int name_tok(parser *p, const char **out) {
    const token *t = cur(p);
    if (t->kind != T_NAME) return perr(p, t, "expected a name%s", NULL);
    p->i++;
    *out = tok_str(p, t);
    return *out ? 0 : BASE_ENOMEM;
}

/* Call arguments after '(' was seen: positional into n->body, keywords into kwn/kwv. */
static int parse_args(parser *p, node *n) {
    const char *names[64];
    size_t nk = 0;
    while (!skip_op(p, ")")) {
        if (n->body.n + n->kwv.n && expect_op(p, ",")) return BASE_EFORMAT;
        if (skip_op(p, ")")) break;
        node *v;
        int rc;
        if (cur(p)->kind == T_NAME && is_op(peek(p, 1), "=")) {
            if (nk == 64) return perr(p, cur(p), "too many keyword arguments%s", NULL);
            if ((rc = name_tok(p, &names[nk]))) return rc;
            p->i++;
            if ((rc = expr(p, true, &v)) || (rc = nl_push(p, &n->kwv, v))) return rc;
            nk++;
        } else if (is_op(cur(p), "*") || is_op(cur(p), "**")) { /* f(*args) / f(**kwargs) */
            node *s = nnew(p, is_op(cur(p), "*") ? N_STAR : N_STARSTAR, cur(p));
            if (!s) return BASE_ENOMEM;
            p->i++;
            if ((rc = expr(p, true, &s->a)) || (rc = nl_push(p, &n->body, s))) return rc;
        } else {
            if (nk) return perr(p, cur(p), "positional argument after keyword argument%s", NULL);
            if ((rc = expr(p, true, &v)) || (rc = nl_push(p, &n->body, v))) return rc;
        }
    }
    if (nk) {
        n->kwn = arena_alloc(p->a, nk * sizeof(char *));
        if (!n->kwn) return err_set(p->eb, BASE_ENOMEM, "out of memory");
        memcpy(n->kwn, names, nk * sizeof(char *));
    }
    return 0;
}

static int parse_primary(parser *p, node **out) {
    const token *t = cur(p);
    node *n = NULL;
    int rc;
    if (t->kind == T_NAME) {
        p->i++;
        if (is_name(t, "true") || is_name(t, "True") || is_name(t, "false") || is_name(t, "False")) {
            if (!(n = nnew(p, N_CONST, t))) return BASE_ENOMEM;
            n->cval = tv_bool(t->p[0] == 't' || t->p[0] == 'T');
        } else if (is_name(t, "none") || is_name(t, "None")) {
            if (!(n = nnew(p, N_CONST, t))) return BASE_ENOMEM;
            n->cval = tv_none();
        } else {
            if (!(n = nnew(p, N_NAME, t))) return BASE_ENOMEM;
            if (!(n->name = tok_str(p, t))) return BASE_ENOMEM;
            n->name_len = t->n;
        }
    } else if (t->kind == T_STRING) {
        if (!(n = nnew(p, N_CONST, t))) return BASE_ENOMEM;
        const char *s = t->p;
        size_t len = t->n;
        p->i++;
        while (cur(p)->kind == T_STRING) { /* adjacent literals concatenate */
            const token *u = cur(p);
            char *j = arena_alloc(p->a, len + u->n + 1);
            if (!j) return err_set(p->eb, BASE_ENOMEM, "out of memory");
            memcpy(j, s, len); memcpy(j + len, u->p, u->n); j[len + u->n] = 0;
            s = j; len += u->n;
            p->i++;
        }
        n->cval = tv_strn(s, len);
    } else if (t->kind == T_INT || t->kind == T_FLOAT) {
        p->i++;
        if (!(n = nnew(p, N_CONST, t))) return BASE_ENOMEM;
        n->cval = t->kind == T_INT ? tv_int(t->i) : tv_float(t->f);
    } else if (is_op(t, "(")) {
        p->i++;
        if (skip_op(p, ")")) {
            if (!(n = nnew(p, N_TUPLE, t))) return BASE_ENOMEM;
        } else {
            if ((rc = expr_tuple(p, true, &n))) return rc;
            if ((rc = expect_op(p, ")"))) return rc;
        }
    } else if (is_op(t, "[")) {
        p->i++;
        if (!(n = nnew(p, N_LIST, t))) return BASE_ENOMEM;
        while (!skip_op(p, "]")) {
            if (n->body.n && (rc = expect_op(p, ","))) return rc;
            if (skip_op(p, "]")) break;
            node *v;
            if ((rc = expr(p, true, &v)) || (rc = nl_push(p, &n->body, v))) return rc;
        }
    } else if (is_op(t, "{")) {
        p->i++;
        if (!(n = nnew(p, N_DICT, t))) return BASE_ENOMEM;
        while (!skip_op(p, "}")) {
            if (n->body.n && (rc = expect_op(p, ","))) return rc;
            if (skip_op(p, "}")) break;
            node *k, *v;
            if ((rc = expr(p, true, &k))) return rc;
            if ((rc = expect_op(p, ":"))) return rc;
            if ((rc = expr(p, true, &v))) return rc;
            if ((rc = nl_push(p, &n->body, k)) || (rc = nl_push(p, &n->kwv, v))) return rc;
        }
    } else {
        return perr(p, t, "unexpected %s", t->kind == T_EOF ? "end of template" :
                    t->kind == T_BLOCK_END ? "'%}'" : t->kind == T_VAR_END ? "'}}'" : "token");
    }
    *out = n;
    return 0;
}

static int parse_postfix(parser *p, node **np) {
    int rc;
    for (;;) {
        const token *t = cur(p);
        node *n;
        if (is_op(t, ".")) {
            p->i++;
            const token *u = cur(p);
            if (u->kind == T_NAME) {
                if (!(n = nnew(p, N_GETATTR, t))) return BASE_ENOMEM;
                if ((rc = name_tok(p, &n->name))) return rc;
                n->name_len = u->n;
            } else if (u->kind == T_INT) {
                p->i++;
                if (!(n = nnew(p, N_GETITEM, t))) return BASE_ENOMEM;
                if (!(n->b = nnew(p, N_CONST, u))) return BASE_ENOMEM;
                n->b->cval = tv_int(u->i);
            } else {
                return perr(p, u, "expected a name after '.'%s", NULL);
            }
            n->a = *np;
        } else if (is_op(t, "[")) {
            p->i++;
            node *parts[3] = {NULL, NULL, NULL};
            int np_ = 0;
            bool slice = false;
            for (;;) {
                if (is_op(cur(p), ":")) {
                    slice = true; p->i++;
                    if (++np_ > 2) return perr(p, cur(p), "bad slice%s", NULL);
                    continue;
                }
                if (is_op(cur(p), "]")) break;
                if (parts[np_]) return perr(p, cur(p), "expected ']'%s", NULL);
                if ((rc = expr(p, true, &parts[np_]))) return rc;
            }
            p->i++;
            if (slice) {
                if (!(n = nnew(p, N_SLICE, t))) return BASE_ENOMEM;
                n->b = parts[0]; n->c = parts[1]; n->d = parts[2];
            } else {
                if (!parts[0]) return perr(p, t, "empty subscript%s", NULL);
                if (!(n = nnew(p, N_GETITEM, t))) return BASE_ENOMEM;
                n->b = parts[0];
            }
            n->a = *np;
        } else if (is_op(t, "(")) {
            p->i++;
            if (!(n = nnew(p, N_CALL, t))) return BASE_ENOMEM;
            n->a = *np;
            if ((rc = parse_args(p, n))) return rc;
        } else {
            return 0;
        }
        *np = n;
    }
}

static int dotted_name(parser *p, node *n) {
    int rc = name_tok(p, &n->name);
    if (rc) return rc;
    while (is_op(cur(p), ".") && peek(p, 1)->kind == T_NAME) {
        const char *more;
        p->i++;
        if ((rc = name_tok(p, &more))) return rc;
        n->name = arena_printf(p->a, "%s.%s", n->name, more);
        if (!n->name) return err_set(p->eb, BASE_ENOMEM, "out of memory");
    }
    n->name_len = strlen(n->name);
    return 0;
}

static int parse_filters(parser *p, node **np) {
    int rc;
    for (;;) {
        const token *t = cur(p);
        node *n;
        if (is_op(t, "|")) {
            p->i++;
            if (!(n = nnew(p, N_FILTER, t))) return BASE_ENOMEM;
            if ((rc = dotted_name(p, n))) return rc;
            if (skip_op(p, "(") && (rc = parse_args(p, n))) return rc;
            n->a = *np;
        } else if (is_name(t, "is")) {
            p->i++;
            if (!(n = nnew(p, N_TEST, t))) return BASE_ENOMEM;
            n->negate = skip_name(p, "not");
            if ((rc = dotted_name(p, n))) return rc;
            const token *u = cur(p);
            if (skip_op(p, "(")) {
                if ((rc = parse_args(p, n))) return rc;
            } else if ((u->kind == T_NAME || u->kind == T_STRING || u->kind == T_INT ||
                        u->kind == T_FLOAT || is_op(u, "(") || is_op(u, "[") || is_op(u, "{")) &&
                       !is_name(u, "else") && !is_name(u, "or") && !is_name(u, "and")) {
                node *arg;
                if (is_name(u, "is")) return perr(p, u, "cannot chain multiple tests with is%s", NULL);
                if ((rc = parse_primary(p, &arg)) || (rc = parse_postfix(p, &arg))) return rc;
                if ((rc = nl_push(p, &n->body, arg))) return rc;
            }
            n->a = *np;
        } else if (is_op(t, "(")) {
            p->i++;
            if (!(n = nnew(p, N_CALL, t))) return BASE_ENOMEM;
            n->a = *np;
            if ((rc = parse_args(p, n))) return rc;
        } else {
            return 0;
        }
        *np = n;
    }
}

static int parse_unary(parser *p, bool with_filter, node **out) {
    const token *t = cur(p);
    int rc;
    node *n;
    if (++p->depth > PARSE_MAX_DEPTH) return perr(p, t, "expression nested too deeply%s", NULL);
    if (is_op(t, "-") || is_op(t, "+")) {
        p->i++;
        if (!(n = nnew(p, N_UNARY, t))) return BASE_ENOMEM;
        n->op = t->p[0] == '-' ? OP_NEG : OP_POS;
        if ((rc = parse_unary(p, false, &n->a))) return rc;
    } else if ((rc = parse_primary(p, &n))) {
        return rc;
    }
    if ((rc = parse_postfix(p, &n))) return rc;
    if (with_filter && (rc = parse_filters(p, &n))) return rc;
    p->depth--;
    *out = n;
    return 0;
}

static int binop(parser *p, const token *t, int op, node *l, node *r, node **out) {
    node *n = nnew(p, N_BINOP, t);
    if (!n) return BASE_ENOMEM;
    n->op = op; n->a = l; n->b = r;
    *out = n;
    return 0;
}

static int parse_pow(parser *p, node **out) {
    int rc = parse_unary(p, true, out);
    while (!rc && is_op(cur(p), "**")) {
        const token *t = cur(p);
        node *r;
        p->i++;
        if ((rc = parse_unary(p, true, &r))) return rc;
        rc = binop(p, t, OP_POW, *out, r, out);
    }
    return rc;
}

static int parse_math2(parser *p, node **out) {
    int rc = parse_pow(p, out);
    for (;;) {
        if (rc) return rc;
        const token *t = cur(p);
        int op = is_op(t, "*") ? OP_MUL : is_op(t, "/") ? OP_DIV : is_op(t, "//") ? OP_FLOORDIV
               : is_op(t, "%") ? OP_MOD : -1;
        if (op < 0) return 0;
        p->i++;
        node *r;
        if ((rc = parse_pow(p, &r))) return rc;
        rc = binop(p, t, op, *out, r, out);
    }
}

static int parse_concat(parser *p, node **out) {
    int rc = parse_math2(p, out);
    if (rc || !is_op(cur(p), "~")) return rc;
    node *n = nnew(p, N_CONCAT, cur(p));
    if (!n || (rc = nl_push(p, &n->body, *out))) return BASE_ENOMEM;
    while (skip_op(p, "~")) {
        node *r;
        if ((rc = parse_math2(p, &r)) || (rc = nl_push(p, &n->body, r))) return rc;
    }
    *out = n;
    return 0;
}

static int parse_math1(parser *p, node **out) {
    int rc = parse_concat(p, out);
    for (;;) {
        if (rc) return rc;
        const token *t = cur(p);
        int op = is_op(t, "+") ? OP_ADD : is_op(t, "-") ? OP_SUB : -1;
        if (op < 0) return 0;
        p->i++;
        node *r;
        if ((rc = parse_concat(p, &r))) return rc;
        rc = binop(p, t, op, *out, r, out);
    }
}

static int parse_compare(parser *p, node **out) {
    node *left;
    int rc = parse_math1(p, &left);
    if (rc) return rc;
    node *result = NULL;
    for (;;) {
        const token *t = cur(p);
        int op = is_op(t, "==") ? OP_EQ : is_op(t, "!=") ? OP_NE : is_op(t, "<") ? OP_LT
               : is_op(t, "<=") ? OP_LE : is_op(t, ">") ? OP_GT : is_op(t, ">=") ? OP_GE : -1;
        if (op >= 0) p->i++;
        else if (is_name(t, "in")) { op = OP_IN; p->i++; }
        else if (is_name(t, "not") && is_name(peek(p, 1), "in")) { op = OP_NOTIN; p->i += 2; }
        else break;
        node *r, *c;
        if ((rc = parse_math1(p, &r))) return rc;
        if (!(c = nnew(p, N_COMPARE, t))) return BASE_ENOMEM;
        c->op = op; c->a = left; c->b = r;
        if (result) { /* a < b < c is (a < b) and (b < c) */
            node *both = nnew(p, N_AND, t);
            if (!both) return BASE_ENOMEM;
            both->a = result; both->b = c;
            result = both;
        } else {
            result = c;
        }
        left = r;
    }
    *out = result ? result : left;
    return 0;
}

static int parse_not(parser *p, node **out) {
    if (is_name(cur(p), "not")) {
        node *n = nnew(p, N_NOT, cur(p));
        if (!n) return BASE_ENOMEM;
        p->i++;
        if (++p->depth > PARSE_MAX_DEPTH) return perr(p, cur(p), "expression nested too deeply%s", NULL);
        int rc = parse_not(p, &n->a);
        p->depth--;
        *out = n;
        return rc;
    }
    return parse_compare(p, out);
}

static int parse_andor(parser *p, bool is_or, node **out) {
    int rc = is_or ? parse_andor(p, false, out) : parse_not(p, out);
    while (!rc && is_name(cur(p), is_or ? "or" : "and")) {
        node *n = nnew(p, is_or ? N_OR : N_AND, cur(p));
        if (!n) return BASE_ENOMEM;
        p->i++;
        n->a = *out;
        rc = is_or ? parse_andor(p, false, &n->b) : parse_not(p, &n->b);
        *out = n;
    }
    return rc;
}

static int expr(parser *p, bool condexpr, node **out) {
    int rc = parse_andor(p, true, out);
    if (rc || !condexpr) return rc;
    while (is_name(cur(p), "if")) {
        node *n = nnew(p, N_COND, cur(p));
        if (!n) return BASE_ENOMEM;
        p->i++;
        n->b = *out;
        if ((rc = parse_andor(p, true, &n->a))) return rc;
        if (skip_name(p, "else") && (rc = expr(p, true, &n->c))) return rc;
        *out = n;
    }
    return 0;
}

static bool tuple_end(parser *p) {
    const token *t = cur(p);
    return t->kind == T_VAR_END || t->kind == T_BLOCK_END || t->kind == T_EOF || is_op(t, ")") ||
           is_op(t, "]") || is_op(t, "}") || is_op(t, "=") || is_name(t, "in") || is_name(t, "if");
}

/* An expression, or a tuple when commas follow ("a, b"). */
static int expr_tuple(parser *p, bool condexpr, node **out) {
    node *first;
    int rc = expr(p, condexpr, &first);
    if (rc) return rc;
    if (!is_op(cur(p), ",")) { *out = first; return 0; }
    node *t = nnew(p, N_TUPLE, cur(p));
    if (!t || (rc = nl_push(p, &t->body, first))) return BASE_ENOMEM;
    while (skip_op(p, ",")) {
        if (tuple_end(p)) break;
        node *v;
        if ((rc = expr(p, condexpr, &v)) || (rc = nl_push(p, &t->body, v))) return rc;
    }
    *out = t;
    return 0;
}

/* Assignment targets: "x", "a, b" or "(a, b)". */
static int parse_targets(parser *p, node *n) {
    const char *names[16];
    size_t k = 0;
    bool paren = skip_op(p, "(");
    do {
        if (k == 16) return perr(p, cur(p), "too many targets%s", NULL);
        int rc = name_tok(p, &names[k++]);
        if (rc) return rc;
    } while (skip_op(p, ","));
    if (paren && expect_op(p, ")")) return BASE_EFORMAT;
    n->names = arena_alloc(p->a, k * sizeof(char *));
    if (!n->names) return err_set(p->eb, BASE_ENOMEM, "out of memory");
    memcpy(n->names, names, k * sizeof(char *));
    n->nnames = k;
    return 0;
}

static int end_tag(parser *p) {
    if (cur(p)->kind != T_BLOCK_END) return perr(p, cur(p), "expected '%%}'%s", NULL);
    p->i++;
    return 0;
}

/* Macro or caller parameters after '(' : names with optional defaults. */
static int parse_params(parser *p, node *n) {
    const char *names[64];
    size_t k = 0;
    int rc;
    while (!skip_op(p, ")")) {
        if (k && (rc = expect_op(p, ","))) return rc;
        if (skip_op(p, ")")) break;
        if (k == 64) return perr(p, cur(p), "too many parameters%s", NULL);
        if ((rc = name_tok(p, &names[k++]))) return rc;
        node *def = NULL;
        if (skip_op(p, "=") && (rc = expr(p, true, &def))) return rc;
        if ((rc = nl_push(p, &n->defaults, def))) return rc;
    }
    n->names = arena_alloc(p->a, (k ? k : 1) * sizeof(char *));
    if (!n->names) return err_set(p->eb, BASE_ENOMEM, "out of memory");
    memcpy(n->names, names, k * sizeof(char *));
    n->nnames = k;
    return 0;
}

static int parse_stmt(parser *p, node **out) {
    const token *t = cur(p);
    int rc;
    node *n;
    const char *which = NULL;
    if (t->kind != T_NAME) return perr(p, t, "expected a statement name%s", NULL);
    p->i++;
    if (is_name(t, "if") || is_name(t, "elif")) {
        if (!(n = nnew(p, N_IF, t))) return BASE_ENOMEM;
        if ((rc = expr_tuple(p, false, &n->a)) || (rc = end_tag(p))) return rc;
        static const char *const ends[] = {"elif", "else", "endif", NULL};
        if ((rc = parse_body(p, &n->body, ends, &which))) return rc;
        if (!strcmp(which, "elif")) {
            p->i--; /* re-read "elif" as a nested if */
            node *sub;
            if ((rc = parse_stmt(p, &sub)) || (rc = nl_push(p, &n->orelse, sub))) return rc;
            *out = n;
            return 0;
        }
        if (!strcmp(which, "else")) {
            static const char *const ends2[] = {"endif", NULL};
            if ((rc = end_tag(p)) || (rc = parse_body(p, &n->orelse, ends2, &which))) return rc;
        }
        rc = end_tag(p);
    } else if (is_name(t, "for")) {
        if (!(n = nnew(p, N_FOR, t))) return BASE_ENOMEM;
        if ((rc = parse_targets(p, n))) return rc;
        if (!skip_name(p, "in")) return perr(p, cur(p), "expected 'in'%s", NULL);
        if ((rc = expr_tuple(p, false, &n->a))) return rc;
        if (skip_name(p, "if") && (rc = expr(p, true, &n->b))) return rc;
        skip_name(p, "recursive");
        if ((rc = end_tag(p))) return rc;
        static const char *const ends[] = {"else", "endfor", NULL};
        p->loops++;
        rc = parse_body(p, &n->body, ends, &which);
        p->loops--;
        if (rc) return rc;
        if (!strcmp(which, "else")) {
            static const char *const ends2[] = {"endfor", NULL};
            if ((rc = end_tag(p)) || (rc = parse_body(p, &n->orelse, ends2, &which))) return rc;
        }
        rc = end_tag(p);
    } else if (is_name(t, "set")) {
        if (cur(p)->kind == T_NAME && is_op(peek(p, 1), ".")) { /* set ns.attr = v */
            if (!(n = nnew(p, N_SET, t))) return BASE_ENOMEM;
            if (!(n->c = nnew(p, N_NAME, cur(p)))) return BASE_ENOMEM;
            if ((rc = name_tok(p, &n->c->name))) return rc;
            n->c->name_len = strlen(n->c->name);
            p->i++;
            if ((rc = name_tok(p, &n->name))) return rc;
            if ((rc = expect_op(p, "="))) return rc;
            if ((rc = expr_tuple(p, true, &n->b))) return rc;
            rc = end_tag(p);
        } else {
            if (!(n = nnew(p, N_SET, t))) return BASE_ENOMEM;
            if ((rc = parse_targets(p, n))) return rc;
            if (skip_op(p, "=")) {
                if ((rc = expr_tuple(p, true, &n->b))) return rc;
                rc = end_tag(p);
            } else {
                n->kind = N_SET_BLOCK;
                if (is_op(cur(p), "|")) {
                    if ((rc = parse_filters(p, &n->d))) return rc;
                }
                static const char *const ends[] = {"endset", NULL};
                if ((rc = end_tag(p)) || (rc = parse_body(p, &n->body, ends, &which))) return rc;
                rc = end_tag(p);
            }
        }
    } else if (is_name(t, "macro")) {
        if (!(n = nnew(p, N_MACRO, t))) return BASE_ENOMEM;
        if ((rc = name_tok(p, &n->name))) return rc;
        if ((rc = expect_op(p, "(")) || (rc = parse_params(p, n)) || (rc = end_tag(p))) return rc;
        static const char *const ends[] = {"endmacro", NULL};
        int outer_loops = p->loops;
        p->loops = 0;
        rc = parse_body(p, &n->body, ends, &which);
        p->loops = outer_loops;
        if (rc) return rc;
        if (cur(p)->kind == T_NAME) p->i++; /* {% endmacro name %} */
        rc = end_tag(p);
    } else if (is_name(t, "call")) {
        if (!(n = nnew(p, N_CALL_BLOCK, t))) return BASE_ENOMEM;
        if (skip_op(p, "(") && (rc = parse_params(p, n))) return rc;
        if ((rc = expr(p, true, &n->a))) return rc;
        if (n->a->kind != N_CALL) return perr(p, t, "expected a call after 'call'%s", NULL);
        static const char *const ends[] = {"endcall", NULL};
        int outer_loops = p->loops;
        p->loops = 0; /* the body is a function (caller) */
        if ((rc = end_tag(p)) || (rc = parse_body(p, &n->body, ends, &which))) return rc;
        p->loops = outer_loops;
        rc = end_tag(p);
    } else if (is_name(t, "filter")) {
        if (!(n = nnew(p, N_FILTER_BLOCK, t))) return BASE_ENOMEM;
        /* The chain starts from the body text: a filter node whose operand is NULL. */
        node *f = nnew(p, N_FILTER, cur(p));
        if (!f || (rc = dotted_name(p, f))) return BASE_EFORMAT;
        if (skip_op(p, "(") && (rc = parse_args(p, f))) return rc;
        if ((rc = parse_filters(p, &f))) return rc;
        n->a = f;
        static const char *const ends[] = {"endfilter", NULL};
        if ((rc = end_tag(p)) || (rc = parse_body(p, &n->body, ends, &which))) return rc;
        rc = end_tag(p);
    } else if (is_name(t, "generation")) {
        if (!(n = nnew(p, N_BLOCK_BODY, t))) return BASE_ENOMEM;
        static const char *const ends[] = {"endgeneration", NULL};
        if ((rc = end_tag(p)) || (rc = parse_body(p, &n->body, ends, &which))) return rc;
        rc = end_tag(p);
    } else if (is_name(t, "break") || is_name(t, "continue")) {
        if (!p->loops) return perr(p, t, "'%s' outside of a loop", t->p[0] == 'b' ? "break" : "continue");
        if (!(n = nnew(p, t->p[0] == 'b' ? N_BREAK : N_CONTINUE, t))) return BASE_ENOMEM;
        rc = end_tag(p);
    } else {
        char nm[64];
        snprintf(nm, sizeof nm, "%.*s", (int)(t->n < 60 ? t->n : 60), t->p);
        return perr(p, t, "unknown tag '%s'", nm);
    }
    if (rc) return rc;
    *out = n;
    return 0;
}

static int parse_body(parser *p, node_list *out, const char *const *ends, const char **which) {
    int rc;
    if (++p->depth > PARSE_MAX_DEPTH) return perr(p, cur(p), "blocks nested too deeply%s", NULL);
    for (;;) {
        const token *t = cur(p);
        node *n;
        if (t->kind == T_EOF) {
            if (ends) return perr(p, t, "unexpected end of template, expected '%s'", ends[0]);
            break;
        }
        if (t->kind == T_DATA) {
            if (!(n = nnew(p, N_TEXT, t))) return BASE_ENOMEM;
            n->name = t->p; n->name_len = t->n;
            p->i++;
        } else if (t->kind == T_VAR_BEGIN) {
            p->i++;
            if (!(n = nnew(p, N_OUTPUT, t))) return BASE_ENOMEM;
            if ((rc = expr_tuple(p, true, &n->a))) return rc;
            if (cur(p)->kind != T_VAR_END) return perr(p, cur(p), "expected '}}'%s", NULL);
            p->i++;
        } else if (t->kind == T_BLOCK_BEGIN) {
            const token *nm = peek(p, 1);
            bool is_end = false;
            for (size_t k = 0; ends && ends[k]; k++)
                if (is_name(nm, ends[k])) { *which = ends[k]; is_end = true; }
            if (is_end) { p->i += 2; break; }
            p->i++;
            if ((rc = parse_stmt(p, &n))) return rc;
        } else {
            return perr(p, t, "unexpected token%s", NULL);
        }
        if ((rc = nl_push(p, out, n))) return rc;
    }
    p->depth--;
    return 0;
}

int tmpl_parse(arena *a, const tok_list *toks, node_list *body, err_buf *eb) {
    parser p = {.a = a, .t = toks, .eb = eb};
    return parse_body(&p, body, NULL, NULL);
}
