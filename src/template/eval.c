/*
 * Template evaluator: walks the AST with Python/jinja2 semantics. Expressions produce
 * arena values; statements append to the current output buffer (swapped out while a macro,
 * {% set %} block or {% filter %} block captures its body). Every loop iteration and call
 * counts against max_steps and nesting against max_depth, so no template can run away.
 */
#include <math.h>
#include <string.h>

#include "template/tmpl_int.h"

int rs_step(rstate *rs) {
    if (++rs->steps > rs->prm.max_steps)
        return err_set(rs->eb, BASE_EFULL, "template exceeds %zu steps (line %d)", rs->prm.max_steps, rs->line);
    return 0;
}

int undef_err(rstate *rs, tmpl_value v) {
    return rs_err(rs, BASE_ENOTFOUND, "UndefinedError", "%s", v.undef_name ? v.undef_name : "value is undefined");
}

static tmpl_value mk_undef(rstate *rs, const char *fmt, const char *a, const char *b) {
    return tv_undef(arena_printf(rs->a, fmt, a, b));
}

static const char *obj_desc(tmpl_value v) {
    switch (v.kind) {
    case TV_DICT: return "dict object";
    case TV_LIST: return v.is_tuple ? "tuple object" : "list object";
    case TV_STR: return "str object";
    case TV_INT: return "int object";
    case TV_FLOAT: return "float object";
    case TV_BOOL: return "bool object";
    case TV_NONE: return "None";
    default: return "object";
    }
}

static int lookup(rstate *rs, const char *name, size_t n, tmpl_value *out) {
    for (scope *s = rs->cur; s; s = s->parent) {
        tmpl_value *v = tv_dict_get_str(&s->vars, name, n);
        if (v) { *out = *v; return 0; }
    }
    *out = mk_undef(rs, "'%s' is undefined%s", name, "");
    return 0;
}

static int scope_set(rstate *rs, scope *s, const char *name, tmpl_value v) {
    return tv_dict_set(rs, &s->vars, tv_strn(name, strlen(name)), v);
}

static scope *scope_push(rstate *rs, scope *parent) {
    scope *s = arena_calloc(rs->a, 1, sizeof(scope));
    if (!s) { rs_oom(rs); return NULL; }
    s->parent = parent;
    return s;
}

/* ---- attribute and item access ---- */

static int loop_attr(rstate *rs, tv_loop *l, const char *name, tmpl_value *out) {
    size_t i = l->index, n = l->length;
    if (!strcmp(name, "index")) *out = tv_int((int64_t)i + 1);
    else if (!strcmp(name, "index0")) *out = tv_int((int64_t)i);
    else if (!strcmp(name, "revindex")) *out = tv_int((int64_t)(n - i));
    else if (!strcmp(name, "revindex0")) *out = tv_int((int64_t)(n - i - 1));
    else if (!strcmp(name, "first")) *out = tv_bool(i == 0);
    else if (!strcmp(name, "last")) *out = tv_bool(i + 1 == n);
    else if (!strcmp(name, "length")) *out = tv_int((int64_t)n);
    else if (!strcmp(name, "depth")) *out = tv_int(1);
    else if (!strcmp(name, "depth0")) *out = tv_int(0);
    else if (!strcmp(name, "previtem")) *out = i > 0 ? l->items.list->v[i - 1] : mk_undef(rs, "there is no previous item%s%s", "", "");
    else if (!strcmp(name, "nextitem")) *out = i + 1 < n ? l->items.list->v[i + 1] : mk_undef(rs, "there is no next item%s%s", "", "");
    else *out = mk_undef(rs, "'LoopContext object' has no attribute '%s'%s", name, "");
    return 0;
}

static int loop_cycle(rstate *rs, tmpl_value self, call_args *a, tmpl_value *out) {
    if (!a->npos) return rs_err(rs, BASE_EINVAL, "TypeError", "no items for cycling given");
    *out = a->pos[self.loop->index % a->npos];
    return 0;
}

