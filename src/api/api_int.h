/* api: internals shared by the handlers: request parsing and validation (openai_req.c),
 * errors and JSON helpers (respond.c), and the generation driver (generate.c). */
#ifndef API_INT_H
#define API_INT_H

#include <jansson.h>

#include "api.h"
#include "auth/auth.h"
#include "models/models.h"
#include "sample/sample.h"
#include "sched/sched.h"
#include "speech/speech.h"

#define API_MAX_STOPS 16
#define API_MAX_N 16
#define API_FINGERPRINT "fp_localai"

/* ---- errors ---- */

/* A request error found while parsing: status, OpenAI's param and code (may be NULL). */
typedef struct api_err {
    int status;
    const char *type;  /* "invalid_request_error", "server_error", ... */
    const char *param; /* static or arena string, or NULL */
    const char *code;  /* e.g. "model_not_found", or NULL */
    char msg[512];
} api_err;

int api_fail(api_err *e, int status, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* {"error":{"message","type","param","code"}} as a heap string (free with free()). */
char *api_error_json(const api_err *e);
/* Send e as the response. */
void api_respond_err(srv_req *r, const api_err *e);
/* Send a JSON value (borrowed) with status. */
void api_respond_json(srv_req *r, int status, const json_t *v);

/* ---- requests ---- */

typedef enum api_kind { API_CHAT = 1, API_COMPLETION } api_kind;

/* One prompt of a completions request: text, or token ids. */
typedef struct api_prompt {
    const char *text; /* NULL when given as tokens */
    int32_t *tokens;
    int n_tokens;
} api_prompt;

typedef struct api_gen_req {
    api_kind kind;
    const char *model;
    json_t *messages; /* chat: normalized copy (content always a string), owned */
    json_t *tools;    /* chat: the tools the model is told about (NULL: none), owned */
    bool opens_reasoning; /* chat: the rendered prompt left a reasoning block open */
    bool reasoning_off;   /* chat: reasoning_format "none": thinking text stays in content */
    bool has_reasoning_format; /* chat: the request set reasoning_format (the config's yields) */
    json_t *template_kwargs; /* chat: chat_template_kwargs, extra template variables, owned */
    struct grammar *grammar; /* response_format / grammar: owned; api_generate takes it over */
    bool tool_required;      /* tool_choice "required" or a named function */
    const char *tool_name;   /* the named function (in the arena), or NULL */
    api_prompt *prompts; /* completions */
    int n_prompts;
    int max_tokens;   /* 0: unset */
    int n;
    bool has_temperature, has_top_p, has_top_k, has_min_p, has_repeat_penalty, has_seed;
    float temperature, top_p, min_p, repeat_penalty, presence_penalty, frequency_penalty;
    int top_k;
    uint64_t seed;
    const char *stops[API_MAX_STOPS];
    int n_stops;
    smp_bias *bias;
    int n_bias;
    int top_logprobs; /* -1: no logprobs */
    bool stream, include_usage, echo;
} api_gen_req;

/* Parse and validate a chat or completions body. Memory comes from a (the request's arena);
 * q->messages is a new reference the caller drops with json_decref. On failure e says why
 * (status 400). */
int api_parse_gen(api_kind kind, str_slice body, arena *a, api_gen_req *q, api_err *e);
/* Parse a body as a JSON object (400 with a message otherwise). New reference. */
json_t *api_parse_body(str_slice body, api_err *e);

/* Find the model a request names: 404 model_not_found, or 500 when it cannot load. */
int api_acquire_model(api_ctx *ctx, const char *name, mdl_handle **out, api_err *e);
/* A speech model: tts picks espeak models, otherwise speech-to-text ones (whisper-1 maps to
 * an installed Whisper model when there is one). 404 for an unknown name, 400 for a model of
 * another kind. api_acquire_model refuses speech models (400). */
int api_acquire_speech(api_ctx *ctx, const char *name, bool tts, mdl_handle **out, api_err *e);
/* The speech-to-text engine of a loaded whisper / sphinx model (NULL for others). */
speech_model *api_model_speech(mdl_handle *h);
/* The scheduler of a loaded model (NULL for an encoder). */
sched *api_model_sched(mdl_handle *h);

/* tool_choice required / named: a grammar that admits only tool calls (one of tools, or the
 * one named only) in the model's chat_tool_format. */
int api_tool_grammar(const json_t *tools, const char *only, int format, struct grammar **out,
                     api_err *e);
/* An encoder model's compute (encoder_queue.c): one worker thread per encoder model runs
 * queued jobs one at a time on the model's thread pool, so HTTP threads never wait on the
 * engine (the handler suspends its request with srv_stream_begin and the job answers it). */
typedef struct api_enc_job api_enc_job;
struct api_enc_job {
    api_enc_job *next;
    /* Runs on the worker; owns the job from then on (frees it). */
    void (*run)(api_enc_job *j, tpool *pool);
};

typedef struct api_encoder api_encoder;

int api_encoder_new(int n_threads, int queue_cap, api_encoder **out, err_buf *eb);
/* Runs what is still queued, then stops the worker. NULL is fine. */
void api_encoder_free(api_encoder *e);
/* Queue j; BASE_EBUSY when the queue is full (the caller keeps j then). */
int api_encoder_submit(api_encoder *e, api_enc_job *j);
/* The encoder state of a loaded encoder model; NULL for a decoder. */
api_encoder *api_model_encoder(mdl_handle *h);
/* The embeddings worker of any loaded model: the encoder's, or for a decoder one started on
 * first use. NULL (e says why) when it cannot be started. */
api_encoder *api_model_embedder(mdl_handle *h, api_err *e);
/* Answer a suspended request with JSON or an error, and end the stream. */
void api_stream_json(srv_stream *st, int status, const json_t *v);
void api_stream_err(srv_stream *st, const api_err *e);
/* Suspend r, store its stream in *st (the job's field) and queue job on enc (embeddings.c).
 * 0: the job owns the request now and answers it. Otherwise the request has been answered
 * (503 when the queue is full) and the caller still owns job. */
int api_encoder_queue(srv_req *r, api_encoder *enc, api_enc_job *job, srv_stream **st,
                      api_err *e);
/* Pooled (an llm_pooling; LLM_POOL_DEFAULT: as the model says), L2-normalized embeddings of
 * n inputs into out (n rows of n_embd), run in batched chunks on pool (the worker's); encoders
 * and decoders alike. On failure e says why (400 for bad input). */
int api_encoder_run(tpool *pool, const llm_model *m, const int32_t *const *in,
                    const int *lens, int n, int pooling, float *out, api_err *e);
/* Tokenize text (parse_special off); *ids is mem_alloc'd. */
int api_encoder_tokenize(const tok *t, const char *text, size_t len, bool add_special,
                         int32_t **ids, int *n, api_err *e);

/* ---- access (access.c): who is calling, what they may use, what they used ---- */

/* The caller attached by the auth hook; NULL when the server runs without auth. */
const auth_principal *api_principal(srv_req *r);
/* 0 when the caller may use model; otherwise e is a 403. */
int api_access_model(srv_req *r, const char *model, api_err *e);
/* Check model and reserve tokens (the worst case) for this request: 0 and *t (NULL without
 * auth), or e a 403/429 (Retry-After set on r). Settle *t exactly once with api_access_settle,
 * before the response's last bytes are sent. */
int api_access_reserve(srv_req *r, const char *model, int64_t tokens, auth_ticket **t,
                       api_err *e);
/* Settle to the tokens used and commit the usage record; NULL t is fine. */
void api_access_settle(auth_ticket *t, int64_t prompt_tokens, int64_t completion_tokens,
                       int status);
/* ---- multipart/form-data (multipart.c) ---- */

/* One part: slices into the body (borrowed while the body lives). */
typedef struct api_part {
    str_slice name, filename, content_type, data;
} api_part;

/* Split a multipart/form-data body; parts come from arena a. 400 with a message for another
 * Content-Type or a malformed body. */
int api_multipart_parse(const char *content_type, str_slice body, arena *a, api_part **parts,
                        int *n, api_err *e);
/* The first part named name, or NULL. */
const api_part *api_multipart_get(const api_part *parts, int n, const char *name);
/* A part's data as a NUL-terminated string in a (NULL when p is NULL or out of memory). */
char *api_part_text(arena *a, const api_part *p);

/* ---- generation ---- */

/* Submit every choice of q to the model's scheduler and answer through a stream: SSE when
 * q->stream, one JSON body otherwise. prompts are the token ids per prompt (chat: one).
 * Takes over h (released when the request ends). On an early error responds itself. */
void api_generate(srv_req *r, mdl_handle *h, const api_gen_req *q,
                  int32_t *const *prompts, const int *n_prompt);

/* ---- routes, one family per file ---- */

int api_register_health(server *s, api_ctx *ctx);
int api_register_models(server *s, api_ctx *ctx);
int api_register_chat(server *s, api_ctx *ctx);
int api_register_completions(server *s, api_ctx *ctx);
int api_register_tokenize(server *s, api_ctx *ctx);
int api_register_metrics(server *s, api_ctx *ctx);
int api_register_embeddings(server *s, api_ctx *ctx); /* embeddings.c */
int api_register_rerank(server *s, api_ctx *ctx);     /* rerank.c */
int api_register_models_state(server *s, api_ctx *ctx); /* models_state.c: /api/models */
int api_register_admin(server *s, api_ctx *ctx);      /* admin.c */
int api_register_transcribe(server *s, api_ctx *ctx); /* audio_stt.c */
/* Audio work runs on its own detached thread: start fn(arg) counted (BASE_EBUSY when 64 jobs
 * run already or no thread starts; the caller keeps arg), fn calls api_audio_job_done last, and api_close waits for
 * every started job with api_audio_jobs_wait. */
int api_audio_job_start(void *(*fn)(void *), void *arg);
void api_audio_job_done(void);
void api_audio_jobs_wait(void);
int api_register_speech(server *s, api_ctx *ctx);     /* audio_tts.c */
/* Route path both with and without the /v1 prefix. */
int api_route_both(server *s, const char *method, const char *path, srv_handler h, api_ctx *ctx);

/* ---- JSON helpers ---- */

/* A JSON string from bytes that may not be valid UTF-8 (bad sequences become U+FFFD). */
json_t *api_json_string(const char *s, size_t len);
/* "data: <json>\n\n" appended to out. */
int api_sse_event(buf *out, const json_t *v);
/* An id like "chatcmpl-" followed by 24 random letters and digits, into out[cap]. */
void api_make_id(const char *prefix, char *out, size_t cap);

#endif
