/*
 * sched: the per-model scheduler. One thread owns the model's slots (an engine session each,
 * sized at start); requests wait in a bounded queue until a slot is free. Each step the
 * thread samples every generating slot, then runs one forward pass (llm_decode_batch) over
 * their new tokens plus chunks of the prompts still being read: continuous batching, so the
 * weights are read once per step for all slots.
 *
 * A free slot keeps the tokens in its KV cache: a new request goes to the free slot whose
 * history shares the longest prefix with its prompt, and only the rest is decoded (with no
 * real match, to the least recently used slot, so useful histories live longer).
 *
 * What a request produces flows back as events in the job's own queue: the scheduler
 * allocates each event, the consumer frees it. notify (on the scheduler thread, no lock held)
 * says that events are waiting.
 *
 *   sched *s;
 *   sched_new(model, tokenizer, &sp, &s, &eb);
 *   sched_job_params jp = sched_job_default_params();
 *   jp.prompt = ids; jp.n_prompt = n; jp.max_tokens = 16;
 *   sched_job *j;
 *   if (sched_submit(s, &jp, &j, &eb) == BASE_EBUSY) ... 503 ...;
 *   for (sched_event *ev; sched_job_wait(j, 1000, &ev) == 0;) {
 *       ... ev->text ...; bool done = ev->kind != SCHED_EV_TOKEN;
 *       sched_event_free(ev); if (done) break;
 *   }
 *   sched_job_free(j);
 *   sched_free(s);
 */
#ifndef SCHED_H
#define SCHED_H

#include "engine/engine.h"
#include "sample/sample.h"
#include "tokenizer/tokenizer.h"

typedef struct sched sched;
typedef struct sched_job sched_job;

typedef struct sched_params {
    int n_slots;   /* requests decoded at once */
    int n_ctx;     /* context per slot; 0: the model's (capped by the engine) */
    int queue_cap; /* waiting requests at most; more get BASE_EBUSY */
    int n_threads; /* compute threads */
    int n_chunk;   /* prompt tokens read per slot per step (the batch bounds the sum) */
} sched_params;

sched_params sched_default_params(void);

/* model and t are borrowed and must outlive the scheduler. */
int sched_new(const llm_model *model, const tok *t, const sched_params *p, sched **out,
              err_buf *eb);
/* Stop the thread; jobs still running end with SCHED_FINISH_CANCELLED. NULL is fine. */
void sched_free(sched *s);
int sched_n_ctx(const sched *s);

typedef struct sched_job_params {
    const int32_t *prompt; /* copied */
    int n_prompt;
    smp_params sampling;   /* bias array copied */
    int max_tokens;        /* <= 0: until the context is full */
    const char *const *stops; /* copied; held back and never sent */
    int n_stops;
    int n_top_logprobs;    /* -1: no logprobs; 0..SMP_MAX_TOP alternatives */
    /* Constrain the output to this grammar (borrowed: it must outlive the job), or NULL. */
    const struct grammar *grammar;
    /* Render control tokens as their text (tool-call markers such as <|python_tag|> or
     * [TOOL_CALLS] are control tokens in many vocabularies). End-of-generation tokens still
     * end the job and are never rendered. */
    bool render_special;
    void (*notify)(void *ud);
    void *ud;
} sched_job_params;

sched_job_params sched_job_default_params(void);

typedef enum sched_event_kind {
    SCHED_EV_TOKEN = 1, /* a generated token and the text it released (may be empty) */
    SCHED_EV_DONE,      /* the end; text holds the last held-back text */
    SCHED_EV_ERROR,     /* the end, with a message in text */
} sched_event_kind;

typedef enum sched_finish {
    SCHED_FINISH_STOP = 1,  /* end-of-generation token or a stop string */
    SCHED_FINISH_LENGTH,    /* max_tokens or a full context */
    SCHED_FINISH_CANCELLED, /* sched_job_cancel or shutdown */
} sched_finish;

typedef struct sched_event {
    sched_event_kind kind;
    char *text; /* NUL-terminated, never NULL */
    size_t len;
    int32_t token;     /* TOKEN */
    bool has_logprobs; /* TOKEN, when asked */
    smp_logprobs lp;
    sched_finish finish; /* DONE */
    int n_prompt, n_cached, n_gen; /* DONE: prompt tokens (n_cached of them reused), generated */
    struct sched_event *next;
} sched_event;

/* Queue a request. BASE_EBUSY when the queue is full, BASE_EFULL when the prompt does not
 * fit the context, BASE_EINVAL for an empty prompt. On success *out is the consumer's
 * handle: free it with sched_job_free (from any thread except inside notify). */
int sched_submit(sched *s, const sched_job_params *p, sched_job **out, err_buf *eb);
/* The next event, or NULL when none is waiting. The caller frees it. */
sched_event *sched_job_pop(sched_job *j);
/* Wait up to timeout_ms for an event: 0 and *out, or BASE_ETIMEDOUT. */
int sched_job_wait(sched_job *j, int timeout_ms, sched_event **out);
void sched_event_free(sched_event *ev); /* NULL is fine */
/* Ask the scheduler to stop the job at its next step (it ends with a DONE event whose finish
 * is SCHED_FINISH_CANCELLED). Any thread, any time before sched_job_free. */
void sched_job_cancel(sched_job *j);
/* Cancel if still running, drop the pending events, and give up the handle. */
void sched_job_free(sched_job *j);

/* Counters for tests and metrics. */
typedef struct sched_stats {
    int active, queued;
    long completed;
    long prompt_tokens_reused;
} sched_stats;
void sched_get_stats(sched *s, sched_stats *out);

/* Process-wide totals over every scheduler (for /metrics). Counters only grow; queued and
 * active are the current numbers of waiting jobs and busy slots. */
typedef struct sched_metrics {
    long jobs_done, jobs_length, jobs_cancelled, jobs_failed; /* by how they ended */
    long prompt_tokens;        /* prompt tokens evaluated (not counting reused cache) */
    long prompt_tokens_cached; /* prompt tokens served from a slot's cache */
    long generated_tokens;
    long ttft_count;           /* jobs that produced a first token */
    double ttft_seconds;       /* sum over them of submit -> first token */
    long decode_calls, decode_rows;
    double decode_seconds;     /* time in forward passes */
    long queued, active;
} sched_metrics;
void sched_metrics_get(sched_metrics *out);

#endif
