/*
 * The decoder: token + positional embedding, pre-LN blocks of causal self-attention (per
 * sequence KV cache in F16), cross-attention over the encoded window, MLP; final LN and the
 * logits of the last token against the tied token embedding. Also language detection, which is
 * one decoder step on <|startoftranscript|>.
 */
#include <math.h>
#include <string.h>

#include "whisper_int.h"

typedef struct sa_job {
    whisper_state *s;
    const uint16_t *kc, *vc; /* this layer's cache: (n_text_ctx, D) */
    int n, n_past, D, H;
} sa_job;

/* Causal self-attention over the cache; split by (row, head). */
static void self_att_fn(void *c, int ith, int nth) {
    sa_job *j = c;
    whisper_state *s = j->s;
    int hd = j->D / j->H, total = j->n * j->H;
    float scale = 1.0f / sqrtf((float)hd);
    int ctx = s->m->hp.n_text_ctx;
    float *sc = s->scores + (size_t)ith * (size_t)(ctx > s->n_ctx ? ctx : s->n_ctx);
    for (int task = total * ith / nth; task < total * (ith + 1) / nth; task++) {
        int t = task / j->H, h = task % j->H, cnt = j->n_past + t + 1;
        const float *q = s->q + (size_t)t * j->D + (size_t)h * hd;
        for (int p = 0; p < cnt; p++)
            sc[p] = kern_dot_f16_f32(j->kc + (size_t)p * j->D + (size_t)h * hd, q, hd) * scale;
        kern_softmax(sc, cnt);
        float *o = s->o + (size_t)t * j->D + (size_t)h * hd;
        memset(o, 0, (size_t)hd * sizeof *o);
        for (int p = 0; p < cnt; p++)
            kern_axpy_f16(o, sc[p], j->vc + (size_t)p * j->D + (size_t)h * hd, hd);
    }
}

typedef struct sm_job {
    float *x;
    int n, len;
    float scale;
} sm_job;

static void softmax_rows_fn(void *c, int ith, int nth) {
    sm_job *j = c;
    for (int r = j->n * ith / nth; r < j->n * (ith + 1) / nth; r++) {
        float *row = j->x + (size_t)r * j->len;
        kern_scale(row, row, j->scale, j->len);
        kern_softmax(row, j->len);
    }
}

/* Cross-attention of n query rows over the window, one head at a time as two matmuls. */
static void cross_attention(whisper_state *s, int l, int n) {
    const whisper_hparams *hp = &s->m->hp;
    int D = hp->n_text_state, H = hp->n_text_head, hd = D / H, T = s->n_ctx;
    const uint16_t *ck = s->cross_k + (size_t)l * T * D, *cv = s->cross_v + (size_t)l * T * D;
    float *qh = s->att, *oh = s->att + (size_t)n * hd;
    for (int h = 0; h < H; h++) {
        for (int t = 0; t < n; t++)
            memcpy(qh + (size_t)t * hd, s->q + (size_t)t * D + (size_t)h * hd, hd * sizeof(float));
        kern_matmul(s->pool, GGUF_TYPE_F16, ck + (size_t)h * T * hd, hd, T, qh, n, s->scores,
                    s->mm_scratch);
        sm_job j = {s->scores, n, T, 1.0f / sqrtf((float)hd)};
        tpool_run(s->pool, softmax_rows_fn, &j);
        kern_matmul(s->pool, GGUF_TYPE_F16, cv + (size_t)h * hd * T, T, hd, s->scores, n, oh,
                    s->mm_scratch);
        for (int t = 0; t < n; t++)
            memcpy(s->o + (size_t)t * D + (size_t)h * hd, oh + (size_t)t * hd, hd * sizeof(float));
    }
}

static void gelu_fn(void *c, int ith, int nth) {
    sm_job *j = c;
    int64_t tot = (int64_t)j->n * j->len, a = tot * ith / nth, b = tot * (ith + 1) / nth;
    kern_gelu(j->x + a, j->x + a, b - a);
}

