/*
 * The encoder forward pass (BERT): embeddings (token + type + position, then LayerNorm),
 * post-norm blocks with biased projections, non-causal attention and a GELU FFN, then
 * pooling. nomic-bert differs only in a fused q|k|v, NeoX RoPE instead of position
 * embeddings, and a SwiGLU FFN; jina-bert-v2 in symmetric ALiBi biases (-slope_h * |i - j|)
 * instead of position embeddings, optional LayerNorms of q and k, and a GEGLU FFN. Several inputs of different lengths run as one batch of rows, so every matrix is
 * read once per call; attention keeps each input to its own rows. Scratch is allocated per
 * call (an embedding call is one pass, not a per-token loop), which keeps the model
 * read-only and callable from many threads at once.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"

typedef struct enc_run {
    const llm_model *m;
    tpool *pool;
    int T, max_len;    /* rows in all, longest input */
    int *start, *len;  /* per row: first row of its input, its input's length */
    float *x, *h, *q, *k, *v, *o, *u; /* T rows (u: T rows of max(n_ff, 3 n_embd)) */
    float *g;          /* nomic-bert: T rows of n_ff (the SwiGLU gate) */
    float *scores;     /* per thread: max_len floats */
    float *slopes;     /* jina-bert-v2: the ALiBi slope of each head, else NULL */
    void *mm_scratch;
} enc_run;

static const float *fdata(const gguf_tensor *t) { return t ? (const float *)t->data : NULL; }

/* Row r of a lookup table, decoded to floats. */
static void table_row(const gguf_tensor *t, int64_t r, float *dst) {
    const kern_traits *tt = kern_traits_of(t->type);
    size_t row_bytes = (size_t)(t->ne[0] / tt->block_size) * tt->type_size;
    tt->to_float((const char *)t->data + (size_t)r * row_bytes, dst, t->ne[0]);
}

/* Y (n rows of W->ne[1]) = X W^T + b */
static void mm(enc_run *r, const gguf_tensor *W, const gguf_tensor *b, const float *X, int n,
               float *Y) {
    kern_matmul(r->pool, W->type, W->data, W->ne[0], W->ne[1], X, n, Y, r->mm_scratch);
    if (b)
        for (int t = 0; t < n; t++)
            kern_add(Y + (size_t)t * W->ne[1], Y + (size_t)t * W->ne[1], fdata(b), W->ne[1]);
}

static void layernorm_rows(float *x, int n, int64_t E, const gguf_tensor *w,
                           const gguf_tensor *b, float eps) {
    for (int t = 0; t < n; t++)
        kern_layernorm(x + (size_t)t * E, x + (size_t)t * E, fdata(w), fdata(b), E, eps);
}

/* Attention, split across the pool by (row, head): row t attends to the rows of its input. */
static void att_run(void *arg, int ith, int nth) {
    enc_run *r = arg;
    const llm_hparams *hp = &r->m->hp;
    int hd = hp->head_dim, nh = hp->n_head, E = hp->n_embd;
    float *sc = r->scores + (size_t)ith * r->max_len;
    int total = r->T * nh;
    int per = (total + nth - 1) / nth, t0 = ith * per, t1 = t0 + per < total ? t0 + per : total;
    for (int task = t0; task < t1; task++) {
        int t = task / nh, h = task % nh;
        int first = r->start[t], cnt = r->m->enc->causal ? t - first + 1 : r->len[t];
        const float *qh = r->q + (size_t)t * E + (size_t)h * hd;
        float *oh = r->o + (size_t)t * E + (size_t)h * hd;
        for (int j = 0; j < cnt; j++)
            sc[j] = kern_dot_f32(qh, r->k + (size_t)(first + j) * E + (size_t)h * hd, hd);
        kern_scale(sc, sc, hp->attn_scale, cnt);
        if (r->slopes) {
            int self = t - first;
            for (int j = 0; j < cnt; j++) sc[j] -= r->slopes[h] * (float)abs(j - self);
        }
        kern_softmax(sc, cnt);
        memset(oh, 0, (size_t)hd * sizeof *oh);
        for (int j = 0; j < cnt; j++)
            kern_axpy(oh, sc[j], r->v + (size_t)(first + j) * E + (size_t)h * hd, hd);
    }
}