int tv_getattr(rstate *rs, tmpl_value obj, const char *name, size_t n, tmpl_value *out) {
    switch (obj.kind) {
    case TV_UNDEF: return undef_err(rs, obj);
    case TV_LOOP:
        if (!strcmp(name, "cycle")) {
            tv_func *f = arena_calloc(rs->a, 1, sizeof *f);
            if (!f) return rs_oom(rs);
            f->name = "cycle"; f->fn = loop_cycle; f->self = obj;
            out->kind = TV_FUNC; out->fn = f;
            return 0;
        }
        return loop_attr(rs, obj.loop, name, out);
    case TV_NS: {
        tmpl_value *v = tv_dict_get_str(obj.dict, name, n);
        *out = v ? *v : mk_undef(rs, "'Namespace object' has no attribute '%s'%s", name, "");
        return 0;
    }
    case TV_DICT: {
        if (method_lookup(rs, obj, name, n, out)) return 0;
        tmpl_value *v = tv_dict_get_str(obj.dict, name, n);
        *out = v ? *v : mk_undef(rs, "'dict object' has no attribute '%s'%s", name, "");
        return 0;
    }
    default:
        if (method_lookup(rs, obj, name, n, out)) return 0;
        *out = mk_undef(rs, obj.kind == TV_NONE ? "'%s' has no attribute '%s'" : "'%s' has no attribute '%s'",
                        obj_desc(obj), name);
        return 0;
    }
}

int tv_getitem(rstate *rs, tmpl_value obj, tmpl_value key, tmpl_value *out) {
    if (obj.kind == TV_UNDEF) return undef_err(rs, obj);
    if (obj.kind == TV_DICT) {
        tmpl_value *v = tv_dict_get(obj.dict, key);
        if (v) { *out = *v; return 0; }
    } else if ((obj.kind == TV_LIST || obj.kind == TV_STR) && (key.kind == TV_INT || key.kind == TV_BOOL)) {
        int64_t i = key.kind == TV_INT ? key.i : key.b;
        size_t len = obj.kind == TV_LIST ? obj.list->n : utf8_len(obj.s.p, obj.s.n);
        if (i < 0) i += (int64_t)len;
        if (i >= 0 && (size_t)i < len) {
            if (obj.kind == TV_LIST) { *out = obj.list->v[i]; return 0; }
            size_t a = utf8_offset(obj.s.p, obj.s.n, (size_t)i), b = utf8_offset(obj.s.p, obj.s.n, (size_t)i + 1);
            *out = tv_strn(obj.s.p + a, b - a);
            return 0;
        }
        *out = mk_undef(rs, "'%s' has no item%s", obj_desc(obj), "");
        return 0;
    }
    if (key.kind == TV_STR && obj.kind != TV_DICT)
        return tv_getattr(rs, obj, key.s.p, key.s.n, out);
    if (key.kind == TV_STR) {
        if (method_lookup(rs, obj, key.s.p, key.s.n, out)) return 0;
        sbuf b = {0};
        if (sb_puts(rs, &b, "'dict object' has no attribute '") || sb_put(rs, &b, key.s.p, key.s.n) || sb_puts(rs, &b, "'"))
            return BASE_ENOMEM;
        *out = tv_undef(b.p);
        return 0;
    }
    *out = mk_undef(rs, "'%s' has no item%s", obj_desc(obj), "");
    return 0;
}

static int slice_index(rstate *rs, const node *n, int64_t *out, bool *given) {
    *given = false;
    if (!n) return 0;
    tmpl_value v;
    int rc = eval_expr(rs, n, &v);
    if (rc) return rc;
    if (v.kind == TV_NONE) return 0;
    if (v.kind != TV_INT && v.kind != TV_BOOL)
        return rs_err(rs, BASE_ETYPE, "TypeError", "slice indices must be integers or None");
    *out = v.kind == TV_INT ? v.i : v.b;
    *given = true;
    return 0;
}