int whisper_decode(whisper_state *s, int seq, const int *tokens, int n, int n_past, float *logits,
                   err_buf *eb) {
    const whisper_model *m = s->m;
    const whisper_hparams *hp = &m->hp;
    int D = hp->n_text_state, ctx = hp->n_text_ctx;
    if (seq < 0 || seq >= s->n_seq || n <= 0 || n_past < 0 || n > ctx || n_past > ctx - n)
        return err_set(eb, BASE_EFULL, "whisper: decoder context of %d exceeded", ctx);
    for (int t = 0; t < n; t++)
        if (tokens[t] < 0 || tokens[t] >= hp->n_vocab)
            return err_set(eb, BASE_EINVAL, "whisper: token %d out of range", tokens[t]);
    const kern_traits *et = kern_traits_of(m->tok_emb.type);
    size_t erow = (size_t)(D / et->block_size) * et->type_size;
    float *x = s->h, *cur = s->x;
    for (int t = 0; t < n; t++) {
        et->to_float((const uint8_t *)m->tok_emb.data + (size_t)tokens[t] * erow, x + (size_t)t * D,
                     D);
        kern_add(x + (size_t)t * D, x + (size_t)t * D, m->dec_pos + (size_t)(n_past + t) * D, D);
    }
    size_t layer_kv = (size_t)ctx * D;
    for (int l = 0; l < hp->n_text_layer; l++) {
        const wh_layer *L = &m->dec[l];
        uint16_t *kc = s->kv_k + ((size_t)seq * hp->n_text_layer + l) * layer_kv;
        uint16_t *vc = s->kv_v + ((size_t)seq * hp->n_text_layer + l) * layer_kv;
        memcpy(cur, x, (size_t)n * D * sizeof(float));
        wh_layernorm_rows(cur, n, D, L->attn_ln_w, L->attn_ln_b);
        wh_matmul(s, &L->q, L->q_b, cur, n, s->q);
        wh_matmul(s, &L->k, NULL, cur, n, s->k);
        wh_matmul(s, &L->v, L->v_b, cur, n, s->v);
        kern_f32_to_f16_row(s->k, kc + (size_t)n_past * D, (int64_t)n * D);
        kern_f32_to_f16_row(s->v, vc + (size_t)n_past * D, (int64_t)n * D);
        sa_job j = {s, kc, vc, n, n_past, D, hp->n_text_head};
        tpool_run(s->pool, self_att_fn, &j);
        wh_matmul(s, &L->o, L->o_b, s->o, n, cur);
        kern_add(x, x, cur, (int64_t)n * D);

        memcpy(cur, x, (size_t)n * D * sizeof(float));
        wh_layernorm_rows(cur, n, D, L->cross_ln_w, L->cross_ln_b);
        wh_matmul(s, &L->cq, L->cq_b, cur, n, s->q);
        cross_attention(s, l, n);
        wh_matmul(s, &L->co, L->co_b, s->o, n, cur);
        kern_add(x, x, cur, (int64_t)n * D);

        memcpy(cur, x, (size_t)n * D * sizeof(float));
        wh_layernorm_rows(cur, n, D, L->mlp_ln_w, L->mlp_ln_b);
        wh_matmul(s, &L->mlp0, L->mlp0_b, cur, n, s->u);
        sm_job g = {s->u, n, 4 * D, 0};
        tpool_run(s->pool, gelu_fn, &g);
        wh_matmul(s, &L->mlp2, L->mlp2_b, s->u, n, cur);
        kern_add(x, x, cur, (int64_t)n * D);
    }
    if (logits) {
        float *last = x + (size_t)(n - 1) * D;
        kern_layernorm(last, last, m->ln_w, m->ln_b, D, WH_LN_EPS);
        wh_matmul(s, &m->tok_emb, NULL, last, 1, logits);
    }
    return 0;
}

void whisper_state_copy_seq(whisper_state *s, int dst, int src, int n) {
    const whisper_hparams *hp = &s->m->hp;
    if (dst == src || n <= 0) return;
    size_t layer_kv = (size_t)hp->n_text_ctx * hp->n_text_state;
    for (int l = 0; l < hp->n_text_layer; l++) {
        size_t d = ((size_t)dst * hp->n_text_layer + l) * layer_kv;
        size_t o = ((size_t)src * hp->n_text_layer + l) * layer_kv;
        size_t bytes = (size_t)n * hp->n_text_state * 2;
        memmove(s->kv_k + d, s->kv_k + o, bytes);
        memmove(s->kv_v + d, s->kv_v + o, bytes);
    }
}

int whisper_detect_language(whisper_state *s, float *probs, err_buf *eb) {
    const whisper_model *m = s->m;
    const whisper_tokens *tk = &m->tok;
    if (tk->n_lang <= 0 || !whisper_model_is_multilingual(m))
        return err_set(eb, BASE_EUNSUPPORTED, "whisper: an English-only model detects no language");
    float *logits = mem_alloc((size_t)m->hp.n_vocab * sizeof(float));
    if (!logits) return err_set(eb, BASE_ENOMEM, "whisper: out of memory");
    int rc = whisper_decode(s, 0, &tk->sot, 1, 0, logits, eb);
    if (rc) {
        mem_free(logits);
        return rc;
    }
    int best = 0;
    float mx = -INFINITY;
    for (int i = 0; i < tk->n_lang; i++)
        if (logits[tk->sot + 1 + i] > mx) mx = logits[tk->sot + 1 + i], best = i;
    if (probs) {
        double sum = 0;
        for (int i = 0; i < tk->n_lang; i++) sum += exp((double)logits[tk->sot + 1 + i] - mx);
        for (int i = 0; i < tk->n_lang; i++)
            probs[i] = (float)(exp((double)logits[tk->sot + 1 + i] - mx) / sum);
    }
    mem_free(logits);
    return best;
}
