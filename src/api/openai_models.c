/*
 * GET /v1/models and /v1/models/{id}, and the glue between the models registry and the
 * schedulers: a model's scheduler starts when the model is loaded and stops when it is
 * unloaded.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"

/* What a loaded model carries: a scheduler (decoders) or an encoder's pool (encoders). A
 * decoder also gets an embeddings worker of its own, started by its first embeddings
 * request (the scheduler's pool serves one session user at a time). */
typedef struct model_rt {
    sched *s;
    api_encoder *enc;
    pthread_mutex_t mu; /* guards the lazy start of enc for decoders */
    int n_threads, queue_cap;
    speech_model *stt; /* speech-to-text engine (whisper, sphinx; espeak is global) */
} model_rt;

static int start_speech(mdl_handle *h, void **attach, err_buf *eb) {
    const mdl_config *cfg = mdl_handle_config(h);
    model_rt *rt = mem_calloc(1, sizeof *rt);
    if (!rt) return err_set(eb, BASE_ENOMEM, "out of memory");
    pthread_mutex_init(&rt->mu, NULL); /* stop_sched destroys it */
    speech_backend b;
    if (!speech_backend_parse(cfg->backend, &b)) {
        int rc = speech_model_open(b, cfg->model_path, &rt->stt, eb);
        if (rc) {
            pthread_mutex_destroy(&rt->mu);
            mem_free(rt);
            return rc;
        }
    }
    *attach = rt;
    return BASE_OK;
}

static int start_sched(void *ud, mdl_handle *h, void **attach, err_buf *eb) {
    api_ctx *ctx = ud;
    const mdl_config *cfg = mdl_handle_config(h);
    if (mdl_backend_is_speech(cfg->backend)) return start_speech(h, attach, eb);
    int n_threads = cfg->threads > 0 ? cfg->threads : ctx->threads > 0 ? ctx->threads : 1;
    model_rt *rt = mem_calloc(1, sizeof *rt);
    if (!rt) return err_set(eb, BASE_ENOMEM, "out of memory");
    pthread_mutex_init(&rt->mu, NULL);
    rt->n_threads = n_threads;
    rt->queue_cap = ctx->queue_size > 0 ? ctx->queue_size : 64;
    if (llm_model_is_encoder(mdl_handle_model(h))) {
        int rc = api_encoder_new(n_threads, ctx->queue_size > 0 ? ctx->queue_size : 64, &rt->enc, eb);
        if (rc) {
            pthread_mutex_destroy(&rt->mu);
            mem_free(rt);
            return rc;
        }
        log_info("models: %s serves embeddings on %d thread(s)", mdl_handle_name(h), n_threads);
        *attach = rt;
        return BASE_OK;
    }
    sched_params sp = sched_default_params();
    sp.n_slots = ctx->parallel > 0 ? ctx->parallel : 1;
    sp.n_ctx = cfg->context_size > 0 ? cfg->context_size : ctx->context_size;
    sp.n_threads = n_threads;
    if (ctx->queue_size > 0) sp.queue_cap = ctx->queue_size;
    sched *s;
    int rc = sched_new(mdl_handle_model(h), mdl_handle_tok(h), &sp, &s, eb);
    if (rc) {
        pthread_mutex_destroy(&rt->mu);
        mem_free(rt);
        return rc;
    }
    log_info("models: %s serves %d slot(s) of %d tokens", mdl_handle_name(h), sp.n_slots,
             sched_n_ctx(s));
    rt->s = s;
    *attach = rt;
    return BASE_OK;
}

static void stop_sched(void *ud, void *attach) {
    model_rt *rt = attach;
    if (!rt) return;
    sched_free(rt->s);
    api_encoder_free(rt->enc);
    pthread_mutex_destroy(&rt->mu);
    speech_model_free(rt->stt);
    mem_free(rt);
}

int api_open(api_ctx *ctx, err_buf *eb) {
    mdl_registry_params p = mdl_registry_default_params();
    p.models_path = ctx->models_path;
    p.max_active = ctx->max_active_models;
    p.max_memory = ctx->max_memory;
    p.on_load = start_sched;
    p.on_unload = stop_sched;
    p.ud = ctx;
    return mdl_registry_open(&p, &ctx->models, eb);
}

void api_models_changed(void *ud) {
    api_ctx *ctx = ud;
    if (ctx->models) mdl_registry_rescan(ctx->models);
}

void api_close(api_ctx *ctx) {
    api_audio_jobs_wait(); /* their streams were canceled by server_free: they end soon */
    mdl_registry_free(ctx->models);
    ctx->models = NULL;
}

sched *api_model_sched(mdl_handle *h) {
    model_rt *rt = mdl_handle_attach(h);
    return rt ? rt->s : NULL;
}

api_encoder *api_model_encoder(mdl_handle *h) {
    model_rt *rt = mdl_handle_attach(h);
    return rt ? rt->enc : NULL;
}

api_encoder *api_model_embedder(mdl_handle *h, api_err *e) {
    model_rt *rt = mdl_handle_attach(h);
    if (!rt) {
        api_fail(e, 500, NULL, "the model has no runtime");
        return NULL;
    }
    pthread_mutex_lock(&rt->mu);
    if (!rt->enc) {
        err_buf eb = {0};
        if (api_encoder_new(rt->n_threads, rt->queue_cap, &rt->enc, &eb))
            api_fail(e, 500, NULL, "cannot start the embeddings worker: %s", err_msg(&eb));
        else
            log_info("models: %s serves embeddings (decoder, %d thread(s))", mdl_handle_name(h),
                     rt->n_threads);
    }
    api_encoder *enc = rt->enc;
    pthread_mutex_unlock(&rt->mu);
    return enc;
}