static int eval_slice(rstate *rs, const node *n, tmpl_value *out) {
    tmpl_value obj;
    int rc = eval_expr(rs, n->a, &obj);
    if (rc) return rc;
    int64_t start = 0, stop = 0, step = 1;
    bool hs, he, hp;
    if ((rc = slice_index(rs, n->b, &start, &hs)) || (rc = slice_index(rs, n->c, &stop, &he)) ||
        (rc = slice_index(rs, n->d, &step, &hp)))
        return rc;
    if (step == 0) return rs_err(rs, BASE_EINVAL, "ValueError", "slice step cannot be zero");
    if (obj.kind == TV_UNDEF) return undef_err(rs, obj);
    if (obj.kind != TV_LIST && obj.kind != TV_STR) /* slices compile to a plain Python subscript */
        return rs_err(rs, BASE_ETYPE, "TypeError", "'%s' object is not subscriptable", tv_type_name(obj));
    int64_t len = obj.kind == TV_LIST ? (int64_t)obj.list->n : (int64_t)utf8_len(obj.s.p, obj.s.n);
    /* Python's slice.indices() */
    if (!hs) start = step > 0 ? 0 : len - 1;
    else {
        if (start < 0) start += len;
        if (start < 0) start = step > 0 ? 0 : -1;
        if (start >= len) start = step > 0 ? len : len - 1;
    }
    if (!he) stop = step > 0 ? len : -1;
    else {
        if (stop < 0) stop += len;
        if (stop < 0) stop = step > 0 ? 0 : -1;
        if (stop >= len) stop = step > 0 ? len : len - 1;
    }
    if (obj.kind == TV_LIST) {
        tmpl_value l = tv_list_new(rs);
        if (l.kind != TV_LIST) return BASE_ENOMEM;
        l.is_tuple = obj.is_tuple;
        for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step)
            if ((rc = tv_list_push(rs, l.list, obj.list->v[i]))) return rc;
        *out = l;
        return 0;
    }
    sbuf b = {0};
    bool ascii = utf8_len(obj.s.p, obj.s.n) == obj.s.n;
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
        size_t a = ascii ? (size_t)i : utf8_offset(obj.s.p, obj.s.n, (size_t)i);
        size_t e = ascii ? (size_t)i + 1 : utf8_offset(obj.s.p, obj.s.n, (size_t)i + 1);
        if ((rc = sb_put(rs, &b, obj.s.p + a, e - a))) return rc;
    }
    *out = tv_strn(b.p ? b.p : "", b.n);
    return 0;
}

/* ---- calls ---- */

tmpl_value *arg_get(call_args *a, size_t pos, const char *kw) {
    if (kw)
        for (size_t i = 0; i < a->nkw; i++)
            if (!strcmp(a->kwn[i], kw)) return &a->kwv[i];
    if (pos != (size_t)-1 && pos < a->npos) return &a->pos[pos];
    return NULL;
}

