/*
 * The BERT encoder against llama.cpp's embeddings (../shared/golden/embeddings): pooled and
 * L2-normalized vectors of five texts, each alone and all five in one batch, and the last
 * layer's per-token outputs, within the NRMSE and max-abs bounds of MANIFEST.tsv; and the
 * WordPiece tokenizer against the tokens files.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "engine/engine.h"
#include "test.h"
#include "tokenizer/tokenizer.h"

#define N_TEXTS 5
#define MAX_TOK 64

typedef struct emb_row {
    char model[160], tokens[160], ref[160], ref_tok[160], texts[160];
    int n_embd, n_tok_total;
    double nrmse, maxabs, tok_nrmse, tok_maxabs;
} emb_row;

static void find_row(const char *name, emb_row *r) {
    FILE *f = fopen(test_shared_file("golden/embeddings/MANIFEST.tsv"), "r");
    ASSERT_NOT_NULL(f);
    char line[1024];
    bool found = false;
    while (fgets(line, sizeof line, f)) {
        char *fl[16] = {0};
        int nf = 0;
        for (char *save = NULL, *t = strtok_r(line, "\t\n", &save); t && nf < 16;
             t = strtok_r(NULL, "\t\n", &save))
            fl[nf++] = t;
        if (nf < 16 || strcmp(fl[0], name)) continue;
        r->n_embd = atoi(fl[5]);
        r->n_tok_total = atoi(fl[6]);
        r->nrmse = atof(fl[7]);
        r->maxabs = atof(fl[8]);
        r->tok_nrmse = atof(fl[9]);
        r->tok_maxabs = atof(fl[10]);
        snprintf(r->model, sizeof r->model, "golden/embeddings/%s", fl[11]);
        snprintf(r->texts, sizeof r->texts, "golden/embeddings/%s", fl[12]);
        snprintf(r->tokens, sizeof r->tokens, "golden/embeddings/%s", fl[13]);
        snprintf(r->ref, sizeof r->ref, "golden/embeddings/%s", fl[14]);
        snprintf(r->ref_tok, sizeof r->ref_tok, "golden/embeddings/%s", fl[15]);
        found = true;
    }
    fclose(f);
    ASSERT_TRUE(found);
}

static float *read_f32(const char *rel, size_t n) {
    FILE *f = fopen(test_shared_file(rel), "rb");
    ASSERT_NOT_NULL(f);
    float *v = malloc(n * sizeof *v);
    ASSERT_EQ_UINT(fread(v, sizeof *v, n, f), n);
    fclose(f);
    return v;
}

/* The tokens file: one line of ids per text. */
static void read_tokens(const char *rel, int32_t ids[N_TEXTS][MAX_TOK], int lens[N_TEXTS]) {
    FILE *f = fopen(test_shared_file(rel), "r");
    ASSERT_NOT_NULL(f);
    char line[2048];
    int i = 0;
    while (i < N_TEXTS && fgets(line, sizeof line, f)) {
        lens[i] = 0;
        for (char *save = NULL, *t = strtok_r(line, " \n", &save); t && lens[i] < MAX_TOK;
             t = strtok_r(NULL, " \n", &save))
            ids[i][lens[i]++] = (int32_t)atoi(t);
        i++;
    }
    fclose(f);
    ASSERT_EQ_INT(i, N_TEXTS);
}

static void compare(const char *what, const float *a, const float *b, size_t n, double nrmse_tol,
                    double maxabs_tol) {
    double se = 0, sb = 0, mx = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - b[i];
        se += d * d;
        sb += (double)b[i] * b[i];
        if (fabs(d) > mx) mx = fabs(d);
    }
    double nrmse = sqrt(se / n) / sqrt(sb / n);
    fprintf(stderr, "  %s: nrmse %.3g (bound %.3g), maxabs %.3g (bound %.3g)\n", what, nrmse,
            nrmse_tol, mx, maxabs_tol);
    if (!(nrmse <= nrmse_tol) || !(mx <= maxabs_tol))
        test_fail(__FILE__, __LINE__, "%s out of bounds: nrmse %g > %g or maxabs %g > %g", what,
                  nrmse, nrmse_tol, mx, maxabs_tol);
}

