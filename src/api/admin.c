/*
 * The admin API over auth/: users, keys, usage, the audit log, and /api/me. The auth hook has
 * already decided who may call what (admin role for users, keys and audit; any valid key for
 * usage and me); these handlers only translate JSON and errors.
 *
 *   GET /api/me                      {"mode", "user": {...} | null, "key": {...} | null}
 *   GET/POST /api/users              PATCH/DELETE /api/users/{id or name}
 *   GET/POST /api/keys[?user=NAME]   PATCH/DELETE /api/keys/{id or prefix} (DELETE revokes)
 *   GET /api/usage?key=&user=&model=&since=&until=   (non-admins: their own usage only)
 *   GET /api/audit[?limit=N]
 */
#include <stdlib.h>
#include <string.h>

#include "api_int.h"

static int status_of(int rc) {
    return rc == BASE_EINVAL ? 400 : rc == BASE_ENOTFOUND ? 404 : rc == BASE_EBUSY ? 409 : 500;
}

/* Answer with v (stolen) or with the error rc/eb. */
static void reply(srv_req *r, int ok_status, int rc, json_t *v, const err_buf *eb) {
    if (rc) {
        api_err e;
        api_fail(&e, status_of(rc), NULL, "%s", err_msg(eb));
        if (rc == BASE_ENOTFOUND) e.code = "not_found";
        api_respond_err(r, &e);
        return;
    }
    if (v)
        api_respond_json(r, ok_status, v);
    else
        srv_respond(r, ok_status, NULL, "", 0);
    json_decref(v);
}

/* Who did it, for the audit log (in the request's arena). */
static const char *actor_of(srv_req *r) {
    const auth_principal *p = api_principal(r);
    if (!p || !p->key_id) return p && p->mode != AUTH_MODE_OPEN ? "shared-key" : "open";
    if (p->user_name)
        return arena_printf(srv_req_arena(r), "%s (key %s)", p->user_name, p->key_prefix);
    return arena_printf(srv_req_arena(r), "key %s", p->key_prefix);
}

static bool have_auth(srv_req *r, api_ctx *ctx) {
    if (ctx->auth) return true;
    srv_respond_error(r, 503, "server_error", "this server runs without a user database");
    return false;
}

static json_t *body_object(srv_req *r) {
    api_err e;
    json_t *v = api_parse_body(srv_req_body(r), &e);
    if (!v) api_respond_err(r, &e);
    return v;
}

static json_t *csv_array(const char *csv) {
    json_t *a = json_array();
    while (csv && *csv) {
        size_t n = strcspn(csv, ",");
        if (n) json_array_append_new(a, json_stringn(csv, n));
        csv += n;
        if (*csv == ',') csv++;
    }
    return a;
}

static void on_me(srv_req *r, void *ud) {
    api_ctx *ctx = ud;
    const auth_principal *p = api_principal(r);
    json_t *o = json_object();
    auth_mode m = p ? p->mode : ctx->auth ? auth_get_mode(ctx->auth) : AUTH_MODE_OPEN;
    json_object_set_new(o, "mode", json_string(auth_mode_name(m)));
    json_t *user = json_null(), *key = json_null();
    if (p && p->user_id) {
        user = json_object();
        json_object_set_new(user, "id", json_string(p->user_id));
        json_object_set_new(user, "name", json_string(p->user_name));
        json_object_set_new(user, "role", json_string(p->role));
    }
    if (p && p->key_id) {
        key = json_object();
        json_object_set_new(key, "id", json_string(p->key_id));
        json_object_set_new(key, "prefix", json_string(p->key_prefix));
        json_object_set_new(key, "name", json_string(p->key_name));
        json_t *caps = json_array();
        for (unsigned b = 1; b <= AUTH_CAP_ADMIN; b <<= 1)
            if (p->caps & b) json_array_append_new(caps, json_string(auth_cap_name(b)));
        json_object_set_new(key, "capabilities", caps);
        json_object_set_new(key, "models", p->models ? csv_array(p->models) : json_null());
        const int64_t lim[] = {p->lim.rpm, p->lim.tpm, p->lim.tokens_per_day,
                               p->lim.tokens_per_month, p->lim.requests_per_day};
        const char *names[] = {"rpm", "tpm", "tokens_per_day", "tokens_per_month",
                               "requests_per_day"};
        for (int i = 0; i < 5; i++)
            json_object_set_new(key, names[i], lim[i] >= 0 ? json_integer(lim[i]) : json_null());
    }
    json_object_set_new(o, "user", user);
    json_object_set_new(o, "key", key);
    json_object_set_new(o, "admin", json_boolean(p ? auth_is_admin(p) : true));
    api_respond_json(r, 200, o);
    json_decref(o);
}

/* ---- users ---- */

static void on_users_list(srv_req *r, void *ud) {
    api_ctx *ctx = ud;
    if (!have_auth(r, ctx)) return;
    json_t *out = NULL;
    err_buf eb = {0};
    int rc = auth_user_list(ctx->auth, &out, &eb);
    reply(r, 200, rc, out, &eb);
}

