/*
 * The per-call state and the encoder: two convolutions (as im2col + matmul), GELU, positional
 * embedding, pre-LN transformer blocks with full attention over the 1500 positions, final LN;
 * then each decoder layer's cross-attention keys and values, projected once per window.
 *
 * Attention runs one head at a time on the pool with attn.c's tiled products (scores = Q K^T,
 * softmax, then P V) in float. whisper.cpp keeps K, V and the probabilities in F16; float is
 * closer to exact and well inside the goldens' bounds.
 */
#include <math.h>
#include <string.h>

#include "whisper_int.h"

void wh_matmul(whisper_state *s, const wh_mat *W, const float *b, const float *X, int n, float *Y) {
    kern_matmul(s->pool, W->type, W->data, W->n_in, W->n_out, X, n, Y, s->mm_scratch);
    if (b)
        for (int t = 0; t < n; t++)
            kern_add(Y + (size_t)t * W->n_out, Y + (size_t)t * W->n_out, b, W->n_out);
}

void wh_layernorm_rows(float *x, int n, int len, const float *w, const float *b) {
    for (int t = 0; t < n; t++)
        kern_layernorm(x + (size_t)t * len, x + (size_t)t * len, w, b, len, WH_LN_EPS);
}

static size_t mm_need(int type, int64_t n_in, int64_t n_tok) {
    return kern_matmul_scratch_size(type, n_in, n_tok);
}

static size_t max_z(size_t a, size_t b) { return a > b ? a : b; }

int whisper_state_new(whisper_state **out, const whisper_model *m, int n_threads, int n_seq,
                      err_buf *eb) {
    *out = NULL;
    const whisper_hparams *h = &m->hp;
    if (n_seq < 1 || n_seq > 64) return err_set(eb, BASE_EINVAL, "whisper: bad sequence count");
    if (n_threads < 1) n_threads = 1;
    whisper_state *s = mem_calloc(1, sizeof *s);
    if (!s) return err_set(eb, BASE_ENOMEM, "whisper: out of memory");
    s->m = m, s->n_threads = n_threads, s->n_seq = n_seq;
    s->n_ctx = h->n_audio_ctx;
    size_t D = (size_t)h->n_audio_state, T = (size_t)s->n_ctx, F = WHISPER_WINDOW_FRAMES;
    size_t hd = D / (size_t)h->n_audio_head, L = (size_t)h->n_text_layer;
    size_t R = T > (size_t)h->n_text_ctx ? T : (size_t)h->n_text_ctx; /* rows of scratch */
    size_t col = max_z(F * 3 * (size_t)h->n_mels, T * 3 * D);
    size_t per_thread = (size_t)n_threads * R;
    size_t kv = (size_t)n_seq * L * (size_t)h->n_text_ctx * D;

    size_t mm = 0;
    mm = max_z(mm, mm_need(m->conv1.type, m->conv1.n_in, (int64_t)F));
    mm = max_z(mm, mm_need(m->conv2.type, m->conv2.n_in, (int64_t)T));
    for (int i = 0; i < h->n_audio_layer + h->n_text_layer; i++) {
        const wh_layer *Ly = i < h->n_audio_layer ? &m->enc[i] : &m->dec[i - h->n_audio_layer];
        const wh_mat *ms[] = {&Ly->q,  &Ly->k,  &Ly->v,  &Ly->o,    &Ly->cq,
                              &Ly->ck, &Ly->cv, &Ly->co, &Ly->mlp0, &Ly->mlp2};
        for (int j = 0; j < 10; j++)
            if (ms[j]->data) mm = max_z(mm, mm_need(ms[j]->type, ms[j]->n_in, (int64_t)R));
    }
    mm = max_z(mm, mm_need(m->tok_emb.type, (int64_t)D, 1));
    /* the decoder's cross-attention products over the window */
    mm = max_z(mm, mm_need(GGUF_TYPE_F16, (int64_t)T, (int64_t)R));
    mm = max_z(mm, mm_need(GGUF_TYPE_F16, (int64_t)hd, (int64_t)R));
    s->mm_scratch_size = mm;

    s->pool = n_threads > 1 ? tpool_new(n_threads) : NULL;
    s->enc_out = mem_alloc(T * D * sizeof(float));
    s->cross_k = mem_alloc(L * T * D * 2);
    s->cross_v = mem_alloc(L * T * D * 2);
    s->kv_k = mem_alloc(kv * 2);
    s->kv_v = mem_alloc(kv * 2);
    s->x = mem_alloc(F * D * sizeof(float));
    s->h = mem_alloc(R * D * sizeof(float));
    s->q = mem_alloc(R * D * sizeof(float));
    s->k = mem_alloc(R * D * sizeof(float));
    s->v = mem_alloc(R * D * sizeof(float));
    s->o = mem_alloc(R * D * sizeof(float));
    s->att = mem_alloc(R * D * sizeof(float));
    s->u = mem_alloc(R * 4 * D * sizeof(float));
    s->scores = mem_alloc(max_z(R * T, per_thread) * sizeof(float));
    s->kt = mem_alloc((T + WH_KB) * hd * sizeof(float));
    s->col = mem_alloc(col * sizeof(float));
    s->mm_scratch = mem_alloc_aligned(64, mm ? mm : 64);
    if ((n_threads > 1 && !s->pool) || !s->enc_out || !s->cross_k || !s->cross_v || !s->kv_k ||
        !s->kv_v || !s->x || !s->h || !s->q || !s->k || !s->v || !s->o || !s->att || !s->u ||
        !s->scores || !s->kt || !s->col || !s->mm_scratch) {
        whisper_state_free(s);
        return err_set(eb, BASE_ENOMEM, "whisper: out of memory for the decoding state");
    }
    *out = s;
    return 0;
}

