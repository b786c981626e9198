/*
 * POST /v1/rerank (and /rerank), the Jina / Cohere shape:
 *   {"model": M, "query": "q", "documents": ["d", {"text": "d"}], "top_n": N,
 *    "return_documents": true}
 *   -> {"model": M, "results": [{"index", "relevance_score", "document": {"text"}}],
 *       "usage": {"prompt_tokens", "total_tokens"}}
 * results are sorted by relevance_score, highest first (ties by index), top_n of them.
 *
 * A cross-encoder (a bert GGUF with a cls.output rank head) scores each pair
 * [CLS] query [SEP] doc [SEP] (token types 0 then 1) and relevance_score is the head's raw
 * output, as llama.cpp's server reports it (no sigmoid). Any other encoder model falls back
 * to the cosine similarity of the query's and each document's embedding.
 * return_documents defaults to true (Jina's default).
 */
#include <stdlib.h>
#include <string.h>

#include "api_int.h"

#define RERANK_MAX_DOCS 1024
#define RERANK_CHUNK 16

typedef struct rr_result {
    int index;
    float score;
} rr_result;

static int by_score(const void *a, const void *b) {
    const rr_result *x = a, *y = b;
    if (x->score != y->score) return x->score < y->score ? 1 : -1;
    return x->index - y->index;
}

typedef struct rr_req {
    const char *query;
    size_t query_len;
    const char **docs;
    size_t *doc_lens;
    int n_docs;
} rr_req;

static int parse_docs(json_t *docs, rr_req *q, api_err *e) {
    size_t n = json_array_size(docs);
    if (!json_is_array(docs) || !n)
        return api_fail(e, 400, "documents", "'documents' must be a non-empty array");
    if (n > RERANK_MAX_DOCS)
        return api_fail(e, 400, "documents", "'documents' has %zu items, at most %d are allowed",
                        n, RERANK_MAX_DOCS);
    q->docs = mem_calloc(n, sizeof *q->docs);
    q->doc_lens = mem_calloc(n, sizeof *q->doc_lens);
    if (!q->docs || !q->doc_lens) return api_fail(e, 500, NULL, "out of memory");
    q->n_docs = (int)n;
    for (size_t i = 0; i < n; i++) {
        json_t *d = json_array_get(docs, i);
        if (json_is_object(d)) d = json_object_get(d, "text");
        if (!json_is_string(d) || !json_string_length(d))
            return api_fail(e, 400, "documents",
                            "documents[%zu] must be a non-empty string or an object with \"text\"", i);
        q->docs[i] = json_string_value(d);
        q->doc_lens[i] = json_string_length(d);
    }
    return 0;
}

/* Cross-encoder scores: pairs [CLS] query [SEP] doc [SEP], scored in chunks. */
static int score_pairs(tpool *pool, const llm_model *m, const tok *t, const rr_req *q,
                       float *scores, long *n_tokens, api_err *e) {
    int32_t *qids = NULL;
    int nq = 0, rc, n_ctx = llm_model_hparams(m)->n_ctx_train, n_out = llm_model_n_cls_out(m);
    int32_t sep = tok_sep(t) >= 0 ? tok_sep(t) : tok_eos(t);
    if ((rc = api_encoder_tokenize(t, q->query, q->query_len, true, &qids, &nq, e))) return rc;
    int32_t *pair[RERANK_CHUNK] = {0}, *types[RERANK_CHUNK] = {0};
    int lens[RERANK_CHUNK];
    float *out = mem_alloc((size_t)RERANK_CHUNK * (size_t)n_out * sizeof *out);
    if (!out) rc = api_fail(e, 500, NULL, "out of memory");
    for (int i0 = 0; !rc && i0 < q->n_docs; i0 += RERANK_CHUNK) {
        int cnt = q->n_docs - i0 < RERANK_CHUNK ? q->n_docs - i0 : RERANK_CHUNK;
        for (int k = 0; !rc && k < cnt; k++) {
            int32_t *d = NULL;
            int nd = 0;
            if ((rc = api_encoder_tokenize(t, q->docs[i0 + k], q->doc_lens[i0 + k], false, &d, &nd, e)))
                break;
            int len = nq + nd + (sep >= 0);
            if (len > n_ctx) {
                mem_free(d);
                rc = api_fail(e, 400, "documents",
                              "query and documents[%d] have %d tokens, more than the model's context of %d",
                              i0 + k, len, n_ctx);
                break;
            }
            pair[k] = mem_alloc((size_t)len * sizeof(int32_t));
            types[k] = mem_alloc((size_t)len * sizeof(int32_t));
            if (!pair[k] || !types[k]) {
                mem_free(d);
                rc = api_fail(e, 500, NULL, "out of memory");
                break;
            }
            memcpy(pair[k], qids, (size_t)nq * sizeof(int32_t));
            memcpy(pair[k] + nq, d, (size_t)nd * sizeof(int32_t));
            if (sep >= 0) pair[k][len - 1] = sep;
            for (int p = 0; p < len; p++) types[k][p] = p < nq ? 0 : 1;
            lens[k] = len;
            *n_tokens += len;
            mem_free(d);
        }
        if (!rc) {
            err_buf eb = {0};
            int r2 = llm_rank(m, pool, (const int32_t *const *)pair,
                              (const int32_t *const *)types, lens, cnt, out, &eb);
            if (r2) rc = api_fail(e, r2 == BASE_EINVAL ? 400 : 500, NULL, "%s", err_msg(&eb));
            for (int k = 0; !rc && k < cnt; k++) scores[i0 + k] = out[(size_t)k * n_out];
        }
        for (int k = 0; k < RERANK_CHUNK; k++) {
            mem_free(pair[k]);
            mem_free(types[k]);
            pair[k] = types[k] = NULL;
        }
    }
    mem_free(out);
    mem_free(qids);
    return rc;
}

