/*
 * whisper.cpp's token rules: the logit filters (suppressed special tokens, timestamps in pairs
 * and never going back, the initial timestamp limit, "sample a timestamp when their total
 * probability beats every text token"), then greedy, random or top-k picks, and the sequence
 * score (length penalty, entropy of the last 32 tokens) that temperature fallback looks at.
 * Float arithmetic follows whisper.cpp's so that near ties break the same way.
 */
#include <math.h>
#include <string.h>

#include "whisper_int.h"

static void log_softmax(const float *logits, float *logprobs, int n) {
    float mx = -INFINITY;
    for (int i = 0; i < n; i++) mx = logits[i] > mx ? logits[i] : mx;
    float sum = 0.0f;
    for (int i = 0; i < n; i++)
        if (logits[i] > -INFINITY) sum += expf(logits[i] - mx);
    sum = logf(sum) + mx;
    for (int i = 0; i < n; i++) logprobs[i] = logits[i] > -INFINITY ? logits[i] - sum : -INFINITY;
}

float wh_no_speech_prob(const whisper_model *m, const float *raw) {
    int n = m->hp.n_vocab;
    float mx = -INFINITY;
    for (int i = 0; i < n; i++) mx = raw[i] > mx ? raw[i] : mx;
    float sum = 0.0f;
    for (int i = 0; i < n; i++) sum += expf(raw[i] - mx);
    return expf(raw[m->tok.nosp] - (logf(sum) + mx));
}

static void mask(float *l, int a, int b) {
    for (int i = a; i < b; i++) l[i] = -INFINITY;
}

void wh_process_logits(const whisper_model *m, wh_decoder *d, const wh_params *p, float temp,
                       const float *raw) {
    const whisper_tokens *tk = &m->tok;
    int n = m->hp.n_vocab, beg = tk->beg;
    float *l = d->logits;
    const wh_seq *sq = &d->seq;
    bool initial = sq->n == 0;
    memcpy(l, raw, (size_t)n * sizeof *l);
    if (temp > 0)
        for (int i = 0; i < n; i++) l[i] /= temp;
    if (p->suppress_blank && initial) {
        l[tk->eot] = -INFINITY;
        l[220] = -INFINITY; /* " " in both vocabularies */
    }
    l[tk->notimestamps] = -INFINITY;
    if (p->no_timestamps) mask(l, beg, n);
    l[tk->sot] = l[tk->nosp] = l[tk->solm] = -INFINITY;
    l[tk->translate] = l[tk->transcribe] = l[tk->prev] = -INFINITY;
    mask(l, tk->sot + 1, tk->sot + 1 + tk->n_lang);
    /* Timestamps come in pairs, except directly before EOT. */
    if (sq->n > 0 && sq->tok[sq->n - 1].id >= beg) {
        if (sq->n < 2 || sq->tok[sq->n - 2].id >= beg)
            mask(l, beg, n);
        else
            mask(l, 0, tk->eot);
    }
    if (initial && p->max_initial_ts > 0) {
        int tid0 = (int)lroundf(p->max_initial_ts / 0.02f);
        if (beg + tid0 + 1 < n) mask(l, beg + tid0 + 1, n);
    }
    if (d->has_ts) {
        int lim = beg + d->seek_delta / 2;
        mask(l, beg, lim < n ? lim : n);
    }
    log_softmax(l, d->logprobs, n);
    /* Sample a timestamp when their total probability beats every text token. */
    float lmax = -INFINITY;
    for (int i = beg; i < n; i++) lmax = d->logprobs[i] > lmax ? d->logprobs[i] : lmax;
    float sum = 0.0f, ts_lp = -INFINITY;
    for (int i = beg; i < n; i++)
        if (d->logprobs[i] > -INFINITY) sum += expf(d->logprobs[i] - lmax);
    if (sum > 0.0f) ts_lp = logf(sum) + lmax;
    float text_max = -INFINITY;
    for (int i = 0; i < beg; i++) text_max = d->logprobs[i] > text_max ? d->logprobs[i] : text_max;
    if (ts_lp > text_max)
        for (int i = 0; i < beg; i++) l[i] = d->logprobs[i] = -INFINITY;
    for (int i = 0; i < n; i++) d->probs[i] = l[i] == -INFINITY ? 0.0f : expf(d->logprobs[i]);
}

