/*
 * Embeddings from a decoder (LLM): the final hidden state of each token, after the output
 * norm and before the lm head, pooled over the input (mean, last or first token) and
 * L2-normalized. Embedding models built on decoders (e5-mistral, gte-Qwen, Qwen3-Embedding)
 * are run this way by llama.cpp.
 *
 * Several inputs run in one forward pass: each input gets a small session of its own (its KV
 * cache holds only its tokens, so attention never crosses inputs) and the rows of all of them
 * go through the driver session's scratch together, n_batch rows at a time. Inputs are taken
 * in groups of at most DEC_GROUP_TOKENS tokens (fewer for big models: DEC_GROUP_KV_BYTES) to
 * bound the KV memory of one group; a longer input is a group of its own. Scratch is
 * allocated per call, like the encoder's: the model stays read-only.
 */
#include <math.h>
#include <string.h>

#include "engine_int.h"

#define DEC_GROUP_TOKENS 2048
#define DEC_GROUP_KV_BYTES (256u << 20) /* F32 KV memory of one group at most (big models) */
#define DEC_MAX_BATCH 512

static const float *fdata(const gguf_tensor *t) { return (const float *)t->data; }

static int check(const llm_model *m, const int32_t *const *inputs, const int *lens, int n,
                 int pooling, bool per_token, err_buf *eb) {
    if (n < 1 || !inputs || !lens) return err_set(eb, BASE_EINVAL, "no inputs");
    if (!per_token && pooling != LLM_POOL_MEAN && pooling != LLM_POOL_CLS &&
        pooling != LLM_POOL_LAST)
        return err_set(eb, BASE_EINVAL, "pooling %d is not mean, cls or last", pooling);
    for (int i = 0; i < n; i++) {
        if (lens[i] < 1 || !inputs[i]) return err_set(eb, BASE_EINVAL, "input %d is empty", i);
        if (lens[i] > m->hp.n_ctx_train)
            return err_set(eb, BASE_EINVAL,
                           "input %d has %d tokens, more than the model's context of %d", i,
                           lens[i], m->hp.n_ctx_train);
        for (int p = 0; p < lens[i]; p++)
            if (inputs[i][p] < 0 || inputs[i][p] >= m->hp.n_vocab)
                return err_set(eb, BASE_EINVAL, "input %d: token %d is not in the vocabulary",
                               i, (int)inputs[i][p]);
    }
    return 0;
}

/* Inputs [i0, i1) as one group. out_rows: where the group's first output row goes (per-token
 * mode: its first token's row; pooled: input i0's row). */