/* Fallback for plain embedding models: cosine similarity of normalized embeddings. */
static int score_cosine(tpool *pool, const llm_model *m, const tok *t, const rr_req *q,
                        float *scores, long *n_tokens, api_err *e) {
    int n = q->n_docs + 1, E = llm_model_hparams(m)->n_embd, rc = 0;
    int32_t **ids = mem_calloc((size_t)n, sizeof *ids);
    int *lens = mem_calloc((size_t)n, sizeof *lens);
    float *v = mem_alloc((size_t)n * (size_t)E * sizeof *v);
    if (!ids || !lens || !v) rc = api_fail(e, 500, NULL, "out of memory");
    for (int i = 0; !rc && i < n; i++) {
        rc = i == 0 ? api_encoder_tokenize(t, q->query, q->query_len, true, &ids[0], &lens[0], e)
                    : api_encoder_tokenize(t, q->docs[i - 1], q->doc_lens[i - 1], true, &ids[i],
                                           &lens[i], e);
        if (!rc && lens[i] > llm_model_hparams(m)->n_ctx_train)
            rc = api_fail(e, 400, i ? "documents" : "query",
                          "%s has %d tokens, more than the model's context of %d",
                          i ? "a document" : "the query", lens[i], llm_model_hparams(m)->n_ctx_train);
        if (!rc) *n_tokens += lens[i];
    }
    if (!rc) rc = api_encoder_run(pool, m, (const int32_t *const *)ids, lens, n, v, e);
    for (int i = 1; !rc && i < n; i++) {
        double dot = 0;
        for (int d = 0; d < E; d++) dot += (double)v[d] * v[(size_t)i * E + d];
        scores[i - 1] = (float)dot;
    }
    for (int i = 0; ids && i < n; i++) mem_free(ids[i]);
    mem_free(ids);
    mem_free(lens);
    mem_free(v);
    return rc;
}

/* A parsed request waiting for the model's worker; owns everything it points to. */
typedef struct rr_job {
    api_enc_job base; /* first: the queue hands back this pointer */
    srv_stream *st;
    mdl_handle *h;
    json_t *root; /* the body: query and document strings point into it */
    rr_req q;
    int top_n;    /* -1: all */
    bool with_docs;
    auth_ticket *ticket; /* a bound on the tokens, reserved; settled before the answer */
} rr_job;

static void rr_job_free(rr_job *j) {
    api_access_settle(j->ticket, 0, 0, 500); /* only when an error came first */
    mem_free(j->q.docs);
    mem_free(j->q.doc_lens);
    mdl_release(j->h);
    json_decref(j->root);
    mem_free(j);
}

