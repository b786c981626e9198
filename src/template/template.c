/*
 * template entry points: compile (lex + parse into an arena the tmpl owns), render (a fresh
 * arena per call holding every value, freed in one go), and the chat helper that sets up
 * the variables the way transformers' apply_chat_template does.
 */
#include <string.h>

#include "template/tmpl_int.h"

tmpl_params tmpl_default_params(void) {
    tmpl_params p = {
        .now_unix = 0,
        .max_output = 16u << 20,
        .max_steps = 2000000,
        .max_depth = 400,
        .max_memory = 256u << 20,
    };
    return p;
}

int tmpl_compile(const char *src, size_t len, tmpl **out, err_buf *eb) {
    *out = NULL;
    if (!src && len) return err_set(eb, BASE_EINVAL, "NULL template source");
    arena *a = arena_new(0);
    if (!a) return err_set(eb, BASE_ENOMEM, "out of memory");
    tmpl *t = arena_calloc(a, 1, sizeof *t);
    if (!t) { arena_free(a); return err_set(eb, BASE_ENOMEM, "out of memory"); }
    t->a = a;
    tok_list toks = {0};
    int rc = tmpl_lex(a, src ? src : "", len, &toks, eb);
    if (!rc) rc = tmpl_parse(a, &toks, &t->body, eb);
    if (rc) { arena_free(a); return rc; }
    *out = t;
    return 0;
}

void tmpl_free(tmpl *t) {
    if (t) arena_free(t->a);
}

int tmpl_render(const tmpl *t, const json_t *vars, const tmpl_params *params, buf *out,
                err_buf *eb) {
    if (!t || !out) return err_set(eb, BASE_EINVAL, "NULL template or output");
    if (vars && !json_is_object(vars)) return err_set(eb, BASE_EINVAL, "template variables must be a JSON object");
    arena *a = arena_new(0);
    if (!a) return err_set(eb, BASE_ENOMEM, "out of memory");
    sbuf sb = {0};
    rstate rs = {.a = a, .eb = eb, .t = t, .prm = params ? *params : tmpl_default_params(), .out = &sb};
    if (rs.prm.max_depth <= 0) rs.prm.max_depth = 1;
    int rc = BASE_ENOMEM;
    scope *g = arena_calloc(a, 1, sizeof *g), *top = arena_calloc(a, 1, sizeof *top);
    if (!g || !top) { err_set(eb, BASE_ENOMEM, "out of memory"); goto done; }
    rs.globals = g;
    top->parent = g;
    rs.cur = top;
    if ((rc = globals_install(&rs, &g->vars))) goto done;
    if (vars) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)vars, k, v) {
            tmpl_value tv;
            if ((rc = tv_from_json(&rs, v, &tv))) goto done;
            if ((rc = tv_dict_set_cstr(&rs, &g->vars, k, tv))) goto done;
        }
    }
    rc = eval_body(&rs, &t->body);
    if (!rc && sb.n && buf_append(out, sb.p, sb.n) < 0) rc = err_set(eb, BASE_ENOMEM, "out of memory");
    if (!rc && !out->data && buf_append(out, "", 0) < 0) rc = err_set(eb, BASE_ENOMEM, "out of memory");
done:
    arena_free(a);
    return rc;
}

int tmpl_render_chat(const tmpl *t, const json_t *messages, const json_t *tools,
                     bool add_generation_prompt, const char *bos, const char *eos,
                     const json_t *extra, buf *out, err_buf *eb) {
    json_t *vars = json_object();
    if (!vars) return err_set(eb, BASE_ENOMEM, "out of memory");
    int bad = 0;
    bad |= json_object_set_new(vars, "messages", messages ? json_incref((json_t *)messages) : json_array());
    bad |= json_object_set_new(vars, "tools", tools ? json_incref((json_t *)tools) : json_null());
    bad |= json_object_set_new(vars, "documents", json_null());
    bad |= json_object_set_new(vars, "add_generation_prompt", json_boolean(add_generation_prompt));
    bad |= json_object_set_new(vars, "bos_token", json_string(bos ? bos : ""));
    bad |= json_object_set_new(vars, "eos_token", json_string(eos ? eos : ""));
    if (!bad && extra && json_is_object(extra)) bad |= json_object_update(vars, (json_t *)extra);
    int rc;
    if (bad) rc = err_set(eb, BASE_ENOMEM, "out of memory");
    else rc = tmpl_render(t, vars, NULL, out, eb);
    json_decref(vars);
    return rc;
}
