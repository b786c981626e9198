/*
 * The sampler chain. Candidates live in a buffer sized at creation (n_vocab entries) so a
 * sampling step allocates nothing.
 */
#include "sample.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct cand {
    int32_t id;
    float logit;
    float p;
} cand;

struct smp {
    smp_params p;
    smp_bias *bias;
    int n_vocab;
    uint64_t rng;
    cand *c;          /* n_vocab */
    float *work;      /* n_vocab: logits after bias and penalties */
    int32_t *hist;    /* ring of recent tokens */
    int hist_cap, hist_len, hist_pos;
    uint32_t *count;  /* n_vocab: occurrences in the window (penalties) */
};

smp_params smp_default_params(void) {
    return (smp_params){
        .temperature = 0.8f,
        .top_k = 40,
        .top_p = 0.95f,
        .min_p = 0.05f,
        .repeat_penalty = 1.0f,
        .repeat_last_n = 64,
        .presence_penalty = 0.0f,
        .frequency_penalty = 0.0f,
        .seed = SMP_SEED_RANDOM,
    };
}

static uint64_t splitmix(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1) with 53 bits. */
static double rng_uniform(smp *s) { return (double)(splitmix(&s->rng) >> 11) * (1.0 / 9007199254740992.0); }

void smp_reset(smp *s) {
    s->rng = s->p.seed == SMP_SEED_RANDOM ? time_now_ns() ^ (uint64_t)(uintptr_t)s : s->p.seed;
    s->hist_len = s->hist_pos = 0;
    memset(s->count, 0, (size_t)s->n_vocab * sizeof *s->count);
}

int smp_new(const smp_params *p, int n_vocab, smp **out, err_buf *eb) {
    *out = NULL;
    if (n_vocab <= 0) return err_set(eb, BASE_EINVAL, "empty vocabulary");
    for (int i = 0; i < p->n_bias; i++)
        if (p->bias[i].token < 0 || p->bias[i].token >= n_vocab)
            return err_set(eb, BASE_EINVAL, "logit_bias token %d is outside the vocabulary (0..%d)",
                           p->bias[i].token, n_vocab - 1);
    smp *s = mem_calloc(1, sizeof *s);
    if (!s) return err_set(eb, BASE_ENOMEM, "out of memory");
    s->p = *p;
    s->n_vocab = n_vocab;
    s->hist_cap = p->repeat_last_n < 0 ? 4096 : p->repeat_last_n;
    s->c = mem_alloc((size_t)n_vocab * sizeof *s->c);
    s->work = mem_alloc((size_t)n_vocab * sizeof *s->work);
    s->count = mem_calloc((size_t)n_vocab, sizeof *s->count);
    s->hist = mem_alloc((size_t)(s->hist_cap ? s->hist_cap : 1) * sizeof *s->hist);
    s->bias = p->n_bias ? mem_alloc((size_t)p->n_bias * sizeof *s->bias) : NULL;
    if (!s->c || !s->work || !s->count || !s->hist || (p->n_bias && !s->bias)) {
        smp_free(s);
        return err_set(eb, BASE_ENOMEM, "out of memory");
    }
    if (p->n_bias) memcpy(s->bias, p->bias, (size_t)p->n_bias * sizeof *s->bias);
    s->p.bias = s->bias;
    smp_reset(s);
    *out = s;
    return 0;
}

void smp_free(smp *s) {
    if (!s) return;
    mem_free(s->c);
    mem_free(s->work);
    mem_free(s->count);
    mem_free(s->hist);
    mem_free(s->bias);
    mem_free(s);
}

void smp_accept(smp *s, int32_t token) {
    if (token < 0 || token >= s->n_vocab || s->hist_cap == 0) return;
    if (s->hist_len == s->hist_cap) {
        int32_t old = s->hist[s->hist_pos];
        s->count[old]--;
    } else {
        s->hist_len++;
    }
    s->hist[s->hist_pos] = token;
    s->count[token]++;
    s->hist_pos = (s->hist_pos + 1) % s->hist_cap;
}

static int cmp_cand_desc(const void *a, const void *b) {
    float x = ((const cand *)a)->logit, y = ((const cand *)b)->logit;
    if (x > y) return -1;
    if (x < y) return 1;
    return ((const cand *)a)->id - ((const cand *)b)->id;
}

/* Sift c[i] down a heap of n whose root is the worst candidate (the one that would sort last). */
static void sift_down(cand *c, int n, int i) {
    for (;;) {
        int l = 2 * i + 1, r = l + 1, w = i;
        if (l < n && cmp_cand_desc(&c[l], &c[w]) > 0) w = l;
        if (r < n && cmp_cand_desc(&c[r], &c[w]) > 0) w = r;
        if (w == i) return;
        cand t = c[i];
        c[i] = c[w];
        c[w] = t;
        i = w;
    }
}

/* Move the k largest candidates (by logit) to the front, sorted: a heap of the k best seen so
 * far, O(n log k) (and ~O(n) in practice: most candidates lose to the heap's root at once). */
