/*
 * The forward pass: one decoder block serves every supported family, with the differences
 * (biases, fused projections, q/k norms, post-norms, GELU, soft-caps, sliding windows) read
 * from the model. Matrix products run on the thread pool; row-wise ops are cheap and run on
 * the calling thread.
 */
#include <string.h>

#include "engine_int.h"

/* Y (n rows of W->ne[1]) = X (n rows of W->ne[0]) W^T */
static void mm(llm_session *s, const gguf_tensor *W, const float *X, int n, float *Y) {
    kern_matmul(s->pool, W->type, W->data, W->ne[0], W->ne[1], X, n, Y, s->mm_scratch);
}

static const float *fdata(const gguf_tensor *t) { return (const float *)t->data; }

static void add_bias(float *y, const gguf_tensor *b, int n, int64_t dim) {
    if (!b) return;
    for (int t = 0; t < n; t++) kern_add(y + (size_t)t * dim, y + (size_t)t * dim, fdata(b), dim);
}

/* Per-head RMS norm of n rows holding n_heads heads each (qwen3, gemma3). */
static void head_norm(float *x, int n, int n_heads, int hd, const gguf_tensor *w, float eps) {
    for (int r = 0; r < n * n_heads; r++) kern_rmsnorm(x + (size_t)r * hd, x + (size_t)r * hd, fdata(w), hd, eps);
}

/* Append each row's K and V to its own session's cache. */
static void store_kv(llm_session *s, int il, int n) {
    const llm_hparams *hp = &s->m->hp;
    size_t kd = (size_t)hp->n_head_kv * hp->head_dim;
    for (int t = 0; t < n; t++) {
        llm_session *rs = s->rows[t].s;
        size_t row = (size_t)s->rows[t].pos * kd;
        if (rs->kv_f32) {
            memcpy((float *)rs->k_cache[il] + row, s->k + t * kd, kd * sizeof(float));
            memcpy((float *)rs->v_cache[il] + row, s->v + t * kd, kd * sizeof(float));
        } else {
            kern_f32_to_f16_row(s->k + t * kd, (uint16_t *)rs->k_cache[il] + row, (int64_t)kd);
            kern_f32_to_f16_row(s->v + t * kd, (uint16_t *)rs->v_cache[il] + row, (int64_t)kd);
        }
    }
}

static void attention_block(llm_session *s, int il, int n) {
    const llm_model *m = s->m;
    const llm_hparams *hp = &m->hp;
    const llm_layer *L = &m->layers[il];
    int E = hp->n_embd, hd = hp->head_dim;
    size_t QD = (size_t)hp->n_head * hd, KD = (size_t)hp->n_head_kv * hd;

    for (int t = 0; t < n; t++)
        kern_rmsnorm(s->h + (size_t)t * E, s->x + (size_t)t * E, fdata(L->attn_norm), E, hp->norm_eps);
    if (L->wqkv) {
        size_t W = QD + 2 * KD;
        mm(s, L->wqkv, s->h, n, s->qkv);
        for (int t = 0; t < n; t++) {
            const float *r = s->qkv + t * W;
            memcpy(s->q + t * QD, r, QD * sizeof(float));
            memcpy(s->k + t * KD, r + QD, KD * sizeof(float));
            memcpy(s->v + t * KD, r + QD + KD, KD * sizeof(float));
        }
    } else {
        mm(s, L->wq, s->h, n, s->q);
        mm(s, L->wk, s->h, n, s->k);
        mm(s, L->wv, s->h, n, s->v);
    }
    add_bias(s->q, L->bq, n, (int64_t)QD);
    add_bias(s->k, L->bk, n, (int64_t)KD);
    add_bias(s->v, L->bv, n, (int64_t)KD);
    if (L->q_norm) head_norm(s->q, n, hp->n_head, hd, L->q_norm, hp->norm_eps);
    if (L->k_norm) head_norm(s->k, n, hp->n_head_kv, hd, L->k_norm, hp->norm_eps);

    kern_rope_params rp = kern_rope_default_params();
    rp.n_rot = hp->n_rot;
    rp.neox = hp->rope_neox;
    rp.freq_base = L->rope_base;
    rp.freq_scale = hp->rope_freq_scale;
    rp.freq_factors = m->rope_freqs ? fdata(m->rope_freqs) : NULL;
    rp.ext_factor = hp->yarn_ext_factor;
    rp.attn_factor = hp->yarn_attn_factor;
    rp.beta_fast = hp->yarn_beta_fast;
    rp.beta_slow = hp->yarn_beta_slow;
    rp.n_ctx_orig = hp->yarn_n_ctx_orig;
    for (int t = 0; t < n; t++) {
        kern_rope(s->q + t * QD, hp->n_head, hd, s->rows[t].pos, &rp);
        kern_rope(s->k + t * KD, hp->n_head_kv, hd, s->rows[t].pos, &rp);
    }
    store_kv(s, il, n);
    llm_attention(s, s->rows, il, n, s->q, s->o);
    mm(s, L->wo, s->o, n, s->a);
    if (L->post_attn_norm)
        for (int t = 0; t < n; t++)
            kern_rmsnorm(s->a + (size_t)t * E, s->a + (size_t)t * E, fdata(L->post_attn_norm), E, hp->norm_eps);
    kern_add(s->x, s->x, s->a, (int64_t)n * E);
}

