/*
 * The scheduler thread and its slots. The lock guards only the queue, the slot table's
 * assignment and the counters; decoding and sampling run without it, so submitting never
 * waits for a forward pass. Jobs are shared by the scheduler and the consumer, each holding
 * one reference; events cross over in the job's own small queue.
 */
#include "sched.h"
#include "grammar/grammar.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

struct sched_job {
    atomic_int refs;
    atomic_bool cancelled;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    sched_event *head, *tail; /* events not yet taken by the consumer */
    sched_event *final;       /* the last event, allocated at submit so ending cannot fail */
    /* What the scheduler reads; fixed at submit. */
    int32_t *prompt;
    int n_prompt;
    smp_params sp;
    smp_bias *bias;
    int max_tokens;
    const grammar *grammar;
    bool render_special;
    char **stops;
    int n_stops;
    int n_top;
    void (*notify)(void *ud);
    void *ud;
    sched_job *next_queued;
    uint64_t t_submit; /* ns, for time to first token */
};

/* Process-wide metrics, under their own lock (updated a few times per step). */
static pthread_mutex_t g_metrics_mu = PTHREAD_MUTEX_INITIALIZER;
static sched_metrics g_metrics;
#define METRICS(stmt)                                                                      \
    do {                                                                                   \
        pthread_mutex_lock(&g_metrics_mu);                                                 \
        stmt;                                                                              \
        pthread_mutex_unlock(&g_metrics_mu);                                               \
    } while (0)

void sched_metrics_get(sched_metrics *out) { METRICS(*out = g_metrics); }

typedef struct slot {
    llm_session *sess;
    int32_t *hist; /* (n_ctx) the tokens in the KV cache */
    int n_hist;
    sched_job *job; /* NULL: free */
    /* Per-job state, set when a job is assigned. */
    smp *smp;
    smp_stop *stop;
    tok_decoder *dec;
    gstate *gs;  /* the job's grammar state, or NULL */
    int n_fed;   /* prompt tokens in the cache */
    int n_cached;
    int n_gen;
    int n_staged; /* tokens this step adds (hist[n_hist ..]) */
    uint64_t last_used; /* when it last took a job (sched.clock) */
    buf text;
} slot;

struct sched {
    sched_params p;
    const llm_model *model;
    const tok *tok;
    int n_vocab, n_ctx, n_batch;
    tpool *pool;
    slot *slots;
    llm_batch_item *items; /* (n_batch) one step's forward pass */
    pthread_t thread;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool quit;
    sched_job *q_head, *q_tail;
    int n_queued;
    uint64_t clock; /* counts slot assignments */
    sched_stats stats;
    gtrie *trie;    /* the vocabulary for grammars, built on first use (scheduler thread) */
};

sched_params sched_default_params(void) {
    return (sched_params){.n_slots = 1, .n_ctx = 0, .queue_cap = 64, .n_threads = 1,
                          .n_chunk = 256};
}

sched_job_params sched_job_default_params(void) {
    return (sched_job_params){.sampling = smp_default_params(), .n_top_logprobs = -1};
}

/* ---- jobs and events ---- */

static void job_unref(sched_job *j) {
    if (atomic_fetch_sub(&j->refs, 1) != 1) return;
    for (sched_event *e = j->head, *n; e; e = n) {
        n = e->next;
        sched_event_free(e);
    }
    sched_event_free(j->final);
    for (int i = 0; i < j->n_stops; i++) mem_free(j->stops[i]);
    mem_free(j->stops);
    mem_free(j->prompt);
    mem_free(j->bias);
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv);
    mem_free(j);
}

static sched_event *event_new(sched_event_kind kind, const char *text, size_t len) {
    sched_event *e = mem_calloc(1, sizeof *e);
    if (!e) return NULL;
    e->kind = kind;
    e->text = mem_strndup(text ? text : "", text ? len : 0);
    if (!e->text) {
        mem_free(e);
        return NULL;
    }
    e->len = text ? len : 0;
    return e;
}

void sched_event_free(sched_event *ev) {
    if (!ev) return;
    mem_free(ev->text);
    mem_free(ev);
}