/* nomic-bert: q, k, v from the fused projection, then NeoX RoPE at each row's position. */
static void qkv_fused_rope(enc_run *r, const llm_enc_layer *L) {
    const llm_hparams *hp = &r->m->hp;
    size_t E = (size_t)hp->n_embd;
    mm(r, L->wqkv, L->bqkv, r->x, r->T, r->u);
    kern_rope_params rp = kern_rope_default_params();
    rp.n_rot = hp->n_rot;
    rp.neox = true;
    rp.freq_base = r->m->enc->rope_base;
    for (int t = 0; t < r->T; t++) {
        const float *row = r->u + (size_t)t * 3 * E;
        memcpy(r->q + t * E, row, E * sizeof(float));
        memcpy(r->k + t * E, row + E, E * sizeof(float));
        memcpy(r->v + t * E, row + 2 * E, E * sizeof(float));
        kern_rope(r->q + t * E, hp->n_head, hp->head_dim, t - r->start[t], &rp);
        kern_rope(r->k + t * E, hp->n_head, hp->head_dim, t - r->start[t], &rp);
    }
}

static void run_layer(enc_run *r, int il) {
    const llm_hparams *hp = &r->m->hp;
    const llm_enc_layer *L = &r->m->enc->layers[il];
    int T = r->T;
    int64_t E = hp->n_embd, F = hp->n_ff;
    if (L->wqkv) {
        qkv_fused_rope(r, L);
    } else {
        mm(r, L->wq, L->bq, r->x, T, r->q);
        mm(r, L->wk, L->bk, r->x, T, r->k);
        mm(r, L->wv, L->bv, r->x, T, r->v);
    }
    if (L->q_norm) {
        layernorm_rows(r->q, T, E, L->q_norm, L->q_norm_b, hp->norm_eps);
        layernorm_rows(r->k, T, E, L->k_norm, L->k_norm_b, hp->norm_eps);
    }
    tpool_run(r->pool, att_run, r);
    mm(r, L->wo, L->bo, r->o, T, r->h);
    /* Post-norm: residual add, then LayerNorm (BERT). */
    kern_add(r->x, r->x, r->h, (int64_t)T * E);
    layernorm_rows(r->x, T, E, L->attn_norm, L->attn_norm_b, hp->norm_eps);
    mm(r, L->w_up, L->b_up, r->x, T, r->u);
    if (L->w_gate) {
        mm(r, L->w_gate, NULL, r->x, T, r->g);
        if (r->m->arch == LLM_ARCH_JINA_BERT_V2) kern_geglu(r->u, r->g, r->u, (int64_t)T * F);
        else kern_swiglu(r->u, r->g, r->u, (int64_t)T * F);
    } else {
        kern_gelu(r->u, r->u, (int64_t)T * F);
    }
    mm(r, L->w_down, L->b_down, r->u, T, r->h);
    kern_add(r->x, r->x, r->h, (int64_t)T * E);
    layernorm_rows(r->x, T, E, L->out_norm, L->out_norm_b, hp->norm_eps);
}

static void run_free(enc_run *r) {
    mem_free(r->start);
    mem_free(r->len);
    mem_free(r->x);
    mem_free(r->h);
    mem_free(r->q);
    mem_free(r->k);
    mem_free(r->v);
    mem_free(r->o);
    mem_free(r->u);
    mem_free(r->g);
    mem_free(r->scores);
    mem_free(r->slopes);
    mem_free_aligned(r->mm_scratch);
}

static size_t max_scratch(size_t cur, const gguf_tensor *W, int T) {
    size_t s = W ? kern_matmul_scratch_size(W->type, W->ne[0], T) : 0;
    return s > cur ? s : cur;
}

static int check_inputs(const llm_model *m, const int32_t *const *inputs,
                        const int32_t *const *types, const int *lens, int n, err_buf *eb) {
    if (!m->enc)
        return err_set(eb, BASE_EINVAL, "model '%s' is not an encoder", m->hp.arch);
    if (n < 1 || !inputs || !lens) return err_set(eb, BASE_EINVAL, "no inputs");
    for (int i = 0; i < n; i++) {
        if (lens[i] < 1 || !inputs[i]) return err_set(eb, BASE_EINVAL, "input %d is empty", i);
        if (lens[i] > m->hp.n_ctx_train)
            return err_set(eb, BASE_EINVAL,
                           "input %d has %d tokens, more than the model's context of %d", i,
                           lens[i], m->hp.n_ctx_train);
        for (int p = 0; p < lens[i]; p++) {
            if (inputs[i][p] < 0 || inputs[i][p] >= m->hp.n_vocab)
                return err_set(eb, BASE_EINVAL, "input %d: token %d is not in the vocabulary",
                               i, (int)inputs[i][p]);
            int ty = types && types[i] ? types[i][p] : 0;
            if (ty < 0 || (ty > 0 && ty >= m->enc->n_types))
                return err_set(eb, BASE_EINVAL, "input %d: token type %d out of range", i, ty);
        }
    }
    return 0;
}

