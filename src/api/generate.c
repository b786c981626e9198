/*
 * The generation driver shared by chat and completions: it submits one scheduler job per
 * choice, turns the jobs' events into OpenAI's response (SSE chunks as they come, or one
 * JSON body at the end) and frees everything when the last job ends.
 *
 * Events are handled in notify, on the model's scheduler thread: every job of a request
 * runs on the same scheduler, so notify calls for one request never overlap; the lock only
 * keeps them out while the handler is still submitting. A client that goes away cancels the
 * jobs (through the stream's cancel callback); the request still ends through notify.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "chat/chat.h"
#include "grammar/grammar.h"

typedef struct choice {
    sched_job *job;
    int index, prompt_i;
    buf text;
    json_t *lp; /* chat: the "content" array; completions: the logprobs object */
    size_t text_off;
    sched_finish finish;
    bool done, failed;
    int n_prompt, n_cached, n_gen;
    chat_parser *parser; /* chat: splits content, reasoning and tool calls */
} choice;

typedef struct gen {
    pthread_mutex_t mu;
    api_kind kind;
    bool stream, include_usage;
    char id[48];
    int64_t created;
    char *model_name;
    mdl_handle *h;
    const tok *tok;
    srv_stream *st;
    int n_choices, n_live;
    choice *ch;
    char **echo; /* completions with echo: the prompt text per prompt */
    api_err err;
    bool failed;
    bool started; /* the SSE response has begun */
    json_t *tools; /* chat: the request's tools (the parsers borrow them) */
    struct grammar *grammar; /* the jobs borrow it */
    auth_ticket *ticket;     /* the tokens reserved; settled in gen_finish */
} gen;

/* ---- response pieces ---- */

static const char *finish_name(sched_finish f) {
    return f == SCHED_FINISH_LENGTH ? "length" : "stop";
}

/* A chat choice that produced complete tool calls finishes with "tool_calls" (also when the
 * token limit came right after them: a required call's grammar always closes in time). */
static const char *choice_finish(const choice *c) {
    if (c->parser && c->finish != SCHED_FINISH_CANCELLED && chat_parser_tool_call_count(c->parser))
        return "tool_calls";
    return finish_name(c->finish);
}

static json_t *base_object(gen *g, const char *object) {
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(g->id));
    json_object_set_new(o, "object", json_string(object));
    json_object_set_new(o, "created", json_integer(g->created));
    json_object_set_new(o, "model", json_string(g->model_name));
    json_object_set_new(o, "system_fingerprint", json_string(API_FINGERPRINT));
    return o;
}

static void usage_totals(const gen *g, long *prompt, long *cached, long *completion) {
    *prompt = *cached = *completion = 0;
    for (int i = 0; i < g->n_choices; i++) {
        /* Each prompt counts once, however many choices it has. */
        bool first = true;
        for (int k = 0; k < i; k++) first &= g->ch[k].prompt_i != g->ch[i].prompt_i;
        if (first) *prompt += g->ch[i].n_prompt, *cached += g->ch[i].n_cached;
        *completion += g->ch[i].n_gen;
    }
}

static json_t *usage_object(gen *g) {
    long prompt, cached, completion;
    usage_totals(g, &prompt, &cached, &completion);
    json_t *u = json_object();
    json_object_set_new(u, "prompt_tokens", json_integer(prompt));
    json_object_set_new(u, "completion_tokens", json_integer(completion));
    json_object_set_new(u, "total_tokens", json_integer(prompt + completion));
    /* Prompt tokens whose KV cache a slot still held from an earlier request. */
    json_t *details = json_object();
    json_object_set_new(details, "cached_tokens", json_integer(cached));
    json_object_set_new(u, "prompt_tokens_details", details);
    return u;
}

static json_t *token_text(gen *g, int32_t id) {
    buf b = {0};
    tok_token_bytes(g->tok, id, false, &b);
    json_t *s = api_json_string(b.data ? b.data : "", b.len);
    buf_free(&b);
    return s;
}

static json_t *token_bytes(gen *g, int32_t id) {
    buf b = {0};
    tok_token_bytes(g->tok, id, false, &b);
    json_t *a = json_array();
    for (size_t i = 0; i < b.len; i++) json_array_append_new(a, json_integer((unsigned char)b.data[i]));
    buf_free(&b);
    return a;
}

