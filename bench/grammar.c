/*
 * The cost of grammar-constrained sampling per token on Qwen2's 152k-token vocabulary, next to
 * plain sampling on the same logits. Logits are random; a "model" that follows the grammar is
 * imitated by boosting one token the grammar allows (found untimed), and a share of steps boost
 * a token it forbids instead, so the lazy path meets rejections at a chosen rate. Also the
 * worst case, a full-vocabulary mask, in a string (nearly every token allowed: the whole trie
 * is walked) and between values (most subtrees cut at the first byte).
 *
 *   build/bench/grammar [steps]      (default 100; run from the repository root)
 */
#include "grammar/grammar.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double ms_since(uint64_t t0) { return (double)(time_now_ns() - t0) / 1e6; }

static uint64_t rng = 88172645463325252ull;
static double unif(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

static void random_logits(float *l, int n) {
    for (int i = 0; i < n; i++) l[i] = (float)(unif() * 6.0 - 3.0);
}

static const char schema_text[] =
    "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\",\"maxLength\":40},"
    "\"age\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":150},"
    "\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},\"maxItems\":4},"
    "\"kind\":{\"enum\":[\"person\",\"robot\",\"alien\"]}},"
    "\"required\":[\"name\",\"age\",\"kind\"],\"additionalProperties\":false}";

/* Run `steps` tokens of generation under g; reject_share of them boost a forbidden token.
 * Returns ms per token spent in grammar_sample (+ accepting), and the plain sampler's ms. */
static int run(const tok *t, const gtrie *tr, const grammar *g, int steps, double reject_share,
               bool greedy, double *ms_constrained, double *ms_plain, int *n_masked) {
    int nv = tok_n_vocab(t);
    float *l = mem_alloc((size_t)nv * sizeof *l), *m = mem_alloc((size_t)nv * sizeof *m);
    int32_t *allowed = mem_alloc((size_t)nv * sizeof *allowed), *banned = mem_alloc((size_t)nv * sizeof *banned);
    smp_params p = smp_default_params();
    p.seed = 1;
    if (greedy) p.temperature = 0;
    smp *s1, *s2;
    err_buf eb = {0};
    if (!l || !m || !allowed || !banned || smp_new(&p, nv, &s1, &eb) || smp_new(&p, nv, &s2, &eb)) return 1;
    gstate *st = gstate_new(g);
    double tc = 0, tp = 0;
    int masked = 0;
    for (int i = 0; i < steps; i++) {
        if (gstate_is_done(st)) gstate_reset(st);
        random_logits(l, nv);
        /* Untimed: which tokens are allowed, to boost one like a model would. */
        memset(m, 0, (size_t)nv * sizeof *m);
        grammar_mask_logits(st, tr, m, 0);
        int na = 0, nb = 0;
        for (int k = 0; k < nv; k++) {
            if (m[k] == 0 && !tok_is_eog(t, k)) allowed[na++] = k;
            else if (m[k] != 0) banned[nb++] = k;
        }
        bool reject = unif() < reject_share && nb > 0;
        int32_t boost = reject ? banned[(int)(unif() * nb)] : na ? allowed[(int)(unif() * na)] : -1;
        if (boost >= 0) l[boost] += 12.0f;
        uint64_t t0 = time_now_ns();
        smp_sample(s2, l, NULL, 0);
        tp += ms_since(t0);
        t0 = time_now_ns();
        int32_t id;
        if (grammar_sample(st, tr, s1, l, 0, NULL, 0, &id)) {
            gstate_reset(st);
            continue;
        }
        if (!tok_is_eog(t, id)) gstate_accept_token(st, tr, id);
        tc += ms_since(t0);
        masked += boost >= 0 && id != boost;
    }
    *ms_constrained = tc / steps;
    *ms_plain = tp / steps;
    *n_masked = masked;
    gstate_free(st);
    smp_free(s1);
    smp_free(s2);
    mem_free(l);
    mem_free(m);
    mem_free(allowed);
    mem_free(banned);
    return 0;
}

static double mask_ms(const gtrie *tr, const grammar *g, const char *prefix, int nv, int reps,
                      int tokens_left, int *n_allowed) {
    gstate *st = gstate_new(g);
    gstate_accept_bytes(st, prefix, strlen(prefix));
    float *l = mem_calloc((size_t)nv, sizeof *l);
    uint64_t t0 = time_now_ns();
    for (int r = 0; r < reps; r++) *n_allowed = grammar_mask_logits(st, tr, l, tokens_left);
    double ms = ms_since(t0) / reps;
    mem_free(l);
    gstate_free(st);
    return ms;
}

int main(int argc, char **argv) {
    int steps = argc > 1 ? atoi(argv[1]) : 100;
    const char *root = getenv("LOCALAI_SHARED");
    char path[1024];
    snprintf(path, sizeof path, "%s/testdata/tokenizer/ggml-vocab-qwen2.gguf", root && *root ? root : "../shared");
    gguf *gg;
    err_buf eb = {0};
    if (gguf_open(path, &gg, &eb)) {
        printf("grammar bench: skipped (%s)\n", eb.msg);
        return 0;
    }
    tok *t;
    if (tok_load(gg, &t, &eb)) return printf("%s\n", eb.msg), 1;
    gguf_close(gg);
    int nv = tok_n_vocab(t);
    uint64_t t0 = time_now_ns();
    gtrie *tr;
    if (gtrie_build(t, &tr, &eb)) return printf("%s\n", eb.msg), 1;
    printf("qwen2 vocabulary: %d tokens; trie built in %.1f ms\n", nv, ms_since(t0));

    grammar *obj, *sch;
    json_t *js = json_loads(schema_text, 0, NULL);
    if (grammar_json_object(&obj, &eb) || grammar_from_json_schema(js, &sch, &eb)) return printf("%s\n", eb.msg), 1;
    json_decref(js);

    printf("per token over %d steps (plain: smp_sample alone; constrained: grammar_sample + accept):\n", steps);
    const double shares[] = {0.0, 0.05, 0.2};
    for (int greedy = 0; greedy < 2; greedy++) {
        printf(" %s\n", greedy ? "greedy sampler (temperature 0: an argmax)"
                               : "default sampler (top-k 40, top-p 0.95, min-p 0.05, temperature 0.8)");
        for (int gi = 0; gi < 2; gi++) {
            for (size_t k = 0; k < sizeof shares / sizeof *shares; k++) {
                if (!gi && k != 1) continue;
                double c, pl;
                int masked;
                if (run(t, tr, gi ? sch : obj, steps, shares[k], greedy, &c, &pl, &masked)) return 1;
                printf("  %-11s %2.0f%% prefer a forbidden token: plain %7.3f ms, constrained %7.3f ms "
                       "(x%.2f), %d masked\n",
                       gi ? "json_schema" : "json_object", shares[k] * 100, pl, c, c / pl, masked);
            }
        }
    }
    printf("worst case, one full-vocabulary mask:\n");
    struct { const char *what, *prefix; int left; } cases[] = {
        {"inside a string", "{\"name\": \"Al", 0},
        {"inside a string, token budget on", "{\"name\": \"Al", 50},
        {"after a key", "{\"name\"", 0},
        {"inside a number", "{\"age\": 4", 0},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        int n = 0;
        double ms = mask_ms(tr, obj, cases[k].prefix, nv, 10, cases[k].left, &n);
        printf("  %-34s %7.3f ms (%d tokens allowed)\n", cases[k].what, ms, n);
    }
    grammar_free(obj);
    grammar_free(sch);
    gtrie_free(tr);
    tok_free(t);
    return 0;
}