/* The timestamp part of a token: best timestamp and the timestamp mass. */
static void ts_info(const whisper_model *m, const wh_decoder *d, wh_token *t) {
    double sum = 0, mx = 0;
    t->tid = 0;
    for (int i = m->tok.beg; i < m->hp.n_vocab; i++) {
        sum += d->probs[i];
        if (mx < d->probs[i]) mx = d->probs[i], t->tid = i;
    }
    t->pt = (float)(mx / (sum + 1e-10));
    t->ptsum = (float)sum;
}

static void finish(const whisper_model *m, const wh_decoder *d, wh_token *t) {
    t->p = d->probs[t->id];
    t->plog = d->logprobs[t->id];
    if (t->id >= m->tok.beg) t->tid = t->id, t->pt = t->p;
}

static uint64_t rng_next(uint64_t *s) {
    *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
    return *s;
}

wh_token wh_sample(const whisper_model *m, const wh_decoder *d, uint64_t *rng) {
    wh_token t = {0};
    ts_info(m, d, &t);
    int n = m->hp.n_vocab;
    if (!rng) {
        float best = 0;
        for (int i = 0; i < n; i++)
            if (best < d->probs[i]) best = d->probs[i], t.id = i;
    } else {
        double sum = 0;
        for (int i = 0; i < n; i++) sum += d->probs[i];
        double r = (double)(rng_next(rng) >> 11) / (double)(1ull << 53) * sum, acc = 0;
        t.id = -1;
        for (int i = 0; i < n; i++) {
            if (d->probs[i] <= 0) continue;
            acc += d->probs[i];
            t.id = i;
            if (acc > r) break;
        }
        if (t.id < 0) t.id = m->tok.eot;
    }
    finish(m, d, &t);
    return t;
}

/* The k tokens with the largest logits (k small: insertion into a sorted list). */
int wh_sample_topk(const whisper_model *m, const wh_decoder *d, int k, wh_token *out) {
    int n = m->hp.n_vocab, cnt = 0;
    wh_token ts = {0};
    ts_info(m, d, &ts);
    for (int i = 0; i < n; i++) {
        float v = d->logits[i];
        if (v == -INFINITY) continue;
        if (cnt == k && v <= d->logits[out[k - 1].id]) continue;
        int j = cnt < k ? cnt++ : k - 1;
        while (j > 0 && d->logits[out[j - 1].id] < v) out[j] = out[j - 1], j--;
        out[j].id = i;
    }
    for (int i = 0; i < cnt; i++) {
        out[i].tid = ts.tid, out[i].pt = ts.pt, out[i].ptsum = ts.ptsum;
        finish(m, d, &out[i]);
    }
    return cnt;
}

void wh_seq_score(wh_seq *s, float length_penalty) {
    double sum = 0;
    for (int i = 0; i < s->result_len; i++) sum += s->tok[i].plog;
    s->sum_logprobs = sum;
    s->avg_logprobs = s->result_len ? sum / s->result_len : 0;
    double pen = s->result_len;
    if (length_penalty > 0) pen = pow((5.0 + pen) / 6.0, length_penalty);
    s->score = pen > 0 ? sum / pen : sum;
    /* Entropy of the last 32 tokens: low means a repetition loop. */
    int a = s->result_len > 32 ? s->result_len - 32 : 0, cnt = s->result_len - a;
    double ent = 0;
    for (int i = a; i < s->result_len; i++) {
        bool seen = false;
        for (int j = a; j < i && !seen; j++) seen = s->tok[j].id == s->tok[i].id;
        if (seen) continue;
        int c = 0;
        for (int j = i; j < s->result_len; j++) c += s->tok[j].id == s->tok[i].id;
        double pr = (double)c / cnt;
        ent -= pr * log(pr);
    }
    s->entropy = ent;
}