/* Hand an event to the consumer (takes ownership) and tell it. */
static void job_push(sched_job *j, sched_event *e) {
    pthread_mutex_lock(&j->mu);
    if (j->tail) j->tail->next = e;
    else j->head = e;
    j->tail = e;
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
    if (j->notify) j->notify(j->ud);
}

/* Send the job's last event (DONE or ERROR) with text when it can be copied. */
static void job_end(sched_job *j, sched_event_kind kind, sched_finish finish, const char *text,
                    size_t len, int n_cached, int n_gen) {
    sched_event *e = j->final;
    j->final = NULL;
    char *copy = text ? mem_strndup(text, len) : NULL;
    if (copy) {
        mem_free(e->text);
        e->text = copy;
        e->len = len;
    }
    e->kind = kind;
    e->finish = finish;
    e->n_prompt = j->n_prompt;
    e->n_cached = n_cached;
    e->n_gen = n_gen;
    job_push(j, e);
}

sched_event *sched_job_pop(sched_job *j) {
    pthread_mutex_lock(&j->mu);
    sched_event *e = j->head;
    if (e) {
        j->head = e->next;
        if (!j->head) j->tail = NULL;
        e->next = NULL;
    }
    pthread_mutex_unlock(&j->mu);
    return e;
}

int sched_job_wait(sched_job *j, int timeout_ms, sched_event **out) {
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += timeout_ms / 1000;
    dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) dl.tv_sec++, dl.tv_nsec -= 1000000000L;
    pthread_mutex_lock(&j->mu);
    while (!j->head)
        if (pthread_cond_timedwait(&j->cv, &j->mu, &dl) == ETIMEDOUT) break;
    pthread_mutex_unlock(&j->mu);
    *out = sched_job_pop(j);
    return *out ? BASE_OK : BASE_ETIMEDOUT;
}

void sched_job_cancel(sched_job *j) { atomic_store(&j->cancelled, true); }

void sched_job_free(sched_job *j) {
    if (!j) return;
    sched_job_cancel(j);
    job_unref(j);
}

static char **copy_strings(const char *const *v, int n) {
    char **c = mem_calloc(n ? (size_t)n : 1, sizeof *c);
    for (int i = 0; c && i < n; i++)
        if (!(c[i] = mem_strdup(v[i] ? v[i] : ""))) {
            for (int k = 0; k < i; k++) mem_free(c[k]);
            mem_free(c);
            return NULL;
        }
    return c;
}

int sched_submit(sched *s, const sched_job_params *p, sched_job **out, err_buf *eb) {
    *out = NULL;
    if (p->n_prompt <= 0) return err_set(eb, BASE_EINVAL, "the prompt is empty");
    if (p->n_prompt >= s->n_ctx)
        return err_set(eb, BASE_EFULL,
                       "the prompt has %d tokens; this model's context holds %d", p->n_prompt,
                       s->n_ctx);
    sched_job *j = mem_calloc(1, sizeof *j);
    if (!j) return err_set(eb, BASE_ENOMEM, "out of memory");
    atomic_init(&j->refs, 2);
    atomic_init(&j->cancelled, false);
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv, NULL);
    j->prompt = mem_alloc((size_t)p->n_prompt * sizeof *j->prompt);
    j->stops = copy_strings(p->stops, p->n_stops);
    j->bias = p->sampling.n_bias ? mem_alloc((size_t)p->sampling.n_bias * sizeof *j->bias) : NULL;
    j->final = event_new(SCHED_EV_DONE, NULL, 0);
    if (!j->prompt || !j->stops || (p->sampling.n_bias && !j->bias) || !j->final) {
        atomic_store(&j->refs, 1);
        job_unref(j);
        return err_set(eb, BASE_ENOMEM, "out of memory");
    }
    memcpy(j->prompt, p->prompt, (size_t)p->n_prompt * sizeof *j->prompt);
    j->n_prompt = p->n_prompt;
    j->n_stops = p->n_stops;
    j->sp = p->sampling;
    if (j->bias) memcpy(j->bias, p->sampling.bias, (size_t)p->sampling.n_bias * sizeof *j->bias);
    j->sp.bias = j->bias;
    j->max_tokens = p->max_tokens;
    j->grammar = p->grammar;
    j->render_special = p->render_special;
    j->n_top = p->n_top_logprobs > SMP_MAX_TOP ? SMP_MAX_TOP : p->n_top_logprobs;
    j->notify = p->notify;
    j->ud = p->ud;

    pthread_mutex_lock(&s->mu);
    if (s->n_queued >= s->p.queue_cap || s->quit) {
        pthread_mutex_unlock(&s->mu);
        atomic_store(&j->refs, 1);
        job_unref(j);
        return err_set(eb, BASE_EBUSY, "the server is busy: %d requests are waiting",
                       s->p.queue_cap);
    }
    if (s->q_tail) s->q_tail->next_queued = j;
    else s->q_head = j;
    s->q_tail = j;
    s->n_queued++;
    j->t_submit = time_now_ns();
    METRICS(g_metrics.queued++);
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    *out = j;
    return BASE_OK;
}

