/*
 * The forward pass: one decoder block serves every supported family, with the differences
 * (biases, fused projections, q/k norms, post-norms, GELU, soft-caps, sliding windows) read
 * from the model. Matrix products run on the thread pool, and so do the row-wise steps
 * between them for batches of STEP_PAR_ROWS rows or more.
 */
#include <string.h>

#include "engine_int.h"

/* Y (n rows of W->ne[1]) = X (n rows of W->ne[0]) W^T */
static void mm(llm_session *s, const gguf_tensor *W, const float *X, int n, float *Y) {
    kern_matmul(s->pool, W->type, W->data, W->ne[0], W->ne[1], X, n, Y, s->mm_scratch);
}

/* Products of the same X with up to 3 matrices (q, k, v; gate, up): X is converted once and
 * the threads share out all of them in one run where the types allow (kern_matmul_multi). */
static void mm3(llm_session *s, const float *X, int n, const gguf_tensor *A, float *YA,
                const gguf_tensor *B, float *YB, const gguf_tensor *C, float *YC) {
    const kern_mm_item it[3] = {{A->type, A->data, A->ne[1], YA},
                                {B->type, B->data, B->ne[1], YB},
                                {C ? C->type : 0, C ? C->data : NULL, C ? C->ne[1] : 0, YC}};
    kern_matmul_multi(s->pool, it, C ? 3 : 2, A->ne[0], X, n, s->mm_scratch);
}

static const float *fdata(const gguf_tensor *t) { return (const float *)t->data; }

/* ---- the row-wise steps between the products ----
 * Each works on rows [t0, t1) of the batch, independently per row, so a big batch splits
 * them over the pool's threads (one run per step) instead of leaving the other threads to
 * wait for the caller; a few rows go on the calling thread. */
typedef enum {
    STEP_ATTN_IN,  /* h = attn_norm(x) */
    STEP_QKV,      /* split qkv, biases, q/k norms, RoPE, K and V into the cache */
    STEP_ATTN_OUT, /* x += post_attn_norm(a); h = ffn_norm(x) */
    STEP_FFN_ACT,  /* g = act(gate) * up (phi3: SiLU of the first half of up) */
    STEP_FFN_OUT,  /* x += post_ffw_norm(a); h = the next layer's attn_norm(x) */
} step_kind;

/* Rows of a batch at least this many go to the pool. */
#define STEP_PAR_ROWS 8

static void norm_row(float *y, const float *x, const gguf_tensor *w, int n, float eps) {
    kern_rmsnorm(y, x, fdata(w), n, eps);
}

/* K and V of row t into its own session's cache. */
static void store_kv(llm_session *s, int il, int t) {
    const llm_hparams *hp = &s->m->hp;
    const size_t kd = (size_t)hp->n_head_kv * hp->head_dim;
    llm_session *rs = s->rows[t].s;
    const size_t row = (size_t)s->rows[t].pos * kd;
    if (rs->kv_f32) {
        memcpy((float *)rs->k_cache[il] + row, s->k + t * kd, kd * sizeof(float));
        memcpy((float *)rs->v_cache[il] + row, s->v + t * kd, kd * sizeof(float));
    } else {
        kern_f32_to_f16_row(s->k + t * kd, (uint16_t *)rs->k_cache[il] + row, (int64_t)kd);
        kern_f32_to_f16_row(s->v + t * kd, (uint16_t *)rs->v_cache[il] + row, (int64_t)kd);
    }
}

/* The layer's RoPE settings (its base differs on gemma3's sliding layers). */
static kern_rope_params rope_params(const llm_model *m, int il) {
    const llm_hparams *hp = &m->hp;
    kern_rope_params rp = kern_rope_default_params();
    rp.n_rot = hp->n_rot;
    rp.neox = hp->rope_neox;
    rp.freq_base = m->layers[il].rope_base;
    rp.freq_scale = hp->rope_freq_scale;
    rp.freq_factors = m->rope_freqs ? fdata(m->rope_freqs) : NULL;
    rp.ext_factor = hp->yarn_ext_factor;
    rp.attn_factor = hp->yarn_attn_factor;
    rp.beta_fast = hp->yarn_beta_fast;
    rp.beta_slow = hp->yarn_beta_slow;
    rp.n_ctx_orig = hp->yarn_n_ctx_orig;
    return rp;
}