void whisper_state_free(whisper_state *s) {
    if (!s) return;
    tpool_free(s->pool);
    void *p[] = {s->enc_out, s->cross_k, s->cross_v, s->kv_k, s->kv_v, s->x,      s->h,  s->q,
                 s->k,       s->v,       s->o,       s->att,  s->u,    s->scores, s->kt, s->col};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) mem_free(p[i]);
    mem_free_aligned(s->mm_scratch);
    mem_free(s);
}

const float *whisper_encoder_output(const whisper_state *s) { return s->enc_out; }

/* ---- row-parallel helpers ---- */

typedef struct rows_job {
    float *x;
    int n, len;
    float scale;
} rows_job;

static void gelu_fn(void *c, int ith, int nth) {
    rows_job *j = c;
    int64_t tot = (int64_t)j->n * j->len, a = tot * ith / nth, b = tot * (ith + 1) / nth;
    kern_gelu(j->x + a, j->x + a, b - a);
}

static void gelu_rows(whisper_state *s, float *x, int n, int len) {
    rows_job j = {x, n, len, 0};
    tpool_run(s->pool, gelu_fn, &j);
}

static void softmax_fn(void *c, int ith, int nth) {
    rows_job *j = c;
    for (int r = j->n * ith / nth; r < j->n * (ith + 1) / nth; r++) {
        float *row = j->x + (size_t)r * j->len;
        kern_scale(row, row, j->scale, j->len);
        kern_softmax(row, j->len);
    }
}

/* Full (non-causal) attention of T rows over T rows, one head at a time. q, k, v: (T, D). */
static void self_attention_full(whisper_state *s, int T, int D, int H) {
    int hd = D / H;
    float scale = 1.0f / sqrtf((float)hd);
    for (int h = 0; h < H; h++) {
        wh_pack_kt(s->kt, s->k + (size_t)h * hd, D, T, hd);
        wh_qk(s->pool, s->q + (size_t)h * hd, D, T, s->kt, T, hd, s->scores);
        rows_job j = {s->scores, T, T, scale};
        tpool_run(s->pool, softmax_fn, &j);
        wh_pv(s->pool, s->scores, T, T, s->v + (size_t)h * hd, D, hd, s->o + (size_t)h * hd, D);
    }
}

/* col (n_out, 3 * C): the three taps around 2-or-1 * t of x (n_in, C) rows, zero outside. */
static void im2col_rows(float *col, const float *x, int n_in, int C, int n_out, int stride) {
    for (int t = 0; t < n_out; t++) {
        float *dst = col + (size_t)t * 3 * C;
        for (int k = 0; k < 3; k++) {
            int src = stride * t + k - 1;
            for (int c = 0; c < C; c++)
                dst[c * 3 + k] = src >= 0 && src < n_in ? x[(size_t)src * C + c] : 0.0f;
        }
    }
}