/* Chat: one entry of logprobs.content. */
static json_t *chat_logprob(gen *g, const smp_logprobs *lp) {
    json_t *e = json_object();
    json_object_set_new(e, "token", token_text(g, lp->token));
    json_object_set_new(e, "logprob", json_real(lp->logprob));
    json_object_set_new(e, "bytes", token_bytes(g, lp->token));
    json_t *top = json_array();
    for (int i = 0; i < lp->n_top; i++) {
        json_t *t = json_object();
        json_object_set_new(t, "token", token_text(g, lp->top_token[i]));
        json_object_set_new(t, "logprob", json_real(lp->top_logprob[i]));
        json_object_set_new(t, "bytes", token_bytes(g, lp->top_token[i]));
        json_array_append_new(top, t);
    }
    json_object_set_new(e, "top_logprobs", top);
    return e;
}

/* Completions: append one token to a {tokens, token_logprobs, top_logprobs, text_offset}. */
static void completion_logprob(gen *g, json_t *obj, const smp_logprobs *lp, size_t offset) {
    json_array_append_new(json_object_get(obj, "tokens"), token_text(g, lp->token));
    json_array_append_new(json_object_get(obj, "token_logprobs"), json_real(lp->logprob));
    json_t *top = json_object();
    for (int i = 0; i < lp->n_top; i++) {
        json_t *k = token_text(g, lp->top_token[i]);
        json_object_set_new(top, json_string_value(k), json_real(lp->top_logprob[i]));
        json_decref(k);
    }
    json_array_append_new(json_object_get(obj, "top_logprobs"), top);
    json_array_append_new(json_object_get(obj, "text_offset"), json_integer((json_int_t)offset));
}

static json_t *completion_logprobs_new(void) {
    json_t *o = json_object();
    json_object_set_new(o, "tokens", json_array());
    json_object_set_new(o, "token_logprobs", json_array());
    json_object_set_new(o, "top_logprobs", json_array());
    json_object_set_new(o, "text_offset", json_array());
    return o;
}

/* ---- streaming ---- */

static void stream_send(gen *g, json_t *chunk) {
    buf b = {0};
    api_sse_event(&b, chunk);
    if (!b.oom) srv_stream_write(g->st, b.data, b.len);
    buf_free(&b);
    json_decref(chunk);
}

/* One chunk for choice c: text (may be NULL), a logprobs value (stolen, may be NULL), and a
 * finish reason (NULL while running). */
static void stream_chunk(gen *g, choice *c, const char *text, size_t len, json_t *lp,
                         const char *finish, bool role) {
    bool chat = g->kind == API_CHAT;
    json_t *o = base_object(g, chat ? "chat.completion.chunk" : "text_completion");
    json_t *ch = json_object();
    json_object_set_new(ch, "index", json_integer(c->index));
    if (chat) {
        json_t *delta = json_object();
        if (role) json_object_set_new(delta, "role", json_string("assistant"));
        if (text) json_object_set_new(delta, "content", api_json_string(text, len));
        json_object_set_new(ch, "delta", delta);
        if (lp) {
            json_t *l = json_object();
            json_t *arr = json_array();
            json_array_append_new(arr, lp);
            json_object_set_new(l, "content", arr);
            lp = l;
        }
    } else {
        json_object_set_new(ch, "text", api_json_string(text ? text : "", text ? len : 0));
    }
    json_object_set_new(ch, "logprobs", lp ? lp : json_null());
    json_object_set_new(ch, "finish_reason", finish ? json_string(finish) : json_null());
    json_t *arr = json_array();
    json_array_append_new(arr, ch);
    json_object_set_new(o, "choices", arr);
    stream_send(g, o);
}

/* A chat chunk whose delta is given (stolen), with optional logprobs (stolen). */
static void stream_delta(gen *g, choice *c, json_t *delta, json_t *lp) {
    json_t *o = base_object(g, "chat.completion.chunk");
    json_t *ch = json_object();
    json_object_set_new(ch, "index", json_integer(c->index));
    json_object_set_new(ch, "delta", delta);
    if (lp) {
        json_t *l = json_object(), *arr = json_array();
        json_array_append_new(arr, lp);
        json_object_set_new(l, "content", arr);
        lp = l;
    }
    json_object_set_new(ch, "logprobs", lp ? lp : json_null());
    json_object_set_new(ch, "finish_reason", json_null());
    json_t *arr = json_array();
    json_array_append_new(arr, ch);
    json_object_set_new(o, "choices", arr);
    stream_send(g, o);
}

