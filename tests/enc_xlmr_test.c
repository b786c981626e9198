/*
 * XLM-RoBERTa-style encoders (bge-m3, multilingual-e5, bge-reranker-v2-m3 as llama.cpp
 * converts them): architecture bert, a SentencePiece Unigram vocabulary ("t5"), a token-type
 * table of one row. End to end through `local-ai run`: embeddings of <s> text </s> equal the
 * float64 reference's, and rerank scores <s> query </s></s> doc </s> (all type 0) as the
 * reference's rank head does. Also 100 inputs in one request.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_util.h"
#include "enc_util.h"
#include "tokenizer/tokenizer.h"

static tok *vocab_tok(const char *path) {
    err_buf eb = {0};
    gguf *g;
    ASSERT_OK(gguf_open(path, &g, &eb), &eb);
    tok *t;
    ASSERT_OK(tok_load(g, &t, &eb), &eb);
    gguf_close(g);
    return t;
}

static int32_t *encode(const tok *t, const char *s, bool special, size_t *n) {
    int32_t *ids;
    err_buf eb = {0};
    ASSERT_OK(tok_encode(t, s, strlen(s), special, false, &ids, n, &eb), &eb);
    return ids;
}

static void post(api_server *s, const char *path, const char *body, api_resp *r) {
    api_http(s, "POST", path, body, NULL, r);
    if (r->status != 200) test_fail(__FILE__, __LINE__, "POST %s: %ld %s", path, r->status, r->body.data);
}

TEST(enc_xlmr_embeddings_and_rerank) {
    char vocab[512], emb[512], rank[512];
    snprintf(vocab, sizeof vocab, "%s/ugm-vocab.gguf.vocab", test_tmpdir());
    json_decref(enc_ugm_vocab_write(vocab, true, true));
    snprintf(emb, sizeof emb, "%s/xlmr.gguf", test_tmpdir());
    snprintf(rank, sizeof rank, "%s/xlmr-rank.gguf", test_tmpdir());
    enc_tiny *we = enc_tiny_write_vocab(emb, vocab, false, 31);
    enc_tiny *wr = enc_tiny_write_vocab(rank, vocab, true, 32);
    ASSERT_TRUE(we->one_type);
    tok *t = vocab_tok(vocab);
    api_server s;
    api_server_start(&s, NULL);

    /* Embeddings: mean of the reference's rows over <s> text </s>, normalized. */
    const char *texts[] = {"the quick brown fox", "über straße München", "ＦＵＬＬ ｗｉｄｔｈ"};
    buf body = {0};
    buf_append_str(&body, "{\"model\":\"xlmr\",\"input\":[");
    for (int i = 0; i < 100; i++) buf_printf(&body, "%s\"%s\"", i ? "," : "", texts[i % 3]);
    buf_append_str(&body, "]}");
    api_resp r;
    post(&s, "/v1/embeddings", body.data, &r);
    buf_free(&body);
    ASSERT_EQ_INT(json_array_size(api_jget(r.json, "data")), 100);
    long total = 0;
    for (int i = 0; i < 3; i++) {
        size_t n;
        int32_t *ids = encode(t, texts[i], true, &n);
        ASSERT_EQ_INT(ids[0], 0);
        ASSERT_EQ_INT(ids[n - 1], 2);
        double *ref = malloc(sizeof(double) * ENC_E * n), mean[ENC_E] = {0}, ss = 0;
        enc_tiny_ref(we, ids, NULL, (int)n, ref);
        for (size_t p = 0; p < n; p++)
            for (int d = 0; d < ENC_E; d++) mean[d] += ref[p * ENC_E + d] / (double)n;
        for (int d = 0; d < ENC_E; d++) ss += mean[d] * mean[d];
        for (int k = i; k < 100; k += 3) {
            char path[48];
            snprintf(path, sizeof path, "data.%d.embedding", k);
            json_t *v = api_jget(r.json, path);
            ASSERT_EQ_INT(json_array_size(v), ENC_E);
            for (int d = 0; d < ENC_E; d++)
                ASSERT_NEAR(json_number_value(json_array_get(v, d)), mean[d] / sqrt(ss), 2e-4);
            total += (long)n;
        }
        free(ref);
        mem_free(ids);
    }
    ASSERT_EQ_INT(api_jint(r.json, "usage.prompt_tokens"), total);
    api_resp_free(&r);

    /* Rerank: <s> q </s></s> d </s>, token types all 0, the head's raw score. */
    const char *query = "quick fox", *docs[] = {"the quick brown fox", "Привет мир", "summer garden"};
    post(&s, "/v1/rerank",
         "{\"model\":\"xlmr-rank\",\"query\":\"quick fox\",\"documents\":[\"the quick brown fox\","
         "{\"text\":\"Привет мир\"},\"summer garden\"],\"top_n\":2,\"return_documents\":true}",
         &r);
    json_t *res = api_jget(r.json, "results");
    ASSERT_EQ_INT(json_array_size(res), 2);
    size_t nq;
    int32_t *qi = encode(t, query, true, &nq);
    double want[3];
    for (int d = 0; d < 3; d++) {
        size_t nd;
        int32_t *di = encode(t, docs[d], false, &nd), ids[128];
        int n = 0;
        for (size_t k = 0; k < nq; k++) ids[n++] = qi[k];
        ids[n++] = 2;
        for (size_t k = 0; k < nd; k++) ids[n++] = di[k];
        ids[n++] = 2;
        want[d] = enc_tiny_ref_rank(wr, ids, NULL, n);
        mem_free(di);
    }
    int best = 0;
    for (int d = 1; d < 3; d++)
        if (want[d] > want[best]) best = d;
    ASSERT_EQ_INT(api_jint(r.json, "results.0.index"), best);
    for (size_t k = 0; k < 2; k++) {
        json_t *o = json_array_get(res, k);
        int idx = (int)json_integer_value(json_object_get(o, "index"));
        ASSERT_NEAR(json_number_value(json_object_get(o, "relevance_score")), want[idx], 2e-4);
        ASSERT_EQ_STR(json_string_value(json_object_get(json_object_get(o, "document"), "text")), docs[idx]);
    }
    api_resp_free(&r);
    mem_free(qi);
    tok_free(t);
    enc_tiny_free(we);
    enc_tiny_free(wr);
    api_server_stop(&s);
}
