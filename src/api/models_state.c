/*
 * The models as the web UI's models page shows them, beyond OpenAI's bare list: state
 * (loaded, loading, unloaded), memory, context, file and config, and loading or unloading one
 * on request.
 *
 *   GET  /api/models                 {"data":[model, ...]}
 *   GET  /api/models/{name}          model, plus "config_yaml": the config file's text
 *   POST /api/models/{name}/load     loads it (waits for the load); the model
 *   POST /api/models/{name}/unload   unloads it; 409 while a request uses it
 *
 * With keys on, listing needs the models capability, loading and unloading an admin.
 *
 * model: {"id", "state", "in_use", "backend", "file", "file_bytes", "memory_bytes",
 * "context_size", "kv_cache_bytes", "n_ctx_train", "architecture", "config_file"}; memory
 * (the weights), the KV cache of all slots (an estimate: F16 keys and values) and the training
 * context are known once loaded (null before), context_size is the per-request context of a
 * loaded model, or what the config or the server asks for (null: the model's own).
 */
#include <stdio.h>
#include <string.h>

#include "api_int.h"

static json_t *num_or_null(uint64_t v) { return v ? json_integer((json_int_t)v) : json_null(); }

static json_t *model_json(api_ctx *ctx, const mdl_info *i) {
    static const char *const states[] = {"unloaded", "loading", "loaded"};
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(i->name));
    json_object_set_new(o, "object", json_string("model"));
    json_object_set_new(o, "state", json_string(states[i->state]));
    json_object_set_new(o, "in_use", json_integer(i->in_use));
    json_object_set_new(o, "backend", json_string(i->backend[0] ? i->backend : "llm"));
    json_object_set_new(o, "file", json_string(i->model_path));
    json_object_set_new(o, "file_bytes", num_or_null(i->file_bytes));
    json_object_set_new(o, "memory_bytes", num_or_null(i->weight_bytes));
    json_object_set_new(o, "n_ctx_train", num_or_null((uint64_t)i->n_ctx_train));
    json_object_set_new(o, "architecture", i->arch[0] ? json_string(i->arch) : json_null());
    json_object_set_new(o, "config_file", i->bare || !i->source_file[0] ? json_null()
                                                                      : json_string(i->source_file));
    int n_ctx = i->context_size > 0 ? i->context_size : ctx->context_size;
    uint64_t kv = 0;
    mdl_handle *h;
    if (i->state == MDL_STATE_LOADED && !mdl_acquire_loaded(ctx->models, i->name, &h)) {
        sched *s = api_model_sched(h);
        if (s) {
            n_ctx = sched_n_ctx(s);
            /* Every slot's F16 keys and values: sized at load, held while loaded. */
            const llm_hparams *hp = llm_model_hparams(mdl_handle_model(h));
            kv = (uint64_t)(ctx->parallel > 0 ? ctx->parallel : 1) * (uint64_t)n_ctx *
                 (uint64_t)hp->n_layer * (uint64_t)hp->n_head_kv * (uint64_t)hp->head_dim * 2 * 2;
        }
        mdl_release(h);
    }
    json_object_set_new(o, "context_size", num_or_null((uint64_t)(n_ctx > 0 ? n_ctx : 0)));
    json_object_set_new(o, "kv_cache_bytes", num_or_null(kv));
    return o;
}

/* The snapshot entry called name (by name or a bare GGUF's name without .gguf), or NULL. */
static const mdl_info *find(const mdl_info *v, int n, const char *name) {
    for (int i = 0; i < n; i++) {
        size_t len = strlen(v[i].name);
        if (!strcmp(v[i].name, name) ||
            (v[i].bare && len > 5 && !strncmp(v[i].name, name, len - 5) && !name[len - 5]))
            return &v[i];
    }
    return NULL;
}

static void not_found(srv_req *r, const char *name) {
    api_err e;
    api_fail(&e, 404, "model", "The model '%s' does not exist", name);
    e.code = "model_not_found";
    api_respond_err(r, &e);
}

