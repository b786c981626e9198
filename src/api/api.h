/*
 * api: the HTTP API handlers, one file per API family (JSON in, JSON or SSE out). They sit
 * on server/ for transport, models/ for the registry and sched/ for generation, and never
 * touch kernels or HTTP parsing.
 *
 * Endpoints (each also without the /v1 prefix, as LocalAI serves them):
 *   GET  /healthz, /readyz                   probes (never need a key)
 *   GET  /v1/models, /v1/models/{id}         the models directory
 *   POST /v1/chat/completions                chat, streamed (SSE) or not
 *   POST /v1/completions                     text completion, streamed or not
 *   POST /v1/tokenize, /v1/detokenize        llama.cpp server style
 *   POST /v1/embeddings                      encoder (bert) models only; decoders get a 400
 *   POST /v1/rerank                          Jina/Cohere shape; rank head or cosine fallback
 *   GET  /api/models[/{name}]                state, memory, context, config (web UI)
 *   POST /api/models/{name}/load|unload      load or unload a model now
 *   GET  /api/me, /api/usage                 the caller's key and usage (any valid key)
 *   /api/users, /api/keys, /api/audit        administration (admin role only)
 *
 *   api_ctx ctx = {.models_path = "./models", .parallel = 1};
 *   if (api_open(&ctx, &eb)) ...;        // scans the models directory
 *   api_register(srv, &ctx);
 *   ... serve ...
 *   server_free(srv);                    // first: no request may run on
 *   api_close(&ctx);
 */
#ifndef API_H
#define API_H

#include "server/server.h"

typedef struct mdl_registry mdl_registry;
typedef struct auth auth;

typedef struct api_ctx {
    const char *models_path;
    /* Static keys from --api-key / LOCALAI_API_KEY; none means the API is open. */
    const char *const *api_keys;
    int n_api_keys;
    /* Set once the server is accepting requests; /readyz reports it. */
    _Atomic int ready;
    int parallel;          /* slots per model (--parallel) */
    int context_size;      /* per slot; 0: the model's (--context-size) */
    int threads;           /* compute threads per model */
    int max_active_models; /* 0: no limit */
    uint64_t max_memory;   /* bytes of model files loaded at most (--max-memory); 0: no limit */
    int queue_size;        /* waiting requests per model before 503; 0: a default */
    mdl_registry *models;  /* set by api_open */
    auth *auth;            /* users, keys, limits and usage (NULL: no checks, no usage) */
} api_ctx;

/* Open the models registry. Generation schedulers start when a model is first loaded. */
int api_open(api_ctx *ctx, err_buf *eb);
/* Unload every model. Call after server_free. */
void api_close(api_ctx *ctx);

/* Add every route to s. ctx must outlive the server. */
/* The server's auth hook (server_params.auth_hook, with ctx as auth_ud): authenticates the
 * request with ctx->auth and attaches the caller to it, or answers 401/403/429. */
bool api_access_hook(srv_req *r, void *ctx);
int api_register(server *s, api_ctx *ctx);

/* Read the models directory again now (after a gallery install or removal). ud: an api_ctx. */
void api_models_changed(void *ud);

#endif