/* ---- slots ---- */

static void slot_finish(sched *s, slot *sl, sched_event_kind kind, sched_finish finish,
                        const char *msg) {
    sched_job *j = sl->job;
    if (kind == SCHED_EV_DONE && finish != SCHED_FINISH_CANCELLED) {
        /* Release what was held back: a partial character, or text that might have begun
         * a stop string. */
        buf tail = {0};
        tok_decoder_flush(sl->dec, &tail);
        if (tail.len) smp_stop_feed(sl->stop, tail.data, tail.len, &sl->text);
        smp_stop_flush(sl->stop, &sl->text);
        buf_free(&tail);
    }
    /* Counted before the consumer can see the end, so stats never lag behind it. */
    pthread_mutex_lock(&s->mu);
    s->stats.active--;
    s->stats.completed++;
    pthread_mutex_unlock(&s->mu);
    METRICS(g_metrics.active--;
            if (kind != SCHED_EV_DONE) g_metrics.jobs_failed++;
            else if (finish == SCHED_FINISH_CANCELLED) g_metrics.jobs_cancelled++;
            else if (finish == SCHED_FINISH_LENGTH) g_metrics.jobs_length++;
            else g_metrics.jobs_done++);
    const char *text = kind == SCHED_EV_DONE ? sl->text.data : msg;
    job_end(j, kind, finish, text, kind == SCHED_EV_DONE ? sl->text.len : strlen(msg),
            sl->n_cached, sl->n_gen);
    smp_free(sl->smp);
    gstate_free(sl->gs);
    sl->gs = NULL;
    smp_stop_free(sl->stop);
    tok_decoder_free(sl->dec);
    buf_free(&sl->text);
    sl->smp = NULL, sl->stop = NULL, sl->dec = NULL;
    sl->job = NULL;
    job_unref(j);
}

static int common_prefix(const int32_t *a, int na, const int32_t *b, int nb) {
    int n = na < nb ? na : nb, i = 0;
    while (i < n && a[i] == b[i]) i++;
    return i;
}

/* Give job j to the free slot whose history shares the longest prefix with its prompt, and
 * set the slot up. When no history shares more than a token (BOS), take the least recently
 * used slot instead, so a long-lived history (a system prompt) is not overwritten for
 * nothing. Called with the lock held. Returns false when no slot is free. */
static bool slot_assign(sched *s, sched_job *j) {
    slot *best = NULL, *lru = NULL;
    int best_len = -1;
    for (int i = 0; i < s->p.n_slots; i++) {
        slot *sl = &s->slots[i];
        if (sl->job) continue;
        int l = common_prefix(sl->hist, sl->n_hist, j->prompt, j->n_prompt);
        if (l > best_len) best = sl, best_len = l;
        if (!lru || sl->last_used < lru->last_used) lru = sl;
    }
    if (best_len <= 1 && lru) {
        best = lru;
        best_len = common_prefix(lru->hist, lru->n_hist, j->prompt, j->n_prompt);
    }
    if (!best) return false;
    /* At least the last prompt token is decoded again: its logits start the generation. */
    int keep = best_len < j->n_prompt ? best_len : j->n_prompt - 1;
    llm_session_truncate(best->sess, keep);
    best->n_hist = keep;
    best->n_fed = keep;
    best->n_cached = keep;
    best->n_gen = 0;
    best->last_used = ++s->clock;
    best->text = (buf){0};
    best->job = j;
    s->stats.prompt_tokens_reused += keep;
    METRICS(g_metrics.prompt_tokens_cached += keep);
    return true;
}

