/*
 * Deferred and streamed responses. A stream sits between a producer on any thread and the
 * connection's HTTP thread: the producer appends bytes under the stream's lock and resumes
 * the connection; MHD's content reader takes the bytes, and suspends the connection when
 * there are none, so no HTTP thread ever waits for the producer. The request's completion
 * (the client went away, or all was sent) marks the stream closed and cancels the producer.
 * A stream is freed when its last holder (producer, request, MHD's reader) lets go.
 */
#include <stdio.h>
#include <string.h>

#include "server_int.h"

/* A stream is in its server's list only while its request lives (server_free must be able
 * to wake it); a producer may hold it longer, even past server_free, so nothing here
 * touches the server. */
static void stream_unref(srv_stream *st) {
    pthread_mutex_lock(&st->mu);
    bool last = --st->refs == 0;
    pthread_mutex_unlock(&st->mu);
    if (!last) return;
    buf_free(&st->data);
    pthread_mutex_destroy(&st->mu);
    mem_free(st);
}

srv_stream *srv_stream_begin(srv_req *r) {
    if (r->responded || r->stream) return NULL;
    srv_stream *st = mem_calloc(1, sizeof *st);
    if (!st) return NULL;
    pthread_mutex_init(&st->mu, NULL);
    st->refs = 2; /* the producer and the request */
    st->srv = r->srv;
    st->conn = r->conn;
    st->req = r;
    server *s = r->srv;
    pthread_mutex_lock(&s->streams_mu);
    /* A handler that outlived srv_stream_close_all (shutdown began while it ran) gets a
     * stream that is already closed: its connection must never be suspended again, since
     * MHD refuses to stop with suspended connections. */
    st->closed = s->streams_closed;
    st->next = s->streams;
    if (s->streams) s->streams->prev = st;
    s->streams = st;
    pthread_mutex_unlock(&s->streams_mu);
    r->stream = st;
    return st;
}

void srv_stream_on_cancel(srv_stream *st, void (*fn)(void *ud), void *ud) {
    pthread_mutex_lock(&st->mu);
    st->cancel = fn;
    st->cancel_ud = ud;
    bool gone = st->closed;
    pthread_mutex_unlock(&st->mu);
    if (gone && fn) fn(ud);
}

void srv_stream_set_tokens(srv_stream *st, long in, long out) {
    pthread_mutex_lock(&st->mu);
    if (st->req) st->req->tok_in = in, st->req->tok_out = out;
    pthread_mutex_unlock(&st->mu);
}

/* Wake the connection if it sleeps. Lock held. */
static void wake_locked(srv_stream *st) {
    if (st->suspended && st->conn) {
        st->suspended = false;
        MHD_resume_connection(st->conn);
    }
}

int srv_stream_respond(srv_stream *st, int status, const char *content_type, const char *body,
                       size_t len) {
    pthread_mutex_lock(&st->mu);
    int rc = BASE_OK;
    if (st->closed) rc = BASE_ECANCELED;
    else if (st->started || st->full) rc = BASE_EINTERNAL;
    else if (buf_append(&st->data, body, len)) rc = BASE_ENOMEM;
    if (!rc) {
        st->full = true;
        st->status = status;
        snprintf(st->content_type, sizeof st->content_type, "%s", content_type ? content_type : "");
        wake_locked(st);
    }
    pthread_mutex_unlock(&st->mu);
    return rc;
}

int srv_stream_start(srv_stream *st, int status, const char *content_type) {
    pthread_mutex_lock(&st->mu);
    int rc = st->closed ? BASE_ECANCELED : (st->started || st->full) ? BASE_EINTERNAL : BASE_OK;
    if (!rc) {
        st->started = true;
        st->status = status;
        snprintf(st->content_type, sizeof st->content_type, "%s", content_type ? content_type : "");
        wake_locked(st);
    }
    pthread_mutex_unlock(&st->mu);
    return rc;
}

