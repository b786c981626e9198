/*
 * The encoder on a tiny random BERT built with the GGUF writer, against a scalar double
 * reimplementation: the rank head ([CLS] query [SEP] doc [SEP], token types 0 then 1) and
 * per-token outputs of inputs of different lengths in one batch.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "enc_util.h"
#include "engine/engine.h"
#include "test.h"

static const int32_t seq_a[] = {101, 7592, 1010, 2088, 999, 102, 2054, 1005, 102};
static const int32_t seq_b[] = {101, 1996, 4248, 102, 2829, 4419, 14523, 2058, 1996, 13971, 3899, 1012, 102};
static const int32_t seq_c[] = {101, 3000, 102, 3000, 102};

static void types_for(const int32_t *ids, int n, int32_t *types) {
    int seg = 0;
    for (int p = 0; p < n; p++) {
        types[p] = seg;
        if (ids[p] == 102) seg = 1;
    }
}

TEST(enc_rank_matches_scalar) {
    char path[512];
    snprintf(path, sizeof path, "%s/rank.gguf", test_tmpdir());
    enc_tiny *w = enc_tiny_write(path, true, 7);
    err_buf eb = {0};
    llm_model *m;
    ASSERT_OK(llm_model_load(path, &m, &eb), &eb);
    ASSERT_TRUE(llm_model_is_encoder(m));
    ASSERT_EQ_INT(llm_model_pooling(m), LLM_POOL_RANK);
    ASSERT_EQ_INT(llm_model_n_cls_out(m), 1);
    const int32_t *in[3] = {seq_a, seq_b, seq_c};
    int lens[3] = {9, 13, 5};
    int32_t ta[9], tb[13], tc[5];
    types_for(seq_a, 9, ta), types_for(seq_b, 13, tb), types_for(seq_c, 5, tc);
    const int32_t *ty[3] = {ta, tb, tc};
    float got[3];
    tpool *pool = tpool_new(2);
    ASSERT_OK(llm_rank(m, pool, in, ty, lens, 3, got, &eb), &eb);
    double spread = 0;
    for (int i = 0; i < 3; i++) {
        double want = enc_tiny_ref_rank(w, in[i], ty[i], lens[i]);
        fprintf(stderr, "  pair %d: engine %.6f, scalar %.6f\n", i, got[i], want);
        ASSERT_NEAR(got[i], want, 1e-4 + 1e-4 * fabs(want));
        spread += fabs(want);
    }
    ASSERT_TRUE(spread > 0.1); /* the scores are not all trivially zero */
    /* Token types matter: all-zero types give other scores. */
    float zero[3];
    ASSERT_OK(llm_rank(m, NULL, in, NULL, lens, 3, zero, &eb), &eb);
    ASSERT_NEAR(zero[0], enc_tiny_ref_rank(w, seq_a, NULL, 9), 1e-4 + 1e-4 * fabs(zero[0]));
    ASSERT_TRUE(fabsf(zero[0] - got[0]) > 1e-4f);
    /* A type beyond the table is an error. */
    int32_t bad[5] = {0, 0, 2, 0, 0};
    const int32_t *bt[1] = {bad};
    ASSERT_EQ_INT(llm_rank(m, NULL, &in[2], bt, &lens[2], 1, got, &eb), BASE_EINVAL);
    tpool_free(pool);
    llm_model_free(m);
    enc_tiny_free(w);
}

TEST(enc_batch_matches_scalar) {
    char path[512];
    snprintf(path, sizeof path, "%s/mean.gguf", test_tmpdir());
    enc_tiny *w = enc_tiny_write(path, false, 11);
    err_buf eb = {0};
    llm_model *m;
    ASSERT_OK(llm_model_load(path, &m, &eb), &eb);
    ASSERT_EQ_INT(llm_model_n_cls_out(m), 0);
    const int32_t *in[3] = {seq_b, seq_c, seq_a};
    int lens[3] = {13, 5, 9}, total = 27;
    float *tokv = malloc(sizeof(float) * ENC_E * total);
    double *ref = malloc(sizeof(double) * ENC_E * 13);
    ASSERT_OK(llm_embed_tokens(m, NULL, in, lens, 3, tokv, &eb), &eb);
    float *row = tokv;
    for (int i = 0; i < 3; i++) {
        enc_tiny_ref(w, in[i], NULL, lens[i], ref);
        for (int j = 0; j < lens[i] * ENC_E; j++) ASSERT_NEAR(row[j], ref[j], 2e-4);
        /* Pooling: mean, cls and last of the same rows, normalized. */
        float pooled[ENC_E];
        const int pools[3] = {LLM_POOL_MEAN, LLM_POOL_CLS, LLM_POOL_LAST};
        for (int pk = 0; pk < 3; pk++) {
            ASSERT_OK(llm_embed(m, NULL, &in[i], &lens[i], 1, pools[pk], true, pooled, &eb), &eb);
            double want[ENC_E], ss = 0;
            for (int d = 0; d < ENC_E; d++) {
                double s = 0;
                if (pk == 0)
                    for (int p = 0; p < lens[i]; p++) s += ref[p * ENC_E + d] / lens[i];
                else
                    s = ref[(pk == 1 ? 0 : lens[i] - 1) * ENC_E + d];
                want[d] = s;
                ss += s * s;
            }
            for (int d = 0; d < ENC_E; d++) ASSERT_NEAR(pooled[d], want[d] / sqrt(ss), 1e-4);
        }
        row += lens[i] * ENC_E;
    }
    free(tokv), free(ref);
    llm_model_free(m);
    enc_tiny_free(w);
}