/* Set up the sampler, stop filter and decoder of a newly assigned slot (no lock held). */
static int slot_begin(sched *s, slot *sl, err_buf *eb) {
    sched_job *j = sl->job;
    int rc = smp_new(&j->sp, s->n_vocab, &sl->smp, eb);
    if (rc) return rc;
    if (j->grammar) {
        if (!s->trie && (rc = gtrie_build(s->tok, &s->trie, eb))) return rc;
        if (!(sl->gs = gstate_new(j->grammar))) return err_set(eb, BASE_ENOMEM, "out of memory");
    }
    if (smp_stop_new((const char *const *)j->stops, j->n_stops, &sl->stop) ||
        !(sl->dec = tok_decoder_new(s->tok, j->render_special)))
        return err_set(eb, BASE_ENOMEM, "out of memory");
    for (int i = 0; i < j->n_prompt; i++) smp_accept(sl->smp, j->prompt[i]);
    /* Prime the decoder with the last prompt token so that the first generated piece keeps
     * its leading space (the decoder drops the space only at the start of a text). */
    buf skip = {0};
    tok_decoder_push(sl->dec, j->prompt[j->n_prompt - 1], &skip);
    buf_free(&skip);
    return BASE_OK;
}

/* Sample the next token of a slot whose last decode left logits, and pass its text on.
 * Returns the token to decode next, or -1 when the job has ended. */
static int32_t slot_sample(sched *s, slot *sl) {
    sched_job *j = sl->job;
    smp_logprobs lp;
    int32_t t;
    if (sl->gs) {
        /* Tokens that may still come, this one included: the grammar is kept completable. */
        int left = s->n_ctx - sl->n_hist;
        if (j->max_tokens > 0 && j->max_tokens - sl->n_gen < left) left = j->max_tokens - sl->n_gen;
        if (grammar_sample(sl->gs, s->trie, sl->smp, llm_logits(sl->sess, -1), left,
                           j->n_top >= 0 ? &lp : NULL, j->n_top >= 0 ? j->n_top : 0, &t)) {
            slot_finish(s, sl, SCHED_EV_DONE, SCHED_FINISH_STOP, NULL);
            return -1;
        }
        if (!tok_is_eog(s->tok, t) && gstate_accept_token(sl->gs, s->trie, t)) {
            slot_finish(s, sl, SCHED_EV_ERROR, 0, "the grammar could not accept the sampled token");
            return -1;
        }
    } else {
        t = smp_sample(sl->smp, llm_logits(sl->sess, -1), j->n_top >= 0 ? &lp : NULL,
                       j->n_top >= 0 ? j->n_top : 0);
    }
    smp_accept(sl->smp, t);
    if (tok_is_eog(s->tok, t)) {
        slot_finish(s, sl, SCHED_EV_DONE, SCHED_FINISH_STOP, NULL);
        return -1;
    }
    sl->n_gen++;
    if (sl->n_gen == 1) {
        double ttft = (double)(time_now_ns() - j->t_submit) / 1e9;
        METRICS(g_metrics.ttft_count++; g_metrics.ttft_seconds += ttft);
    }
    METRICS(g_metrics.generated_tokens++);
    buf piece = {0}, out = {0};
    tok_decoder_push(sl->dec, t, &piece);
    bool stopped = piece.len && smp_stop_feed(sl->stop, piece.data, piece.len, &out);
    buf_free(&piece);
    sched_event *e = event_new(SCHED_EV_TOKEN, out.data, out.len);
    buf_free(&out);
    if (e) {
        e->token = t;
        e->has_logprobs = j->n_top >= 0;
        if (e->has_logprobs) e->lp = lp;
        job_push(j, e);
    }
    if (stopped) {
        slot_finish(s, sl, SCHED_EV_DONE, SCHED_FINISH_STOP, NULL);
        return -1;
    }
    if ((j->max_tokens > 0 && sl->n_gen >= j->max_tokens) || sl->n_hist >= s->n_ctx) {
        slot_finish(s, sl, SCHED_EV_DONE, SCHED_FINISH_LENGTH, NULL);
        return -1;
    }
    return t;
}