/* Chat text goes through the choice's parser; its events become deltas when streaming (the
 * parser keeps the totals for a plain response). at_end: flush what it holds back. */
static void chat_text(gen *g, choice *c, const char *text, size_t len, json_t *lp, bool at_end) {
    const chat_event *evs = NULL;
    size_t n = 0;
    err_buf eb = {0};
    if (len) chat_parser_feed(c->parser, text, len, &evs, &n, &eb);
    if (g->stream) {
        for (size_t i = 0; i < n; i++) {
            stream_delta(g, c, chat_delta_json(&evs[i]), lp);
            lp = NULL;
        }
    }
    if (at_end) {
        chat_parser_finish(c->parser, &evs, &n, &eb);
        if (g->stream)
            for (size_t i = 0; i < n; i++) {
                stream_delta(g, c, chat_delta_json(&evs[i]), lp);
                lp = NULL;
            }
    }
    /* Logprobs of a token whose text is still held back travel in an empty delta. */
    if (lp) {
        if (g->stream) stream_delta(g, c, json_object(), lp);
        else json_decref(lp);
    }
}

/* ---- events ---- */

static void on_token(gen *g, choice *c, const sched_event *ev) {
    json_t *lp = NULL;
    if (ev->has_logprobs) {
        if (g->kind == API_CHAT) lp = chat_logprob(g, &ev->lp);
        else {
            lp = completion_logprobs_new();
            completion_logprob(g, lp, &ev->lp, c->text_off);
        }
    }
    c->text_off += ev->len;
    if (c->parser) {
        if (lp && !g->stream) json_array_append(c->lp, lp);
        chat_text(g, c, ev->text, ev->len, g->stream ? lp : NULL, false);
        if (lp && !g->stream) json_decref(lp);
        return;
    }
    if (g->stream) {
        if (ev->len || lp) stream_chunk(g, c, ev->text, ev->len, lp, NULL, false);
        return;
    }
    buf_append(&c->text, ev->text, ev->len);
    if (!lp) return;
    if (g->kind == API_CHAT) {
        json_array_append_new(c->lp, lp);
    } else {
        /* Merge the one-token object into the choice's arrays. */
        const char *keys[] = {"tokens", "token_logprobs", "top_logprobs", "text_offset"};
        for (int i = 0; i < 4; i++)
            json_array_extend(json_object_get(c->lp, keys[i]), json_object_get(lp, keys[i]));
        json_decref(lp);
    }
}

static void on_end(gen *g, choice *c, const sched_event *ev) {
    c->done = true;
    c->n_prompt = ev->n_prompt;
    c->n_cached = ev->n_cached;
    c->n_gen = ev->n_gen;
    c->finish = ev->finish;
    g->n_live--;
    if (ev->kind == SCHED_EV_ERROR) {
        c->failed = true;
        if (!g->failed) {
            g->failed = true;
            api_fail(&g->err, 500, NULL, "generation failed: %s", ev->text);
        }
        if (g->stream) {
            char *s = api_error_json(&g->err);
            if (s) {
                srv_stream_write(g->st, "data: ", 6);
                srv_stream_write(g->st, s, strlen(s));
                srv_stream_write(g->st, "\n\n", 2);
                free(s);
            }
        }
        return;
    }
    if (ev->finish == SCHED_FINISH_CANCELLED)
        log_info("%s: choice %d cancelled after %d tokens (client gone)", g->id, c->index,
                 ev->n_gen);
    if (c->parser) {
        chat_text(g, c, ev->text, ev->len, NULL, ev->finish != SCHED_FINISH_CANCELLED);
        if (g->stream && ev->finish != SCHED_FINISH_CANCELLED)
            stream_chunk(g, c, NULL, 0, NULL, choice_finish(c), false);
        return;
    }
    if (g->stream) {
        if (ev->len) stream_chunk(g, c, ev->text, ev->len, NULL, NULL, false);
        if (ev->finish != SCHED_FINISH_CANCELLED)
            stream_chunk(g, c, NULL, 0, NULL, finish_name(ev->finish), false);
    } else {
        buf_append(&c->text, ev->text, ev->len);
    }
}

