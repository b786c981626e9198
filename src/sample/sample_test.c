/* Tests of the sampler chain and stop strings. */
#include "sample.h"
#include "test.h"

#include <math.h>
#include <stdlib.h>

static void ramp(float *l, int n) {
    for (int i = 0; i < n; i++) l[i] = (float)(i % 7) * 0.1f;
}

TEST(sample_greedy_picks_argmax) {
    smp_params p = smp_default_params();
    p.temperature = 0;
    smp *s;
    err_buf eb = {0};
    ASSERT_OK(smp_new(&p, 10, &s, &eb), &eb);
    float l[10] = {0.1f, 2.0f, -1, 3.5f, 3.4f, 0, 0, 0, 0, 0};
    ASSERT_EQ_INT(smp_sample(s, l, NULL, 0), 3);
    smp_free(s);
}

TEST(sample_seed_reproduces_and_differs) {
    float l[100];
    for (int i = 0; i < 100; i++) l[i] = sinf((float)i) * 2;
    int32_t a[50], b[50], c[50];
    for (int run = 0; run < 3; run++) {
        smp_params p = smp_default_params();
        p.temperature = 1.0f;
        p.top_k = 0;
        p.top_p = 1.0f;
        p.min_p = 0;
        p.seed = run == 2 ? 7 : 42;
        smp *s;
        err_buf eb = {0};
        ASSERT_OK(smp_new(&p, 100, &s, &eb), &eb);
        int32_t *out = run == 0 ? a : run == 1 ? b : c;
        for (int i = 0; i < 50; i++) out[i] = smp_sample(s, l, NULL, 0);
        smp_free(s);
    }
    ASSERT_TRUE(memcmp(a, b, sizeof a) == 0);
    ASSERT_FALSE(memcmp(a, c, sizeof a) == 0);
}

TEST(sample_top_k_1_is_greedy_and_top_p_truncates) {
    float l[8] = {1, 5, 2, 4.9f, 0, 0, 0, 0};
    smp_params p = smp_default_params();
    p.temperature = 5.0f; /* very flat: only truncation keeps it on the top token */
    p.top_k = 1;
    p.seed = 1;
    smp *s;
    err_buf eb = {0};
    ASSERT_OK(smp_new(&p, 8, &s, &eb), &eb);
    for (int i = 0; i < 20; i++) ASSERT_EQ_INT(smp_sample(s, l, NULL, 0), 1);
    smp_free(s);
    /* top_p 0.6: token 1 holds p = 0.50, with token 3 (0.45) the mass passes 0.6: only {1,3}. */
    p.top_k = 0;
    p.top_p = 0.6f;
    p.min_p = 0;
    ASSERT_OK(smp_new(&p, 8, &s, &eb), &eb);
    bool saw1 = false, saw3 = false;
    for (int i = 0; i < 200; i++) {
        int32_t t = smp_sample(s, l, NULL, 0);
        ASSERT_TRUE(t == 1 || t == 3);
        saw1 |= t == 1;
        saw3 |= t == 3;
    }
    ASSERT_TRUE(saw1 && saw3);
    smp_free(s);
}

TEST(sample_logit_bias_bans_token) {
    float l[4] = {0, 10, 1, 0};
    smp_bias bias[] = {{1, -INFINITY}};
    smp_params p = smp_default_params();
    p.temperature = 0;
    p.bias = bias;
    p.n_bias = 1;
    smp *s;
    err_buf eb = {0};
    ASSERT_OK(smp_new(&p, 4, &s, &eb), &eb);
    ASSERT_EQ_INT(smp_sample(s, l, NULL, 0), 2);
    smp_free(s);
    smp_bias bad[] = {{4, 1}};
    p.bias = bad;
    ASSERT_EQ_INT(smp_new(&p, 4, &s, &eb), BASE_EINVAL);
    ASSERT_CONTAINS(eb.msg, "logit_bias token 4");
}

TEST(sample_penalties_move_choice) {
    float l[4] = {0, 2.0f, 1.9f, 0};
    smp_params p = smp_default_params();
    p.temperature = 0;
    p.repeat_penalty = 1.1f;
    smp *s;
    err_buf eb = {0};
    ASSERT_OK(smp_new(&p, 4, &s, &eb), &eb);
    ASSERT_EQ_INT(smp_sample(s, l, NULL, 0), 1);
    smp_accept(s, 1); /* 2.0 / 1.1 = 1.82 < 1.9 */
    ASSERT_EQ_INT(smp_sample(s, l, NULL, 0), 2);
    smp_free(s);
    p.repeat_penalty = 1.0f;
    p.frequency_penalty = 0.06f;
    p.repeat_last_n = 3;
    ASSERT_OK(smp_new(&p, 4, &s, &eb), &eb);
    smp_accept(s, 1);
    ASSERT_EQ_INT(smp_sample(s, l, NULL, 0), 1); /* 2.0 - 0.06 > 1.9 */
    smp_accept(s, 1);
    ASSERT_EQ_INT(smp_sample(s, l, NULL, 0), 2); /* 2.0 - 0.12 < 1.9 */
    smp_accept(s, 0);
    smp_accept(s, 0);
    smp_accept(s, 0); /* the window of 3 no longer holds token 1 */
    ASSERT_EQ_INT(smp_sample(s, l, NULL, 0), 1);
    smp_free(s);
}