static int run_group(const llm_model *m, tpool *pool, const int32_t *const *inputs,
                     const int *lens, int i0, int i1, int pooling, bool per_token, float *out,
                     err_buf *eb) {
    int n = i1 - i0, max_len = 0;
    long total = 0;
    for (int i = i0; i < i1; i++) {
        total += lens[i];
        if (lens[i] > max_len) max_len = lens[i];
    }
    int nb = total < DEC_MAX_BATCH ? (int)total : DEC_MAX_BATCH;
    size_t E = (size_t)m->hp.n_embd;
    llm_session **ss = mem_calloc((size_t)n + 1, sizeof *ss);
    float *tmp = mem_alloc(E * sizeof *tmp);
    int32_t *toks = mem_alloc((size_t)nb * sizeof *toks);
    int rc = 0;
    if (!ss || !tmp || !toks) {
        rc = err_set(eb, BASE_ENOMEM, "out of memory");
        goto done;
    }
    /* ss[0] drives (its scratch and score buffers serve the whole batch); ss[1 + k] holds
     * input i0 + k's KV cache. */
    llm_session_params dp = llm_session_default_params();
    dp.n_ctx = max_len > nb ? max_len : nb;
    if (dp.n_ctx > m->hp.n_ctx_train) dp.n_ctx = m->hp.n_ctx_train;
    dp.n_batch = nb;
    dp.kv_f32 = true;
    if ((rc = llm_session_new(m, &dp, pool, &ss[0], eb))) goto done;
    if (ss[0]->n_batch < nb) nb = ss[0]->n_batch;
    for (int k = 0; k < n; k++) {
        llm_session_params sp = llm_session_default_params();
        sp.n_ctx = lens[i0 + k];
        sp.n_batch = 1;
        sp.kv_f32 = true;
        if ((rc = llm_session_new(m, &sp, pool, &ss[1 + k], eb))) goto done;
    }
    if (!per_token)
        memset(out, 0, (size_t)n * E * sizeof *out);
    llm_session *drv = ss[0];
    int k = 0, p = 0; /* the next row to run: input i0 + k, position p */
    size_t tok_row = 0; /* per-token output row of that next row */
    while (k < n) {
        int c = 0;
        int rk[DEC_MAX_BATCH], rp[DEC_MAX_BATCH];
        while (c < nb && k < n) {
            drv->rows[c] = (llm_row){ss[1 + k], p};
            toks[c] = inputs[i0 + k][p];
            rk[c] = k;
            rp[c] = p;
            c++;
            if (++p == lens[i0 + k]) {
                k++;
                p = 0;
            }
        }
        llm_forward_rows(drv, toks, c);
        for (int t = 0; t < c; t++) {
            const float *x = drv->x + (size_t)t * E;
            if (per_token) {
                kern_rmsnorm(out + tok_row++ * E, x, fdata(m->output_norm), (int64_t)E,
                             m->hp.norm_eps);
                continue;
            }
            int len = lens[i0 + rk[t]];
            float *o = out + (size_t)rk[t] * E;
            if (pooling == LLM_POOL_MEAN) {
                kern_rmsnorm(tmp, x, fdata(m->output_norm), (int64_t)E, m->hp.norm_eps);
                kern_axpy(o, 1.0f / (float)len, tmp, (int64_t)E);
            } else if ((pooling == LLM_POOL_CLS && rp[t] == 0) ||
                       (pooling == LLM_POOL_LAST && rp[t] == len - 1)) {
                kern_rmsnorm(o, x, fdata(m->output_norm), (int64_t)E, m->hp.norm_eps);
            }
        }
    }
done:
    for (int j = 0; ss && j <= n; j++) llm_session_free(ss[j]);
    mem_free(ss);
    mem_free(tmp);
    mem_free(toks);
    return rc;
}

int llm_dec_embed(const llm_model *m, tpool *pool, const int32_t *const *inputs,
                  const int *lens, int n_inputs, int pooling, bool normalize, bool per_token,
                  float *out, err_buf *eb) {
    if (!per_token && pooling == LLM_POOL_DEFAULT)
        pooling = m->dec_pooling == LLM_POOL_CLS || m->dec_pooling == LLM_POOL_LAST
                      ? m->dec_pooling
                      : LLM_POOL_MEAN;
    int rc = check(m, inputs, lens, n_inputs, pooling, per_token, eb);
    if (rc) return rc;
    size_t E = (size_t)m->hp.n_embd, row = 0;
    size_t kv_per_token = (size_t)m->hp.n_layer * (size_t)m->hp.n_head_kv * (size_t)m->hp.head_dim * 2 * sizeof(float);
    long group = (long)(DEC_GROUP_KV_BYTES / (kv_per_token ? kv_per_token : 1));
    if (group > DEC_GROUP_TOKENS) group = DEC_GROUP_TOKENS;
    if (group < 64) group = 64;
    for (int i0 = 0; i0 < n_inputs;) {
        int i1 = i0;
        long toks = 0;
        while (i1 < n_inputs && (i1 == i0 || toks + lens[i1] <= group))
            toks += lens[i1++];
        float *dst = out + (per_token ? row : (size_t)i0) * E;
        if ((rc = run_group(m, pool, inputs, lens, i0, i1, pooling, per_token, dst, eb)))
            return rc;
        row += (size_t)toks;
        i0 = i1;
    }
    if (normalize && !per_token)
        for (int i = 0; i < n_inputs; i++) {
            float *o = out + (size_t)i * E;
            double ss = 0;
            for (size_t d = 0; d < E; d++) ss += (double)o[d] * o[d];
            if (ss > 0) kern_scale(o, o, (float)(1.0 / sqrt(ss)), (int64_t)E);
        }
    return 0;
}
