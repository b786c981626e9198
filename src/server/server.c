/*
 * The HTTP server: libmicrohttpd in internal-thread-pool mode. We gather the request body
 * (bounded by max_body_bytes), check the API key, then call the route's handler once, on the
 * HTTP thread. Deferred and streamed answers are in stream.c.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "server_int.h"

server_params server_default_params(void) {
    return (server_params){
        .address = "127.0.0.1:8080",
        .threads = 8,
        .max_body_bytes = 64u << 20,
        .conn_timeout_s = 600,
        .cors_origin = "*",
    };
}

int server_parse_address(const char *addr, char *host, size_t host_cap, unsigned *port,
                         err_buf *eb) {
    if (!addr || !*addr) return err_set(eb, BASE_EINVAL, "empty address");
    const char *colon;
    const char *h = addr;
    size_t hlen;
    if (addr[0] == '[') {
        const char *close = strchr(addr, ']');
        if (!close || close[1] != ':')
            return err_set(eb, BASE_EINVAL, "bad address '%s': expected [ipv6]:port", addr);
        h = addr + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(addr, ':');
        if (!colon) return err_set(eb, BASE_EINVAL, "bad address '%s': expected host:port", addr);
        hlen = (size_t)(colon - addr);
    }
    char *end;
    long v = strtol(colon + 1, &end, 10);
    if (colon[1] == 0 || *end || v < 0 || v > 65535)
        return err_set(eb, BASE_EINVAL, "bad port in address '%s'", addr);
    if (hlen >= host_cap) return err_set(eb, BASE_EINVAL, "host name too long in '%s'", addr);
    memcpy(host, h, hlen);
    host[hlen] = 0;
    *port = (unsigned)v;
    return BASE_OK;
}

int server_new(const server_params *p, server **out, err_buf *eb) {
    server *s = mem_calloc(1, sizeof *s);
    if (!s) return err_set(eb, BASE_ENOMEM, "out of memory");
    s->p = *p;
    if (!s->p.threads) s->p.threads = 1;
    int rc = server_parse_address(p->address, s->host, sizeof s->host, &s->port, eb);
    if (rc) {
        mem_free(s);
        return rc;
    }
    s->p.address = NULL; /* borrowed; not needed after parsing */
    pthread_mutex_init(&s->streams_mu, NULL);
    pthread_mutex_init(&s->stats_mu, NULL);
    *out = s;
    return BASE_OK;
}

static int add_route(server *s, const char *method, const char *path, srv_handler h, void *ud,
                     bool public_route) {
    if (s->n_routes == MAX_ROUTES || strlen(method) >= sizeof s->routes[0].method)
        return BASE_EFULL;
    route *r = &s->routes[s->n_routes];
    size_t n = strlen(path);
    r->prefix = n > 0 && path[n - 1] == '*';
    r->path = mem_strndup(path, r->prefix ? n - 1 : n);
    if (!r->path) return BASE_ENOMEM;
    strcpy(r->method, method);
    r->fn = h;
    r->ud = ud;
    r->public_route = public_route;
    s->n_routes++;
    return BASE_OK;
}

int server_route(server *s, const char *method, const char *path, srv_handler h, void *ud) {
    return add_route(s, method, path, h, ud, false);
}

int server_route_public(server *s, const char *method, const char *path, srv_handler h,
                        void *ud) {
    return add_route(s, method, path, h, ud, true);
}

/* ---- request accessors ---- */

const char *srv_req_method(const srv_req *r) { return r->method; }
const char *srv_req_path(const srv_req *r) { return r->path; }
const char *srv_req_path_rest(const srv_req *r) { return r->path_rest ? r->path_rest : ""; }
arena *srv_req_arena(srv_req *r) { return r->arena; }
server *srv_req_server(srv_req *r) { return r->srv; }
void srv_req_set_user(srv_req *r, void *user) { r->user = user; }
void *srv_req_user(const srv_req *r) { return r->user; }

void srv_req_client_ip(const srv_req *r, char *out, size_t cap) {
    out[0] = 0;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || !ci->client_addr) return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)cap);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)cap);
}

void server_get_stats(server *s, server_stats *out) {
    pthread_mutex_lock(&s->stats_mu);
    *out = s->stats;
    pthread_mutex_unlock(&s->stats_mu);
}

const char *srv_req_header(const srv_req *r, const char *name) {
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *srv_req_query(const srv_req *r, const char *key) {
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, key);
}

str_slice srv_req_body(const srv_req *r) {
    return (str_slice){r->body.data ? r->body.data : "", r->body.len};
}

int srv_set_header(srv_req *r, const char *name, const char *value) {
    if (r->n_headers == MAX_RESP_HEADERS) return BASE_EFULL;
    const char *n = arena_strdup(r->arena, name), *v = arena_strdup(r->arena, value);
    if (!n || !v) return BASE_ENOMEM;
    r->hdr_name[r->n_headers] = n;
    r->hdr_value[r->n_headers] = v;
    r->n_headers++;
    return BASE_OK;
}