/* One step for every active slot, as one forward pass: first each generating slot samples
 * and adds its token, then prompts fill the rest of the batch in chunks. The tokens each
 * slot adds are staged in its history past n_hist, and kept only if the pass succeeds. */
static void sched_step(sched *s) {
    int n = 0, n_prompt_rows = 0;
    for (int i = 0; i < s->p.n_slots; i++) {
        slot *sl = &s->slots[i];
        sl->n_staged = 0;
        if (!sl->job) continue;
        if (atomic_load(&sl->job->cancelled)) {
            slot_finish(s, sl, SCHED_EV_DONE, SCHED_FINISH_CANCELLED, NULL);
            continue;
        }
        if (sl->n_fed < sl->job->n_prompt) continue;
        int32_t t = slot_sample(s, sl);
        if (t < 0) continue;
        s->items[n++] = (llm_batch_item){sl->sess, t, true};
        sl->hist[sl->n_hist] = t;
        sl->n_staged = 1;
    }
    for (int i = 0; i < s->p.n_slots && n < s->n_batch; i++) {
        slot *sl = &s->slots[i];
        if (!sl->job || sl->n_fed >= sl->job->n_prompt) continue;
        sched_job *j = sl->job;
        int k = j->n_prompt - sl->n_fed;
        if (k > s->p.n_chunk) k = s->p.n_chunk;
        if (k > s->n_batch - n) k = s->n_batch - n;
        for (int q = 0; q < k; q++) {
            int32_t t = j->prompt[sl->n_fed + q];
            s->items[n++] = (llm_batch_item){sl->sess, t, sl->n_fed + q == j->n_prompt - 1};
            sl->hist[sl->n_hist + q] = t;
        }
        sl->n_staged = k;
        n_prompt_rows += k;
    }
    if (n == 0) return;
    err_buf eb = {0};
    uint64_t t0 = time_now_ns();
    int rc = llm_decode_batch(s->items, n, &eb);
    double dt = (double)(time_now_ns() - t0) / 1e9;
    METRICS(g_metrics.decode_calls++; g_metrics.decode_rows += n; g_metrics.decode_seconds += dt;
            if (!rc) g_metrics.prompt_tokens += n_prompt_rows);
    for (int i = 0; i < s->p.n_slots; i++) {
        slot *sl = &s->slots[i];
        if (!sl->n_staged) continue;
        if (rc) {
            slot_finish(s, sl, SCHED_EV_ERROR, 0, err_msg(&eb));
            continue;
        }
        if (sl->n_fed < sl->job->n_prompt) sl->n_fed += sl->n_staged;
        sl->n_hist += sl->n_staged;
    }
}

static void *sched_main(void *arg) {
    sched *s = arg;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        /* Admit waiting jobs into free slots; collect the new ones to set up. */
        slot *fresh[64];
        int n_fresh = 0;
        while (!s->quit && s->q_head && n_fresh < 64) {
            sched_job *j = s->q_head;
            if (!slot_assign(s, j)) break;
            s->q_head = j->next_queued;
            if (!s->q_head) s->q_tail = NULL;
            s->n_queued--;
            s->stats.active++;
            METRICS(g_metrics.queued--; g_metrics.active++);
            for (int i = 0; i < s->p.n_slots; i++)
                if (s->slots[i].job == j) fresh[n_fresh++] = &s->slots[i];
        }
        bool any = s->stats.active > 0;
        if (s->quit) {
            pthread_mutex_unlock(&s->mu);
            break;
        }
        if (!any) {
            pthread_cond_wait(&s->cv, &s->mu);
            pthread_mutex_unlock(&s->mu);
            continue;
        }
        pthread_mutex_unlock(&s->mu);
        for (int i = 0; i < n_fresh; i++) {
            err_buf eb = {0};
            if (slot_begin(s, fresh[i], &eb)) slot_finish(s, fresh[i], SCHED_EV_ERROR, 0, err_msg(&eb));
        }
        sched_step(s);
    }
    return NULL;
}