static json_t *full_response(gen *g) {
    bool chat = g->kind == API_CHAT;
    json_t *o = base_object(g, chat ? "chat.completion" : "text_completion");
    json_t *choices = json_array();
    for (int i = 0; i < g->n_choices; i++) {
        choice *c = &g->ch[i];
        json_t *ch = json_object();
        json_object_set_new(ch, "index", json_integer(c->index));
        const char *text = c->text.data ? c->text.data : "";
        if (chat) {
            json_t *m = c->parser ? chat_message_json(c->parser) : NULL;
            if (!m) {
                m = json_object();
                json_object_set_new(m, "role", json_string("assistant"));
                json_object_set_new(m, "content", api_json_string(text, c->text.len));
            }
            json_object_set_new(m, "refusal", json_null());
            json_object_set_new(ch, "message", m);
            if (c->lp) {
                json_t *l = json_object();
                json_object_set(l, "content", c->lp);
                json_object_set_new(ch, "logprobs", l);
            } else {
                json_object_set_new(ch, "logprobs", json_null());
            }
        } else {
            buf t = {0};
            if (g->echo) buf_append_str(&t, g->echo[c->prompt_i]);
            buf_append(&t, text, c->text.len);
            json_object_set_new(ch, "text", api_json_string(t.data ? t.data : "", t.len));
            buf_free(&t);
            json_object_set_new(ch, "logprobs", c->lp ? json_incref(c->lp) : json_null());
        }
        json_object_set_new(ch, "finish_reason", json_string(choice_finish(c)));
        json_array_append_new(choices, ch);
    }
    json_object_set_new(o, "choices", choices);
    json_object_set_new(o, "usage", usage_object(g));
    return o;
}

static void gen_free(gen *g) {
    api_access_settle(g->ticket, 0, 0, 500); /* only when an early error left it unsettled */
    for (int i = 0; i < g->n_choices; i++) {
        sched_job_free(g->ch[i].job);
        buf_free(&g->ch[i].text);
        json_decref(g->ch[i].lp);
        chat_parser_free(g->ch[i].parser);
    }
    json_decref(g->tools);
    grammar_free(g->grammar);
    for (int i = 0; g->echo && g->echo[i]; i++) mem_free(g->echo[i]);
    mem_free(g->echo);
    mem_free(g->ch);
    mem_free(g->model_name);
    mdl_release(g->h);
    pthread_mutex_destroy(&g->mu);
    mem_free(g);
}

/* Settle the reservation to the tokens really used and commit the usage record, before any
 * final byte goes out: a client that has its whole answer also has its usage recorded. */
static void gen_settle(gen *g) {
    long prompt, cached, completion;
    usage_totals(g, &prompt, &cached, &completion);
    bool cancelled = false;
    for (int i = 0; i < g->n_choices; i++) cancelled |= g->ch[i].finish == SCHED_FINISH_CANCELLED;
    int status = g->failed ? (g->err.status ? g->err.status : 500) : cancelled ? 499 : 200;
    api_access_settle(g->ticket, prompt, completion, status);
    g->ticket = NULL;
}

/* Every job has ended (or none started): answer and free. */
static void gen_finish(gen *g) {
    gen_settle(g);
    if (g->failed && !g->started) {
        char *s = api_error_json(&g->err);
        if (s) srv_stream_respond(g->st, g->err.status, "application/json", s, strlen(s));
        free(s);
    } else if (g->stream) {
        if (g->include_usage && !g->failed) {
            json_t *o = base_object(g, g->kind == API_CHAT ? "chat.completion.chunk" : "text_completion");
            json_object_set_new(o, "choices", json_array());
            json_object_set_new(o, "usage", usage_object(g));
            stream_send(g, o);
        }
        srv_stream_write(g->st, "data: [DONE]\n\n", 14);
    } else {
        json_t *o = full_response(g);
        char *s = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        if (s) srv_stream_respond(g->st, 200, "application/json", s, strlen(s));
        free(s);
    }
    srv_stream_end(g->st);
    gen_free(g);
}

static void gen_notify(void *ud) {
    gen *g = ud;
    pthread_mutex_lock(&g->mu);
    for (int i = 0; i < g->n_choices; i++) {
        choice *c = &g->ch[i];
        for (sched_event *ev; c->job && !c->done && (ev = sched_job_pop(c->job));) {
            if (ev->kind == SCHED_EV_TOKEN) on_token(g, c, ev);
            else on_end(g, c, ev);
            sched_event_free(ev);
        }
    }
    bool over = g->n_live == 0;
    pthread_mutex_unlock(&g->mu);
    if (over) gen_finish(g);
}

/* The client went away: runs under the stream's lock, so the jobs are still there. */
static void gen_cancel(void *ud) {
    gen *g = ud;
    for (int i = 0; i < g->n_choices; i++)
        if (g->ch[i].job) sched_job_cancel(g->ch[i].job);
}