void srv_add_headers(srv_req *r, struct MHD_Response *resp) {
    const char *origin = r->srv->p.cors_origin;
    if (origin) {
        MHD_add_response_header(resp, "Access-Control-Allow-Origin", origin);
        MHD_add_response_header(resp, "Access-Control-Allow-Methods",
                                "GET, POST, PUT, PATCH, DELETE, OPTIONS");
        MHD_add_response_header(resp, "Access-Control-Allow-Headers",
                                "Authorization, Content-Type, x-api-key, xi-api-key");
    }
    for (int i = 0; i < r->n_headers; i++)
        MHD_add_response_header(resp, r->hdr_name[i], r->hdr_value[i]);
}

int srv_respond(srv_req *r, int status, const char *content_type, const char *body, size_t len) {
    if (r->responded || r->stream) return BASE_EINTERNAL;
    r->responded = true;
    r->status = status;
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!resp) return BASE_ENOMEM;
    if (content_type) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    srv_add_headers(r, resp);
    enum MHD_Result ok = MHD_queue_response(r->conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ok == MHD_YES ? BASE_OK : BASE_EIO;
}

/* Append s to b as the inside of a JSON string. */
static void json_escape_into(buf *b, const char *s) {
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') buf_printf(b, "\\%c", c);
        else if (c == '\n') buf_append_str(b, "\\n");
        else if (c < 0x20) buf_printf(b, "\\u%04x", c);
        else buf_append(b, s, 1);
    }
}

int srv_respond_error(srv_req *r, int status, const char *type, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    buf b = {0};
    buf_append_str(&b, "{\"error\":{\"message\":\"");
    json_escape_into(&b, msg);
    buf_printf(&b, "\",\"type\":\"%s\",\"param\":null,\"code\":%d}}", type, status);
    int rc = b.oom ? BASE_ENOMEM
                   : srv_respond(r, status, "application/json", b.data, b.len);
    buf_free(&b);
    return rc;
}

/* ---- libmicrohttpd callbacks ---- */

static const route *find_route(server *s, const char *method, const char *path, bool *path_known) {
    *path_known = false;
    for (int i = 0; i < s->n_routes; i++) {
        const route *rt = &s->routes[i];
        bool match = rt->prefix ? strncmp(path, rt->path, strlen(rt->path)) == 0
                                : strcmp(path, rt->path) == 0;
        if (!match) continue;
        *path_known = true;
        if (strcmp(rt->method, method) == 0 || (!strcmp(method, "HEAD") && !strcmp(rt->method, "GET")))
            return rt;
    }
    return NULL;
}

/* Compare in time that depends only on the lengths, so a key cannot be guessed byte by
 * byte from response times. */
static bool key_equal(const char *a, const char *b) {
    size_t na = strlen(a), nb = strlen(b);
    unsigned char diff = na != nb;
    for (size_t i = 0; i < nb; i++) diff |= (unsigned char)(a[i % (na ? na : 1)] ^ b[i]);
    return na && !diff;
}

static bool authorized(server *s, srv_req *r) {
    if (s->p.n_api_keys == 0) return true;
    const char *key = srv_req_header(r, "x-api-key");
    const char *auth = srv_req_header(r, "Authorization");
    if (auth && !strncasecmp(auth, "Bearer ", 7)) {
        key = auth + 7;
        while (*key == ' ') key++;
    }
    if (!key) return false;
    bool ok = false;
    for (int i = 0; i < s->p.n_api_keys; i++) ok |= key_equal(key, s->p.api_keys[i]);
    return ok;
}

