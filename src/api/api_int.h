/* api: internals shared by the handlers: request parsing and validation (openai_req.c),
 * errors and JSON helpers (respond.c), and the generation driver (generate.c). */
#ifndef API_INT_H
#define API_INT_H

#include <jansson.h>
#include <pthread.h>

#include "api.h"
#include "models/models.h"
#include "sample/sample.h"
#include "sched/sched.h"

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
/* The scheduler of a loaded model (NULL for an encoder). */
sched *api_model_sched(mdl_handle *h);

/* tool_choice required / named: a grammar that admits only tool calls (one of tools, or the
 * one named only) in the model's chat_tool_format. */
int api_tool_grammar(const json_t *tools, const char *only, int format, struct grammar **out,
                     api_err *e);
/* An encoder model's compute (embeddings.c): a thread pool that serves one request at a
 * time under mu, so concurrent requests queue on the lock and each runs at full width. */
typedef struct api_encoder {
    pthread_mutex_t mu;
    tpool *pool;
} api_encoder;

int api_encoder_new(int n_threads, api_encoder **out, err_buf *eb);
void api_encoder_free(api_encoder *e); /* NULL is fine */
/* The encoder state of a loaded encoder model; NULL for a decoder. */
api_encoder *api_model_encoder(mdl_handle *h);
/* Pooled, L2-normalized embeddings of n inputs into out (n rows of n_embd), run in batched
 * chunks under enc->mu. On failure e says why (400 for bad input). */
int api_encoder_run(api_encoder *enc, const llm_model *m, const int32_t *const *in,
                    const int *lens, int n, float *out, api_err *e);
/* Tokenize text (parse_special off); *ids is mem_alloc'd. */
int api_encoder_tokenize(const tok *t, const char *text, size_t len, bool add_special,
                         int32_t **ids, int *n, api_err *e);

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