/* Every allocation of a load and of an embedding call may fail: a clean BASE_ENOMEM, no leak
 * (ASan checks), and success once the allocations are allowed. */
TEST(enc_alloc_failures) {
    char path[512];
    snprintf(path, sizeof path, "%s/oom.gguf", test_tmpdir());
    enc_tiny *w = enc_tiny_write(path, true, 3);
    err_buf eb = {0};
    llm_model *m = NULL;
    int rc = -1;
    for (long n = 0; rc; n++) {
        mem_fail_after(n);
        rc = llm_model_load(path, &m, &eb);
        mem_fail_after(-1);
        if (rc) ASSERT_NULL(m);
        ASSERT_TRUE(rc == 0 || n < 10000);
    }
    const int32_t *in[2] = {seq_a, seq_c};
    int lens[2] = {9, 5};
    float out[2 * ENC_E];
    tpool *pool = tpool_new(2);
    rc = -1;
    for (long n = 0; rc; n++) {
        mem_fail_after(n);
        rc = llm_embed(m, pool, in, lens, 2, LLM_POOL_MEAN, true, out, &eb);
        mem_fail_after(-1);
        if (rc) ASSERT_EQ_INT(rc, BASE_ENOMEM);
    }
    rc = -1;
    for (long n = 0; rc; n++) {
        mem_fail_after(n);
        rc = llm_rank(m, pool, in, NULL, lens, 2, out, &eb);
        mem_fail_after(-1);
        if (rc) ASSERT_EQ_INT(rc, BASE_ENOMEM);
    }
    tpool_free(pool);
    llm_model_free(m);
    enc_tiny_free(w);
}

/* A broken encoder file is a clear error naming what is wrong. */
TEST(enc_bad_models) {
    char path[512];
    snprintf(path, sizeof path, "%s/bad.gguf", test_tmpdir());
    enc_tiny *w = enc_tiny_write(path, false, 3);
    err_buf eb = {0};
    gguf *g;
    ASSERT_OK(gguf_open(path, &g, &eb), &eb);
    /* Rewrite it with pooling_type rank but no head, then with a bad pooling type. */
    const uint32_t pools[2] = {4, 9};
    const char *needles[2] = {"cls.output", "pooling_type 9"};
    for (int k = 0; k < 2; k++) {
        gguf_writer *wr = gguf_writer_new();
        ASSERT_EQ_INT(gguf_writer_copy_kv(wr, g, NULL), 0);
        gguf_writer_set_u32(wr, "bert.pooling_type", pools[k]);
        for (int64_t i = 0; i < gguf_n_tensors(g); i++) {
            const gguf_tensor *t = gguf_tensor_at(g, i);
            ASSERT_EQ_INT(gguf_writer_add_tensor(wr, t->name, t->type, t->n_dims, t->ne, t->data, t->nbytes), 0);
        }
        char p2[600];
        snprintf(p2, sizeof p2, "%s/bad%d.gguf", test_tmpdir(), k);
        ASSERT_OK(gguf_writer_write_file(wr, p2, &eb), &eb);
        gguf_writer_free(wr);
        llm_model *m;
        ASSERT_NE_INT(llm_model_load(p2, &m, &eb), 0);
        ASSERT_CONTAINS(eb.msg, needles[k]);
    }
    gguf_close(g);
    enc_tiny_free(w);
}

/* nomic-bert: fused q|k|v, NeoX RoPE instead of position embeddings, SwiGLU. */
TEST(enc_nomic_bert_matches_scalar) {
    char path[512];
    snprintf(path, sizeof path, "%s/nomic.gguf", test_tmpdir());
    enc_tiny *w = enc_tiny_write_nomic(path, 13);
    err_buf eb = {0};
    llm_model *m;
    ASSERT_OK(llm_model_load(path, &m, &eb), &eb);
    ASSERT_TRUE(llm_model_is_encoder(m));
    ASSERT_EQ_STR(llm_model_hparams(m)->arch, "nomic-bert");
    const int32_t *in[2] = {seq_b, seq_a};
    int lens[2] = {13, 9};
    float *tokv = malloc(sizeof(float) * ENC_E * 22);
    double *ref = malloc(sizeof(double) * ENC_E * 13);
    tpool *pool = tpool_new(2);
    ASSERT_OK(llm_embed_tokens(m, pool, in, lens, 2, tokv, &eb), &eb);
    float *row = tokv;
    for (int i = 0; i < 2; i++) {
        enc_tiny_ref(w, in[i], NULL, lens[i], ref);
        for (int j = 0; j < lens[i] * ENC_E; j++) ASSERT_NEAR(row[j], ref[j], 2e-4);
        row += lens[i] * ENC_E;
    }
    tpool_free(pool);
    free(tokv), free(ref);
    llm_model_free(m);
    enc_tiny_free(w);
}