static int eval_args(rstate *rs, const node *n, call_args *a) {
    int rc;
    memset(a, 0, sizeof *a);
    a->npos = n->body.n;
    a->nkw = n->kwv.n;
    bool star = false;
    for (size_t i = 0; i < n->body.n; i++) star |= n->body.v[i]->kind == N_STAR || n->body.v[i]->kind == N_STARSTAR;
    if (a->npos && !(a->pos = arena_alloc(rs->a, a->npos * sizeof(tmpl_value)))) return rs_oom(rs);
    if (a->nkw && !(a->kwv = arena_alloc(rs->a, a->nkw * sizeof(tmpl_value)))) return rs_oom(rs);
    a->kwn = n->kwn;
    for (size_t i = 0; i < a->nkw; i++)
        if ((rc = eval_expr(rs, n->kwv.v[i], &a->kwv[i]))) return rc;
    if (!star) {
        for (size_t i = 0; i < a->npos; i++)
            if ((rc = eval_expr(rs, n->body.v[i], &a->pos[i]))) return rc;
        return 0;
    }
    /* Splats: collect positional values and keyword pairs into growable lists. */
    tmpl_value pos = tv_list_new(rs), kw = tv_dict_new(rs), v;
    if (pos.kind != TV_LIST || kw.kind != TV_DICT) return BASE_ENOMEM;
    for (size_t i = 0; i < a->nkw; i++)
        if ((rc = tv_dict_set_cstr(rs, kw.dict, a->kwn[i], a->kwv[i]))) return rc;
    for (size_t i = 0; i < n->body.n; i++) {
        const node *e = n->body.v[i];
        if ((rc = eval_expr(rs, e->kind == N_STAR || e->kind == N_STARSTAR ? e->a : e, &v))) return rc;
        if (e->kind == N_STARSTAR) {
            if (v.kind != TV_DICT) return rs_err(rs, BASE_ETYPE, "TypeError", "argument after ** must be a mapping, not %s", tv_type_name(v));
            for (size_t k = 0; k < v.dict->n; k++) {
                if (v.dict->k[k].kind != TV_STR) return rs_err(rs, BASE_ETYPE, "TypeError", "keywords must be strings");
                if ((rc = tv_dict_set(rs, kw.dict, v.dict->k[k], v.dict->v[k]))) return rc;
            }
        } else if (e->kind == N_STAR) {
            tmpl_value l;
            if ((rc = tv_iter_list(rs, v, &l))) return rc;
            for (size_t k = 0; k < l.list->n; k++)
                if ((rc = tv_list_push(rs, pos.list, l.list->v[k]))) return rc;
        } else if ((rc = tv_list_push(rs, pos.list, v))) {
            return rc;
        }
    }
    a->pos = pos.list->v; a->npos = pos.list->n;
    a->nkw = kw.dict->n;
    a->kwv = kw.dict->v;
    const char **names = arena_alloc(rs->a, (a->nkw + 1) * sizeof(char *));
    if (!names) return rs_oom(rs);
    for (size_t k = 0; k < a->nkw; k++) {
        char *s = arena_strndup(rs->a, kw.dict->k[k].s.p, kw.dict->k[k].s.n);
        if (!s) return rs_oom(rs);
        names[k] = s;
    }
    a->kwn = names;
    return 0;
}

static int macro_call(rstate *rs, tmpl_macro *m, call_args *a, tmpl_value *out) {
    const node *def = m->def;
    int rc;
    if (++rs->depth > rs->prm.max_depth)
        return rs_err(rs, BASE_ERANGE, "RecursionError", "maximum macro depth exceeded");
    if ((rc = rs_step(rs))) return rc;
    scope *s = scope_push(rs, m->closure);
    if (!s) return BASE_ENOMEM;
    tmpl_value caller = tv_undef(NULL);
    bool have_caller = false;
    for (size_t i = 0; i < a->nkw; i++) {
        bool known = false;
        for (size_t k = 0; k < def->nnames; k++)
            if (!strcmp(def->names[k], a->kwn[i])) known = true;
        if (!strcmp(a->kwn[i], "caller")) { caller = a->kwv[i]; have_caller = true; if (!known) continue; }
        if (!known && def->kind == N_MACRO)
            return rs_err(rs, BASE_EINVAL, "TypeError", "macro '%s' takes no keyword argument '%s'", def->name, a->kwn[i]);
    }
    scope *saved_cur = rs->cur;
    rs->cur = s;
    for (size_t k = 0; k < def->nnames; k++) {
        tmpl_value v;
        tmpl_value *given = k < a->npos ? &a->pos[k] : NULL;
        if (!given) given = arg_get(a, (size_t)-1, def->names[k]);
        if (given) v = *given;
        else if (def->defaults.v[k]) {
            if ((rc = eval_expr(rs, def->defaults.v[k], &v))) { rs->cur = saved_cur; return rc; }
        } else {
            v = mk_undef(rs, "parameter '%s' was not provided%s", def->names[k], "");
        }
        if ((rc = scope_set(rs, s, def->names[k], v))) { rs->cur = saved_cur; return rc; }
    }
    tmpl_value varargs = tv_list_new(rs);
    if (varargs.kind != TV_LIST) return BASE_ENOMEM;
    varargs.is_tuple = true;
    for (size_t k = def->nnames; k < a->npos; k++)
        if ((rc = tv_list_push(rs, varargs.list, a->pos[k]))) return rc;
    if ((rc = scope_set(rs, s, "varargs", varargs))) return rc;
    if (have_caller && (rc = scope_set(rs, s, "caller", caller))) return rc;
    sbuf body = {0};
    sbuf *saved_out = rs->out;
    rs->out = &body;
    bool brk = rs->brk, cont = rs->cont;
    rc = eval_body(rs, &def->body);
    rs->brk = brk; rs->cont = cont;
    rs->out = saved_out;
    rs->cur = saved_cur;
    rs->depth--;
    if (rc) return rc;
    *out = tv_strn(body.p ? body.p : "", body.n);
    return 0;
}