TEST(sample_logprobs) {
    float l[5];
    ramp(l, 5);
    l[2] = 3.0f;
    smp_params p = smp_default_params();
    p.temperature = 0;
    smp *s;
    err_buf eb = {0};
    ASSERT_OK(smp_new(&p, 5, &s, &eb), &eb);
    smp_logprobs lp;
    ASSERT_EQ_INT(smp_sample(s, l, &lp, 3), 2);
    ASSERT_EQ_INT(lp.token, 2);
    ASSERT_EQ_INT(lp.n_top, 3);
    ASSERT_EQ_INT(lp.top_token[0], 2);
    ASSERT_TRUE(lp.top_logprob[0] >= lp.top_logprob[1] && lp.top_logprob[1] >= lp.top_logprob[2]);
    double sum = 0, mx = 3.0;
    for (int i = 0; i < 5; i++) sum += exp(l[i] - mx);
    ASSERT_NEAR(lp.logprob, -log(sum), 1e-5);
    smp_free(s);
}

static void feed_all(smp_stop *st, const char *const *parts, buf *out, bool *hit) {
    for (int i = 0; parts[i]; i++)
        if ((*hit = smp_stop_feed(st, parts[i], strlen(parts[i]), out))) return;
    smp_stop_flush(st, out);
}

TEST(sample_stop_strings_held_back) {
    const char *stops[] = {"</s>", "\nUser:"};
    smp_stop *st;
    ASSERT_EQ_INT(smp_stop_new(stops, 2, &st), 0);
    buf out = {0};
    /* The stop string arrives split across pieces; none of it is emitted. */
    ASSERT_FALSE(smp_stop_feed(st, "Hello <", 7, &out));
    ASSERT_EQ_STR(out.data, "Hello ");
    ASSERT_FALSE(smp_stop_feed(st, "/", 1, &out));
    ASSERT_EQ_STR(out.data, "Hello ");
    ASSERT_TRUE(smp_stop_feed(st, "s> tail", 7, &out));
    ASSERT_EQ_STR(out.data, "Hello ");
    ASSERT_TRUE(smp_stop_feed(st, "more", 4, &out));
    ASSERT_EQ_STR(out.data, "Hello ");
    smp_stop_free(st);
    buf_free(&out);

    /* A false start is released once it cannot match any more. */
    ASSERT_EQ_INT(smp_stop_new(stops, 2, &st), 0);
    const char *parts[] = {"a\nUs", "ed", NULL};
    bool hit;
    feed_all(st, parts, &out, &hit);
    ASSERT_FALSE(hit);
    ASSERT_EQ_STR(out.data, "a\nUsed");
    smp_stop_free(st);
    buf_free(&out);

    /* Held text is flushed at the end. */
    ASSERT_EQ_INT(smp_stop_new(stops, 2, &st), 0);
    const char *parts2[] = {"x</", NULL};
    feed_all(st, parts2, &out, &hit);
    ASSERT_EQ_STR(out.data, "x</");
    smp_stop_free(st);
    buf_free(&out);
}

/* Top-k keeps exactly the k best (ties broken by id) on a large vocabulary. */
TEST(sample_top_k_large_vocab_matches_full_sort) {
    enum { V = 50000 };
    float *l = malloc(V * sizeof *l);
    uint64_t seed = 77;
    for (int i = 0; i < V; i++) l[i] = (float)(int)(test_rand_f32(&seed) * 1000) / 100.0f;
    for (int k = 1; k <= 64; k *= 4) {
        smp_params p = smp_default_params();
        p.temperature = 1.0f;
        p.top_k = k;
        p.top_p = 1.0f;
        p.min_p = 0;
        p.seed = 9;
        smp *s;
        err_buf eb = {0};
        ASSERT_OK(smp_new(&p, V, &s, &eb), &eb);
        /* Every sampled token has fewer than k better ones (logit, then id). */
        for (int r = 0; r < 200; r++) {
            int32_t t = smp_sample(s, l, NULL, 0);
            int better = 0;
            for (int j = 0; j < V && better < k; j++) better += l[j] > l[t] || (l[j] == l[t] && j < t);
            ASSERT_CMP_INT(better, <, k);
        }
        smp_free(s);
    }
    free(l);
}
