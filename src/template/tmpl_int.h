/*
 * template internals shared by the lexer, parser, evaluator, values and filters.
 * Not part of the public API: only src/template/ includes this file.
 */
#ifndef TMPL_INT_H
#define TMPL_INT_H

#include "template/template.h"

/* ---- values ----------------------------------------------------------------------------- */

typedef enum tv_kind {
    TV_UNDEF, TV_NONE, TV_BOOL, TV_INT, TV_FLOAT, TV_STR, TV_LIST, TV_DICT,
    TV_FUNC, /* builtin function or bound method */
    TV_MACRO,
    TV_NS,   /* namespace(): a dict whose attributes can be set */
    TV_LOOP, /* the loop variable of a for */
} tv_kind;

typedef struct tv_list tv_list;
typedef struct tv_dict tv_dict;
typedef struct tv_func tv_func;
typedef struct tv_loop tv_loop;
typedef struct tmpl_macro tmpl_macro;

typedef struct tmpl_value {
    uint8_t kind;
    bool is_tuple; /* lists: print as (a, b) */
    bool safe;     /* strings: a markupsafe.Markup (from |safe or |escape); "+" escapes the other side */
    union {
        bool b;
        int64_t i;
        double f;
        struct { const char *p; size_t n; } s;
        tv_list *list;
        tv_dict *dict;   /* TV_DICT and TV_NS */
        tv_func *fn;
        tmpl_macro *mac;
        tv_loop *loop;
        const char *undef_name; /* TV_UNDEF: the UndefinedError message (may be NULL) */
    };
} tmpl_value;

struct tv_list { tmpl_value *v; size_t n, cap; };
struct tv_dict { tmpl_value *k, *v; size_t n, cap; };

typedef struct rstate rstate;
typedef struct call_args {
    tmpl_value *pos; size_t npos;
    const char **kwn; tmpl_value *kwv; size_t nkw;
} call_args;

typedef int (*tv_builtin)(rstate *rs, tmpl_value self, call_args *a, tmpl_value *out);
struct tv_func { const char *name; tv_builtin fn; tmpl_value self; };

struct tv_loop {
    tmpl_value items; /* list */
    size_t index, length;
};

/* ---- render state ----------------------------------------------------------------------- */

typedef struct scope scope;
struct scope { scope *parent; tv_dict vars; };

typedef struct sbuf { char *p; size_t n, cap; } sbuf;

struct rstate {
    arena *a;
    err_buf *eb;
    const struct tmpl *t;
    tmpl_params prm;
    sbuf *out;
    scope *globals;
    scope *cur;               /* innermost scope: where set writes */
    tmpl_value block_input;   /* the body text a {% filter %} block feeds its chain */
    size_t steps;
    int depth;
    int line; /* line of the node being evaluated, for messages */
    tmpl_value caller; /* caller() inside a macro called by {% call %} */
    bool brk, cont;
    bool oom; /* an allocation failed: every later error reports BASE_ENOMEM */
};