int whisper_encode(whisper_state *s, const float *mel, int n_frames, int offset, err_buf *eb) {
    const whisper_model *m = s->m;
    const whisper_hparams *hp = &m->hp;
    int D = hp->n_audio_state, T = s->n_ctx, F = WHISPER_WINDOW_FRAMES, C = hp->n_mels;
    if (offset < 0 || n_frames < 0) return err_set(eb, BASE_EINVAL, "whisper: bad mel offset");
    /* conv1 over the mel window: frames past the spectrogram read as zeros (whisper.cpp). */
    for (int t = 0; t < F; t++) {
        float *dst = s->col + (size_t)t * 3 * C;
        for (int k = 0; k < 3; k++) {
            int64_t f = (int64_t)offset + t + k - 1;
            bool in = t + k - 1 >= 0 && t + k - 1 < F && f < n_frames;
            for (int c = 0; c < C; c++) dst[c * 3 + k] = in ? mel[(size_t)c * n_frames + f] : 0.0f;
        }
    }
    wh_matmul(s, &m->conv1, NULL, s->col, F, s->x);
    for (int t = 0; t < F; t++) kern_add(s->x + (size_t)t * D, s->x + (size_t)t * D, m->conv1_b, D);
    gelu_rows(s, s->x, F, D);
    im2col_rows(s->col, s->x, F, D, T, 2);
    float *x = s->h;
    wh_matmul(s, &m->conv2, NULL, s->col, T, x);
    for (int t = 0; t < T; t++) kern_add(x + (size_t)t * D, x + (size_t)t * D, m->conv2_b, D);
    gelu_rows(s, x, T, D);
    kern_add(x, x, m->enc_pos, (int64_t)T * D);

    float *cur = s->x; /* conv1's output is no longer needed */
    for (int l = 0; l < hp->n_audio_layer; l++) {
        const wh_layer *L = &m->enc[l];
        memcpy(cur, x, (size_t)T * D * sizeof(float));
        wh_layernorm_rows(cur, T, D, L->attn_ln_w, L->attn_ln_b);
        wh_matmul(s, &L->q, L->q_b, cur, T, s->q);
        wh_matmul(s, &L->k, NULL, cur, T, s->k);
        wh_matmul(s, &L->v, L->v_b, cur, T, s->v);
        self_attention_full(s, T, D, hp->n_audio_head);
        wh_matmul(s, &L->o, L->o_b, s->o, T, cur);
        kern_add(x, x, cur, (int64_t)T * D);

        memcpy(cur, x, (size_t)T * D * sizeof(float));
        wh_layernorm_rows(cur, T, D, L->mlp_ln_w, L->mlp_ln_b);
        wh_matmul(s, &L->mlp0, L->mlp0_b, cur, T, s->u);
        gelu_rows(s, s->u, T, 4 * D);
        wh_matmul(s, &L->mlp2, L->mlp2_b, s->u, T, cur);
        kern_add(x, x, cur, (int64_t)T * D);
    }
    memcpy(s->enc_out, x, (size_t)T * D * sizeof(float));
    wh_layernorm_rows(s->enc_out, T, D, m->ln_post_w, m->ln_post_b);
    return wh_encode_cross(s);
}

/* Cross-attention keys (H, T, hd) and transposed values (H, hd, T) for every decoder layer. */
int wh_encode_cross(whisper_state *s) {
    const whisper_model *m = s->m;
    int D = m->hp.n_text_state, T = s->n_ctx, H = m->hp.n_text_head, hd = D / H;
    for (int l = 0; l < m->hp.n_text_layer; l++) {
        const wh_layer *L = &m->dec[l];
        uint16_t *ck = s->cross_k + (size_t)l * T * D, *cv = s->cross_v + (size_t)l * T * D;
        wh_matmul(s, &L->ck, NULL, s->enc_out, T, s->k);
        wh_matmul(s, &L->cv, L->cv_b, s->enc_out, T, s->v);
        for (int h = 0; h < H; h++)
            for (int t = 0; t < T; t++) {
                kern_f32_to_f16_row(s->k + (size_t)t * D + (size_t)h * hd,
                                    ck + ((size_t)h * T + t) * hd, hd);
                const float *vr = s->v + (size_t)t * D + (size_t)h * hd;
                for (int d = 0; d < hd; d++)
                    cv[((size_t)h * hd + d) * T + t] = kern_f32_to_f16(vr[d]);
            }
    }
    return 0;
}