int tv_call(rstate *rs, tmpl_value f, call_args *a, tmpl_value *out) {
    switch (f.kind) {
    case TV_FUNC: {
        int rc = rs_step(rs);
        return rc ? rc : f.fn->fn(rs, f.fn->self, a, out);
    }
    case TV_MACRO: return macro_call(rs, f.mac, a, out);
    case TV_UNDEF: return undef_err(rs, f);
    default: return rs_err(rs, BASE_ETYPE, "TypeError", "'%s' object is not callable", tv_type_name(f));
    }
}

/* ---- expressions ---- */

int eval_expr(rstate *rs, const node *n, tmpl_value *out) {
    tmpl_value a, b;
    int rc;
    rs->line = n->line;
    switch (n->kind) {
    case N_CONST: *out = n->cval; return 0;
    case N_NAME: return lookup(rs, n->name, n->name_len, out);
    case N_LIST: case N_TUPLE: {
        tmpl_value l = tv_list_new(rs);
        if (l.kind != TV_LIST) return BASE_ENOMEM;
        l.is_tuple = n->kind == N_TUPLE;
        for (size_t i = 0; i < n->body.n; i++) {
            if ((rc = eval_expr(rs, n->body.v[i], &a))) return rc;
            if ((rc = tv_list_push(rs, l.list, a))) return rc;
        }
        *out = l;
        return 0;
    }
    case N_DICT: {
        tmpl_value d = tv_dict_new(rs);
        if (d.kind != TV_DICT) return BASE_ENOMEM;
        for (size_t i = 0; i < n->body.n; i++) {
            if ((rc = eval_expr(rs, n->body.v[i], &a)) || (rc = eval_expr(rs, n->kwv.v[i], &b))) return rc;
            if ((rc = tv_dict_set(rs, d.dict, a, b))) return rc;
        }
        *out = d;
        return 0;
    }
    case N_GETATTR:
        if ((rc = eval_expr(rs, n->a, &a))) return rc;
        rs->line = n->line;
        return tv_getattr(rs, a, n->name, n->name_len, out);
    case N_GETITEM:
        if ((rc = eval_expr(rs, n->a, &a)) || (rc = eval_expr(rs, n->b, &b))) return rc;
        rs->line = n->line;
        return tv_getitem(rs, a, b, out);
    case N_SLICE: return eval_slice(rs, n, out);
    case N_CALL: {
        call_args args;
        if ((rc = eval_expr(rs, n->a, &a)) || (rc = eval_args(rs, n, &args))) return rc;
        rs->line = n->line;
        return tv_call(rs, a, &args, out);
    }
    case N_FILTER: {
        call_args args;
        if (n->a) { if ((rc = eval_expr(rs, n->a, &a))) return rc; }
        else a = rs->block_input;
        if ((rc = eval_args(rs, n, &args))) return rc;
        rs->line = n->line;
        return filter_apply(rs, n->name, a, &args, out);
    }
    case N_TEST: {
        call_args args;
        bool r;
        if ((rc = eval_expr(rs, n->a, &a)) || (rc = eval_args(rs, n, &args))) return rc;
        rs->line = n->line;
        if ((rc = test_apply(rs, n->name, a, &args, &r))) return rc;
        *out = tv_bool(n->negate ? !r : r);
        return 0;
    }
    case N_UNARY:
        if ((rc = eval_expr(rs, n->a, &a))) return rc;
        if (a.kind == TV_INT || a.kind == TV_BOOL) {
            int64_t v = a.kind == TV_INT ? a.i : a.b;
            *out = n->op == OP_NEG ? (v == INT64_MIN ? tv_float(-(double)v) : tv_int(-v)) : tv_int(v);
        } else if (a.kind == TV_FLOAT) {
            *out = tv_float(n->op == OP_NEG ? -a.f : a.f);
        } else if (a.kind == TV_UNDEF) {
            return undef_err(rs, a);
        } else {
            return rs_err(rs, BASE_ETYPE, "TypeError", "bad operand type for unary %s: '%s'", n->op == OP_NEG ? "-" : "+", tv_type_name(a));
        }
        return 0;
    case N_BINOP:
        if ((rc = eval_expr(rs, n->a, &a)) || (rc = eval_expr(rs, n->b, &b))) return rc;
        rs->line = n->line;
        return eval_binop(rs, n->op, a, b, out);
    case N_AND:
        if ((rc = eval_expr(rs, n->a, &a))) return rc;
        if (!tv_truthy(a)) { *out = a; return 0; }
        return eval_expr(rs, n->b, out);
    case N_OR:
        if ((rc = eval_expr(rs, n->a, &a))) return rc;
        if (tv_truthy(a)) { *out = a; return 0; }
        return eval_expr(rs, n->b, out);
    case N_NOT:
        if ((rc = eval_expr(rs, n->a, &a))) return rc;
        *out = tv_bool(!tv_truthy(a));
        return 0;
    case N_COMPARE:
        if ((rc = eval_expr(rs, n->a, &a)) || (rc = eval_expr(rs, n->b, &b))) return rc;
        rs->line = n->line;
        return eval_compare(rs, n->op, a, b, out);
    case N_COND:
        if ((rc = eval_expr(rs, n->a, &a))) return rc;
        if (tv_truthy(a)) return eval_expr(rs, n->b, out);
        if (n->c) return eval_expr(rs, n->c, out);
        *out = mk_undef(rs, "the inline if-expression evaluated to false and no else section was defined.%s%s", "", "");
        return 0;
    case N_CONCAT: {
        sbuf s = {0};
        for (size_t i = 0; i < n->body.n; i++) {
            if ((rc = eval_expr(rs, n->body.v[i], &a))) return rc;
            if ((rc = tv_write_str(rs, &s, a))) return rc;
        }
        *out = tv_strn(s.p ? s.p : "", s.n);
        return 0;
    }
    default:
        return err_set(rs->eb, BASE_EINTERNAL, "bad expression node %d", n->kind);
    }
}

