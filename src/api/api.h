/*
 * api: the HTTP API handlers, one file per API family (JSON in, JSON or SSE out). They sit
 * on server/ for transport and never touch kernels or HTTP parsing.
 *
 *   api_ctx ctx = {.api_keys = keys, .n_api_keys = n};
 *   api_register(srv, &ctx);
 */
#ifndef API_H
#define API_H

#include "server/server.h"

typedef struct api_ctx {
    const char *models_path;
    /* Static keys from --api-key / LOCALAI_API_KEY; none means the API is open. */
    const char *const *api_keys;
    int n_api_keys;
    /* Set once the server is accepting requests; /readyz reports it. */
    volatile int ready;
} api_ctx;

/* Add every route to s. ctx must outlive the server. */
int api_register(server *s, api_ctx *ctx);

#endif
