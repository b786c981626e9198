/*
 * POST /v1/embeddings (and /embeddings), OpenAI's shape, for encoder (bert) models:
 *   {"model": M, "input": "text" | ["a", "b"] | [ids] | [[ids], [ids]],
 *    "encoding_format": "float" | "base64", "dimensions": N}
 *   -> {"object": "list", "data": [{"object": "embedding", "index": i, "embedding": [...]}],
 *       "model": M, "usage": {"prompt_tokens": n, "total_tokens": n}}
 * Texts are tokenized with the model's special tokens ([CLS] ... [SEP]); token-id inputs are
 * used as given. Vectors are pooled as the model says and L2-normalized; `dimensions`
 * truncates and normalizes again. A decoder-only model is a 400 (we do not pool a chat
 * model's hidden states: its vectors would not be useful embeddings). The request is parsed
 * and tokenized here, then run by the model's worker (encoder_queue.c) in chunks of up to
 * ENC_CHUNK_INPUTS / ENC_CHUNK_TOKENS, each chunk one batched forward pass.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"

#define ENC_CHUNK_INPUTS 32
#define ENC_CHUNK_TOKENS 4096
#define ENC_MAX_INPUTS 2048

int api_encoder_run(tpool *pool, const llm_model *m, const int32_t *const *in,
                    const int *lens, int n, float *out, api_err *e) {
    int E = llm_model_hparams(m)->n_embd;
    for (int i0 = 0; i0 < n;) {
        int cnt = 0, toks = 0;
        while (i0 + cnt < n && cnt < ENC_CHUNK_INPUTS &&
               (cnt == 0 || toks + lens[i0 + cnt] <= ENC_CHUNK_TOKENS))
            toks += lens[i0 + cnt++];
        err_buf eb = {0};
        int rc = llm_embed(m, pool, in + i0, lens + i0, cnt, LLM_POOL_DEFAULT, true,
                           out + (size_t)i0 * E, &eb);
        if (rc) return api_fail(e, rc == BASE_EINVAL ? 400 : 500, "input", "%s", err_msg(&eb));
        i0 += cnt;
    }
    return 0;
}

/* Tokenize a text with the model's special tokens; BASE_EINVAL (400) when it is empty. */
int api_encoder_tokenize(const tok *t, const char *text, size_t len, bool add_special,
                         int32_t **ids, int *n, api_err *e) {
    size_t cnt = 0;
    err_buf eb = {0};
    *ids = NULL;
    if (tok_encode(t, text, len, add_special, false, ids, &cnt, &eb))
        return api_fail(e, 500, NULL, "cannot tokenize: %s", err_msg(&eb));
    *n = (int)cnt;
    return 0;
}

/* The inputs of a request, tokenized: ids[i] (mem_alloc'd), lens[i]. */
typedef struct emb_inputs {
    int32_t **ids;
    int *lens;
    int n;
    long total;
} emb_inputs;

static void inputs_free(emb_inputs *in) {
    for (int i = 0; in->ids && i < in->n; i++) mem_free(in->ids[i]);
    mem_free(in->ids);
    mem_free(in->lens);
}

static int ids_from_json(const json_t *arr, const char *what, int n_vocab, int32_t **out, int *n,
                         api_err *e) {
    size_t cnt = json_array_size(arr);
    if (!cnt) return api_fail(e, 400, "input", "%s is an empty array of token ids", what);
    int32_t *ids = mem_alloc(cnt * sizeof *ids);
    if (!ids) return api_fail(e, 500, NULL, "out of memory");
    for (size_t i = 0; i < cnt; i++) {
        json_t *v = json_array_get(arr, i);
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) >= n_vocab) {
            mem_free(ids);
            return api_fail(e, 400, "input", "%s[%zu] is not a token id of this model (0..%d)",
                            what, i, n_vocab - 1);
        }
        ids[i] = (int32_t)json_integer_value(v);
    }
    *out = ids;
    *n = (int)cnt;
    return 0;
}

