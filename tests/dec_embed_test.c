/*
 * Embeddings from decoders (llm_embed / llm_embed_tokens on an LLM): the per-token hidden
 * states must be what the lm head reads (checked by multiplying them with output.weight and
 * comparing with the logits llm_decode computes), the pooled vectors must be the mean / first /
 * last of those states, normalized, and batching several inputs (across forward-pass chunks
 * and token groups) must not change any vector.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "kernels/kernels.h"
#include "test.h"

static llm_model *load(const char *rel) {
    llm_model *m;
    err_buf eb = {0};
    ASSERT_OK(llm_model_load(test_shared_file(rel), &m, &eb), &eb);
    return m;
}

/* n random token ids in [3, n_vocab) (above the control tokens). */
static int32_t *rand_ids(uint64_t *st, int n, int n_vocab) {
    int32_t *ids = malloc((size_t)n * sizeof *ids);
    for (int i = 0; i < n; i++) ids[i] = 3 + (int32_t)(test_rand_u32(st) % (uint32_t)(n_vocab - 3));
    return ids;
}

static void unit(double *v, int n) {
    double ss = 0;
    for (int i = 0; i < n; i++) ss += v[i] * v[i];
    for (int i = 0; i < n; i++) v[i] /= sqrt(ss);
}

/* output.weight (or the tied token_embd.weight) row r as floats. */
static void out_row(const gguf *g, int r, float *dst, int E) {
    const gguf_tensor *t = gguf_find_tensor(g, "output.weight");
    if (!t) t = gguf_find_tensor(g, "token_embd.weight");
    ASSERT_NOT_NULL(t);
    const kern_traits *tt = kern_traits_of(t->type);
    size_t row_bytes = (size_t)(E / tt->block_size) * tt->type_size;
    tt->to_float((const char *)t->data + (size_t)r * row_bytes, dst, E);
}

static void check_model(const char *rel) {
    llm_model *m = load(rel);
    const llm_hparams *hp = llm_model_hparams(m);
    int E = hp->n_embd, V = hp->n_vocab;
    ASSERT_FALSE(llm_model_is_encoder(m));
    uint64_t st = 42;
    enum { N = 3 };
    int lens[N] = {7, 1, 19};
    int32_t *ids[N];
    int total = 0;
    for (int i = 0; i < N; i++) ids[i] = rand_ids(&st, lens[i], V), total += lens[i];
    err_buf eb = {0};

    /* Per-token hidden states x output.weight == the logits of every position. */
    float *H = malloc((size_t)total * E * sizeof *H);
    ASSERT_OK(llm_embed_tokens(m, NULL, (const int32_t *const *)ids, lens, N, H, &eb), &eb);
    float *w = malloc((size_t)E * sizeof *w);
    int row = 0;
    for (int i = 0; i < N; i++) {
        llm_session_params sp = llm_session_default_params();
        sp.n_ctx = 64;
        sp.kv_f32 = true;
        sp.all_logits = true;
        llm_session *s;
        ASSERT_OK(llm_session_new(m, &sp, NULL, &s, &eb), &eb);
        ASSERT_OK(llm_decode(s, ids[i], lens[i], true, &eb), &eb);
        for (int p = 0; p < lens[i]; p++, row++) {
            const float *lg = llm_logits(s, p);
            ASSERT_NOT_NULL(lg);
            double mx = 0, scale = 0;
            for (int v = 0; v < V; v += 7) {
                out_row(llm_model_gguf(m), v, w, E);
                double d = 0;
                for (int k = 0; k < E; k++) d += (double)w[k] * H[(size_t)row * E + k];
                mx = fmax(mx, fabs(d - lg[v]));
                scale = fmax(scale, fabs(lg[v]));
            }
            if (mx > 2e-3 * (scale > 1 ? scale : 1))
                test_fail(__FILE__, __LINE__, "%s input %d pos %d: hidden . output differs from logits by %g",
                          rel, i, p, mx);
        }
        llm_session_free(s);
    }

    /* Pooled vectors: mean / first / last of those rows, normalized (float64 reference). */
    const int pools[3] = {LLM_POOL_MEAN, LLM_POOL_CLS, LLM_POOL_LAST};
    float *P = malloc((size_t)N * E * sizeof *P);
    double *ref = malloc((size_t)E * sizeof *ref);
    for (int k = 0; k < 3; k++) {
        ASSERT_OK(llm_embed(m, NULL, (const int32_t *const *)ids, lens, N, pools[k], true, P, &eb), &eb);
        row = 0;
        for (int i = 0; i < N; i++) {
            for (int d = 0; d < E; d++) {
                double acc = 0;
                if (pools[k] == LLM_POOL_MEAN) {
                    for (int p = 0; p < lens[i]; p++) acc += H[(size_t)(row + p) * E + d];
                    acc /= lens[i];
                } else {
                    int p = pools[k] == LLM_POOL_CLS ? 0 : lens[i] - 1;
                    acc = H[(size_t)(row + p) * E + d];
                }
                ref[d] = acc;
            }
            unit(ref, E);
            double norm = 0;
            for (int d = 0; d < E; d++) {
                ASSERT_NEAR(P[(size_t)i * E + d], ref[d], 1e-5);
                norm += (double)P[(size_t)i * E + d] * P[(size_t)i * E + d];
            }
            ASSERT_NEAR(norm, 1.0, 1e-5);
            row += lens[i];
        }
    }
    /* The default is mean (these files name no pooling_type). */
    float *D = malloc((size_t)N * E * sizeof *D);
    ASSERT_EQ_INT(llm_model_pooling(m), LLM_POOL_NONE);
    ASSERT_OK(llm_embed(m, NULL, (const int32_t *const *)ids, lens, N, LLM_POOL_MEAN, true, P, &eb), &eb);
    ASSERT_OK(llm_embed(m, NULL, (const int32_t *const *)ids, lens, N, LLM_POOL_DEFAULT, true, D, &eb), &eb);
    ASSERT_TRUE(!memcmp(P, D, (size_t)N * E * sizeof *P));
    /* Identical input, identical vector; each input alone equals it in the batch; a thread
     * pool changes nothing beyond rounding. */
    tpool *pool = tpool_new(2);
    for (int i = 0; i < N; i++) {
        float *one = malloc((size_t)E * sizeof *one);
        ASSERT_OK(llm_embed(m, NULL, (const int32_t *const *)&ids[i], &lens[i], 1, LLM_POOL_MEAN, true, one, &eb), &eb);
        for (int d = 0; d < E; d++) ASSERT_NEAR(one[d], P[(size_t)i * E + d], 1e-5);
        ASSERT_OK(llm_embed(m, pool, (const int32_t *const *)&ids[i], &lens[i], 1, LLM_POOL_MEAN, true, one, &eb), &eb);
        for (int d = 0; d < E; d++) ASSERT_NEAR(one[d], P[(size_t)i * E + d], 1e-5);
        free(one);
    }
    tpool_free(pool);
    /* Errors: empty input, a token outside the vocabulary, longer than the context. */
    int bad_len = 0;
    ASSERT_EQ_INT(llm_embed(m, NULL, (const int32_t *const *)ids, &bad_len, 1, LLM_POOL_MEAN, true, P, &eb), BASE_EINVAL);
    int32_t bad_tok = V;
    const int32_t *bp = &bad_tok;
    int one_len = 1;
    ASSERT_EQ_INT(llm_embed(m, NULL, &bp, &one_len, 1, LLM_POOL_MEAN, true, P, &eb), BASE_EINVAL);
    ASSERT_CONTAINS(eb.msg, "vocabulary");
    for (int i = 0; i < N; i++) free(ids[i]);
    free(H), free(w), free(P), free(D), free(ref);
    llm_model_free(m);
}