static void ffn_block(llm_session *s, int il, int n) {
    const llm_model *m = s->m;
    const llm_hparams *hp = &m->hp;
    const llm_layer *L = &m->layers[il];
    int E = hp->n_embd;
    size_t F = (size_t)hp->n_ff;

    for (int t = 0; t < n; t++)
        kern_rmsnorm(s->h + (size_t)t * E, s->x + (size_t)t * E, fdata(L->ffn_norm), E, hp->norm_eps);
    if (!L->w_gate) {
        /* phi3: ffn_up yields gate | up per row. */
        mm(s, L->w_up, s->h, n, s->u);
        for (int t = 0; t < n; t++)
            kern_swiglu(s->g + t * F, s->u + t * 2 * F, s->u + t * 2 * F + F, (int64_t)F);
    } else {
        mm(s, L->w_gate, s->h, n, s->g);
        mm(s, L->w_up, s->h, n, s->u);
        if (m->act == LLM_ACT_GELU) kern_geglu(s->g, s->g, s->u, (int64_t)n * F);
        else kern_swiglu(s->g, s->g, s->u, (int64_t)n * F);
    }
    mm(s, L->w_down, s->g, n, s->a);
    if (L->post_ffw_norm)
        for (int t = 0; t < n; t++)
            kern_rmsnorm(s->a + (size_t)t * E, s->a + (size_t)t * E, fdata(L->post_ffw_norm), E, hp->norm_eps);
    kern_add(s->x, s->x, s->a, (int64_t)n * E);
}

/* Run n rows (n <= n_batch of s, whose scratch is used; s->rows filled). Logits are computed
 * for the rows listed in out_rows (n_out of them) into s->logits, in that order. */
static void forward(llm_session *s, const int32_t *tokens, int n, const int *out_rows, int n_out) {
    const llm_model *m = s->m;
    const llm_hparams *hp = &m->hp;
    int E = hp->n_embd;
    const gguf_tensor *te = m->tok_embd;
    for (int t = 0; t < n; t++) {
        float *x = s->x + (size_t)t * E;
        /* Token ids were checked against n_vocab by the caller; the type at load. */
        kern_get_row(te->type, te->data, te->ne[0], te->ne[1], tokens[t], x);
        if (m->embd_scale != 1.0f) kern_scale(x, x, m->embd_scale, E);
    }
    for (int il = 0; il < hp->n_layer; il++) {
        attention_block(s, il, n);
        ffn_block(s, il, n);
    }
    if (!n_out) return;
    for (int i = 0; i < n_out; i++)
        kern_rmsnorm(s->h + (size_t)i * E, s->x + (size_t)out_rows[i] * E, fdata(m->output_norm), E,
                     hp->norm_eps);
    mm(s, m->output, s->h, n_out, s->logits);
    if (hp->final_softcap > 0) kern_softcap(s->logits, hp->final_softcap, (int64_t)n_out * hp->n_vocab);
}

void llm_forward_rows(llm_session *s, const int32_t *tokens, int n) {
    forward(s, tokens, n, NULL, 0);
}

static int check_tokens(const llm_hparams *hp, const int32_t *tokens, int n, err_buf *eb) {
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= hp->n_vocab)
            return err_set(eb, BASE_EINVAL, "token id %d at index %d is outside the vocabulary (0..%d)",
                           tokens[i], i, hp->n_vocab - 1);
    return 0;
}