/* Run all inputs through the embeddings and every layer; r->x then holds the outputs. */
static int encode(enc_run *r, const llm_model *m, tpool *pool, const int32_t *const *inputs,
                  const int32_t *const *types, const int *lens, int n, err_buf *eb) {
    memset(r, 0, sizeof *r);
    int rc = check_inputs(m, inputs, types, lens, n, eb);
    if (rc) return rc;
    const llm_encoder *enc = m->enc;
    const llm_hparams *hp = &m->hp;
    r->m = m;
    r->pool = pool;
    long total = 0;
    for (int i = 0; i < n; i++) {
        total += lens[i];
        if (lens[i] > r->max_len) r->max_len = lens[i];
    }
    if (total > (1L << 24)) return err_set(eb, BASE_ERANGE, "too many tokens in one call");
    int T = r->T = (int)total;
    size_t E = (size_t)hp->n_embd, F = (size_t)hp->n_ff;
    int nth = tpool_size(pool);
    r->start = mem_alloc((size_t)T * sizeof(int));
    r->len = mem_alloc((size_t)T * sizeof(int));
    r->x = mem_alloc((size_t)T * E * sizeof(float));
    r->h = mem_alloc((size_t)T * E * sizeof(float));
    r->q = mem_alloc((size_t)T * E * sizeof(float));
    r->k = mem_alloc((size_t)T * E * sizeof(float));
    r->v = mem_alloc((size_t)T * E * sizeof(float));
    r->o = mem_alloc((size_t)T * E * sizeof(float));
    bool nomic = m->arch == LLM_ARCH_NOMIC_BERT, gated = nomic || m->arch == LLM_ARCH_JINA_BERT_V2;
    r->u = mem_alloc((size_t)T * (nomic && 3 * E > F ? 3 * E : F) * sizeof(float));
    if (gated) r->g = mem_alloc((size_t)T * F * sizeof(float));
    if (enc->alibi) {
        r->slopes = mem_alloc((size_t)hp->n_head * sizeof(float));
        if (r->slopes) llm_alibi_slopes(hp->n_head, enc->max_alibi_bias, r->slopes);
    }
    r->scores = mem_alloc((size_t)nth * (size_t)r->max_len * sizeof(float));
    size_t sc = 0;
    for (int il = 0; il < hp->n_layer; il++) {
        const llm_enc_layer *L = &enc->layers[il];
        const gguf_tensor *ws[] = {L->wq, L->wk, L->wv, L->wo, L->w_up, L->w_down, L->wqkv, L->w_gate};
        for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++) sc = max_scratch(sc, ws[i], T);
    }
    sc = max_scratch(max_scratch(sc, enc->cls, n), enc->cls_out, n);
    r->mm_scratch = mem_alloc_aligned(64, sc ? sc : 64);
    if (!r->start || !r->len || !r->x || !r->h || !r->q || !r->k || !r->v || !r->o || !r->u ||
        !r->scores || !r->mm_scratch || (gated && !r->g) || (enc->alibi && !r->slopes)) {
        run_free(r);
        return err_set(eb, BASE_ENOMEM, "out of memory for %d tokens", T);
    }

    /* x = token_embd[t] + token_types[type] + position_embd[p], then LayerNorm. */
    int row = 0;
    for (int i = 0; i < n; i++) {
        for (int p = 0; p < lens[i]; p++, row++) {
            float *x = r->x + (size_t)row * E, *tmp = r->h;
            r->start[row] = row - p;
            r->len[row] = lens[i];
            table_row(enc->tok_embd, inputs[i][p], x);
            if (enc->type_embd) {
                table_row(enc->type_embd, types && types[i] ? types[i][p] : 0, tmp);
                kern_add(x, x, tmp, (int64_t)E);
            }
            if (enc->pos_embd) {
                table_row(enc->pos_embd, p, tmp);
                kern_add(x, x, tmp, (int64_t)E);
            }
        }
    }
    layernorm_rows(r->x, T, (int64_t)E, enc->embd_norm, enc->embd_norm_b, hp->norm_eps);
    for (int il = 0; il < hp->n_layer; il++) run_layer(r, il);
    return 0;
}

/* llama.cpp's ALiBi slopes (ggml_soft_max_ext): heads up to the largest power of two n2 get
 * m0^(h+1), m0 = 2^(-max_bias/n2); the rest the odd powers of m1 = 2^(-max_bias/2/n2). */