/* input: a string, an array of strings, an array of ids, or an array of arrays of ids. */
static int parse_inputs(const json_t *input, const tok *t, int n_ctx, emb_inputs *in,
                        api_err *e) {
    memset(in, 0, sizeof *in);
    bool one = json_is_string(input) ||
               (json_is_array(input) && json_is_integer(json_array_get(input, 0)));
    size_t n = one ? 1 : json_array_size(input);
    if (!json_is_string(input) && !json_is_array(input))
        return api_fail(e, 400, "input", "'input' must be a string, an array of strings or an array of token ids");
    if (!n) return api_fail(e, 400, "input", "'input' must not be empty");
    if (n > ENC_MAX_INPUTS)
        return api_fail(e, 400, "input", "'input' has %zu items, at most %d are allowed", n, ENC_MAX_INPUTS);
    in->ids = mem_calloc(n, sizeof *in->ids);
    in->lens = mem_calloc(n, sizeof *in->lens);
    if (!in->ids || !in->lens) return api_fail(e, 500, NULL, "out of memory");
    in->n = (int)n;
    for (size_t i = 0; i < n; i++) {
        const json_t *v = one ? input : json_array_get(input, i);
        char what[48];
        snprintf(what, sizeof what, one ? "input" : "input[%zu]", i);
        int rc;
        if (json_is_string(v)) {
            if (!json_string_length(v)) return api_fail(e, 400, "input", "%s is an empty string", what);
            rc = api_encoder_tokenize(t, json_string_value(v), json_string_length(v), true,
                                      &in->ids[i], &in->lens[i], e);
        } else if (json_is_array(v) && !one) {
            rc = ids_from_json(v, what, tok_n_vocab(t), &in->ids[i], &in->lens[i], e);
        } else if (one) {
            rc = ids_from_json(v, what, tok_n_vocab(t), &in->ids[i], &in->lens[i], e);
        } else {
            return api_fail(e, 400, "input", "%s must be a string or an array of token ids", what);
        }
        if (rc) return rc;
        if (in->lens[i] > n_ctx) {
            api_fail(e, 400, "input",
                     "%s has %d tokens, more than the model's context of %d tokens", what,
                     in->lens[i], n_ctx);
            e->code = "context_length_exceeded";
            return BASE_EINVAL;
        }
        in->total += in->lens[i];
    }
    return 0;
}

static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* The floats as little-endian float32 bytes, base64-encoded (what the OpenAI clients decode). */
static json_t *base64_floats(const float *v, int n) {
    size_t nb = (size_t)n * 4, len = (nb + 2) / 3 * 4;
    unsigned char *bytes = mem_alloc(nb ? nb : 1);
    char *s = mem_alloc(len + 1);
    json_t *j = NULL;
    if (bytes && s) {
        for (int i = 0; i < n; i++) {
            uint32_t u;
            memcpy(&u, &v[i], 4);
            for (int b = 0; b < 4; b++) bytes[i * 4 + b] = (unsigned char)(u >> (8 * b));
        }
        size_t o = 0;
        for (size_t i = 0; i < nb; i += 3) {
            uint32_t w = (uint32_t)bytes[i] << 16;
            if (i + 1 < nb) w |= (uint32_t)bytes[i + 1] << 8;
            if (i + 2 < nb) w |= bytes[i + 2];
            s[o++] = b64chars[(w >> 18) & 63];
            s[o++] = b64chars[(w >> 12) & 63];
            s[o++] = i + 1 < nb ? b64chars[(w >> 6) & 63] : '=';
            s[o++] = i + 2 < nb ? b64chars[w & 63] : '=';
        }
        s[o] = 0;
        j = json_stringn(s, o);
    }
    mem_free(bytes);
    mem_free(s);
    return j;
}

/* The first dims floats, normalized again (they were a unit vector over all n_embd). */
static void truncate_unit(float *v, int dims) {
    double ss = 0;
    for (int d = 0; d < dims; d++) ss += (double)v[d] * v[d];
    if (ss > 0)
        for (int d = 0; d < dims; d++) v[d] = (float)(v[d] / sqrt(ss));
}

/* A parsed request waiting for the model's worker; owns everything it points to. */
typedef struct emb_job {
    api_enc_job base; /* first: the queue hands back this pointer */
    srv_stream *st;
    mdl_handle *h;
    json_t *root;     /* the body (the model name lives here) */
    emb_inputs in;
    int dims;
    bool b64;
    auth_ticket *ticket; /* the input tokens reserved; settled before the answer */
} emb_job;

static void emb_job_free(emb_job *j) {
    api_access_settle(j->ticket, 0, 0, 500); /* only when an error came first */
    inputs_free(&j->in);
    mdl_release(j->h);
    json_decref(j->root);
    mem_free(j);
}