/* ---- statements ---- */

int tv_iter_list(rstate *rs, tmpl_value v, tmpl_value *out) {
    int rc;
    switch (v.kind) {
    case TV_LIST: *out = v; return 0;
    case TV_UNDEF: *out = tv_list_new(rs); return out->kind == TV_LIST ? 0 : BASE_ENOMEM;
    case TV_DICT: case TV_NS: {
        tmpl_value l = tv_list_new(rs);
        if (l.kind != TV_LIST) return BASE_ENOMEM;
        for (size_t i = 0; i < v.dict->n; i++)
            if ((rc = tv_list_push(rs, l.list, v.dict->k[i]))) return rc;
        *out = l;
        return 0;
    }
    case TV_STR: {
        tmpl_value l = tv_list_new(rs);
        if (l.kind != TV_LIST) return BASE_ENOMEM;
        for (size_t i = 0; i < v.s.n;) {
            size_t j = i + 1;
            while (j < v.s.n && ((unsigned char)v.s.p[j] & 0xC0) == 0x80) j++;
            if ((rc = tv_list_push(rs, l.list, tv_strn(v.s.p + i, j - i)))) return rc;
            i = j;
        }
        *out = l;
        return 0;
    }
    default:
        return rs_err(rs, BASE_ETYPE, "TypeError", "'%s' object is not iterable", tv_type_name(v));
    }
}