TEST(dec_embed_hidden_stories) { check_model("testdata/llm/stories260K.gguf"); }
TEST(dec_embed_hidden_qwen2) { check_model("golden/models/qwen2-F32.gguf"); }
TEST(dec_embed_hidden_gemma) { check_model("golden/models/gemma-F32.gguf"); }

/* Many inputs: more than one forward-pass chunk (512 rows) and more than one token group
 * (2048 tokens), inputs split across chunk boundaries: every vector equals its input alone. */
TEST(dec_embed_many_inputs) {
    llm_model *m = load("testdata/llm/stories260K.gguf");
    int E = llm_model_hparams(m)->n_embd, V = llm_model_hparams(m)->n_vocab;
    enum { N = 100 };
    int32_t *ids[N];
    int lens[N];
    uint64_t st = 7;
    for (int i = 0; i < N; i++) {
        lens[i] = 1 + (int)(test_rand_u32(&st) % 45);
        ids[i] = rand_ids(&st, lens[i], V);
    }
    err_buf eb = {0};
    float *all = malloc((size_t)N * E * sizeof *all), *one = malloc((size_t)E * sizeof *one);
    ASSERT_OK(llm_embed(m, NULL, (const int32_t *const *)ids, lens, N, LLM_POOL_LAST, true, all, &eb), &eb);
    for (int i = 0; i < N; i++) {
        ASSERT_OK(llm_embed(m, NULL, (const int32_t *const *)&ids[i], &lens[i], 1, LLM_POOL_LAST, true, one, &eb), &eb);
        for (int d = 0; d < E; d++) ASSERT_NEAR(all[(size_t)i * E + d], one[d], 1e-5);
        free(ids[i]);
    }
    free(all), free(one);
    llm_model_free(m);
}

/* Fail allocation N, N+1, ... until a batched decoder embedding succeeds: each failure is a
 * clean BASE_ENOMEM (ASan checks that nothing leaks), and the result is then the right one. */
TEST(dec_embed_alloc_failures) {
    llm_model *m = load("testdata/llm/stories260K.gguf");
    int E = llm_model_hparams(m)->n_embd;
    static const int32_t a[] = {1, 400, 300, 20}, b[] = {1, 77};
    const int32_t *in[2] = {a, b};
    int lens[2] = {4, 2};
    float *want = malloc(2 * (size_t)E * sizeof *want), *got = malloc(2 * (size_t)E * sizeof *got);
    err_buf eb = {0};
    ASSERT_OK(llm_embed(m, NULL, in, lens, 2, LLM_POOL_MEAN, true, want, &eb), &eb);
    int rc = -1;
    long n;
    for (n = 0; rc; n++) {
        mem_fail_after(n);
        rc = llm_embed(m, NULL, in, lens, 2, LLM_POOL_MEAN, true, got, &eb);
        mem_fail_after(-1);
        if (rc) ASSERT_EQ_INT(rc, BASE_ENOMEM);
        ASSERT_TRUE(n < 10000);
    }
    ASSERT_TRUE(n > 3); /* it did fail some allocations first */
    ASSERT_TRUE(!memcmp(want, got, 2 * (size_t)E * sizeof *got));
    free(want), free(got);
    llm_model_free(m);
}