/* On the worker: run the inputs and answer. */
static void emb_run(api_enc_job *base, tpool *pool) {
    emb_job *j = (emb_job *)base;
    const llm_model *m = mdl_handle_model(j->h);
    int E = llm_model_hparams(m)->n_embd;
    api_err e = {0};
    float *vecs = mem_alloc((size_t)j->in.n * (size_t)E * sizeof *vecs);
    if (!vecs) api_fail(&e, 500, NULL, "out of memory");
    else api_encoder_run(pool, m, (const int32_t *const *)j->in.ids, j->in.lens, j->in.n, vecs, &e);
    api_access_settle(j->ticket, e.status ? 0 : j->in.total, 0, e.status ? e.status : 200);
    j->ticket = NULL;
    if (e.status) {
        api_stream_err(j->st, &e);
    } else {
        json_t *data = json_array();
        for (int i = 0; i < j->in.n; i++) {
            float *v = vecs + (size_t)i * E;
            if (j->dims < E) truncate_unit(v, j->dims);
            json_t *o = json_object(), *emb;
            if (j->b64) {
                emb = base64_floats(v, j->dims);
            } else {
                emb = json_array();
                for (int d = 0; d < j->dims; d++) json_array_append_new(emb, json_real(v[d]));
            }
            json_object_set_new(o, "object", json_string("embedding"));
            json_object_set_new(o, "index", json_integer(i));
            json_object_set_new(o, "embedding", emb ? emb : json_null());
            json_array_append_new(data, o);
        }
        json_t *usage = json_object(), *resp = json_object();
        json_object_set_new(usage, "prompt_tokens", json_integer(j->in.total));
        json_object_set_new(usage, "total_tokens", json_integer(j->in.total));
        json_object_set_new(resp, "object", json_string("list"));
        json_object_set_new(resp, "data", data);
        json_object_set(resp, "model", json_object_get(j->root, "model"));
        json_object_set_new(resp, "usage", usage);
        api_stream_json(j->st, 200, resp);
        json_decref(resp);
    }
    mem_free(vecs);
    emb_job_free(j);
}

int api_encoder_queue(srv_req *r, api_encoder *enc, api_enc_job *job, srv_stream **st,
                      api_err *e) {
    /* The stream goes into the job before the worker can see it. */
    *st = srv_stream_begin(r);
    if (!*st) {
        api_fail(e, 500, NULL, "out of memory");
        api_respond_err(r, e);
        return BASE_ENOMEM;
    }
    if (api_encoder_submit(enc, job)) {
        api_fail(e, 503, NULL, "The model is busy: too many requests are waiting");
        e->type = "server_error";
        api_stream_err(*st, e);
        return BASE_EBUSY;
    }
    return 0;
}

static void on_embeddings(srv_req *r, void *ud) {
    api_ctx *ctx = ud;
    api_err e = {0};
    emb_job *j = mem_calloc(1, sizeof *j);
    if (!j) {
        srv_respond_error(r, 500, "server_error", "out of memory");
        return;
    }
    j->base.run = emb_run;
    json_t *root = j->root = api_parse_body(srv_req_body(r), &e);
    if (!root) goto fail;
    json_t *model = json_object_get(root, "model"), *input = json_object_get(root, "input");
    json_t *fmt = json_object_get(root, "encoding_format"), *dim = json_object_get(root, "dimensions");
    if (!json_is_string(model)) {
        api_fail(&e, 400, "model", "'model' must be a string naming a model");
        goto fail;
    }
    if (!input || json_is_null(input)) {
        api_fail(&e, 400, "input", "'input' is required");
        goto fail;
    }
    if (fmt && !json_is_null(fmt)) {
        if (json_is_string(fmt) && !strcmp(json_string_value(fmt), "base64")) j->b64 = true;
        else if (!json_is_string(fmt) || strcmp(json_string_value(fmt), "float")) {
            api_fail(&e, 400, "encoding_format", "'encoding_format' must be \"float\" or \"base64\"");
            goto fail;
        }
    }
    if (dim && !json_is_null(dim) && (!json_is_integer(dim) || json_integer_value(dim) < 1)) {
        api_fail(&e, 400, "dimensions", "'dimensions' must be a positive integer");
        goto fail;
    }
    if (api_access_model(r, json_string_value(model), &e) ||
        api_acquire_model(ctx, json_string_value(model), &j->h, &e))
        goto fail;
    const llm_model *m = mdl_handle_model(j->h);
    api_encoder *enc = api_model_encoder(j->h);
    if (!llm_model_is_encoder(m) || !enc) {
        api_fail(&e, 400, "model",
                 "The model '%s' is not an embedding model (embeddings need an encoder such as bert)",
                 json_string_value(model));
        goto fail;
    }
    int E = llm_model_hparams(m)->n_embd;
    j->dims = E;
    if (dim && json_is_integer(dim)) {
        if (json_integer_value(dim) > E) {
            api_fail(&e, 400, "dimensions", "'dimensions' is %lld but the model makes %d",
                     (long long)json_integer_value(dim), E);
            goto fail;
        }
        j->dims = (int)json_integer_value(dim);
    }
    if (parse_inputs(input, mdl_handle_tok(j->h), llm_model_hparams(m)->n_ctx_train, &j->in, &e) ||
        api_access_reserve(r, json_string_value(model), j->in.total, &j->ticket, &e))
        goto fail;
    if (api_encoder_queue(r, enc, &j->base, &j->st, &e) == 0) return; /* the worker owns j */
    emb_job_free(j);
    return;
fail:
    api_respond_err(r, &e);
    emb_job_free(j);
}

int api_register_embeddings(server *s, api_ctx *ctx) {
    return api_route_both(s, "POST", "/embeddings", on_embeddings, ctx);
}
