/* server: internals shared by server.c (daemon, routing, requests) and stream.c (deferred
 * and streamed responses). */
#ifndef SERVER_INT_H
#define SERVER_INT_H

#include <microhttpd.h>
#include <pthread.h>

#include "server.h"

#define MAX_ROUTES 128
#define MAX_RESP_HEADERS 16

typedef struct route {
    char method[8];
    char *path;
    bool prefix;
    bool public_route;
    srv_handler fn;
    void *ud;
} route;

struct server {
    server_params p;
    char host[256];
    unsigned port;
    struct MHD_Daemon *mhd;
    route routes[MAX_ROUTES];
    int n_routes;
    pthread_mutex_t streams_mu; /* guards the list of live streams (for shutdown) */
    srv_stream *streams;
    bool streams_closed; /* shutting down: a stream begun now is closed at once */
    pthread_mutex_t stats_mu;
    server_stats stats;
};

struct srv_req {
    struct MHD_Connection *conn;
    server *srv;
    arena *arena;
    const char *method, *path, *path_rest;
    buf body;
    bool too_large;
    bool responded;
    int status;
    uint64_t t_start;
    srv_stream *stream; /* set by srv_stream_begin */
    void *user;         /* set by the auth hook */
    long tok_in, tok_out; /* for the request log; tok_in < 0: not reported */
    int n_headers;
    const char *hdr_name[MAX_RESP_HEADERS], *hdr_value[MAX_RESP_HEADERS];
};

struct srv_stream {
    pthread_mutex_t mu;
    int refs;                     /* producer, request, and MHD's reader while it exists */
    server *srv;
    srv_stream *prev, *next;      /* in srv->streams while the request lives */
    struct MHD_Connection *conn;  /* NULL once the request is over */
    srv_req *req;                 /* likewise */
    bool suspended, closed, ended, started, full, queued;
    int status;
    char content_type[64];
    buf data;                     /* bytes written but not yet sent (from off) */
    size_t off;
    void (*cancel)(void *ud);
    void *cancel_ud;
};

/* The common response headers (CORS and those set by the handler). */
void srv_add_headers(srv_req *r, struct MHD_Response *resp);
/* Called by on_request for a request handed to a stream: queue its response when one is
 * ready, or suspend the connection until the producer has one. */
void srv_stream_poll(srv_req *r);
/* The request is over (client gone or response sent). */
void srv_stream_detach(srv_req *r);
/* Server shutdown: mark every live stream closed and wake its connection. */
void srv_stream_close_all(server *s);

#endif
