/* The route table: every API family adds its routes, each with and without /v1. */
#include <stdio.h>

#include "api_int.h"

int api_route_both(server *s, const char *method, const char *path, srv_handler h,
                   api_ctx *ctx) {
    char v1[128];
    snprintf(v1, sizeof v1, "/v1%s", path);
    int rc = server_route(s, method, v1, h, ctx);
    return rc ? rc : server_route(s, method, path, h, ctx);
}

int api_register(server *s, api_ctx *ctx) {
    int rc = api_register_health(s, ctx);
    if (!rc) rc = api_register_models(s, ctx);
    if (!rc) rc = api_register_chat(s, ctx);
    if (!rc) rc = api_register_completions(s, ctx);
    if (!rc) rc = api_register_tokenize(s, ctx);
    if (!rc) rc = api_register_metrics(s, ctx);
    if (!rc) rc = api_register_embeddings(s, ctx);
    if (!rc) rc = api_register_rerank(s, ctx);
    if (!rc) rc = api_register_models_state(s, ctx);
    if (!rc) rc = api_register_admin(s, ctx);
    if (!rc) rc = api_register_transcribe(s, ctx);
    if (!rc) rc = api_register_speech(s, ctx);
    return rc;
}