int llm_decode(llm_session *s, const int32_t *tokens, int n, bool all_logits, err_buf *eb) {
    if (n <= 0) return err_set(eb, BASE_EINVAL, "no tokens to decode");
    if (n > s->n_ctx - s->n_past)
        return err_set(eb, BASE_EFULL, "context full: %d cached + %d new tokens exceed n_ctx %d",
                       s->n_past, n, s->n_ctx);
    if (all_logits && (!s->logits_all || n > s->n_batch))
        return err_set(eb, BASE_EINVAL, "all logits need a session opened with all_logits and at most n_batch (%d) tokens",
                       s->n_batch);
    int rc = check_tokens(&s->m->hp, tokens, n, eb);
    if (rc) return rc;
    s->n_logits = 0;
    for (int off = 0; off < n; off += s->n_batch) {
        int c = n - off < s->n_batch ? n - off : s->n_batch;
        bool last = off + c == n;
        for (int t = 0; t < c; t++) s->rows[t] = (llm_row){s, s->n_past + t};
        int out_rows[1] = {c - 1};
        if (!last) {
            forward(s, tokens + off, c, NULL, 0);
        } else if (all_logits) {
            /* Rows 0..c-1 in order: out_rows is the identity. */
            int *ids = s->out_idx;
            for (int t = 0; t < c; t++) ids[t] = t;
            forward(s, tokens + off, c, ids, c);
            s->n_logits = c;
        } else {
            forward(s, tokens + off, c, out_rows, 1);
            s->n_logits = 1;
        }
        s->n_past += c;
    }
    return 0;
}

int llm_decode_batch(const llm_batch_item *items, int n, err_buf *eb) {
    if (n <= 0) return err_set(eb, BASE_EINVAL, "no tokens to decode");
    llm_session *drv = items[0].s;
    if (n > drv->n_batch)
        return err_set(eb, BASE_EINVAL, "batch of %d rows exceeds n_batch %d", n, drv->n_batch);
    const llm_model *m = drv->m;
    /* Positions: each session's rows follow its cache in item order. Validate first so that
     * nothing changes on error. */
    for (int i = 0; i < n; i++) {
        llm_session *s = items[i].s;
        if (s->m != m || s->n_ctx != drv->n_ctx || s->pool != drv->pool)
            return err_set(eb, BASE_EINVAL, "batch item %d: sessions differ in model, n_ctx or pool", i);
        int rc = check_tokens(&m->hp, &items[i].token, 1, eb);
        if (rc) return rc;
        s->pending = 0;
    }
    for (int i = 0; i < n; i++) {
        llm_session *s = items[i].s;
        if (s->n_past + s->pending >= s->n_ctx)
            return err_set(eb, BASE_EFULL, "batch item %d: context full (n_ctx %d)", i, s->n_ctx);
        drv->rows[i] = (llm_row){s, s->n_past + s->pending};
        s->pending++;
        if (items[i].logits) {
            for (int j = i + 1; j < n; j++)
                if (items[j].s == s)
                    return err_set(eb, BASE_EINVAL, "batch item %d: logits only for a session's last item", i);
        }
    }
    int n_out = 0;
    for (int i = 0; i < n; i++) n_out += items[i].logits;
    if (n_out > drv->logits_rows)
        return err_set(eb, BASE_EINVAL, "batch wants %d logits rows, session has room for %d (n_seq)",
                       n_out, drv->logits_rows);
    n_out = 0;
    int32_t *toks = drv->batch_tokens;
    for (int i = 0; i < n; i++) {
        toks[i] = items[i].token;
        if (items[i].logits) drv->out_idx[n_out++] = i;
    }
    forward(drv, toks, n, drv->out_idx, n_out);
    /* Every session of the batch advances; only those with a logits item keep logits. */
    for (int i = 0; i < n; i++) {
        llm_session *s = items[i].s;
        s->n_past += s->pending;
        s->pending = 0;
        s->n_logits = 0;
    }
    /* Scatter the logits rows to their sessions (the driver's own row last: it is the source). */
    size_t V = (size_t)m->hp.n_vocab;
    int drv_row = -1;
    for (int k = 0; k < n_out; k++) {
        llm_session *s = items[drv->out_idx[k]].s;
        if (s == drv) { drv_row = k; continue; }
        memcpy(s->logits, drv->logits + (size_t)k * V, V * sizeof(float));
        s->n_logits = 1;
    }
    if (drv_row >= 0) {
        if (drv_row) memmove(drv->logits, drv->logits + (size_t)drv_row * V, V * sizeof(float));
        drv->n_logits = 1;
    }
    return 0;
}