int sched_new(const llm_model *model, const tok *t, const sched_params *p, sched **out,
              err_buf *eb) {
    sched *s = mem_calloc(1, sizeof *s);
    if (!s) return err_set(eb, BASE_ENOMEM, "out of memory");
    s->p = *p;
    if (s->p.n_slots < 1) s->p.n_slots = 1;
    if (s->p.n_chunk < 1) s->p.n_chunk = 256;
    if (s->p.queue_cap < 1) s->p.queue_cap = 1;
    s->model = model;
    s->tok = t;
    s->n_vocab = llm_model_hparams(model)->n_vocab;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    int rc = BASE_OK;
    s->pool = tpool_new(p->n_threads > 0 ? p->n_threads : 1);
    s->slots = mem_calloc((size_t)s->p.n_slots, sizeof *s->slots);
    if (!s->pool || !s->slots) rc = err_set(eb, BASE_ENOMEM, "out of memory");
    llm_session_params lp = llm_session_default_params();
    lp.n_ctx = p->n_ctx;
    lp.n_seq = s->p.n_slots; /* any slot's session may drive a step's batch */
    for (int i = 0; !rc && i < s->p.n_slots; i++) {
        slot *sl = &s->slots[i];
        rc = llm_session_new(model, &lp, s->pool, &sl->sess, eb);
        if (rc) break;
        s->n_ctx = llm_session_n_ctx(sl->sess);
        s->n_batch = lp.n_batch < s->n_ctx ? lp.n_batch : s->n_ctx;
        sl->hist = mem_alloc((size_t)s->n_ctx * sizeof *sl->hist);
        if (!sl->hist) rc = err_set(eb, BASE_ENOMEM, "out of memory");
    }
    if (!rc && s->p.n_slots > s->n_batch)
        rc = err_set(eb, BASE_EINVAL, "%d slots do not fit one batch of %d tokens", s->p.n_slots,
                     s->n_batch);
    if (!rc && !(s->items = mem_alloc((size_t)s->n_batch * sizeof *s->items)))
        rc = err_set(eb, BASE_ENOMEM, "out of memory");
    if (!rc && pthread_create(&s->thread, NULL, sched_main, s))
        rc = err_set(eb, BASE_EIO, "cannot start the scheduler thread");
    if (rc) {
        sched_free(s);
        return rc;
    }
    s->started = true;
    *out = s;
    return BASE_OK;
}

void sched_free(sched *s) {
    if (!s) return;
    if (s->started) {
        pthread_mutex_lock(&s->mu);
        s->quit = true;
        pthread_cond_signal(&s->cv);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->thread, NULL);
    }
    /* Whatever is still running or waiting ends as cancelled. */
    for (int i = 0; s->slots && i < s->p.n_slots; i++)
        if (s->slots[i].job) slot_finish(s, &s->slots[i], SCHED_EV_DONE, SCHED_FINISH_CANCELLED, NULL);
    for (sched_job *j = s->q_head, *n; j; j = n) {
        n = j->next_queued;
        METRICS(g_metrics.queued--; g_metrics.jobs_cancelled++);
        job_end(j, SCHED_EV_DONE, SCHED_FINISH_CANCELLED, NULL, 0, 0, 0);
        job_unref(j);
    }
    for (int i = 0; s->slots && i < s->p.n_slots; i++) {
        llm_session_free(s->slots[i].sess);
        mem_free(s->slots[i].hist);
    }
    mem_free(s->slots);
    mem_free(s->items);
    gtrie_free(s->trie);
    tpool_free(s->pool);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    mem_free(s);
}

int sched_n_ctx(const sched *s) { return s->n_ctx; }

void sched_get_stats(sched *s, sched_stats *out) {
    pthread_mutex_lock(&s->mu);
    *out = s->stats;
    out->queued = s->n_queued;
    pthread_mutex_unlock(&s->mu);
}
