/*
 * Access: the server's auth hook and the helpers handlers use to check a model, reserve the
 * worst-case tokens and settle them. The key comes as "Authorization: Bearer", "x-api-key"
 * (Anthropic) or "xi-api-key" (ElevenLabs); refusals use OpenAI's error shape.
 */
#include <stdio.h>
#include <strings.h>

#include "api_int.h"

/* What the hook attaches to a request (in its arena). */
typedef struct api_caller {
    auth *a;
    const auth_principal *p;
} api_caller;

static const char *request_key(srv_req *r) {
    const char *h = srv_req_header(r, "Authorization");
    if (h && !strncasecmp(h, "Bearer ", 7)) {
        h += 7;
        while (*h == ' ') h++;
        return h;
    }
    if ((h = srv_req_header(r, "x-api-key"))) return h;
    return srv_req_header(r, "xi-api-key");
}

static void verdict_err(srv_req *r, const auth_verdict *v, api_err *e) {
    api_fail(e, v->status, NULL, "%s", v->msg);
    e->type = v->type ? v->type : e->type;
    e->code = v->code;
    if (v->status == 401) srv_set_header(r, "WWW-Authenticate", "Bearer");
    if (v->status == 429) {
        char s[24];
        snprintf(s, sizeof s, "%d", v->retry_after > 0 ? v->retry_after : 1);
        srv_set_header(r, "Retry-After", s);
    }
}

bool api_access_hook(srv_req *r, void *ud) {
    api_ctx *ctx = ud;
    if (!ctx->auth) return true;
    char ip[64];
    srv_req_client_ip(r, ip, sizeof ip);
    auth_principal *p;
    auth_verdict v;
    api_caller *c = arena_alloc(srv_req_arena(r), sizeof *c);
    if (!c) {
        srv_respond_error(r, 500, "server_error", "out of memory");
        return false;
    }
    if (auth_check(ctx->auth, request_key(r), ip, srv_req_path(r), srv_req_arena(r), &p, &v)) {
        api_err e;
        verdict_err(r, &v, &e);
        api_respond_err(r, &e);
        return false;
    }
    c->a = ctx->auth;
    c->p = p;
    srv_req_set_user(r, c);
    return true;
}

const auth_principal *api_principal(srv_req *r) {
    const api_caller *c = srv_req_user(r);
    return c ? c->p : NULL;
}

int api_access_model(srv_req *r, const char *model, api_err *e) {
    if (auth_model_allowed(api_principal(r), model)) return BASE_OK;
    api_fail(e, 403, "model", "This API key may not use the model '%s'", model ? model : "");
    e->type = "permission_error";
    e->code = "model_not_allowed";
    return BASE_EPERM;
}

int api_access_reserve(srv_req *r, const char *model, int64_t tokens, auth_ticket **t, api_err *e) {
    *t = NULL;
    const api_caller *c = srv_req_user(r);
    if (!c) return BASE_OK;
    auth_verdict v;
    if (auth_reserve(c->a, c->p, model, srv_req_path(r), tokens, t, &v)) {
        verdict_err(r, &v, e);
        return BASE_EPERM;
    }
    return BASE_OK;
}

void api_access_settle(auth_ticket *t, int64_t prompt_tokens, int64_t completion_tokens,
                       int status) {
    err_buf eb = {0};
    auth_settle(t, prompt_tokens, completion_tokens, status, &eb);
}