static int assign_targets(rstate *rs, scope *s, const node *n, tmpl_value v) {
    if (n->nnames == 1) return scope_set(rs, s, n->names[0], v);
    tmpl_value l;
    int rc = tv_iter_list(rs, v, &l);
    if (rc) return rc;
    if (l.list->n != n->nnames)
        return rs_err(rs, BASE_EINVAL, "ValueError", "%s values to unpack (expected %zu, got %zu)",
                      l.list->n > n->nnames ? "too many" : "not enough", n->nnames, l.list->n);
    for (size_t i = 0; i < n->nnames; i++)
        if ((rc = scope_set(rs, s, n->names[i], l.list->v[i]))) return rc;
    return 0;
}

static int exec_for(rstate *rs, const node *n) {
    tmpl_value it, items;
    int rc;
    if ((rc = eval_expr(rs, n->a, &it))) return rc;
    rs->line = n->line;
    if ((rc = tv_iter_list(rs, it, &items))) return rc;
    scope *s = scope_push(rs, rs->cur);
    if (!s) return BASE_ENOMEM;
    scope *saved = rs->cur;
    rs->cur = s;
    if (n->b) { /* for x in xs if cond: filter first, so loop.length counts kept items */
        tmpl_value kept = tv_list_new(rs);
        if (kept.kind != TV_LIST) return BASE_ENOMEM;
        for (size_t i = 0; i < items.list->n; i++) {
            tmpl_value c;
            if ((rc = rs_step(rs)) || (rc = assign_targets(rs, s, n, items.list->v[i])) ||
                (rc = eval_expr(rs, n->b, &c)))
                goto out;
            if (tv_truthy(c) && (rc = tv_list_push(rs, kept.list, items.list->v[i]))) goto out;
        }
        items = kept;
    }
    tv_loop *lp = arena_calloc(rs->a, 1, sizeof *lp);
    if (!lp) { rc = rs_oom(rs); goto out; }
    lp->items = items;
    lp->length = items.list->n;
    tmpl_value lv = {.kind = TV_LOOP};
    lv.loop = lp;
    bool completed = false;
    for (size_t i = 0; i < lp->length; i++) {
        lp->index = i;
        /* Each iteration starts from the outer values: jinja2 does not carry a {% set %}
         * in the body over to the next iteration. */
        scope *iter = scope_push(rs, saved);
        if (!iter) { rc = BASE_ENOMEM; goto out; }
        rs->cur = iter;
        if ((rc = rs_step(rs)) || (rc = scope_set(rs, iter, "loop", lv)) ||
            (rc = assign_targets(rs, iter, n, items.list->v[i])))
            goto out;
        if ((rc = eval_body(rs, &n->body))) goto out;
        /* jinja2 marks the loop as iterated at the end of the body, so an iteration cut
         * short by break/continue does not count: the else block can still run. */
        if (!rs->brk && !rs->cont) completed = true;
        rs->cont = false;
        if (rs->brk) { rs->brk = false; break; }
    }
    if (!completed && n->orelse.n) {
        rs->cur = saved;
        return eval_body(rs, &n->orelse);
    }
out:
    rs->cur = saved;
    return rc;
}

/* Render body into a string. Like jinja2, assignments inside a {% set %} or {% filter %}
 * block body stay inside it, so the body gets its own scope. */
static int capture(rstate *rs, const node_list *body, tmpl_value *out) {
    sbuf b = {0};
    sbuf *saved = rs->out;
    scope *saved_scope = rs->cur, *s = scope_push(rs, rs->cur);
    if (!s) return BASE_ENOMEM;
    rs->out = &b;
    rs->cur = s;
    int rc = eval_body(rs, body);
    rs->out = saved;
    rs->cur = saved_scope;
    if (rc) return rc;
    *out = tv_strn(b.p ? b.p : "", b.n);
    return 0;
}