int srv_stream_write(srv_stream *st, const void *data, size_t len) {
    pthread_mutex_lock(&st->mu);
    int rc = st->closed ? BASE_ECANCELED : !st->started ? BASE_EINTERNAL : BASE_OK;
    if (!rc && buf_append(&st->data, data, len)) rc = BASE_ENOMEM;
    if (!rc) wake_locked(st);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

void srv_stream_end(srv_stream *st) {
    pthread_mutex_lock(&st->mu);
    if (!st->started && !st->full && !st->closed) {
        static const char msg[] =
            "{\"error\":{\"message\":\"no response\",\"type\":\"server_error\",\"param\":null,"
            "\"code\":500}}";
        buf_append(&st->data, msg, sizeof msg - 1);
        st->full = true;
        st->status = 500;
        snprintf(st->content_type, sizeof st->content_type, "application/json");
    }
    st->ended = true;
    st->cancel = NULL; /* the producer's data behind cancel_ud may go away now */
    wake_locked(st);
    pthread_mutex_unlock(&st->mu);
    stream_unref(st);
}

/* MHD's content reader for a started stream. */
static ssize_t stream_read(void *cls, uint64_t pos, char *out, size_t max) {
    srv_stream *st = cls;
    pthread_mutex_lock(&st->mu);
    ssize_t n;
    size_t avail = st->data.len - st->off;
    if (avail) {
        n = (ssize_t)(avail < max ? avail : max);
        memcpy(out, st->data.data + st->off, (size_t)n);
        st->off += (size_t)n;
        if (st->off == st->data.len) st->off = st->data.len = 0;
    } else if (st->ended) {
        n = MHD_CONTENT_READER_END_OF_STREAM;
    } else if (st->closed || !st->conn) {
        n = MHD_CONTENT_READER_END_WITH_ERROR;
    } else {
        st->suspended = true;
        MHD_suspend_connection(st->conn);
        n = 0;
    }
    pthread_mutex_unlock(&st->mu);
    return n;
}

static void stream_reader_free(void *cls) { stream_unref(cls); }

void srv_stream_poll(srv_req *r) {
    srv_stream *st = r->stream;
    pthread_mutex_lock(&st->mu);
    if (st->queued) {
        pthread_mutex_unlock(&st->mu);
        return;
    }
    struct MHD_Response *resp = NULL;
    if (st->full) {
        resp = MHD_create_response_from_buffer(st->data.len, st->data.data, MHD_RESPMEM_MUST_COPY);
    } else if (st->started) {
        resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, stream_read, st,
                                                 stream_reader_free);
        if (resp) st->refs++;
    } else if (st->closed) {
        static const char msg[] = "{\"error\":{\"message\":\"the server is shutting down\","
                                  "\"type\":\"server_error\",\"param\":null,\"code\":503}}";
        resp = MHD_create_response_from_buffer(sizeof msg - 1, (void *)msg, MHD_RESPMEM_PERSISTENT);
        st->status = 503;
        snprintf(st->content_type, sizeof st->content_type, "application/json");
    } else {
        st->suspended = true;
        MHD_suspend_connection(r->conn);
        pthread_mutex_unlock(&st->mu);
        return;
    }
    st->queued = true;
    r->responded = true;
    r->status = st->status;
    pthread_mutex_unlock(&st->mu);
    if (!resp) return; /* out of memory: MHD closes the connection */
    if (r->stream->content_type[0])
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, st->content_type);
    if (st->started) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
        MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    }
    srv_add_headers(r, resp);
    MHD_queue_response(r->conn, (unsigned)st->status, resp);
    MHD_destroy_response(resp);
}

void srv_stream_detach(srv_req *r) {
    srv_stream *st = r->stream;
    pthread_mutex_lock(&st->mu);
    if (!st->closed && !st->ended && st->cancel) st->cancel(st->cancel_ud);
    st->closed = true;
    st->conn = NULL;
    st->req = NULL;
    st->suspended = false;
    pthread_mutex_unlock(&st->mu);
    server *s = st->srv;
    pthread_mutex_lock(&s->streams_mu);
    if (st->prev) st->prev->next = st->next;
    else s->streams = st->next;
    if (st->next) st->next->prev = st->prev;
    st->prev = st->next = NULL;
    pthread_mutex_unlock(&s->streams_mu);
    st->srv = NULL;
    r->stream = NULL;
    stream_unref(st);
}

void srv_stream_close_all(server *s) {
    pthread_mutex_lock(&s->streams_mu);
    s->streams_closed = true;
    for (srv_stream *st = s->streams; st; st = st->next) {
        pthread_mutex_lock(&st->mu);
        if (!st->closed && !st->ended && st->cancel) st->cancel(st->cancel_ud);
        st->closed = true;
        st->cancel = NULL;
        wake_locked(st);
        pthread_mutex_unlock(&st->mu);
    }
    pthread_mutex_unlock(&s->streams_mu);
}