speech_model *api_model_speech(mdl_handle *h) {
    model_rt *rt = mdl_handle_attach(h);
    return rt ? rt->stt : NULL;
}

static int acquire(api_ctx *ctx, const char *name, mdl_handle **out, api_err *e);

int api_acquire_model(api_ctx *ctx, const char *name, mdl_handle **out, api_err *e) {
    int rc = acquire(ctx, name, out, e);
    if (!rc && mdl_backend_is_speech(mdl_handle_config(*out)->backend)) {
        api_fail(e, 400, "model", "The model '%s' is a speech model (backend %s): use the /v1/audio endpoints",
                 name, mdl_handle_config(*out)->backend);
        mdl_release(*out);
        *out = NULL;
        return BASE_EINVAL;
    }
    return rc;
}

int api_acquire_speech(api_ctx *ctx, const char *name, bool tts, mdl_handle **out, api_err *e) {
    /* OpenAI's whisper-1 is the best speech-to-text model at hand: a Whisper model when one
     * is installed, pocketsphinx otherwise (unless a config claims the name itself). */
    char alt[256];
    if (!tts && !strcmp(name, "whisper-1") && speech_whisper_built() &&
        !mdl_registry_find_backend(ctx->models, "whisper", alt, sizeof alt)) {
        mdl_handle *h;
        err_buf eb = {0};
        if (!mdl_acquire(ctx->models, name, &h, &eb)) {
            bool builtin = !mdl_handle_config(h)->model_path;
            mdl_release(h);
            if (builtin) name = alt;
        }
    }
    int rc = acquire(ctx, name, out, e);
    if (rc) return rc;
    const char *b = mdl_handle_config(*out)->backend;
    bool is_tts = !strcmp(b, "espeak") || !strcmp(b, "espeak-ng");
    if (!mdl_backend_is_speech(b) || is_tts != tts) {
        api_fail(e, 400, "model", "The model '%s' (backend %s) cannot %s", name, *b ? b : "llm",
                 tts ? "synthesize speech" : "transcribe audio");
        mdl_release(*out);
        *out = NULL;
        return BASE_EINVAL;
    }
    return 0;
}

static int acquire(api_ctx *ctx, const char *name, mdl_handle **out, api_err *e) {
    err_buf eb = {0};
    int rc = mdl_acquire(ctx->models, name, out, &eb);
    if (rc == BASE_ENOTFOUND) {
        api_fail(e, 404, "model", "The model '%s' does not exist", name);
        e->code = "model_not_found";
    } else if (rc == BASE_EBUSY) {
        /* The memory budget is held by models in use: a later try may succeed. */
        api_fail(e, 503, "model", "The model '%s' cannot be loaded now: %s", name, err_msg(&eb));
        e->type = "server_error";
        e->code = "model_busy";
    } else if (rc) {
        api_fail(e, 500, "model", "The model '%s' could not be loaded: %s", name, err_msg(&eb));
        e->code = "model_load_failed";
    }
    return rc;
}

static json_t *model_object(const char *id) {
    json_t *m = json_object();
    json_object_set_new(m, "id", json_string(id));
    json_object_set_new(m, "object", json_string("model"));
    json_object_set_new(m, "created", json_integer(0));
    json_object_set_new(m, "owned_by", json_string("local-ai"));
    return m;
}

static void on_list(srv_req *r, void *ud) {
    api_ctx *ctx = ud;
    char **names;
    int n;
    err_buf eb = {0};
    if (mdl_registry_list(ctx->models, &names, &n, &eb)) {
        srv_respond_error(r, 500, "server_error", "%s", err_msg(&eb));
        return;
    }
    json_t *data = json_array();
    const auth_principal *who = api_principal(r);
    for (int i = 0; i < n; i++) /* only the models this key may use */
        if (auth_model_allowed(who, names[i])) json_array_append_new(data, model_object(names[i]));
    mdl_names_free(names, n);
    json_t *o = json_object();
    json_object_set_new(o, "object", json_string("list"));
    json_object_set_new(o, "data", data);
    api_respond_json(r, 200, o);
    json_decref(o);
}

static void on_get(srv_req *r, void *ud) {
    api_ctx *ctx = ud;
    const char *id = srv_req_path_rest(r);
    if (!*id || !mdl_registry_has(ctx->models, id)) {
        api_err e;
        api_fail(&e, 404, "model", "The model '%s' does not exist", id);
        e.code = "model_not_found";
        api_respond_err(r, &e);
        return;
    }
    api_err e;
    if (api_access_model(r, id, &e)) {
        api_respond_err(r, &e);
        return;
    }
    json_t *o = model_object(id);
    api_respond_json(r, 200, o);
    json_decref(o);
}

int api_register_models(server *s, api_ctx *ctx) {
    int rc = api_route_both(s, "GET", "/models", on_list, ctx);
    return rc ? rc : api_route_both(s, "GET", "/models/*", on_get, ctx);
}