static void dispatch(server *s, srv_req *r) {
    const char *method = r->method, *url = r->path;
    if (r->too_large) {
        srv_respond_error(r, 413, "invalid_request_error", "request body larger than %zu bytes",
                          s->p.max_body_bytes);
        return;
    }
    if (!strcmp(method, "OPTIONS")) {
        srv_set_header(r, "Access-Control-Max-Age", "86400");
        srv_respond(r, 204, NULL, "", 0);
        return;
    }
    bool known;
    const route *rt = find_route(s, method, url, &known);
    if (!rt) {
        if (known) srv_respond_error(r, 405, "invalid_request_error", "method %s not allowed on %s", method, url);
        else srv_respond_error(r, 404, "invalid_request_error", "no route for %s %s", method, url);
        return;
    }
    r->path_rest = rt->prefix ? url + strlen(rt->path) : "";
    if (!rt->public_route && s->p.auth_hook) {
        if (!s->p.auth_hook(r, s->p.auth_ud)) return;
    } else if (!rt->public_route && !authorized(s, r)) {
        /* OpenAI's exact answer to a bad key, code included. */
        static const char body[] =
            "{\"error\":{\"message\":\"Incorrect API key provided: send a valid key as "
            "'Authorization: Bearer KEY' or 'x-api-key: KEY'\",\"type\":\"invalid_request_error\","
            "\"param\":null,\"code\":\"invalid_api_key\"}}";
        srv_set_header(r, "WWW-Authenticate", "Bearer");
        srv_respond(r, 401, "application/json", body, sizeof body - 1);
        return;
    }
    rt->fn(r, rt->ud);
    if (!r->responded && !r->stream)
        srv_respond_error(r, 500, "server_error", "handler for %s gave no response", url);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_size, void **con_cls) {
    server *s = cls;
    srv_req *r = *con_cls;
    if (!r) {
        r = mem_calloc(1, sizeof *r);
        if (!r) return MHD_NO;
        r->arena = arena_new(16 * 1024);
        if (!r->arena) {
            mem_free(r);
            return MHD_NO;
        }
        r->conn = conn;
        r->srv = s;
        r->method = method;
        r->path = url;
        r->t_start = time_now_ns();
        pthread_mutex_lock(&s->stats_mu);
        s->stats.in_flight++;
        pthread_mutex_unlock(&s->stats_mu);
        *con_cls = r;
        return MHD_YES;
    }
    if (*upload_size) {
        if (!r->too_large && r->body.len + *upload_size > s->p.max_body_bytes) r->too_large = true;
        if (!r->too_large && buf_append(&r->body, upload_data, *upload_size)) return MHD_NO;
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->stream) { /* resumed: the producer has something for us */
        srv_stream_poll(r);
        return MHD_YES;
    }
    if (r->responded) return MHD_YES;
    dispatch(s, r);
    if (r->stream) srv_stream_poll(r);
    return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    srv_req *r = *con_cls;
    if (!r) return;
    static const char *why[] = {"", " (error)", " (timeout)", " (shutdown)", " (read error)",
                                " (client gone)"};
    double secs = (double)(time_now_ns() - r->t_start) / 1e9;
    log_info("%s %s %d %.1f ms%s", r->method, r->path, r->status, secs * 1e3,
             (unsigned)toe < sizeof why / sizeof why[0] ? why[toe] : "");
    server *srv = r->srv;
    pthread_mutex_lock(&srv->stats_mu);
    srv->stats.in_flight--;
    srv->stats.requests++;
    srv->stats.seconds += secs;
    if (r->status >= 200 && r->status < 300) srv->stats.status_2xx++;
    else if (r->status >= 400 && r->status < 500) srv->stats.status_4xx++;
    else if (r->status >= 500 && r->status < 600) srv->stats.status_5xx++;
    else srv->stats.status_other++;
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK) srv->stats.client_gone++;
    pthread_mutex_unlock(&srv->stats_mu);
    if (r->stream) srv_stream_detach(r);
    buf_free(&r->body);
    arena_free(r->arena);
    mem_free(r);
    *con_cls = NULL;
}

int server_start(server *s, err_buf *eb) {
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    char port[16];
    snprintf(port, sizeof port, "%u", s->port);
    int gai = getaddrinfo(s->host[0] ? s->host : NULL, port, &hints, &ai);
    if (gai) return err_set(eb, BASE_EINVAL, "cannot resolve '%s': %s", s->host, gai_strerror(gai));
    /* With no host, prefer the IPv6 wildcard (dual-stack) if present, else the first. */
    struct addrinfo *pick = ai;
    if (!s->host[0])
        for (struct addrinfo *a = ai; a; a = a->ai_next)
            if (a->ai_family == AF_INET6) pick = a;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG |
                     MHD_ALLOW_SUSPEND_RESUME;
    if (pick->ai_family == AF_INET6) flags |= MHD_USE_IPv6 | MHD_USE_DUAL_STACK;
    s->mhd = MHD_start_daemon(flags, (uint16_t)s->port, NULL, NULL, on_request, s,
                              MHD_OPTION_SOCK_ADDR, pick->ai_addr,
                              MHD_OPTION_THREAD_POOL_SIZE, s->p.threads,
                              MHD_OPTION_CONNECTION_TIMEOUT, s->p.conn_timeout_s,
                              MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                              MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!s->mhd)
        return err_set(eb, BASE_EIO, "cannot listen on %s:%u (address in use or not permitted)",
                       s->host[0] ? s->host : "*", s->port);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
    if (info && info->port) s->port = info->port;
    return BASE_OK;
}

unsigned server_port(const server *s) { return s->port; }

void server_free(server *s) {
    if (!s) return;
    if (s->mhd) {
        /* Wake every waiting stream so no connection is left suspended when MHD stops. */
        srv_stream_close_all(s);
        MHD_stop_daemon(s->mhd);
    }
    for (int i = 0; i < s->n_routes; i++) mem_free(s->routes[i].path);
    pthread_mutex_destroy(&s->streams_mu);
    pthread_mutex_destroy(&s->stats_mu);
    mem_free(s);
}
