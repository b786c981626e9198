/*
 * The work queue of an encoder model: embeddings and rerank requests are parsed on the HTTP
 * thread, then queued here and run by one worker thread on the model's compute pool, which
 * answers the suspended request. One job at a time keeps the pool's single-user rule and
 * gives each request the whole pool; HTTP threads stay free for other requests.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"

struct api_encoder {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t th;
    tpool *pool;
    api_enc_job *head, *tail;
    int n_queued, cap;
    bool stop;
};

static void *worker(void *arg) {
    api_encoder *e = arg;
    pthread_mutex_lock(&e->mu);
    for (;;) {
        while (!e->head && !e->stop) pthread_cond_wait(&e->cv, &e->mu);
        api_enc_job *j = e->head;
        if (!j) break; /* stopping with an empty queue */
        e->head = j->next;
        if (!e->head) e->tail = NULL;
        e->n_queued--;
        pthread_mutex_unlock(&e->mu);
        j->run(j, e->pool);
        pthread_mutex_lock(&e->mu);
    }
    pthread_mutex_unlock(&e->mu);
    return NULL;
}

int api_encoder_new(int n_threads, int queue_cap, api_encoder **out, err_buf *eb) {
    api_encoder *e = mem_calloc(1, sizeof *e);
    if (!e) return err_set(eb, BASE_ENOMEM, "out of memory");
    e->cap = queue_cap > 0 ? queue_cap : 64;
    e->pool = n_threads > 1 ? tpool_new(n_threads) : NULL;
    if (n_threads > 1 && !e->pool) {
        mem_free(e);
        return err_set(eb, BASE_ENOMEM, "cannot start %d compute threads", n_threads);
    }
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->cv, NULL);
    if (pthread_create(&e->th, NULL, worker, e)) {
        pthread_cond_destroy(&e->cv);
        pthread_mutex_destroy(&e->mu);
        tpool_free(e->pool);
        mem_free(e);
        return err_set(eb, BASE_ENOMEM, "cannot start the encoder's worker thread");
    }
    *out = e;
    return 0;
}

void api_encoder_free(api_encoder *e) {
    if (!e) return;
    pthread_mutex_lock(&e->mu);
    e->stop = true;
    pthread_cond_signal(&e->cv);
    pthread_mutex_unlock(&e->mu);
    pthread_join(e->th, NULL);
    pthread_cond_destroy(&e->cv);
    pthread_mutex_destroy(&e->mu);
    tpool_free(e->pool);
    mem_free(e);
}

int api_encoder_submit(api_encoder *e, api_enc_job *j) {
    pthread_mutex_lock(&e->mu);
    if (e->n_queued >= e->cap) {
        pthread_mutex_unlock(&e->mu);
        return BASE_EBUSY;
    }
    j->next = NULL;
    if (e->tail) e->tail->next = j;
    else e->head = j;
    e->tail = j;
    e->n_queued++;
    pthread_cond_signal(&e->cv);
    pthread_mutex_unlock(&e->mu);
    return 0;
}

void api_stream_json(srv_stream *st, int status, const json_t *v) {
    char *s = json_dumps(v, JSON_COMPACT);
    if (s) srv_stream_respond(st, status, "application/json", s, strlen(s));
    free(s);
    srv_stream_end(st); /* never answered (out of memory): a 500 */
}

void api_stream_err(srv_stream *st, const api_err *e) {
    char *s = api_error_json(e);
    if (s) srv_stream_respond(st, e->status, "application/json", s, strlen(s));
    free(s);
    srv_stream_end(st);
}