/* Answer with the model called name as it is now (and its config's text when with_config). */
static void reply_model(srv_req *r, api_ctx *ctx, const char *name, bool with_config) {
    mdl_info *v;
    int n;
    err_buf eb = {0};
    if (mdl_registry_info(ctx->models, &v, &n, &eb)) {
        srv_respond_error(r, 500, "server_error", "%s", err_msg(&eb));
        return;
    }
    const mdl_info *i = find(v, n, name);
    if (!i) {
        mdl_info_free(v, n);
        not_found(r, name);
        return;
    }
    json_t *o = model_json(ctx, i);
    if (with_config && !i->bare && i->source_file[0]) {
        char path[4096], *text = NULL;
        size_t len = 0;
        snprintf(path, sizeof path, "%s/%s", ctx->models_path, i->source_file);
        if (!file_read_all(path, &text, &len, &eb))
            json_object_set_new(o, "config_yaml", api_json_string(text, len));
        mem_free(text);
    }
    mdl_info_free(v, n);
    api_respond_json(r, 200, o);
    json_decref(o);
}

static void on_list(srv_req *r, void *ud) {
    api_ctx *ctx = ud;
    mdl_info *v;
    int n;
    err_buf eb = {0};
    if (mdl_registry_info(ctx->models, &v, &n, &eb)) {
        srv_respond_error(r, 500, "server_error", "%s", err_msg(&eb));
        return;
    }
    json_t *data = json_array();
    const auth_principal *p = api_principal(r);
    for (int i = 0; i < n; i++)
        if (!p || auth_model_allowed(p, v[i].name)) /* a key sees the models it may use */
            json_array_append_new(data, model_json(ctx, &v[i]));
    mdl_info_free(v, n);
    json_t *o = json_object();
    json_object_set_new(o, "object", json_string("list"));
    json_object_set_new(o, "data", data);
    api_respond_json(r, 200, o);
    json_decref(o);
}

/* "name", "name/load" or "name/unload" (the action into *action, "" for none). */
static char *split_action(srv_req *r, const char **action) {
    const char *rest = srv_req_path_rest(r);
    char *name = arena_strdup(srv_req_arena(r), rest);
    *action = "";
    char *slash = name ? strrchr(name, '/') : NULL;
    if (slash) {
        *slash = 0;
        *action = slash + 1;
    }
    return name;
}

static void on_get(srv_req *r, void *ud) {
    const char *action;
    char *name = split_action(r, &action);
    if (!name || !*name || *action) {
        srv_respond_error(r, 404, "invalid_request_error", "no route for GET %s", srv_req_path(r));
        return;
    }
    api_err e;
    if (api_access_model(r, name, &e)) {
        api_respond_err(r, &e);
        return;
    }
    reply_model(r, ud, name, true);
}

static void on_post(srv_req *r, void *ud) {
    api_ctx *ctx = ud;
    const char *action;
    char *name = split_action(r, &action);
    if (!name || !*name || (strcmp(action, "load") && strcmp(action, "unload"))) {
        srv_respond_error(r, 404, "invalid_request_error", "no route for POST %s", srv_req_path(r));
        return;
    }
    /* Loading and unloading change the server for everyone: admins only when keys are on. */
    const auth_principal *p = api_principal(r);
    if (p && !auth_is_admin(p)) {
        api_err e;
        api_fail(&e, 403, NULL, "Only an admin may %s models", action);
        e.type = "permission_error";
        e.code = "insufficient_permissions";
        api_respond_err(r, &e);
        return;
    }
    err_buf eb = {0};
    if (!strcmp(action, "load")) {
        mdl_handle *h;
        api_err e;
        if (api_acquire_model(ctx, name, &h, &e)) {
            api_respond_err(r, &e);
            return;
        }
        mdl_release(h);
    } else {
        int rc = mdl_unload(ctx->models, name, &eb);
        if (rc == BASE_ENOTFOUND) {
            not_found(r, name);
            return;
        }
        if (rc) {
            srv_respond_error(r, rc == BASE_EBUSY ? 409 : 500,
                              rc == BASE_EBUSY ? "invalid_request_error" : "server_error",
                              "cannot unload '%s': %s", name, err_msg(&eb));
            return;
        }
    }
    reply_model(r, ctx, name, false);
}

int api_register_models_state(server *s, api_ctx *ctx) {
    int rc = server_route(s, "GET", "/api/models", on_list, ctx);
    if (!rc) rc = server_route(s, "GET", "/api/models/*", on_get, ctx);
    if (!rc) rc = server_route(s, "POST", "/api/models/*", on_post, ctx);
    return rc;
}