/* ---- the entry point ---- */

static smp_params sampling_of(const api_gen_req *q, const mdl_config *cfg) {
    smp_params sp = smp_default_params();
    const mdl_sampling *d = &cfg->sampling;
    if (d->has_temperature) sp.temperature = d->temperature;
    if (d->has_top_p) sp.top_p = d->top_p;
    if (d->has_top_k) sp.top_k = d->top_k;
    if (d->has_min_p) sp.min_p = d->min_p;
    if (d->has_repeat_penalty) sp.repeat_penalty = d->repeat_penalty;
    if (d->has_seed) sp.seed = (uint64_t)d->seed;
    if (q->has_temperature) sp.temperature = q->temperature;
    if (q->has_top_p) sp.top_p = q->top_p;
    if (q->has_top_k) sp.top_k = q->top_k;
    if (q->has_min_p) sp.min_p = q->min_p;
    if (q->has_repeat_penalty) sp.repeat_penalty = q->repeat_penalty;
    if (q->has_seed) sp.seed = q->seed;
    sp.presence_penalty = q->presence_penalty;
    sp.frequency_penalty = q->frequency_penalty;
    sp.bias = q->bias;
    sp.n_bias = q->n_bias;
    return sp;
}

static int fill_echo(gen *g, const api_gen_req *q, int32_t *const *prompts, const int *n_prompt) {
    g->echo = mem_calloc((size_t)q->n_prompts + 1, sizeof *g->echo);
    if (!g->echo) return BASE_ENOMEM;
    for (int i = 0; i < q->n_prompts; i++) {
        buf b = {0};
        if (q->prompts[i].text) buf_append_str(&b, q->prompts[i].text);
        else tok_detokenize(g->tok, prompts[i], (size_t)n_prompt[i], false, &b);
        if (!b.data && buf_append(&b, "", 0)) return BASE_ENOMEM;
        g->echo[i] = b.data;
        if (b.oom) return BASE_ENOMEM;
    }
    return BASE_OK;
}