/* On the worker: score, sort and answer. */
static void rr_run(api_enc_job *base, tpool *pool) {
    rr_job *j = (rr_job *)base;
    const llm_model *m = mdl_handle_model(j->h);
    const rr_req *q = &j->q;
    api_err e = {0};
    float *scores = mem_alloc((size_t)q->n_docs * sizeof *scores);
    rr_result *res = mem_alloc((size_t)q->n_docs * sizeof *res);
    long n_tokens = 0;
    if (!scores || !res) api_fail(&e, 500, NULL, "out of memory");
    else if (llm_model_n_cls_out(m) > 0)
        score_pairs(pool, m, mdl_handle_tok(j->h), q, scores, &n_tokens, &e);
    else
        score_cosine(pool, m, mdl_handle_tok(j->h), q, scores, &n_tokens, &e);
    api_access_settle(j->ticket, e.status ? 0 : n_tokens, 0, e.status ? e.status : 200);
    j->ticket = NULL;
    if (e.status) {
        api_stream_err(j->st, &e);
    } else {
        for (int i = 0; i < q->n_docs; i++) res[i] = (rr_result){i, scores[i]};
        qsort(res, (size_t)q->n_docs, sizeof *res, by_score);
        int n_ret = j->top_n >= 0 && j->top_n < q->n_docs ? j->top_n : q->n_docs;
        json_t *results = json_array();
        for (int i = 0; i < n_ret; i++) {
            json_t *o = json_object();
            json_object_set_new(o, "index", json_integer(res[i].index));
            json_object_set_new(o, "relevance_score", json_real(res[i].score));
            if (j->with_docs) {
                json_t *d = json_object();
                json_object_set_new(d, "text", json_stringn(q->docs[res[i].index], q->doc_lens[res[i].index]));
                json_object_set_new(o, "document", d);
            }
            json_array_append_new(results, o);
        }
        json_t *usage = json_object(), *resp = json_object();
        json_object_set_new(usage, "prompt_tokens", json_integer(n_tokens));
        json_object_set_new(usage, "total_tokens", json_integer(n_tokens));
        json_object_set(resp, "model", json_object_get(j->root, "model"));
        json_object_set_new(resp, "results", results);
        json_object_set_new(resp, "usage", usage);
        api_stream_json(j->st, 200, resp);
        json_decref(resp);
    }
    mem_free(scores);
    mem_free(res);
    rr_job_free(j);
}

static void on_rerank(srv_req *r, void *ud) {
    api_ctx *ctx = ud;
    api_err e = {0};
    rr_job *j = mem_calloc(1, sizeof *j);
    if (!j) {
        srv_respond_error(r, 500, "server_error", "out of memory");
        return;
    }
    j->base.run = rr_run;
    json_t *root = j->root = api_parse_body(srv_req_body(r), &e);
    if (!root) goto fail;
    json_t *model = json_object_get(root, "model"), *query = json_object_get(root, "query");
    json_t *top = json_object_get(root, "top_n"), *ret = json_object_get(root, "return_documents");
    if (!json_is_string(model)) {
        api_fail(&e, 400, "model", "'model' must be a string naming a model");
        goto fail;
    }
    if (!json_is_string(query) || !json_string_length(query)) {
        api_fail(&e, 400, "query", "'query' must be a non-empty string");
        goto fail;
    }
    if (top && !json_is_null(top) && (!json_is_integer(top) || json_integer_value(top) < 0)) {
        api_fail(&e, 400, "top_n", "'top_n' must be a non-negative integer");
        goto fail;
    }
    if (ret && !json_is_null(ret) && !json_is_boolean(ret)) {
        api_fail(&e, 400, "return_documents", "'return_documents' must be a boolean");
        goto fail;
    }
    j->top_n = json_is_integer(top) ? (json_integer_value(top) > RERANK_MAX_DOCS
                                           ? RERANK_MAX_DOCS : (int)json_integer_value(top))
                                    : -1;
    j->with_docs = !json_is_false(ret);
    j->q.query = json_string_value(query);
    j->q.query_len = json_string_length(query);
    if (parse_docs(json_object_get(root, "documents"), &j->q, &e)) goto fail;
    /* No more tokens than bytes, plus a few specials, for each (query, document) pair and for
     * the query alone (the cosine fallback): a bound known before tokenizing. */
    int64_t bound = (int64_t)j->q.query_len + 8;
    for (int i = 0; i < j->q.n_docs; i++) bound += (int64_t)(j->q.query_len + j->q.doc_lens[i]) + 8;
    if (api_access_model(r, json_string_value(model), &e) ||
        api_acquire_model(ctx, json_string_value(model), &j->h, &e) ||
        api_access_reserve(r, json_string_value(model), bound, &j->ticket, &e))
        goto fail;
    api_encoder *enc = api_model_encoder(j->h);
    if (!llm_model_is_encoder(mdl_handle_model(j->h)) || !enc) {
        api_fail(&e, 400, "model", "The model '%s' is not a reranking or embedding model",
                 json_string_value(model));
        goto fail;
    }
    if (api_encoder_queue(r, enc, &j->base, &j->st, &e) == 0) return; /* the worker owns j */
    rr_job_free(j);
    return;
fail:
    api_respond_err(r, &e);
    rr_job_free(j);
}

int api_register_rerank(server *s, api_ctx *ctx) {
    return api_route_both(s, "POST", "/rerank", on_rerank, ctx);
}
