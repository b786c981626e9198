/*
 * Causal self-attention over the KV cache, split across the thread pool. A task is a row and
 * a run of query heads that share one KV head: with an F16 cache, each cache row is read once
 * for the whole run (kern_attn_scores_f16, kern_attn_values_f16). Scores use the scale and
 * soft-cap the model asks for; sliding-window layers see only the last `sliding_window`
 * positions.
 */
#include <math.h>

#include "engine_int.h"

typedef struct att_job {
    llm_session *s; /* owner of the score buffers */
    const llm_row *rows;
    int il, n;
    const float *q;
    float *o;
    int group;     /* query heads per KV head */
    int run;       /* query heads per task (a group's last run may be shorter) */
    int per_group; /* runs per group */
} att_job;

/* Row t, query heads h0 .. h0 + nq - 1 (one KV head's): scores over the row's visible cache
 * positions, softmax, weighted sum of V. scores: LLM_ATT_MAXQ rows of n_ctx floats. */
static void att_task(const att_job *j, float *scores, int t, int h0, int nq) {
    const llm_session *s = j->s;
    const llm_hparams *hp = &s->m->hp;
    const llm_layer *L = &s->m->layers[j->il];
    int hd = hp->head_dim, nh = hp->n_head, kvh = h0 / (hp->n_head / hp->n_head_kv);
    size_t kd = (size_t)hp->n_head_kv * hd, sn = (size_t)s->n_ctx;
    const llm_session *rs = j->rows[t].s;
    int pos = j->rows[t].pos;
    int first = 0;
    if (L->sliding && hp->sliding_window > 0 && pos - hp->sliding_window + 1 > 0)
        first = pos - hp->sliding_window + 1;
    const float *q = j->q + (size_t)t * nh * hd + (size_t)h0 * hd;
    float *o = j->o + (size_t)t * nh * hd + (size_t)h0 * hd;
    int cnt = pos - first + 1;
    size_t off = (size_t)first * kd + (size_t)kvh * hd;
    if (rs->kv_f32) {
        const float *K = (const float *)rs->k_cache[j->il] + off;
        for (int h = 0; h < nq; h++)
            for (int p = 0; p < cnt; p++)
                scores[h * sn + p] = kern_dot_f32(q + (size_t)h * hd, K + (size_t)p * kd, hd);
    } else {
        kern_attn_scores_f16(q, (size_t)hd, nq, (const uint16_t *)rs->k_cache[j->il] + off, kd,
                             cnt, hd, scores, sn);
    }
    for (int h = 0; h < nq; h++) {
        float *sc = scores + h * sn;
        kern_scale(sc, sc, hp->attn_scale, cnt);
        if (hp->attn_softcap > 0) kern_softcap(sc, hp->attn_softcap, cnt);
        kern_softmax(sc, cnt);
    }
    if (rs->kv_f32) {
        const float *V = (const float *)rs->v_cache[j->il] + off;
        for (int h = 0; h < nq; h++) {
            float *oh = o + (size_t)h * hd;
            for (int d = 0; d < hd; d++) oh[d] = 0.0f;
            for (int p = 0; p < cnt; p++) kern_axpy(oh, scores[h * sn + p], V + (size_t)p * kd, hd);
        }
    } else {
        kern_attn_values_f16(scores, sn, nq, (const uint16_t *)rs->v_cache[j->il] + off, kd, cnt,
                             hd, o, (size_t)hd);
    }
}

/* Task k of a row: its heads [h0, h0 + nq). Runs never straddle two KV heads' groups. */
static void task_heads(const att_job *j, int k, int *h0, int *nq) {
    int g = k / j->per_group, r = k % j->per_group;
    *h0 = g * j->group + r * j->run;
    *nq = j->group - r * j->run < j->run ? j->group - r * j->run : j->run;
}

static void att_run(void *arg, int ith, int nth) {
    const att_job *j = arg;
    int per_row = j->s->m->hp.n_head_kv * j->per_group;
    float *scores = j->s->scores + (size_t)ith * LLM_ATT_MAXQ * j->s->n_ctx;
    int h0, nq;
    if (j->n >= 4 * nth) {
        /* A prompt: a row costs its position, so contiguous halves would leave the first
         * thread a quarter of the work. Whole rows go to the threads in turn. */
        for (int t = ith; t < j->n; t += nth)
            for (int k = 0; k < per_row; k++) {
                task_heads(j, k, &h0, &nq);
                att_task(j, scores, t, h0, nq);
            }
        return;
    }
    /* Few rows: contiguous chunks of (row, run) tasks. */
    int total = j->n * per_row;
    int per = (total + nth - 1) / nth, t0 = ith * per, t1 = t0 + per < total ? t0 + per : total;
    for (int task = t0; task < t1; task++) {
        task_heads(j, task % per_row, &h0, &nq);
        att_task(j, scores, task / per_row, h0, nq);
    }
}

void llm_attention(llm_session *s, const llm_row *rows, int il, int n, const float *q, float *o) {
    const llm_hparams *hp = &s->m->hp;
    int group = hp->n_head / hp->n_head_kv, nth = tpool_size(s->pool);
    /* Runs of at most LLM_ATT_MAXQ heads; with few rows, short enough to give every thread
     * work. */
    int run = group < LLM_ATT_MAXQ ? group : LLM_ATT_MAXQ;
    while (run > 1 && n * hp->n_head_kv * ((group + run - 1) / run) < nth) run = (run + 1) / 2;
    att_job j = {s, rows, il, n, q, o, group, run, (group + run - 1) / run};
    tpool_run(s->pool, att_run, &j);
}