void llm_alibi_slopes(int n_head, float max_bias, float *out) {
    int n2 = 1;
    while (n2 * 2 <= n_head) n2 *= 2;
    double m0 = pow(2.0, -max_bias / n2), m1 = pow(2.0, -max_bias / 2.0 / n2);
    for (int h = 0; h < n_head; h++)
        out[h] = (float)(h < n2 ? pow(m0, h + 1) : pow(m1, 2 * (h - n2) + 1));
}

bool llm_model_is_encoder(const llm_model *m) { return m && m->enc; }
int llm_model_pooling(const llm_model *m) { return m->enc ? m->enc->pooling : m->dec_pooling; }
int llm_model_n_token_types(const llm_model *m) { return m->enc ? m->enc->n_types : 0; }
int llm_model_n_cls_out(const llm_model *m) { return m->enc ? m->enc->n_cls_out : 0; }

int llm_embed(const llm_model *m, tpool *pool, const int32_t *const *inputs, const int *lens,
              int n_inputs, int pooling, bool normalize, float *out, err_buf *eb) {
    if (!m->enc)
        return llm_dec_embed(m, pool, inputs, lens, n_inputs, pooling, normalize, false, out, eb);
    if (m->enc && pooling == LLM_POOL_DEFAULT) {
        pooling = m->enc->pooling;
        if (pooling == LLM_POOL_NONE || pooling == LLM_POOL_RANK) pooling = LLM_POOL_MEAN;
    }
    if (pooling != LLM_POOL_MEAN && pooling != LLM_POOL_CLS && pooling != LLM_POOL_LAST)
        return err_set(eb, BASE_EINVAL, "pooling %d is not mean, cls or last", pooling);
    enc_run r;
    int rc = encode(&r, m, pool, inputs, NULL, lens, n_inputs, eb);
    if (rc) return rc;
    size_t E = (size_t)m->hp.n_embd;
    const float *x = r.x;
    for (int i = 0; i < n_inputs; i++) {
        float *o = out + (size_t)i * E;
        if (pooling == LLM_POOL_MEAN) {
            memset(o, 0, E * sizeof *o);
            for (int p = 0; p < lens[i]; p++) kern_add(o, o, x + (size_t)p * E, (int64_t)E);
            kern_scale(o, o, 1.0f / (float)lens[i], (int64_t)E);
        } else {
            memcpy(o, x + (size_t)(pooling == LLM_POOL_CLS ? 0 : lens[i] - 1) * E,
                   E * sizeof *o);
        }
        if (normalize) {
            double ss = 0;
            for (size_t d = 0; d < E; d++) ss += (double)o[d] * o[d];
            if (ss > 0) kern_scale(o, o, (float)(1.0 / sqrt(ss)), (int64_t)E);
        }
        x += (size_t)lens[i] * E;
    }
    run_free(&r);
    return 0;
}

int llm_embed_tokens(const llm_model *m, tpool *pool, const int32_t *const *inputs,
                     const int *lens, int n_inputs, float *out, err_buf *eb) {
    if (m && !m->enc)
        return llm_dec_embed(m, pool, inputs, lens, n_inputs, LLM_POOL_NONE, false, true, out, eb);
    enc_run r;
    int rc = encode(&r, m, pool, inputs, NULL, lens, n_inputs, eb);
    if (rc) return rc;
    memcpy(out, r.x, (size_t)r.T * (size_t)m->hp.n_embd * sizeof(float));
    run_free(&r);
    return 0;
}

int llm_rank(const llm_model *m, tpool *pool, const int32_t *const *inputs,
             const int32_t *const *types, const int *lens, int n_inputs, float *out,
             err_buf *eb) {
    if (m->enc && !m->enc->cls_out)
        return err_set(eb, BASE_EUNSUPPORTED, "model has no classification (rank) head");
    enc_run r;
    int rc = encode(&r, m, pool, inputs, types, lens, n_inputs, eb);
    if (rc) return rc;
    const llm_encoder *enc = m->enc;
    size_t E = (size_t)m->hp.n_embd;
    /* Gather each input's first ([CLS]) row into q, then the head: tanh(cls x) -> cls.output. */
    size_t row = 0;
    for (int i = 0; i < n_inputs; i++) {
        memcpy(r.q + (size_t)i * E, r.x + row * E, E * sizeof(float));
        row += (size_t)lens[i];
    }
    const float *feat = r.q;
    if (enc->cls) {
        mm(&r, enc->cls, enc->cls_b, r.q, n_inputs, r.k);
        for (size_t j = 0; j < (size_t)n_inputs * E; j++) r.k[j] = tanhf(r.k[j]);
        feat = r.k;
    }
    mm(&r, enc->cls_out, enc->cls_out_b, feat, n_inputs, out);
    run_free(&r);
    return 0;
}