static void check_model(const char *name, int n_threads) {
    emb_row r;
    find_row(name, &r);
    err_buf eb = {0};
    llm_model *m;
    ASSERT_OK(llm_model_load(test_shared_file(r.model), &m, &eb), &eb);
    ASSERT_TRUE(llm_model_is_encoder(m));
    ASSERT_EQ_INT(llm_model_hparams(m)->n_embd, r.n_embd);
    static int32_t ids[N_TEXTS][MAX_TOK];
    int lens[N_TEXTS];
    read_tokens(r.tokens, ids, lens);
    const int32_t *in[N_TEXTS];
    int total = 0;
    for (int i = 0; i < N_TEXTS; i++) {
        in[i] = ids[i];
        total += lens[i];
    }
    ASSERT_EQ_INT(total, r.n_tok_total);
    size_t E = (size_t)r.n_embd;
    float *ref = read_f32(r.ref, N_TEXTS * E), *ref_tok = read_f32(r.ref_tok, (size_t)total * E);
    float *out = malloc(N_TEXTS * E * sizeof *out), *tokv = malloc((size_t)total * E * sizeof *tokv);
    tpool *pool = n_threads > 1 ? tpool_new(n_threads) : NULL;

    /* Each text on its own, then all five in one batch. */
    for (int i = 0; i < N_TEXTS; i++)
        ASSERT_OK(llm_embed(m, pool, &in[i], &lens[i], 1, LLM_POOL_DEFAULT, true, out + i * E, &eb), &eb);
    compare("embeddings, one text per call", out, ref, N_TEXTS * E, r.nrmse, r.maxabs);
    memset(out, 0, N_TEXTS * E * sizeof *out);
    ASSERT_OK(llm_embed(m, pool, in, lens, N_TEXTS, LLM_POOL_DEFAULT, true, out, &eb), &eb);
    compare("embeddings, one batch", out, ref, N_TEXTS * E, r.nrmse, r.maxabs);
    ASSERT_OK(llm_embed_tokens(m, pool, in, lens, N_TEXTS, tokv, &eb), &eb);
    compare("per-token outputs", tokv, ref_tok, (size_t)total * E, r.tok_nrmse, r.tok_maxabs);

    tpool_free(pool);
    free(ref), free(ref_tok), free(out), free(tokv);
    llm_model_free(m);
}

TEST(enc_golden_bert_mean_f32) { check_model("bert-mean-F32", 1); }
TEST(enc_golden_bert_cls_q8_0) { check_model("bert-cls-Q8_0", 1); }
TEST(enc_golden_bert_two_threads) {
    check_model("bert-mean-F32", 2);
    check_model("bert-cls-Q8_0", 2);
}

/* The WordPiece tokenizer gives the tokens file's ids for every line of texts.txt. */
TEST(enc_golden_tokenizer) {
    emb_row r;
    find_row("bert-mean-F32", &r);
    err_buf eb = {0};
    gguf *g;
    ASSERT_OK(gguf_open(test_shared_file(r.model), &g, &eb), &eb);
    tok *t;
    ASSERT_OK(tok_load(g, &t, &eb), &eb);
    gguf_close(g);
    static int32_t ids[N_TEXTS][MAX_TOK];
    int lens[N_TEXTS];
    read_tokens(r.tokens, ids, lens);
    FILE *f = fopen(test_shared_file(r.texts), "r");
    ASSERT_NOT_NULL(f);
    char line[1024];
    for (int i = 0; i < N_TEXTS; i++) {
        ASSERT_NOT_NULL(fgets(line, sizeof line, f));
        size_t len = strcspn(line, "\n");
        int32_t *got;
        size_t n;
        ASSERT_OK(tok_encode(t, line, len, true, true, &got, &n, &eb), &eb);
        ASSERT_EQ_INT(n, lens[i]);
        for (int p = 0; p < lens[i]; p++) ASSERT_EQ_INT(got[p], ids[i][p]);
        mem_free(got);
    }
    fclose(f);
    tok_free(t);
}

/* Bad inputs are errors with messages, never crashes; decoders are not encoders. */
TEST(enc_errors) {
    emb_row r;
    find_row("bert-mean-F32", &r);
    err_buf eb = {0};
    llm_model *m;
    ASSERT_OK(llm_model_load(test_shared_file(r.model), &m, &eb), &eb);
    float out[256];
    int32_t ids[200] = {101, 7592, 102};
    const int32_t *in = ids;
    int len = 0;
    ASSERT_EQ_INT(llm_embed(m, NULL, &in, &len, 1, LLM_POOL_MEAN, true, out, &eb), BASE_EINVAL);
    len = 200; /* the context is 128 */
    ASSERT_EQ_INT(llm_embed(m, NULL, &in, &len, 1, LLM_POOL_MEAN, true, out, &eb), BASE_EINVAL);
    ASSERT_CONTAINS(eb.msg, "context");
    len = 3;
    ids[1] = 40000;
    ASSERT_EQ_INT(llm_embed(m, NULL, &in, &len, 1, LLM_POOL_MEAN, true, out, &eb), BASE_EINVAL);
    ids[1] = 7592;
    ASSERT_EQ_INT(llm_embed(m, NULL, &in, &len, 1, LLM_POOL_RANK, true, out, &eb), BASE_EINVAL);
    ASSERT_EQ_INT(llm_rank(m, NULL, &in, NULL, &len, 1, out, &eb), BASE_EUNSUPPORTED);
    llm_session *s;
    llm_session_params sp = llm_session_default_params();
    ASSERT_EQ_INT(llm_session_new(m, &sp, NULL, &s, &eb), BASE_EUNSUPPORTED);
    ASSERT_CONTAINS(eb.msg, "encoder");
    llm_model_free(m);
}