static void on_users_create(srv_req *r, void *ud) {
    api_ctx *ctx = ud;
    json_t *body, *out = NULL;
    if (!have_auth(r, ctx) || !(body = body_object(r))) return;
    err_buf eb = {0};
    int rc = auth_user_create(ctx->auth, actor_of(r), body, &out, &eb);
    json_decref(body);
    reply(r, 201, rc, out, &eb);
}

static void on_users_patch(srv_req *r, void *ud) {
    api_ctx *ctx = ud;
    json_t *body, *out = NULL;
    if (!have_auth(r, ctx) || !(body = body_object(r))) return;
    err_buf eb = {0};
    int rc = auth_user_update(ctx->auth, actor_of(r), srv_req_path_rest(r), body, &out, &eb);
    json_decref(body);
    reply(r, 200, rc, out, &eb);
}

static void on_users_delete(srv_req *r, void *ud) {
    api_ctx *ctx = ud;
    if (!have_auth(r, ctx)) return;
    err_buf eb = {0};
    int rc = auth_user_delete(ctx->auth, actor_of(r), srv_req_path_rest(r), &eb);
    json_t *o = rc ? NULL : json_pack("{s:s,s:b}", "id", srv_req_path_rest(r), "deleted", 1);
    reply(r, 200, rc, o, &eb);
}

/* ---- keys ---- */

static void on_keys_list(srv_req *r, void *ud) {
    api_ctx *ctx = ud;
    if (!have_auth(r, ctx)) return;
    json_t *out = NULL;
    err_buf eb = {0};
    int rc = auth_key_list(ctx->auth, srv_req_query(r, "user"), &out, &eb);
    reply(r, 200, rc, out, &eb);
}

static void on_keys_create(srv_req *r, void *ud) {
    api_ctx *ctx = ud;
    json_t *body, *out = NULL;
    if (!have_auth(r, ctx) || !(body = body_object(r))) return;
    err_buf eb = {0};
    int rc = auth_key_create(ctx->auth, actor_of(r), body, &out, &eb);
    json_decref(body);
    reply(r, 201, rc, out, &eb);
}

static void on_keys_patch(srv_req *r, void *ud) {
    api_ctx *ctx = ud;
    json_t *body, *out = NULL;
    if (!have_auth(r, ctx) || !(body = body_object(r))) return;
    err_buf eb = {0};
    int rc = auth_key_update(ctx->auth, actor_of(r), srv_req_path_rest(r), body, &out, &eb);
    json_decref(body);
    reply(r, 200, rc, out, &eb);
}

static void on_keys_delete(srv_req *r, void *ud) {
    api_ctx *ctx = ud;
    if (!have_auth(r, ctx)) return;
    err_buf eb = {0};
    int rc = auth_key_revoke(ctx->auth, actor_of(r), srv_req_path_rest(r), &eb);
    json_t *o = rc ? NULL : json_pack("{s:s,s:b}", "id", srv_req_path_rest(r), "revoked", 1);
    reply(r, 200, rc, o, &eb);
}

/* ---- usage and audit ---- */

static void on_usage(srv_req *r, void *ud) {
    api_ctx *ctx = ud;
    if (!have_auth(r, ctx)) return;
    auth_usage_filter f = {srv_req_query(r, "key"), srv_req_query(r, "user"),
                           srv_req_query(r, "model"), srv_req_query(r, "since"),
                           srv_req_query(r, "until")};
    const auth_principal *p = api_principal(r);
    if (p && !auth_is_admin(p)) {
        /* Everyone sees their own usage: their user's, or their key's when it has no user. */
        if (p->user_id)
            f.user = p->user_id;
        else
            f.key = p->key_id;
    }
    json_t *out = NULL;
    err_buf eb = {0};
    int rc = auth_usage_query(ctx->auth, &f, &out, &eb);
    reply(r, 200, rc, out, &eb);
}

static void on_audit(srv_req *r, void *ud) {
    api_ctx *ctx = ud;
    if (!have_auth(r, ctx)) return;
    const char *l = srv_req_query(r, "limit");
    json_t *out = NULL;
    err_buf eb = {0};
    int rc = auth_audit_list(ctx->auth, l ? atoi(l) : 100, &out, &eb);
    reply(r, 200, rc, out, &eb);
}

int api_register_admin(server *s, api_ctx *ctx) {
    static const struct {
        const char *method, *path;
        srv_handler h;
    } routes[] = {
        {"GET", "/api/me", on_me},
        {"GET", "/api/users", on_users_list},
        {"POST", "/api/users", on_users_create},
        {"PATCH", "/api/users/*", on_users_patch},
        {"DELETE", "/api/users/*", on_users_delete},
        {"GET", "/api/keys", on_keys_list},
        {"POST", "/api/keys", on_keys_create},
        {"PATCH", "/api/keys/*", on_keys_patch},
        {"DELETE", "/api/keys/*", on_keys_delete},
        {"GET", "/api/usage", on_usage},
        {"GET", "/api/audit", on_audit},
    };
    int rc = 0;
    for (size_t i = 0; !rc && i < sizeof routes / sizeof *routes; i++)
        rc = server_route(s, routes[i].method, routes[i].path, routes[i].h, ctx);
    return rc;
}