static void partial_sort(cand *c, int n, int k) {
    if (k >= n) {
        qsort(c, (size_t)n, sizeof *c, cmp_cand_desc);
        return;
    }
    for (int i = k / 2 - 1; i >= 0; i--) sift_down(c, k, i);
    for (int j = k; j < n; j++) {
        if (cmp_cand_desc(&c[j], &c[0]) < 0) {
            cand t = c[0];
            c[0] = c[j];
            c[j] = t;
            sift_down(c, k, 0);
        }
    }
    qsort(c, (size_t)k, sizeof *c, cmp_cand_desc);
}

static void apply_bias_penalties(smp *s, const float *logits) {
    float *w = s->work;
    memcpy(w, logits, (size_t)s->n_vocab * sizeof *w);
    for (int i = 0; i < s->p.n_bias; i++) w[s->bias[i].token] += s->bias[i].bias;
    bool rep = s->p.repeat_penalty != 1.0f && s->p.repeat_penalty > 0;
    bool pf = s->p.presence_penalty != 0.0f || s->p.frequency_penalty != 0.0f;
    if (!rep && !pf) return;
    /* Each distinct recent token once: bit 31 of its count marks it as done. */
    const uint32_t seen = 0x80000000u;
    for (int i = 0; i < s->hist_len; i++) {
        int32_t t = s->hist[i];
        if (s->count[t] & seen) continue;
        float cnt = (float)s->count[t];
        s->count[t] |= seen;
        if (rep) w[t] = w[t] > 0 ? w[t] / s->p.repeat_penalty : w[t] * s->p.repeat_penalty;
        if (pf) w[t] -= cnt * s->p.frequency_penalty + s->p.presence_penalty;
    }
    for (int i = 0; i < s->hist_len; i++) s->count[s->hist[i]] &= ~seen;
}

static void fill_logprobs(smp *s, int32_t chosen, smp_logprobs *lp, int n_top) {
    const float *w = s->work;
    float mx = -INFINITY;
    for (int i = 0; i < s->n_vocab; i++) mx = w[i] > mx ? w[i] : mx;
    double sum = 0;
    for (int i = 0; i < s->n_vocab; i++) sum += exp((double)w[i] - mx);
    float lse = mx + (float)log(sum);
    lp->token = chosen;
    lp->logprob = w[chosen] - lse;
    if (n_top > SMP_MAX_TOP) n_top = SMP_MAX_TOP;
    if (n_top > s->n_vocab) n_top = s->n_vocab;
    if (n_top < 0) n_top = 0;
    lp->n_top = n_top;
    if (!n_top) return;
    for (int i = 0; i < s->n_vocab; i++) s->c[i] = (cand){i, w[i], 0};
    partial_sort(s->c, s->n_vocab, n_top);
    for (int i = 0; i < n_top; i++) {
        lp->top_token[i] = s->c[i].id;
        lp->top_logprob[i] = s->c[i].logit - lse;
    }
}

int32_t smp_sample(smp *s, const float *logits, smp_logprobs *lp, int n_top) {
    apply_bias_penalties(s, logits);
    const float *w = s->work;
    int32_t chosen;
    if (s->p.temperature <= 0.0f) {
        chosen = 0;
        for (int i = 1; i < s->n_vocab; i++)
            if (w[i] > w[chosen]) chosen = i;
    } else {
        int n = s->n_vocab;
        for (int i = 0; i < n; i++) s->c[i] = (cand){i, w[i], 0};
        int k = s->p.top_k > 0 && s->p.top_k < n ? s->p.top_k : n;
        partial_sort(s->c, n, k);
        n = k;
        /* Probabilities at temperature 1 for top-p and min-p, as llama.cpp's chain does. */
        float mx = s->c[0].logit;
        double sum = 0;
        for (int i = 0; i < n; i++) sum += (s->c[i].p = expf(s->c[i].logit - mx));
        for (int i = 0; i < n; i++) s->c[i].p = (float)(s->c[i].p / sum);
        if (s->p.top_p < 1.0f) {
            double cum = 0;
            int keep = n;
            for (int i = 0; i < n; i++) {
                cum += s->c[i].p;
                if (cum >= s->p.top_p) { keep = i + 1; break; }
            }
            n = keep;
        }
        if (s->p.min_p > 0.0f) {
            float floor_p = s->c[0].p * s->p.min_p;
            int keep = 1;
            while (keep < n && s->c[keep].p >= floor_p) keep++;
            n = keep;
        }
        /* Temperature, then draw. */
        double tot = 0;
        for (int i = 0; i < n; i++) tot += (s->c[i].p = expf((s->c[i].logit - mx) / s->p.temperature));
        double r = rng_uniform(s) * tot, acc = 0;
        chosen = s->c[n - 1].id;
        for (int i = 0; i < n; i++) {
            acc += s->c[i].p;
            if (r < acc) { chosen = s->c[i].id; break; }
        }
    }
    if (lp) fill_logprobs(s, chosen, lp, n_top);
    return chosen;
}