void api_generate(srv_req *r, mdl_handle *h, const api_gen_req *q,
                  int32_t *const *prompts, const int *n_prompt) {
    const mdl_config *cfg = mdl_handle_config(h);
    int n_prompts = q->kind == API_CHAT ? 1 : q->n_prompts;
    if (!api_model_sched(h)) {
        api_err e;
        api_fail(&e, 400, "model", "The model '%s' is an embedding model: it cannot generate text",
                 mdl_handle_name(h));
        mdl_release(h);
        api_respond_err(r, &e);
        return;
    }
    gen *g = mem_calloc(1, sizeof *g);
    if (!g) {
        mdl_release(h);
        grammar_free(q->grammar);
        srv_respond_error(r, 500, "server_error", "out of memory");
        return;
    }
    pthread_mutex_init(&g->mu, NULL);
    g->grammar = q->grammar; /* taken over */
    g->kind = q->kind;
    g->stream = q->stream;
    g->include_usage = q->include_usage;
    g->h = h;
    g->tok = mdl_handle_tok(h);
    g->created = time_unix();
    api_make_id(q->kind == API_CHAT ? "chatcmpl-" : "cmpl-", g->id, sizeof g->id);
    g->model_name = mem_strdup(q->model);
    g->tools = q->tools ? json_incref(q->tools) : NULL;
    g->n_choices = n_prompts * q->n;
    g->ch = mem_calloc((size_t)g->n_choices, sizeof *g->ch);
    if (!g->model_name || !g->ch || (q->echo && fill_echo(g, q, prompts, n_prompt))) {
        gen_free(g);
        srv_respond_error(r, 500, "server_error", "out of memory");
        return;
    }
    int32_t n_vocab = tok_n_vocab(g->tok);
    for (int i = 0; i < q->n_bias; i++)
        if (q->bias[i].token >= n_vocab) {
            api_err e;
            api_fail(&e, 400, "logit_bias", "logit_bias: token %d is outside the vocabulary (%d tokens)",
                     q->bias[i].token, n_vocab);
            api_respond_err(r, &e);
            gen_free(g);
            return;
        }
    int max_tokens = q->max_tokens ? q->max_tokens
                                   : cfg->sampling.has_max_tokens ? cfg->sampling.max_tokens : 0;
    /* The worst case: every choice fills its prompt and then its token budget (the rest of
     * the context when there is none, plus one for the token sampled as it fills). */
    int n_ctx = sched_n_ctx(api_model_sched(h));
    int64_t worst = 0;
    for (int i = 0; i < g->n_choices; i++) {
        int np = n_prompt[i / q->n], room = n_ctx - np + 1;
        worst += np + (max_tokens > 0 && max_tokens < room ? max_tokens : room > 0 ? room : 0);
    }
    api_err ae;
    if (api_access_reserve(r, q->model, worst, &g->ticket, &ae)) {
        api_respond_err(r, &ae);
        gen_free(g);
        return;
    }
    g->st = srv_stream_begin(r);
    if (!g->st) {
        gen_free(g);
        srv_respond_error(r, 500, "server_error", "out of memory");
        return;
    }

    const char *stops[API_MAX_STOPS + 32];
    int n_stops = 0;
    for (int i = 0; i < q->n_stops; i++) stops[n_stops++] = q->stops[i];
    for (int i = 0; i < cfg->n_stopwords && n_stops < (int)(sizeof stops / sizeof *stops); i++)
        stops[n_stops++] = cfg->stopwords[i];
    sched_job_params jp = sched_job_default_params();
    jp.sampling = sampling_of(q, cfg);
    jp.max_tokens = max_tokens;
    jp.stops = stops;
    jp.n_stops = n_stops;
    jp.n_top_logprobs = q->top_logprobs;
    jp.grammar = g->grammar;
    jp.render_special = g->tools != NULL; /* tool-call markers are often control tokens */
    jp.notify = gen_notify;
    jp.ud = g;

    sched *s = api_model_sched(h);
    pthread_mutex_lock(&g->mu);
    for (int i = 0; i < g->n_choices && !g->failed; i++) {
        choice *c = &g->ch[i];
        c->index = i;
        c->prompt_i = i / q->n;
        if (q->top_logprobs >= 0)
            c->lp = g->kind == API_CHAT ? json_array() : completion_logprobs_new();
        if (g->kind == API_CHAT) {
            chat_parser_params pp = chat_parser_default_params();
            pp.tool_format = g->tools ? (chat_tool_format)mdl_handle_tool_format(h) : CHAT_TOOLS_NONE;
            pp.starts_in_reasoning = q->opens_reasoning;
            pp.reasoning = !q->reasoning_off;
            pp.tools = g->tools;
            err_buf peb = {0};
            if (chat_parser_new(&pp, &c->parser, &peb)) {
                api_fail(&g->err, 500, NULL, "%s", err_msg(&peb));
                g->failed = true;
                break;
            }
        }
        jp.prompt = prompts[c->prompt_i];
        jp.n_prompt = n_prompt[c->prompt_i];
        /* n choices with one seed should still differ from each other. */
        if (jp.sampling.seed != SMP_SEED_RANDOM && i > 0) jp.sampling.seed++;
        err_buf eb = {0};
        int rc = sched_submit(s, &jp, &c->job, &eb);
        if (rc == BASE_EBUSY) {
            srv_set_header(r, "Retry-After", "1");
            api_fail(&g->err, 503, NULL, "%s", err_msg(&eb));
            g->err.type = "server_error";
        } else if (rc == BASE_EFULL) {
            api_fail(&g->err, 400, q->kind == API_CHAT ? "messages" : "prompt", "%s", err_msg(&eb));
            g->err.code = "context_length_exceeded";
        } else if (rc) {
            api_fail(&g->err, rc == BASE_EINVAL ? 400 : 500, NULL, "%s", err_msg(&eb));
        }
        if (rc) g->failed = true;
        else g->n_live++;
    }
    /* A later choice could not start: stop the ones that did. */
    if (g->failed) gen_cancel(g);
    if (g->stream && !g->failed) {
        g->started = true;
        srv_stream_start(g->st, 200, "text/event-stream");
        if (g->kind == API_CHAT)
            for (int i = 0; i < g->n_choices; i++)
                stream_chunk(g, &g->ch[i], "", 0, NULL, NULL, true);
        if (g->kind == API_COMPLETION && g->echo)
            for (int i = 0; i < g->n_choices; i++)
                stream_chunk(g, &g->ch[i], g->echo[g->ch[i].prompt_i],
                             strlen(g->echo[g->ch[i].prompt_i]), NULL, NULL, false);
    }
    srv_stream_on_cancel(g->st, gen_cancel, g);
    bool over = g->n_live == 0;
    pthread_mutex_unlock(&g->mu);
    if (over) gen_finish(g);
}
