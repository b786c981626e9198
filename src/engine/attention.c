/*
 * Causal self-attention over the KV cache, split across the thread pool by (head, token).
 * Scores use the scale and soft-cap the model asks for; sliding-window layers see only the
 * last `sliding_window` positions.
 */
#include <math.h>

#include "engine_int.h"

typedef struct att_job {
    llm_session *s; /* owner of the score buffers */
    const llm_row *rows;
    int il, n;
    const float *q;
    float *o;
} att_job;

static void att_run(void *arg, int ith, int nth) {
    att_job *j = arg;
    llm_session *s = j->s;
    const llm_model *m = s->m;
    const llm_hparams *hp = &m->hp;
    const llm_layer *L = &m->layers[j->il];
    int hd = hp->head_dim, nh = hp->n_head, group = hp->n_head / hp->n_head_kv;
    size_t kd = (size_t)hp->n_head_kv * hd;
    float *scores = s->scores + (size_t)ith * s->n_ctx;
    int total = j->n * nh;
    /* Contiguous chunks: neighbouring tasks share a token's query rows. */
    int per = (total + nth - 1) / nth, t0 = ith * per, t1 = t0 + per < total ? t0 + per : total;
    for (int task = t0; task < t1; task++) {
        int t = task / nh, h = task % nh, kvh = h / group;
        const llm_session *rs = j->rows[t].s;
        int pos = j->rows[t].pos;
        int first = 0;
        if (L->sliding && hp->sliding_window > 0 && pos - hp->sliding_window + 1 > 0)
            first = pos - hp->sliding_window + 1;
        const float *qh = j->q + (size_t)t * nh * hd + (size_t)h * hd;
        float *oh = j->o + (size_t)t * nh * hd + (size_t)h * hd;
        int cnt = pos - first + 1;
        if (rs->kv_f32) {
            const float *K = (const float *)rs->k_cache[j->il];
            for (int p = 0; p < cnt; p++)
                scores[p] = kern_dot_f32(qh, K + (size_t)(first + p) * kd + (size_t)kvh * hd, hd);
        } else {
            const uint16_t *K = (const uint16_t *)rs->k_cache[j->il];
            for (int p = 0; p < cnt; p++)
                scores[p] = kern_dot_f16_f32(K + (size_t)(first + p) * kd + (size_t)kvh * hd, qh, hd);
        }
        kern_scale(scores, scores, hp->attn_scale, cnt);
        if (hp->attn_softcap > 0) kern_softcap(scores, hp->attn_softcap, cnt);
        kern_softmax(scores, cnt);
        for (int d = 0; d < hd; d++) oh[d] = 0.0f;
        if (rs->kv_f32) {
            const float *V = (const float *)rs->v_cache[j->il];
            for (int p = 0; p < cnt; p++)
                kern_axpy(oh, scores[p], V + (size_t)(first + p) * kd + (size_t)kvh * hd, hd);
        } else {
            const uint16_t *V = (const uint16_t *)rs->v_cache[j->il];
            for (int p = 0; p < cnt; p++)
                kern_axpy_f16(oh, scores[p], V + (size_t)(first + p) * kd + (size_t)kvh * hd, hd);
        }
    }
}

void llm_attention(llm_session *s, const llm_row *rows, int il, int n, const float *q, float *o) {
    att_job j = {s, rows, il, n, q, o};
    tpool_run(s->pool, att_run, &j);
}