static void qkv_row(llm_session *s, int il, int t, const kern_rope_params *rp) {
    const llm_model *m = s->m;
    const llm_hparams *hp = &m->hp;
    const llm_layer *L = &m->layers[il];
    const int hd = hp->head_dim;
    const size_t QD = (size_t)hp->n_head * hd, KD = (size_t)hp->n_head_kv * hd;
    float *q = s->q + t * QD, *k = s->k + t * KD, *v = s->v + t * KD;
    if (L->wqkv) {
        const float *r = s->qkv + t * (QD + 2 * KD);
        memcpy(q, r, QD * sizeof(float));
        memcpy(k, r + QD, KD * sizeof(float));
        memcpy(v, r + QD + KD, KD * sizeof(float));
    }
    if (L->bq) kern_add(q, q, fdata(L->bq), (int64_t)QD);
    if (L->bk) kern_add(k, k, fdata(L->bk), (int64_t)KD);
    if (L->bv) kern_add(v, v, fdata(L->bv), (int64_t)KD);
    /* Per-head RMS norms (qwen3, gemma3). */
    if (L->q_norm)
        for (int h = 0; h < hp->n_head; h++) norm_row(q + (size_t)h * hd, q + (size_t)h * hd, L->q_norm, hd, hp->norm_eps);
    if (L->k_norm)
        for (int h = 0; h < hp->n_head_kv; h++) norm_row(k + (size_t)h * hd, k + (size_t)h * hd, L->k_norm, hd, hp->norm_eps);
    kern_rope(q, hp->n_head, hd, s->rows[t].pos, rp);
    kern_rope(k, hp->n_head_kv, hd, s->rows[t].pos, rp);
    store_kv(s, il, t);
}

static void step_rows(llm_session *s, int il, step_kind step, int t0, int t1) {
    const llm_model *m = s->m;
    const llm_hparams *hp = &m->hp;
    const llm_layer *L = &m->layers[il];
    const int E = hp->n_embd;
    const size_t F = (size_t)hp->n_ff;
    const kern_rope_params rp = step == STEP_QKV ? rope_params(m, il) : kern_rope_default_params();
    for (int t = t0; t < t1; t++) {
        float *x = s->x + (size_t)t * E, *h = s->h + (size_t)t * E, *a = s->a + (size_t)t * E;
        switch (step) {
        case STEP_ATTN_IN: norm_row(h, x, L->attn_norm, E, hp->norm_eps); break;
        case STEP_QKV: qkv_row(s, il, t, &rp); break;
        case STEP_ATTN_OUT:
        case STEP_FFN_OUT: {
            const gguf_tensor *post = step == STEP_ATTN_OUT ? L->post_attn_norm : L->post_ffw_norm;
            if (post) norm_row(a, a, post, E, hp->norm_eps);
            kern_add(x, x, a, E);
            if (step == STEP_ATTN_OUT) norm_row(h, x, L->ffn_norm, E, hp->norm_eps);
            else if (il + 1 < hp->n_layer) norm_row(h, x, m->layers[il + 1].attn_norm, E, hp->norm_eps);
            break;
        }
        case STEP_FFN_ACT: {
            float *g = s->g + t * F, *u = L->w_gate ? s->u + t * F : s->u + t * 2 * F;
            /* phi3: ffn_up yields gate | up per row. */
            const float *gate = L->w_gate ? g : u, *up = L->w_gate ? u : u + F;
            if (L->w_gate && m->act == LLM_ACT_GELU) kern_geglu(g, gate, up, (int64_t)F);
            else kern_swiglu(g, gate, up, (int64_t)F);
            break;
        }
        }
    }
}

typedef struct {
    llm_session *s;
    int il, n;
    step_kind step;
} step_job;

static void step_fn(void *ctx, int ith, int nth) {
    const step_job *j = ctx;
    step_rows(j->s, j->il, j->step, (int)((int64_t)j->n * ith / nth), (int)((int64_t)j->n * (ith + 1) / nth));
}

static void step(llm_session *s, int il, int n, step_kind kind) {
    if (n < STEP_PAR_ROWS || tpool_size(s->pool) < 2) {
        step_rows(s, il, kind, 0, n);
        return;
    }
    step_job j = {s, il, n, kind};
    tpool_run(s->pool, step_fn, &j);
}

static void attention_block(llm_session *s, int il, int n) {
    const llm_layer *L = &s->m->layers[il];
    if (il == 0) step(s, il, n, STEP_ATTN_IN); /* later layers: the previous STEP_FFN_OUT */
    if (L->wqkv) mm(s, L->wqkv, s->h, n, s->qkv);
    else mm3(s, s->h, n, L->wq, s->q, L->wk, s->k, L->wv, s->v);
    step(s, il, n, STEP_QKV);
    llm_attention(s, s->rows, il, n, s->q, s->o);
    mm(s, L->wo, s->o, n, s->a);
    step(s, il, n, STEP_ATTN_OUT);
}

static void ffn_block(llm_session *s, int il, int n) {
    const llm_layer *L = &s->m->layers[il];
    if (L->w_gate) mm3(s, s->h, n, L->w_gate, s->g, L->w_up, s->u, NULL, NULL);
    else mm(s, L->w_up, s->h, n, s->u);
    step(s, il, n, STEP_FFN_ACT);
    mm(s, L->w_down, s->g, n, s->a);
    step(s, il, n, STEP_FFN_OUT);
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