static int exec_stmt(rstate *rs, const node *n) {
    tmpl_value v;
    int rc;
    rs->line = n->line;
    switch (n->kind) {
    case N_TEXT: return sb_put(rs, rs->out, n->name, n->name_len);
    case N_OUTPUT:
        if ((rc = eval_expr(rs, n->a, &v))) return rc;
        return tv_write_str(rs, rs->out, v);
    case N_IF:
        if ((rc = eval_expr(rs, n->a, &v))) return rc;
        return eval_body(rs, tv_truthy(v) ? &n->body : &n->orelse);
    case N_FOR: return exec_for(rs, n);
    case N_SET:
        if ((rc = eval_expr(rs, n->b, &v))) return rc;
        if (n->c) {
            tmpl_value ns;
            if ((rc = eval_expr(rs, n->c, &ns))) return rc;
            if (ns.kind != TV_NS)
                return rs_err(rs, BASE_ETYPE, "TemplateRuntimeError", "cannot assign attribute on non-namespace object");
            return tv_dict_set(rs, ns.dict, tv_strn(n->name, strlen(n->name)), v);
        }
        return assign_targets(rs, rs->cur, n, v);
    case N_SET_BLOCK:
        if ((rc = capture(rs, &n->body, &v))) return rc;
        if (rs->brk || rs->cont) return 0; /* the loop left the block: nothing is assigned */
        if (n->d) {
            tmpl_value saved = rs->block_input;
            rs->block_input = v;
            rc = eval_expr(rs, n->d, &v);
            rs->block_input = saved;
            if (rc) return rc;
        }
        return scope_set(rs, rs->cur, n->names[0], v);
    case N_MACRO: {
        tmpl_macro *m = arena_calloc(rs->a, 1, sizeof *m);
        if (!m) return rs_oom(rs);
        m->def = n; m->closure = rs->cur;
        v.kind = TV_MACRO; v.mac = m;
        return scope_set(rs, rs->cur, n->name, v);
    }
    case N_CALL_BLOCK: {
        tmpl_macro *m = arena_calloc(rs->a, 1, sizeof *m);
        if (!m) return rs_oom(rs);
        m->def = n; m->closure = rs->cur;
        tmpl_value callee, caller = {.kind = TV_MACRO};
        caller.mac = m;
        call_args args;
        if ((rc = eval_expr(rs, n->a->a, &callee)) || (rc = eval_args(rs, n->a, &args))) return rc;
        /* append caller=... to the keyword arguments */
        const char **kwn = arena_alloc(rs->a, (args.nkw + 1) * sizeof(char *));
        tmpl_value *kwv = arena_alloc(rs->a, (args.nkw + 1) * sizeof(tmpl_value));
        if (!kwn || !kwv) return rs_oom(rs);
        if (args.nkw) { memcpy(kwn, args.kwn, args.nkw * sizeof(char *)); memcpy(kwv, args.kwv, args.nkw * sizeof(tmpl_value)); }
        kwn[args.nkw] = "caller"; kwv[args.nkw] = caller;
        args.kwn = kwn; args.kwv = kwv; args.nkw++;
        if ((rc = tv_call(rs, callee, &args, &v))) return rc;
        return tv_write_str(rs, rs->out, v);
    }
    case N_FILTER_BLOCK: {
        if ((rc = capture(rs, &n->body, &v))) return rc;
        if (rs->brk || rs->cont) return 0; /* the loop left the block: nothing is written */
        tmpl_value saved = rs->block_input;
        rs->block_input = v;
        rc = eval_expr(rs, n->a, &v);
        rs->block_input = saved;
        if (rc) return rc;
        return tv_write_str(rs, rs->out, v);
    }
    case N_BLOCK_BODY: return eval_body(rs, &n->body);
    case N_BREAK: rs->brk = true; return 0;
    case N_CONTINUE: rs->cont = true; return 0;
    default: return err_set(rs->eb, BASE_EINTERNAL, "bad statement node %d", n->kind);
    }
}

int eval_body(rstate *rs, const node_list *body) {
    if (++rs->depth > rs->prm.max_depth) {
        rs->depth--;
        return rs_err(rs, BASE_ERANGE, "RecursionError", "template nested too deeply");
    }
    int rc = 0;
    for (size_t i = 0; i < body->n && !rc; i++) {
        rc = exec_stmt(rs, body->v[i]);
        if (rs->brk || rs->cont) break;
    }
    rs->depth--;
    return rc;
}
