/*
 * server: HTTP glue on libmicrohttpd. It knows routes, not models: each route maps a method
 * and a path to a handler in api/ (or cli/ for the health checks).
 *
 *   server_params p = server_default_params();
 *   p.address = "127.0.0.1:8080";
 *   server *s;
 *   if (server_new(&p, &s, &eb)) ...;
 *   server_route(s, "GET", "/healthz", on_health, NULL);
 *   if (server_start(s, &eb)) ...;
 *   ... wait for a signal ...
 *   server_free(s);   // stops, waits for in-flight requests
 *
 * A handler runs on an HTTP thread once the whole body has arrived, and must answer with
 * exactly one srv_respond* call before it returns, or hand the request off with
 * srv_stream_begin and answer later from any thread (generation, SSE). Request memory comes
 * from the request's arena (srv_req_arena) and is freed when the response has been sent.
 *
 * Every route but the public ones needs one of the API keys when keys are set
 * (Authorization: Bearer KEY, or x-api-key: KEY), or passes the auth hook when one is set
 * (api/access.c: users, keys and limits); every response carries the CORS headers and
 * OPTIONS is answered as a preflight. Each request is logged at info level when it ends.
 */
#ifndef SERVER_H
#define SERVER_H

#include "base/base.h"

typedef struct server server;
typedef struct srv_req srv_req;
typedef void (*srv_handler)(srv_req *req, void *ud);

typedef struct server_params {
    const char *address;   /* "host:port", ":port" (all interfaces), "[v6]:port"; port 0 picks one */
    unsigned threads;      /* HTTP worker threads */
    size_t max_body_bytes; /* larger bodies get 413 */
    unsigned conn_timeout_s;
    const char *const *api_keys; /* borrowed; n_api_keys == 0: no key needed */
    int n_api_keys;
    const char *cors_origin;     /* Access-Control-Allow-Origin; NULL: no CORS headers */
    /* Called before every non-public route's handler instead of the api_keys check: returns
     * true to go on, or false after answering the request itself (401, 403, 429). */
    bool (*auth_hook)(srv_req *r, void *ud);
    void *auth_ud;
} server_params;

server_params server_default_params(void);

/* Parse an address into host and port. host is "" for all interfaces. */
int server_parse_address(const char *addr, char *host, size_t host_cap, unsigned *port,
                         err_buf *eb);

int server_new(const server_params *p, server **out, err_buf *eb);
/* path is exact, or a prefix when it ends in '*'. Routes are matched in the order added. */
int server_route(server *s, const char *method, const char *path, srv_handler h, void *ud);
/* The same for a route that never needs an API key (health probes). */
int server_route_public(server *s, const char *method, const char *path, srv_handler h,
                        void *ud);
int server_start(server *s, err_buf *eb);
/* The port actually bound (useful with port 0). */
unsigned server_port(const server *s);
/* Stop accepting, finish in-flight requests, free everything. NULL is fine. */
void server_free(server *s);

/* Request counters since start (for /metrics). */
typedef struct server_stats {
    long requests;                         /* finished requests */
    long status_2xx, status_4xx, status_5xx, status_other;
    long client_gone;                      /* connections that ended early */
    double seconds;                        /* sum of request durations */
    long in_flight;                        /* requests being served now */
} server_stats;
void server_get_stats(server *s, server_stats *out);

/* ---- inside a handler ---- */
const char *srv_req_method(const srv_req *r);
const char *srv_req_path(const srv_req *r);
/* A request header (case-insensitive name), NULL when absent. */
const char *srv_req_header(const srv_req *r, const char *name);
/* A query-string argument, NULL when absent. */
const char *srv_req_query(const srv_req *r, const char *key);
/* The request body; empty when there is none. Borrowed until the response is sent. */
str_slice srv_req_body(const srv_req *r);
arena *srv_req_arena(srv_req *r);
/* The server this request arrived on. */
server *srv_req_server(srv_req *r);
/* The client's address as text ("127.0.0.1", "::1") into out[cap]; "" when unknown. */
void srv_req_client_ip(const srv_req *r, char *out, size_t cap);
/* Who is calling, as the auth hook attached it (borrowed; lives as long as the request). */
void srv_req_set_user(srv_req *r, void *user);
void *srv_req_user(const srv_req *r);

/* Add a response header (call before srv_respond). Copies both strings. */
int srv_set_header(srv_req *r, const char *name, const char *value);
/* Send a complete response; body is copied. */
int srv_respond(srv_req *r, int status, const char *content_type, const char *body, size_t len);
/* An error in OpenAI's shape: {"error":{"message":...,"type":...,"param":null,"code":status}}. */
int srv_respond_error(srv_req *r, int status, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The part of the path after a prefix route's prefix ("" for an exact route). */
const char *srv_req_path_rest(const srv_req *r);

/* ---- answering later: deferred and streamed responses ----
 *
 * srv_stream_begin takes the request off the handler's hands: the handler returns without
 * responding, and the connection waits (suspended, holding no thread) until the producer
 * answers from any thread, either with srv_stream_respond (a complete response) or with
 * srv_stream_start and srv_stream_write (chunked, e.g. SSE). The producer always finishes
 * with srv_stream_end, after which it must not touch the stream.
 *
 * When the client goes away first, the cancel callback runs once (on an HTTP thread, under
 * the stream's lock: keep it short and call no srv_stream_* from it), and later writes
 * return BASE_ECANCELED. */
typedef struct srv_stream srv_stream;

/* NULL when out of memory (the handler should then respond itself). */
srv_stream *srv_stream_begin(srv_req *r);
void srv_stream_on_cancel(srv_stream *st, void (*fn)(void *ud), void *ud);
int srv_stream_respond(srv_stream *st, int status, const char *content_type, const char *body,
                       size_t len);
int srv_stream_start(srv_stream *st, int status, const char *content_type);
int srv_stream_write(srv_stream *st, const void *data, size_t len);
/* Done: a stream never answered gets a 500. Releases the producer's reference. */
void srv_stream_end(srv_stream *st);

#endif
