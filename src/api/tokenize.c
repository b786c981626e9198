/*
 * POST /v1/tokenize and /v1/detokenize, as llama.cpp's server has them:
 *   {"model": M, "content": "text", "add_special": false, "with_pieces": false}
 *     -> {"tokens": [ids]}  (or [{"id": id, "piece": "text"}] with with_pieces)
 *   {"model": M, "tokens": [ids]} -> {"content": "text"}
 * "model" may be left out when the server has exactly one model.
 */
#include <stdlib.h>
#include <string.h>

#include "api_int.h"

/* The body as an object and the model it names (acquired). */
static json_t *open_request(api_ctx *ctx, srv_req *r, mdl_handle **h, api_err *e) {
    json_t *root = api_parse_body(srv_req_body(r), e);
    if (!root) return NULL;
    json_t *m = json_object_get(root, "model");
    const char *name = NULL;
    char **names = NULL;
    int n = 0;
    if (m && !json_is_string(m)) {
        api_fail(e, 400, "model", "'model' must be a string");
    } else if (m) {
        name = json_string_value(m);
    } else {
        err_buf eb = {0};
        if (mdl_registry_list(ctx->models, &names, &n, &eb) == 0 && n == 1) name = names[0];
        else api_fail(e, 400, "model", "'model' is required (the server has %d models)", n);
    }
    int rc = !name ? BASE_EINVAL : api_access_model(r, name, e) ? BASE_EPERM
                                                              : api_acquire_model(ctx, name, h, e);
    mdl_names_free(names, n);
    if (rc) {
        json_decref(root);
        return NULL;
    }
    return root;
}

static void on_tokenize(srv_req *r, void *ud) {
    api_err e;
    mdl_handle *h;
    json_t *root = open_request(ud, r, &h, &e);
    if (!root) {
        api_respond_err(r, &e);
        return;
    }
    json_t *content = json_object_get(root, "content");
    json_t *add = json_object_get(root, "add_special"), *pieces = json_object_get(root, "with_pieces");
    if (!json_is_string(content)) api_fail(&e, 400, "content", "'content' must be a string");
    else if (add && !json_is_boolean(add)) api_fail(&e, 400, "add_special", "'add_special' must be a boolean");
    else if (pieces && !json_is_boolean(pieces)) api_fail(&e, 400, "with_pieces", "'with_pieces' must be a boolean");
    else e.status = 0;
    const tok *t = mdl_handle_tok(h);
    int32_t *ids = NULL;
    size_t n = 0;
    err_buf eb = {0};
    if (!e.status && tok_encode(t, json_string_value(content), json_string_length(content),
                                json_is_true(add), true, &ids, &n, &eb))
        api_fail(&e, 500, NULL, "cannot tokenize: %s", err_msg(&eb));
    if (e.status) {
        api_respond_err(r, &e);
    } else {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++) {
            if (!json_is_true(pieces)) {
                json_array_append_new(arr, json_integer(ids[i]));
                continue;
            }
            buf b = {0};
            tok_token_bytes(t, ids[i], true, &b);
            json_t *o = json_object();
            json_object_set_new(o, "id", json_integer(ids[i]));
            json_object_set_new(o, "piece", api_json_string(b.data ? b.data : "", b.len));
            buf_free(&b);
            json_array_append_new(arr, o);
        }
        json_t *o = json_object();
        json_object_set_new(o, "tokens", arr);
        api_respond_json(r, 200, o);
        json_decref(o);
    }
    mem_free(ids);
    mdl_release(h);
    json_decref(root);
}

static void on_detokenize(srv_req *r, void *ud) {
    api_err e;
    mdl_handle *h;
    json_t *root = open_request(ud, r, &h, &e);
    if (!root) {
        api_respond_err(r, &e);
        return;
    }
    const tok *t = mdl_handle_tok(h);
    json_t *tokens = json_object_get(root, "tokens");
    size_t n = json_array_size(tokens);
    int32_t *ids = mem_alloc((n ? n : 1) * sizeof *ids);
    e.status = 0;
    if (!json_is_array(tokens)) api_fail(&e, 400, "tokens", "'tokens' must be an array of token ids");
    else if (!ids) api_fail(&e, 500, NULL, "out of memory");
    for (size_t i = 0; !e.status && i < n; i++) {
        json_t *v = json_array_get(tokens, i);
        if (!json_is_integer(v) || json_integer_value(v) < 0 ||
            json_integer_value(v) >= tok_n_vocab(t))
            api_fail(&e, 400, "tokens", "tokens[%zu] is not a token id of this model (0..%d)", i,
                     tok_n_vocab(t) - 1);
        else ids[i] = (int32_t)json_integer_value(v);
    }
    buf text = {0};
    if (!e.status && tok_detokenize(t, ids, n, false, &text))
        api_fail(&e, 500, NULL, "cannot detokenize");
    if (e.status) {
        api_respond_err(r, &e);
    } else {
        json_t *o = json_object();
        json_object_set_new(o, "content", api_json_string(text.data ? text.data : "", text.len));
        api_respond_json(r, 200, o);
        json_decref(o);
    }
    buf_free(&text);
    mem_free(ids);
    mdl_release(h);
    json_decref(root);
}

int api_register_tokenize(server *s, api_ctx *ctx) {
    int rc = api_route_both(s, "POST", "/tokenize", on_tokenize, ctx);
    return rc ? rc : api_route_both(s, "POST", "/detokenize", on_detokenize, ctx);
}
