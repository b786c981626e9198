/*
 * jina-bert-v2 against the scalar float64 reference of enc_util.c: symmetric ALiBi instead of
 * position embeddings, a GEGLU FFN (gelu(gate x) * up x), and the optional LayerNorms of q and
 * k; several inputs of different lengths in one batch. Also: ALiBi really matters (the
 * reference without it is far off), and the pooled vectors.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "enc_util.h"
#include "engine/engine.h"
#include "test.h"

static const int32_t seq_a[] = {101, 7592, 1010, 2088, 999, 102};
static const int32_t seq_b[] = {101, 1996, 4248, 2829, 4419, 14523, 2058, 1996, 13971, 3899, 1012, 2023, 102};

static void check(bool qk_norm) {
    char path[512];
    snprintf(path, sizeof path, "%s/jina.gguf", test_tmpdir());
    enc_tiny *w = enc_tiny_write_jina(path, qk_norm, 21);
    err_buf eb = {0};
    llm_model *m;
    ASSERT_OK(llm_model_load(path, &m, &eb), &eb);
    ASSERT_TRUE(llm_model_is_encoder(m));
    ASSERT_EQ_STR(llm_model_hparams(m)->arch, "jina-bert-v2");
    const int32_t *in[2] = {seq_b, seq_a};
    int lens[2] = {13, 6};
    float *tokv = malloc(sizeof(float) * ENC_E * 19);
    double *ref = malloc(sizeof(double) * ENC_E * 13);
    tpool *pool = tpool_new(2);
    ASSERT_OK(llm_embed_tokens(m, pool, in, lens, 2, tokv, &eb), &eb);
    float *row = tokv;
    for (int i = 0; i < 2; i++) {
        enc_tiny_ref(w, in[i], NULL, lens[i], ref);
        for (int j = 0; j < lens[i] * ENC_E; j++) ASSERT_NEAR(row[j], ref[j], 2e-4);
        row += lens[i] * ENC_E;
    }
    /* Without ALiBi the same weights give clearly different outputs: the biases are live. */
    w->jina = false; /* the reference then adds the (random) position table: zero it */
    for (int p = 0; p < ENC_CTX; p++)
        for (int d = 0; d < ENC_E; d++) w->pos[p][d] = 0;
    enc_tiny_ref(w, seq_b, NULL, 13, ref);
    double off = 0;
    for (int j = 0; j < 13 * ENC_E; j++) off = fmax(off, fabs(tokv[j] - ref[j]));
    ASSERT_TRUE(off > 1e-2);
    w->jina = true;
    /* Pooled (mean, the file's pooling) and normalized. */
    float pooled[2 * ENC_E];
    ASSERT_OK(llm_embed(m, pool, in, lens, 2, LLM_POOL_DEFAULT, true, pooled, &eb), &eb);
    row = tokv;
    for (int i = 0; i < 2; i++) {
        double mean[ENC_E] = {0}, ss = 0;
        for (int p = 0; p < lens[i]; p++)
            for (int d = 0; d < ENC_E; d++) mean[d] += row[p * ENC_E + d] / lens[i];
        for (int d = 0; d < ENC_E; d++) ss += mean[d] * mean[d];
        for (int d = 0; d < ENC_E; d++) ASSERT_NEAR(pooled[i * ENC_E + d], mean[d] / sqrt(ss), 1e-5);
        row += lens[i] * ENC_E;
    }
    tpool_free(pool);
    free(tokv), free(ref);
    llm_model_free(m);
    enc_tiny_free(w);
}

TEST(enc_jina_bert_v2_matches_scalar) { check(false); }
TEST(enc_jina_bert_v2_qk_norm_matches_scalar) { check(true); }
