/* Liveness and readiness probes (LocalAI's /healthz and /readyz). Never behind an API key. */
#include "api_int.h"

static void on_healthz(srv_req *r, void *ud) {
    (void)ud;
    srv_respond(r, 200, "text/plain; charset=utf-8", "OK", 2);
}

static void on_readyz(srv_req *r, void *ud) {
    api_ctx *ctx = ud;
    if (ctx->ready) srv_respond(r, 200, "text/plain; charset=utf-8", "OK", 2);
    else srv_respond(r, 503, "text/plain; charset=utf-8", "starting", 8);
}

int api_register_health(server *s, api_ctx *ctx) {
    int rc = 0;
    rc = rc ? rc : server_route_public(s, "GET", "/healthz", on_healthz, ctx);
    rc = rc ? rc : server_route_public(s, "GET", "/readyz", on_readyz, ctx);
    return rc;
}