/* Errors: set a runtime error "<Kind>: <msg> (line N)". Returns code. */
int rs_err(rstate *rs, int code, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int rs_oom(rstate *rs);

/* ---- values (value.c) --------------------------------------------------------------------- */

static inline tmpl_value tv_undef(const char *name) { tmpl_value v = {.kind = TV_UNDEF}; v.undef_name = name; return v; }
static inline tmpl_value tv_none(void) { tmpl_value v = {.kind = TV_NONE}; return v; }
static inline tmpl_value tv_bool(bool b) { tmpl_value v = {.kind = TV_BOOL}; v.b = b; return v; }
static inline tmpl_value tv_int(int64_t i) { tmpl_value v = {.kind = TV_INT}; v.i = i; return v; }
static inline tmpl_value tv_float(double f) { tmpl_value v = {.kind = TV_FLOAT}; v.f = f; return v; }
static inline tmpl_value tv_strn(const char *p, size_t n) { tmpl_value v = {.kind = TV_STR}; v.s.p = p; v.s.n = n; return v; }

tmpl_value tv_str_copy(rstate *rs, const char *p, size_t n); /* kind TV_UNDEF + OOM set on failure */
tmpl_value tv_list_new(rstate *rs);
tmpl_value tv_dict_new(rstate *rs);
int tv_list_push(rstate *rs, tv_list *l, tmpl_value v);
int tv_dict_set(rstate *rs, tv_dict *d, tmpl_value k, tmpl_value v);
int tv_dict_set_cstr(rstate *rs, tv_dict *d, const char *k, tmpl_value v);
tmpl_value *tv_dict_get(const tv_dict *d, tmpl_value k);
tmpl_value *tv_dict_get_str(const tv_dict *d, const char *k, size_t n);

bool tv_truthy(tmpl_value v);
bool tv_equal(tmpl_value a, tmpl_value b);
/* -1/0/1 in *out; BASE_ETYPE (with message) when Python would raise TypeError. */
int tv_compare(rstate *rs, tmpl_value a, tmpl_value b, int *out);
const char *tv_type_name(tmpl_value v); /* Python's: 'NoneType', 'str', 'dict' ... */
bool tv_is_num(tmpl_value v);
double tv_num(tmpl_value v);

int sb_put(rstate *rs, sbuf *b, const char *p, size_t n);
static inline int sb_puts(rstate *rs, sbuf *b, const char *s) {
    size_t n = 0; while (s[n]) n++; return sb_put(rs, b, s, n);
}
/* str(v) / repr(v) appended to b. */
int tv_write_str(rstate *rs, sbuf *b, tmpl_value v);
int tv_write_repr(rstate *rs, sbuf *b, tmpl_value v);
/* str(v) as a value (strings returned as is). */
int tv_to_str(rstate *rs, tmpl_value v, tmpl_value *out);
void tv_format_float(double f, char *dst, size_t cap); /* Python repr(float) */
/* json.dumps options; indent < 0: none. */
typedef struct json_opts {
    int indent;
    const char *item_sep, *key_sep;
    bool sort_keys, ascii;
} json_opts;
/* json.dumps(v, ensure_ascii, indent, separators, sort_keys) appended to b. */
int tv_write_json(rstate *rs, sbuf *b, tmpl_value v, const json_opts *o, int level);
int tv_from_json(rstate *rs, const json_t *j, tmpl_value *out);
/* Parse JSON text into a value (the from_json filter). */
int tv_parse_json(rstate *rs, const char *p, size_t n, tmpl_value *out);

/* UTF-8 helpers: number of code points; byte offset of code point index i (clamped). */
size_t utf8_len(const char *p, size_t n);
size_t utf8_offset(const char *p, size_t n, size_t i);
/* Case mapping (ASCII, Latin-1, Latin Extended-A, Greek, Cyrillic) and UTF-8 encoding. */
uint32_t cp_upper(uint32_t c);
uint32_t cp_lower(uint32_t c);
size_t cp_put(char *d, uint32_t cp); /* writes up to 4 bytes, returns the count */
/* Decode the sequence at p[i] into *cp; returns its length (1 for an invalid byte). */
size_t utf8_decode(const char *p, size_t n, size_t i, uint32_t *cp);

/* ---- AST (parser.c) ------------------------------------------------------------------------ */

typedef enum node_kind {
    /* statements */
    N_TEXT, N_OUTPUT, N_IF, N_FOR, N_SET, N_SET_BLOCK, N_MACRO, N_CALL_BLOCK, N_FILTER_BLOCK,
    N_BREAK, N_CONTINUE, N_BLOCK_BODY,
    /* expressions */
    N_CONST, N_NAME, N_LIST, N_TUPLE, N_DICT, N_GETATTR, N_GETITEM, N_SLICE, N_CALL,
    N_FILTER, N_TEST, N_UNARY, N_STAR, N_STARSTAR, N_BINOP, N_AND, N_OR, N_NOT, N_COMPARE, N_COND, N_CONCAT,
} node_kind;

enum { OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_FLOORDIV, OP_MOD, OP_POW, OP_NEG, OP_POS,
       OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE, OP_IN, OP_NOTIN };

typedef struct node node;
typedef struct node_list { node **v; size_t n, cap; } node_list;

struct node {
    uint8_t kind;
    int op;
    int line;
    node *a, *b, *c, *d;   /* operands / condition / iterable / filter (meaning per kind) */
    node_list body, orelse; /* statement bodies; also list items / call args */
    node_list kwv;          /* keyword argument values / dict values */
    const char **kwn;       /* keyword argument names (kwv.n of them) */
    const char **names;     /* for targets, macro params, set targets */
    size_t nnames;
    node_list defaults;     /* macro param defaults (NULL entries: none) */
    const char *name;       /* name / attribute / filter / test / string constant */
    size_t name_len;
    tmpl_value cval;        /* N_CONST */
    bool negate;            /* N_TEST: is not */
};

struct tmpl {
    arena *a;
    node_list body;
};

struct tmpl_macro { const node *def; scope *closure; };

/* ---- lexer (lexer.c) ----------------------------------------------------------------------- */

typedef enum tok_kind {
    T_EOF, T_DATA, T_VAR_BEGIN, T_VAR_END, T_BLOCK_BEGIN, T_BLOCK_END,
    T_NAME, T_STRING, T_INT, T_FLOAT, T_OP,
} tok_kind;

typedef struct token {
    uint8_t kind;
    int line, col;
    const char *p; /* text (decoded for strings) */
    size_t n;
    int64_t i;
    double f;
} token;

typedef struct tok_list { token *v; size_t n, cap; } tok_list;

int tmpl_lex(arena *a, const char *src, size_t len, tok_list *out, err_buf *eb);
int tmpl_parse(arena *a, const tok_list *toks, node_list *body, err_buf *eb);

/* ---- evaluation (eval.c, filters.c, methods.c) -------------------------------------------- */

int eval_expr(rstate *rs, const node *n, tmpl_value *out);
int eval_body(rstate *rs, const node_list *body);
int tv_call(rstate *rs, tmpl_value f, call_args *a, tmpl_value *out);
/* Attribute lookup the jinja way (a.b): methods first, then items. */
int tv_getattr(rstate *rs, tmpl_value obj, const char *name, size_t n, tmpl_value *out);
int tv_getitem(rstate *rs, tmpl_value obj, tmpl_value key, tmpl_value *out);
/* Iterate: list items, dict keys, string characters; none -> TypeError. */
int tv_iter_list(rstate *rs, tmpl_value v, tmpl_value *out_list);

int eval_binop(rstate *rs, int op, tmpl_value a, tmpl_value b, tmpl_value *out);
int eval_compare(rstate *rs, int op, tmpl_value a, tmpl_value b, tmpl_value *out);
int undef_err(rstate *rs, tmpl_value v); /* UndefinedError for using v */
int filter_apply(rstate *rs, const char *name, tmpl_value v, call_args *a, tmpl_value *out);
int test_apply(rstate *rs, const char *name, tmpl_value v, call_args *a, bool *out);
/* A bound method of a str/dict/list value, or undefined kind when there is none. */
bool method_lookup(rstate *rs, tmpl_value self, const char *name, size_t n, tmpl_value *out);
int globals_install(rstate *rs, tv_dict *g);
int rs_step(rstate *rs); /* count a loop iteration / call against max_steps */

/* HTML-escape s like markupsafe.escape (& < > " '), appending to b. */
int str_escape_html(rstate *rs, sbuf *b, tmpl_value s);
/* Python's fmt % args (args a tuple, a dict for %(name)s, or one value). */
int str_percent(rstate *rs, tmpl_value fmt, tmpl_value args, tmpl_value *out);

/* Argument helpers for builtins. */
tmpl_value *arg_get(call_args *a, size_t pos, const char *kw);

#endif
